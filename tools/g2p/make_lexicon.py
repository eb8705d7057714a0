#!/usr/bin/env python3
"""The pronunciation lexicon shipped beside the G2P model: every CMUdict word with its pronunciations.

`phonemize` looks a word up here first and runs the model only for words the dictionary lacks (what G2P front
ends such as g2p_en do). The model's WER/PER (weights/README.md, `npm run eval:g2p`) is always measured with
the lexicon off: its test words are in here.

Same source and normalisation as training (data.py: cmu-pronouncing-dictionary@3.0.0, "(n)" alternatives merged
in file order, so the first pronunciation is the dictionary's primary one). Output: gzip (mtime 0, so the bytes
are reproducible) of UTF-8 lines `word<TAB>PH ON ES[|ALT PRON...]`, sorted by word.

    /usr/bin/python3 tools/g2p/make_lexicon.py [--dict PATH] [--out weights/g2p-en/lexicon.tsv.gz]
"""
import argparse
import gzip
import io
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--dict", default=data.DEFAULT_DICT)
    ap.add_argument("--out", default=os.path.join(ROOT, "weights", "g2p-en", "lexicon.tsv.gz"))
    a = ap.parse_args(argv)
    words = data.load_cmudict(a.dict)
    text = "".join(f"{w}\t{'|'.join(' '.join(p) for p in words[w])}\n" for w in sorted(words))
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0, filename="") as f:
        f.write(text.encode("utf-8"))
    tmp = a.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(buf.getvalue())
    os.replace(tmp, a.out)
    print(f"{a.out}: {len(words)} words, {len(text.encode())} bytes -> {len(buf.getvalue())} gzipped")


if __name__ == "__main__":
    main()
