"""BART fixtures (imported by make_spm_fixtures.py; needs apt `python3-regex`).

bart/vocab.json + bart/merges.txt: a small byte-level BPE learnt from the training text, and bart.json: the ids and
text of transformers' slow BartTokenizer (= GPT2Tokenizer's bpe(), re-stated below) for the test corpus. The
tokenizer.json files of SentencePiece models are made from the .model files by the tests themselves
(test/tokenizers/convert.ts), so the ~300 KB charsmap is not committed twice.
"""

import json
import os
from collections import Counter

from fixture_io import write_cases


def bytes_to_unicode():
    """GPT-2's reversible byte → printable character map (tokenization_gpt2.bytes_to_unicode)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


PAT = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def train_byte_bpe(lines, num_merges):
    import regex
    enc = bytes_to_unicode()
    words = Counter()
    for line in lines:
        for w in regex.findall(PAT, line):
            words[tuple(enc[b] for b in w.encode("utf-8"))] += 1
    merges = []
    for _ in range(num_merges):
        pairs = Counter()
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merges.append(best)
        merged = Counter()
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            merged[tuple(out)] += c
        words = merged
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for ch in enc.values():
        vocab[ch] = len(vocab)
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    vocab["<mask>"] = len(vocab)
    return vocab, merges


class Bart:
    """transformers' slow BartTokenizer (GPT2Tokenizer.bpe/_tokenize/_decode), special tokens <s> X </s>."""

    def __init__(self, vocab, merges):
        import regex
        self.pat = regex.compile(PAT)
        self.encoder, self.decoder = vocab, {v: k for k, v in vocab.items()}
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {v: k for k, v in self.byte_encoder.items()}
        self.special_ids = {vocab[t] for t in ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]}
        # added tokens, split out before BPE as PreTrainedTokenizer.tokenize does (<mask> eats the space before it)
        self.added = {t: (vocab[t], t == "<mask>", False) for t in ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]}

    def bpe(self, token):
        word = tuple(token)
        while len(word) > 1:
            pairs = set(zip(word, word[1:]))
            bigram = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if bigram not in self.ranks:
                break
            first, second = bigram
            new, i = [], 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                except ValueError:
                    new.extend(word[i:])
                    break
                new.extend(word[i:j])
                i = j
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new.append(first + second)
                    i += 2
                else:
                    new.append(word[i])
                    i += 1
            word = tuple(new)
        return list(word)

    def encode(self, text):
        from families import Slow
        ids = []
        for part, is_added in Slow.split(self, text):
            if is_added:
                ids.append(self.encoder[part])
                continue
            for tok in self.pat.findall(part):
                tok = "".join(self.byte_encoder[b] for b in tok.encode("utf-8"))
                ids += [self.encoder.get(t, self.encoder["<unk>"]) for t in self.bpe(tok)]
        return [0] + ids + [2]

    def decode(self, ids):
        from families import clean_up
        # byte-level tokens are joined and byte-decoded; skip_special_tokens drops the specials
        text = "".join(self.decoder[i] for i in ids if i not in self.special_ids)
        return clean_up(bytearray(self.byte_decoder[c] for c in text).decode("utf-8", errors="replace"))


def write_bart(out, train_lines, tests):
    vocab, merges = train_byte_bpe(train_lines, 600)
    d = os.path.join(out, "bart")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(d, "merges.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    bart = Bart(vocab, merges)
    cases = [{"text": t, "ids": bart.encode(t), "decoded": bart.decode(bart.encode(t))} for t in tests]
    write_cases(os.path.join(out, "bart.json"), {"source": "bart"}, cases)
