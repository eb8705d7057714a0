"""Tokenizer files and expectations for the separate-vocabulary Marian model test/fixtures/random/d32_swish_separate_vocabs
(vocab_size 59, decoder_vocab_size 83), written to test/fixtures/tokenizers/marian_separate_model/.

The files are laid out as transformers' convert_marian_to_pytorch.py writes a separate-vocab model
(add_special_tokens_to_vocab(separate_vocab=True)): vocab.json for the source side and target_vocab.json for the
target side, each with "</s>" 0 and "<unk>" 1 first and "<pad>" appended last (so 58 in the source vocabulary, the
model's pad / decoder start, and 82 in the target one, an id the model can generate), and tokenizer_config.json with
"separate_vocabs": true. source.spm is tokenizers/unigram.model, target.spm tokenizers/bpe.model (copied in by
the test). The pieces in each vocabulary are the most frequent source pieces of the sample texts / the first 75
target pieces plus five byte-fallback pieces (<0xC3> <0xA9> <0xE2> <0x82> <0xAC>: "é" and "€"), in a seeded
shuffle, so that a decoder that used the wrong vocabulary or SentencePiece model gives different text (unigram.model
has no byte fallback: it would print "<0xC3>" where target.spm gives "é").

Expectations follow transformers 4.40's MarianTokenizer, restated (python3-sentencepiece is not needed: the
reference SentencePiece here is Debian's spm_encode / spm_decode 0.1.97):
  encode:  spm_source pieces of the text → vocab.json id (vocab.json["<unk>"] when absent) + [vocab.json["</s>"]]
  decode:  all_special_ids are the *source* vocabulary's ids of </s> <unk> <pad> (convert_tokens_to_ids uses the
           current, i.e. source, encoder), and _added_tokens_decoder maps those same ids back to the special tokens;
           every other id goes through the target decoder (target_vocab.json inverted; "<unk>" when absent).
           convert_tokens_to_string uses spm_target: special tokens are written as they are plus " ", runs of other
           tokens are decode_pieces'd; then "▁" → " ", strip(), clean_up_tokenization.
  So a target "<pad>" (82) is not a special id and comes out as the text "<pad>", while 58 (a target piece) is
  dropped with skip_special_tokens and printed "<pad>" without it: transformers' behaviour, kept.

Run: python3 tools/tokenizers/make_separate_vocab_fixture.py   (from the repository root)
"""
import json
import os
import random
import subprocess
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOK = os.path.join(ROOT, "test", "fixtures", "tokenizers")
OUT = os.path.join(TOK, "marian_separate_model")
MODEL = os.path.join(ROOT, "test", "fixtures", "random", "d32_swish_separate_vocabs")
U = "\u2581"
SPECIAL = ["</s>", "<unk>", "<pad>"]


def spm(tool, model, lines, fmt):
    flag = "--output_format" if tool == "spm_encode" else "--input_format"
    out = subprocess.run([tool, f"--model={model}", f"{flag}={fmt}"], input="\n".join(lines) + "\n",
                         capture_output=True, text=True, check=True).stdout
    return out.split("\n")[: len(lines)]


def clean_up(s):
    for a, b in [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                 (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")]:
        s = s.replace(a, b)
    return s


def main():
    config = json.load(open(os.path.join(MODEL, "config.json")))
    n_src, n_tgt = config["vocab_size"], config["decoder_vocab_size"]
    source, target = os.path.join(TOK, "unigram.model"), os.path.join(TOK, "bpe.model")
    texts = [t for t in open(os.path.join(TOK, "corpus.txt"), encoding="utf-8").read().split("\n")[:40]
             if t and "<" not in t and t == t.strip()]
    pieces = [line.split(" ") if line else [] for line in spm("spm_encode", source, texts, "piece")]

    rng = random.Random(22)
    counts = Counter(p for ps in pieces for p in ps)
    src_pieces = [p for p, _ in sorted(counts.items(), key=lambda kv: -kv[1]) if p not in SPECIAL][: n_src - 3]
    rng.shuffle(src_pieces)
    vocab = {"</s>": 0, "<unk>": 1, **{p: 2 + i for i, p in enumerate(src_pieces)}, "<pad>": n_src - 1}
    all_target = [l.split("\t")[0] for l in subprocess.run(["spm_export_vocab", f"--model={target}"], capture_output=True,
                                                            text=True, check=True).stdout.splitlines()]
    byte_pieces = ["<0xC3>", "<0xA9>", "<0xE2>", "<0x82>", "<0xAC>"]
    assert all(b in all_target for b in byte_pieces)
    tgt_pieces = byte_pieces + [p for p in all_target if not (p.startswith("<") and p.endswith(">"))][: n_tgt - 3 - len(byte_pieces)]
    rng.shuffle(tgt_pieces)
    target_vocab = {"</s>": 0, "<unk>": 1, **{p: 2 + i for i, p in enumerate(tgt_pieces)}, "<pad>": n_tgt - 1}
    assert len(vocab) == n_src and len(target_vocab) == n_tgt

    encode = [{"text": t, "ids": [vocab.get(p, vocab["<unk>"]) for p in ps] + [vocab["</s>"]]} for t, ps in zip(texts, pieces)]

    golden = json.load(open(os.path.join(MODEL, "golden.json")))
    sequences = [s for run in golden["generate"].values() for s in run["sequences"]]
    b = {p: target_vocab[p] for p in byte_pieces}
    sequences += [[58, 82, 7, 82, 0], [58, 1, 7, 0, 5], [0, 58, 2, 3, 4, 5, 6, 0],
                  [58, 7, b["<0xC3>"], b["<0xA9>"], 0], [58, b["<0xE2>"], b["<0x82>"], b["<0xAC>"], 7, 0]]
    special_ids = {vocab[t] for t in SPECIAL}
    added = {vocab[t]: t for t in SPECIAL}
    decoder = {i: p for p, i in target_vocab.items()}

    runs = []  # (sequence, skip) → the runs of ordinary tokens between special ones, decoded by spm_decode below
    for seq in sequences:
        for skip in (True, False):
            tokens = [added.get(i, decoder.get(i, "<unk>")) for i in seq if not (skip and i in special_ids)]
            parts, cur = [], []
            for t in tokens:
                if t in SPECIAL:
                    parts.append((cur, t))
                    cur = []
                else:
                    cur.append(t)
            parts.append((cur, None))
            runs.append((seq, skip, parts))
    flat = [" ".join(cur) for _, _, parts in runs for cur, _ in parts]
    decoded = iter(spm("spm_decode", target, flat, "piece"))
    decode = []
    for seq, skip, parts in runs:
        out = ""
        for _, special in parts:
            out += next(decoded) + (special + " " if special else "")
        text = clean_up(out.replace(U, " ").strip())
        if skip:
            decode.append({"ids": seq, "decoded": text})
        else:
            decode[-1]["decoded_raw"] = text

    os.makedirs(OUT, exist_ok=True)
    files = {
        "vocab.json": vocab, "target_vocab.json": target_vocab,
        "tokenizer_config.json": {"separate_vocabs": True, "source_lang": "src", "target_lang": "tgt",
                                  "tokenizer_class": "MarianTokenizer", "model_max_length": 512},
        "special_tokens_map.json": {"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"},
        "cases.json": {"made_by": "tools/tokenizers/make_separate_vocab_fixture.py", "encode": encode, "decode": decode},
    }
    for name, obj in files.items():
        with open(os.path.join(OUT, name), "w", encoding="utf-8", newline="\n") as f:
            json.dump(obj, f, ensure_ascii=False, indent=None if name != "cases.json" else 0)
            f.write("\n")


if __name__ == "__main__":
    main()
