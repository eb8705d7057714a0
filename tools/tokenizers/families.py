"""Expected ids and text of transformers' SentencePiece tokenizers, without transformers (it is not installable here).

Each class re-states, in a few lines of Python, what the transformers v4.40 tokenizer of that family does around
SentencePiece; the SentencePiece work itself is python3-sentencepiece (the reference C++). The derivations:

  PreTrainedTokenizer.tokenize   split the text on added tokens (longest match), apply their lstrip/rstrip,
                                 `_tokenize` the rest; convert_tokens_to_ids = added-token id, else
                                 `_convert_token_to_id`; then build_inputs_with_special_tokens.
  PreTrainedTokenizer._decode    drop ids in all_special_ids (skip_special_tokens), `_convert_id_to_token`,
                                 convert_tokens_to_string, clean_up_tokenization (4.40 default: on).
  Marian   _tokenize = leading >>xx<< kept (language_code_re), other >>..<< removed, source.spm pieces;
           id = vocab.json[piece] else vocab.json[<unk>]; inputs = ids + [</s>];
           decode: target.spm decode_pieces between special tokens, "▁" -> " ", strip.
  T5       id = spiece piece_to_id; <extra_id_i> = len(sp) - 1 + 100 - i (lstrip/rstrip); inputs = ids + [</s>]
           unless already last; legacy=False: no dummy prefix, "▁" prepended, "<unk>" trick in _tokenize.
  NLLB / mBART / mBART-50   id = sp id + 1 (sp id 0 -> <unk> 3), <s> <pad> </s> <unk> = 0..3, language codes
           = len(sp) + 1 + i; inputs = [lang] + ids + [</s>] (mBART-cc25, NLLB legacy_behaviour: ids + [</s>, lang]).
  M2M100   id = vocab.json[piece] else <unk>; __xx__ = len(vocab) + i; inputs = [__src__] + ids + [</s>].
"""

import json
import os
import random

import sentencepiece as spm

from fixture_io import ROOT, write_cases

U = "\u2581"


def clean_up(s):
    for a, b in [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                 (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")]:
        s = s.replace(a, b)
    return s


class Slow:
    """The PreTrainedTokenizer part. `added`: id -> (content, lstrip, rstrip); `specials`: all_special_tokens."""

    def setup(self, added, specials):
        self.added = {c: (i, l, r) for i, (c, l, r) in added.items()}
        self.added_by_id = {i: c for c, (i, _, _) in self.added.items()}
        self.specials = list(dict.fromkeys(specials))
        self.special_ids = {self.to_id(t) for t in self.specials}

    def to_id(self, token):
        return self.added[token][0] if token in self.added else self.token_id(token)

    def split(self, text):
        parts, start, i = [], 0, 0
        keys = sorted(self.added, key=len, reverse=True)
        while i < len(text):
            m = next((k for k in keys if text.startswith(k, i)), None)
            if m is None:
                i += 1
                continue
            if i > start:
                parts.append([text[start:i], False])
            parts.append([m, True])
            i += len(m)
            start = i
        if start < len(text):
            parts.append([text[start:], False])
        for i, (t, is_added) in enumerate(parts):
            if not is_added:
                continue
            _, lstrip, rstrip = self.added[t]
            if rstrip and i + 1 < len(parts) and parts[i + 1][0]:
                parts[i + 1][0] = parts[i + 1][0].lstrip()
            if lstrip and i > 0 and parts[i - 1][0]:
                parts[i - 1][0] = parts[i - 1][0].rstrip()
        return [(t, a) for t, a in parts if t]

    def tokenize(self, text):
        out = []
        for t, is_added in self.split(text):
            out += [t] if is_added else self._tokenize(t)
        return out

    def encode(self, text, **kw):
        return self.build([self.to_id(t) for t in self.tokenize(text)], **kw)

    def decode(self, ids, skip=True):
        tokens = [self.added_by_id.get(i) or self.id_token(i) for i in ids if not (skip and i in self.special_ids)]
        legacy = {t for t in self.added if t not in self.specials}
        legacy |= {t for t in self.additional if self.to_id(t) >= self.vocab_size}
        texts, cur = [], []
        for t in tokens:
            if t in legacy:
                if cur:
                    s = self.to_string(cur)
                    if s:
                        texts.append(s)
                    cur = []
                texts.append(t)
            else:
                cur.append(t)
        if cur:
            texts.append(self.to_string(cur))
        return clean_up(" ".join(texts))

    def sp_string(self, sp, tokens, space_before, trailing=""):
        out, cur, prev = "", [], False
        for t in tokens:
            if t in self.specials:
                if space_before and not prev:
                    out += " "
                out += sp.decode_pieces(cur) + t + trailing
                cur, prev = [], True
            else:
                cur.append(t)
                prev = False
        return out + sp.decode_pieces(cur)


class Marian(Slow):
    def __init__(self, source, target, vocab, target_vocab=None):
        self.src, self.tgt = source, target
        self.encoder = vocab
        self.decoder = {v: k for k, v in (target_vocab or vocab).items()}
        self.vocab_size = len(vocab)
        self.additional = []
        self.setup({vocab[t]: (t, False, False) for t in ["</s>", "<unk>", "<pad>"]}, ["</s>", "<unk>", "<pad>"])

    def _tokenize(self, text):
        import re
        m = re.match(">>.+<<", text)
        code = [m.group(0)] if m else []
        return code + self.src.encode(re.sub(">>.+<<", "", text), out_type=str)

    def token_id(self, t):
        return self.encoder.get(t, self.encoder["<unk>"])

    def id_token(self, i):
        return self.decoder.get(i, "<unk>")

    def to_string(self, tokens):
        return self.sp_string(self.tgt, tokens, False, " ").replace(U, " ").strip()

    def build(self, ids):
        return ids + [self.encoder["</s>"]]


class T5(Slow):
    def __init__(self, sp_file, legacy=True):
        self.legacy = legacy
        proto = open(sp_file, "rb").read()
        if not legacy:
            from sentencepiece import sentencepiece_model_pb2 as pb
            m = pb.ModelProto()
            m.ParseFromString(proto)
            m.normalizer_spec.add_dummy_prefix = False
            proto = m.SerializeToString()
        self.sp = spm.SentencePieceProcessor(model_proto=proto)
        self.vocab_size = len(self.sp) + 100
        self.additional = [f"<extra_id_{i}>" for i in range(100)]
        added = {len(self.sp) - 1 + 100 - i: (t, True, True) for i, t in enumerate(self.additional)}
        added.update({self.sp.piece_to_id(t): (t, False, False) for t in ["</s>", "<unk>", "<pad>"]})
        self.setup(added, ["</s>", "<unk>", "<pad>"] + self.additional)
        self.unk_len = len(self.sp.encode("<unk>", out_type=str))

    def tokenize(self, text):
        if self.legacy or not text:
            return super().tokenize(text)
        tokens = super().tokenize(U + text.replace(U, " "))
        if len(tokens) > 1 and tokens[0] == U and tokens[1] in self.specials:
            tokens = tokens[1:]
        return tokens

    def _tokenize(self, text):
        tokens = self.sp.encode(text, out_type=str)
        if self.legacy or not text.startswith((U, " ")):
            return tokens
        tokens = self.sp.encode("<unk>" + text, out_type=str)
        return tokens[self.unk_len:] if len(tokens) >= self.unk_len else tokens

    def token_id(self, t):
        return self.sp.piece_to_id(t)

    def id_token(self, i):
        return self.sp.IdToPiece(i)

    def to_string(self, tokens):
        tokens = [tokens[0].lstrip(U)] + tokens[1:]
        return self.sp_string(self.sp, tokens, True).strip()

    def build(self, ids):
        return ids if ids and ids[-1] == 1 else ids + [1]


class Fairseq(Slow):
    """NLLB (codes after the vocabulary, <lang> X </s>), mBART-cc25 (X </s> <lang>), mBART-50 (<lang> X </s>)."""

    def __init__(self, sp_file, codes, kind, src_lang, legacy_behaviour=False):
        self.sp = spm.SentencePieceProcessor(model_file=sp_file)
        self.kind, self.src_lang, self.legacy_behaviour = kind, src_lang, legacy_behaviour
        n = len(self.sp)
        self.vocab_size = n + 1 if kind == "nllb" else n + len(codes) + 2
        self.additional = list(codes)
        added = {0: ("<s>", False, False), 1: ("<pad>", False, False), 2: ("</s>", False, False),
                 3: ("<unk>", False, False), n + 1 + len(codes): ("<mask>", True, False)}
        added.update({n + 1 + i: (c, False, False) for i, c in enumerate(codes)})
        self.setup(added, ["<s>", "</s>", "<unk>", "</s>", "<pad>", "<s>", "<mask>"] + self.additional)

    def _tokenize(self, text):
        return self.sp.encode(text, out_type=str)

    def token_id(self, t):
        i = self.sp.PieceToId(t)
        return i + 1 if i else 3

    def id_token(self, i):
        return self.sp.IdToPiece(i - 1)

    def to_string(self, tokens):
        if self.kind == "mbart50":
            return self.sp_string(self.sp, tokens, True).strip()
        return "".join(tokens).replace(U, " ").strip()

    def build(self, ids, src_lang=None):
        lang = self.to_id(src_lang or self.src_lang)
        if self.kind == "mbart" or self.legacy_behaviour:
            return ids + [2, lang]
        return [lang] + ids + [2]


class M2M100(Slow):
    def __init__(self, sp_file, vocab, codes):
        self.sp = spm.SentencePieceProcessor(model_file=sp_file)
        self.encoder, self.decoder = vocab, {v: k for k, v in vocab.items()}
        self.vocab_size = len(vocab)
        self.additional = [f"__{c}__" for c in codes]
        added = {len(vocab) + i: (t, False, False) for i, t in enumerate(self.additional)}
        added.update({vocab[t]: (t, False, False) for t in ["<s>", "</s>", "<unk>", "<pad>"]})
        self.setup(added, ["<s>", "</s>", "</s>", "<unk>", "<pad>"] + self.additional)

    def _tokenize(self, text):
        return self.sp.encode(text, out_type=str)

    def token_id(self, t):
        return self.encoder.get(t, self.encoder["<unk>"])

    def id_token(self, i):
        return self.decoder.get(i, "<unk>")

    def to_string(self, tokens):
        return self.sp_string(self.sp, tokens, False).strip()

    def build(self, ids, src_lang="en"):
        return [self.to_id(f"__{src_lang}__")] + ids + [2]


NLLB = None  # filled from bindings/tokenizers/languages.ts so both sides use one list


def codes_from_ts(root, name):
    """The language code lists live in languages.ts; read them from there rather than keeping a second copy."""
    import re
    src = open(os.path.join(root, "bindings", "tokenizers", "languages.ts"), encoding="utf-8").read()
    m = re.search(r"export const " + name + r": readonly string\[\] = \(\n(.*?)\n\)\.split", src, re.S)
    return "".join(re.findall(r"'([^']*)'", m.group(1))).split(" ")


EXTRA = {
    "marian": [">>fra<< Hello there", ">>deu<<Wie geht's?", "Hello </s> world", "<unk> and <pad> are special",
               "Mpanjaka >>mlg<< tsara", ">>a<< >>b<< c"],
    "t5": ["<extra_id_0> hello <extra_id_1>", "a <extra_id_5>b", "translate English to German: That is good.",
           "Hello</s>", "▁lead ▁▁ underline", "<pad> and <unk>"],
    "fairseq": ["Hello <mask> world", "<s> text </s>", "eng_Latn Hello", "fr_XX Bonjour", "  <mask>  x"],
    "m2m100": ["__fr__ Bonjour", "Hello </s> world", "<unk>"],
}

MALAGASY = ["Mpanjaka tsara ny olona rehetra.", "Manao ahoana ianao?", "Tiako ny tanindrazako, ary tsy hiala aho.",
            "Nahita boky telo teo ambony latabatra izy ireo."]


def cases(tok, texts, **kw):
    out = []
    for t in texts:
        ids = tok.encode(t, **kw)
        out.append({"text": t, "ids": ids, "decoded": tok.decode(ids), "decoded_raw": tok.decode(ids, skip=False)})
    return out


def shuffled_vocab(pieces, specials, seed):
    """A vocab.json as Marian/M2M100 ship it: specials first, then the pieces in an order unrelated to the spm ids."""
    rest = [p for p in pieces if p not in specials]
    random.Random(seed).shuffle(rest)
    return {p: i for i, p in enumerate(specials + rest)}


def write_all(out, tests):
    subset = tests[:90] + tests[90::4]

    # Marian, the real opus-mt-en-mg files.
    d = os.path.join(out, "opus-mt-en-mg")
    src = spm.SentencePieceProcessor(model_file=os.path.join(d, "source.spm"))
    tgt = spm.SentencePieceProcessor(model_file=os.path.join(d, "target.spm"))
    vocab = json.load(open(os.path.join(d, "vocab.json"), encoding="utf-8"))
    marian = Marian(src, tgt, vocab)
    target_cases = []
    for t in MALAGASY + subset:
        ids = [vocab["<pad>"]] + [vocab.get(p, vocab["<unk>"]) for p in tgt.encode(t, out_type=str)] + [vocab["</s>"]]
        target_cases.append({"text": t, "ids": ids, "decoded": marian.decode(ids), "decoded_raw": marian.decode(ids, skip=False)})
    write_cases(os.path.join(out, "marian_opus_mt_en_mg.json"),
                {"source": "opus-mt-en-mg", "target_cases": target_cases}, cases(marian, tests + EXTRA["marian"]))

    # Marian with separate vocabularies: source.spm = bpe.model, target.spm = unigram.model.
    bpe = spm.SentencePieceProcessor(model_file=os.path.join(out, "bpe.model"))
    uni = spm.SentencePieceProcessor(model_file=os.path.join(out, "unigram.model"))
    sv = shuffled_vocab([bpe.IdToPiece(i) for i in range(len(bpe))], ["</s>", "<unk>", "<pad>"], 1)
    tv = shuffled_vocab([uni.IdToPiece(i) for i in range(len(uni))], ["</s>", "<unk>", "<pad>"], 2)
    sep_dir = os.path.join(out, "marian_separate")
    os.makedirs(sep_dir, exist_ok=True)
    for name, obj in [("vocab.json", sv), ("target_vocab.json", tv), ("tokenizer_config.json", {"separate_vocabs": True})]:
        with open(os.path.join(sep_dir, name), "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False)
    sep = Marian(bpe, uni, sv, tv)
    sep_targets = []
    for t in subset:
        ids = [tv.get(p, tv["<unk>"]) for p in uni.encode(t, out_type=str)] + [tv["</s>"]]
        sep_targets.append({"text": t, "ids": ids, "decoded": sep.decode(ids), "decoded_raw": sep.decode(ids, skip=False)})
    write_cases(os.path.join(out, "marian_separate.json"), {"source": "marian_separate", "target_cases": sep_targets},
                cases(sep, subset + EXTRA["marian"]))

    # T5 (spiece.model = unigram.model: pad 0, eos 1, unk 2), legacy and non-legacy.
    fam = {}
    uni_file = os.path.join(out, "unigram.model")
    fam["t5"] = cases(T5(uni_file), subset + EXTRA["t5"])
    fam["t5_nonlegacy"] = cases(T5(uni_file, legacy=False), subset + EXTRA["t5"])

    # fairseq vocabularies (sentencepiece.bpe.model = bpe.model: unk 0, bos 1, eos 2).
    bpe_file = os.path.join(out, "bpe.model")
    nllb_codes = codes_from_ts(ROOT, "NLLB_CODES")
    mbart50_codes = codes_from_ts(ROOT, "MBART50_CODES")
    texts = subset + EXTRA["fairseq"]
    fam["nllb"] = cases(Fairseq(bpe_file, nllb_codes, "nllb", "eng_Latn"), texts)
    fam["nllb_fra"] = cases(Fairseq(bpe_file, nllb_codes, "nllb", "eng_Latn"), texts, src_lang="fra_Latn")
    fam["nllb_legacy"] = cases(Fairseq(bpe_file, nllb_codes, "nllb", "eng_Latn", legacy_behaviour=True), texts)
    fam["mbart"] = cases(Fairseq(bpe_file, mbart50_codes[:25], "mbart", "en_XX"), texts)
    fam["mbart50"] = cases(Fairseq(bpe_file, mbart50_codes, "mbart50", "en_XX"), texts, src_lang="ro_RO")

    # M2M100: vocab.json over the same pieces, fairseq-style specials first.
    mv = shuffled_vocab([bpe.IdToPiece(i) for i in range(len(bpe))], ["<s>", "<pad>", "</s>", "<unk>"], 3)
    with open(os.path.join(out, "m2m100_vocab.json"), "w", encoding="utf-8") as f:
        json.dump(mv, f, ensure_ascii=False)
    m2m = M2M100(bpe_file, mv, codes_from_ts(ROOT, "M2M100_CODES"))
    fam["m2m100"] = cases(m2m, subset + EXTRA["m2m100"])
    fam["m2m100_fr"] = cases(m2m, subset[:20], src_lang="fr")

    with open(os.path.join(out, "families.json"), "w", encoding="utf-8", newline="\n") as f:
        f.write("{\n")
        f.write(",\n".join(f'"{k}": [\n' + ",\n".join(json.dumps(c, ensure_ascii=False) for c in v) + "\n]"
                           for k, v in fam.items()))
        f.write("\n}\n")
