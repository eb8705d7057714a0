"""CMU Pronouncing Dictionary -> words, pronunciations, split, vocabulary.

Source: npm package cmu-pronouncing-dictionary@3.0.0 (its index.js: `"word": "PH ON ES",` one entry
per line; alternative pronunciations are keyed "word(2)", "word(3)"...). Install it outside the repo:
    mkdir -p /tmp/cmu && cd /tmp/cmu && npm install --no-save cmu-pronouncing-dictionary@3.0.0

Normalisation: the "(n)" suffix is dropped (alternatives are grouped under one word), a trailing
"# comment" in the pronunciation is removed (22 entries), duplicate pronunciations of a word are merged.
All 126,046 words are kept (letters a-z plus ' - . occur in the spellings). Stress digits are KEPT
(ARPAbet with lexical stress 0/1/2 on vowels: 69 phoneme symbols): a TTS front end needs stress. The published
CMUdict anchors (Bisani & Ney's PRONALSYL split) score 39 phonemes without stress; `npm run eval:g2p` reports both.

Split (by word, so all pronunciations of a word are in one split):
    b = int(sha256(f"{seed}:{word}".encode("utf-8")).hexdigest()[:8], 16) % 100
    b < 90 -> train, 90 <= b < 95 -> dev, b >= 95 -> test          (seed = "cmudict-g2p-v1")
A pure function of the word, so any language can regenerate it.

Vocabulary (one id space shared by encoder and decoder, as Marian ties the embeddings):
    0 "</s>" (eos), 1 "<unk>", then the 29 spelling characters ' - . a..z (sorted by code point),
    then the 69 phonemes (sorted), then "<pad>" = vocab_size - 1 (pad = decoder_start).
Source ids: one id per character of the lower-cased word, then 0 (</s>); unknown characters -> 1.
Target ids: phoneme ids then 0.
"""
import hashlib
import json
import os
import re

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHIPPED_MODEL_DIR = os.path.join(ROOT, "weights", "g2p-en")
SHIPPED_RUN_DIR = os.path.join(ROOT, "tools", "g2p", "runs", "g2p-en")
DEFAULT_DICT = "/tmp/cmu/node_modules/cmu-pronouncing-dictionary/index.js"
PACKAGE = "cmu-pronouncing-dictionary@3.0.0"
INDEX_JS_SHA256 = "ef8b2b976d2e5801b7541ebcc7714f538d1ffa0ebb28645259536e2666bd2948"  # index.js of 3.0.0
SPLIT_SEED = "cmudict-g2p-v1"

CHARS = list("'-.abcdefghijklmnopqrstuvwxyz")
VOWELS = ["AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"]
CONSONANTS = ["B", "CH", "D", "DH", "F", "G", "HH", "JH", "K", "L", "M", "N", "NG", "P", "R", "S", "SH",
              "T", "TH", "V", "W", "Y", "Z", "ZH"]
PHONEMES = sorted([v + s for v in VOWELS for s in "012"] + CONSONANTS)
TOKENS = ["</s>", "<unk>"] + CHARS + PHONEMES + ["<pad>"]
EOS, UNK, PAD = 0, 1, len(TOKENS) - 1
TOK2ID = {t: i for i, t in enumerate(TOKENS)}


def run_dir(model_dir, override=""):
    """Where the companions of an exported model live that are not part of the model (dev.tsv, test.tsv,
    train_state.json, metrics.json, reference_sample.json): for the shipped weights/g2p-en that is
    tools/g2p/runs/g2p-en, so the npm package carries only what the runtime reads; any other export keeps them
    in its own folder. `override` (a --run-dir option) wins."""
    if override:
        return override
    if os.path.realpath(model_dir) == os.path.realpath(SHIPPED_MODEL_DIR):
        return SHIPPED_RUN_DIR
    return model_dir


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_cmudict(path=DEFAULT_DICT):
    """-> dict word -> list of pronunciations (each a tuple of phoneme strings), file order kept."""
    if not os.path.exists(path):
        raise SystemExit(f"{path} not found. Install the data: mkdir -p /tmp/cmu && cd /tmp/cmu && "
                         f"npm install --no-save {PACKAGE}")
    digest = sha256_file(path)
    if INDEX_JS_SHA256 and digest != INDEX_JS_SHA256:
        raise SystemExit(f"{path}: sha256 {digest} != {INDEX_JS_SHA256} ({PACKAGE}); the split/results "
                         "documented in weights/README.md were made from that exact file")
    words = {}
    pat = re.compile(r'^\s*"(.*)": "(.*)",?\s*$')
    for line in open(path, encoding="utf-8"):
        m = pat.match(line)
        if not m:
            continue
        key, pron = m.group(1), m.group(2)
        word = re.sub(r"\(\d+\)$", "", key)
        pron = tuple(pron.split("#")[0].split())
        for p in pron:
            if p not in TOK2ID or p in CHARS:
                raise ValueError(f"unknown phoneme {p!r} in {key!r}")
        for ch in word:
            if ch not in CHARS:
                raise ValueError(f"unexpected character {ch!r} in {key!r}")
        lst = words.setdefault(word, [])
        if pron not in lst:
            lst.append(pron)
    return words


def split_of(word, seed=SPLIT_SEED):
    b = int(hashlib.sha256(f"{seed}:{word}".encode("utf-8")).hexdigest()[:8], 16) % 100
    return "train" if b < 90 else ("dev" if b < 95 else "test")


def split(words, seed=SPLIT_SEED):
    out = {"train": {}, "dev": {}, "test": {}}
    for w in sorted(words):
        out[split_of(w, seed)][w] = words[w]
    return out


def encode_word(word):
    return [TOK2ID.get(ch, UNK) for ch in word.lower()] + [EOS]


def encode_pron(pron):
    return [TOK2ID[p] for p in pron] + [EOS]


_PHONEME_IDS = {TOK2ID[p] for p in PHONEMES}


def decode_ids(ids):
    """target ids (no start token) -> phoneme list, stopping at eos or pad; a non-phoneme id (a character,
    unk) would be a model error and is skipped (bindings/g2p/phonemizer.ts does the same)."""
    out = []
    for i in ids:
        if i == EOS or i == PAD:
            break
        if i in _PHONEME_IDS:
            out.append(TOKENS[i])
    return out


def vocab_json():
    return {
        "format": "wasm-seq2seq/g2p-vocab@1",
        "description": "One id space shared by encoder (characters) and decoder (ARPAbet phonemes with stress).",
        "tokens": TOKENS,
        "special": {"eos": EOS, "unk": UNK, "pad": PAD, "decoder_start": PAD},
        "source": {
            "tokens": {c: TOK2ID[c] for c in CHARS},
            "normalize": "lowercase (Unicode str.lower); one token per character; a character not listed -> unk (1)",
            "append_eos": True,
        },
        "target": {
            "tokens": {p: TOK2ID[p] for p in PHONEMES},
            "stress": "kept: vowels carry 0 (no stress), 1 (primary), 2 (secondary) as in CMUdict",
            "output": "generated ids after the start token up to (not incl.) eos, joined with one space",
        },
    }


def write_split_tsv(path, entries):
    """word \t pron1 | pron2 ...  (pronunciations: phonemes separated by single spaces)."""
    with open(path, "w", encoding="utf-8") as f:
        for w in sorted(entries):
            f.write(w + "\t" + " | ".join(" ".join(p) for p in entries[w]) + "\n")


def read_split_tsv(path):
    out = {}
    for line in open(path, encoding="utf-8"):
        w, prons = line.rstrip("\n").split("\t")
        out[w] = [tuple(p.split()) for p in prons.split(" | ")]
    return out


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="print data statistics")
    ap.add_argument("--dict", default=DEFAULT_DICT)
    a = ap.parse_args()
    w = load_cmudict(a.dict)
    s = split(w)
    print("index.js sha256", sha256_file(a.dict))
    print("words", len(w), "entries", sum(len(v) for v in w.values()), "vocab", len(TOKENS))
    for k, v in s.items():
        print(k, "words", len(v), "pairs", sum(len(p) for p in v.values()))
