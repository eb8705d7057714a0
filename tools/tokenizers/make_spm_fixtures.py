#!/usr/bin/python3
"""Regenerates test/fixtures/tokenizers/ from the reference SentencePiece implementation.

Needs Debian's `sentencepiece` (spm_train / spm_encode / spm_decode) and `python3-sentencepiece`:
    apt-get install sentencepiece python3-sentencepiece
    /usr/bin/python3 tools/tokenizers/make_spm_fixtures.py

1. Trains three small models with spm_train on corpus.training_lines() (/usr/share/common-licenses + multilingual
   sentences), each exercising a different code path:
     unigram.model     unigram, nmt_nfkc charsmap, T5-style ids (pad 0, eos 1, unk 2), a user-defined symbol <sep>
                       and a control symbol <ctrl>; rare characters stay <unk> (character_coverage 0.9995)
     bpe.model         BPE, nmt_nfkc, byte_fallback, split_digits, fairseq-style ids (unk 0, bos 1, eos 2)
     unigram_ws.model  unigram, identity normalization, remove_extra_whitespaces=false, add_dummy_prefix=false,
                       whitespace-only pieces allowed, byte_fallback
2. Encodes corpus.test_lines() with `spm_encode --output_format=id` and `--output_format=piece`, and decodes the ids
   with `spm_decode --input_format=id`; writes spm_<model>.json = {model, cases: [{text, ids, pieces, decoded}]}.
3. Writes the expected ids of the transformers tokenizer families (families.py) with python3-sentencepiece, and
   a small BART byte-level BPE with the ids of a re-statement of transformers' slow BartTokenizer
   (bart_fixtures.py; needs apt python3-regex).

Training is made deterministic with one thread and a fixed seed; the committed .model files are the reference, so
re-running only matters when the corpus or the options change.
"""

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402
import families  # noqa: E402
import bart_fixtures  # noqa: E402
from fixture_io import OUT, write_cases  # noqa: E402

COMMON = ["--num_threads=1", "--random_seed=7", "--character_coverage=0.9995", "--minloglevel=2"]
MODELS = {
    "unigram": ["--model_type=unigram", "--vocab_size=1000", "--pad_id=0", "--eos_id=1", "--unk_id=2",
                "--bos_id=-1", "--user_defined_symbols=<sep>", "--control_symbols=<ctrl>"],
    "bpe": ["--model_type=bpe", "--vocab_size=1000", "--byte_fallback=true", "--split_digits=true"],
    "unigram_ws": ["--model_type=unigram", "--vocab_size=700", "--normalization_rule_name=identity",
                   "--remove_extra_whitespaces=false", "--add_dummy_prefix=false",
                   "--allow_whitespace_only_pieces=true", "--byte_fallback=true"],
}


def run(args, stdin_text):
    res = subprocess.run(args, input=stdin_text.encode("utf-8"), stdout=subprocess.PIPE, check=True)
    return res.stdout.decode("utf-8")


def lines_of(output, n):
    # Every input line yields exactly one output line (possibly empty).
    rows = output.split("\n")
    assert rows[-1] == "" and len(rows) == n + 1, (len(rows), n)
    return rows[:n]


def main():
    os.makedirs(OUT, exist_ok=True)
    tests = corpus.test_lines()
    with open(os.path.join(OUT, "corpus.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(tests) + "\n")

    with tempfile.TemporaryDirectory() as tmp:
        train = os.path.join(tmp, "train.txt")
        with open(train, "w", encoding="utf-8") as f:
            f.write("\n".join(corpus.training_lines()) + "\n")
        for name, opts in MODELS.items():
            # Relative paths: the model records its input and prefix, which must not carry the temporary dir name.
            subprocess.run(["spm_train", "--input=train.txt", f"--model_prefix={name}", *COMMON, *opts], check=True, cwd=tmp)
            with open(os.path.join(tmp, name + ".model"), "rb") as src, open(os.path.join(OUT, name + ".model"), "wb") as dst:
                dst.write(src.read())

    text = "\n".join(tests) + "\n"
    for name in MODELS:
        model = os.path.join(OUT, name + ".model")
        ids = lines_of(run(["spm_encode", f"--model={model}", "--output_format=id"], text), len(tests))
        pieces = lines_of(run(["spm_encode", f"--model={model}", "--output_format=piece"], text), len(tests))
        decoded = lines_of(run(["spm_decode", f"--model={model}", "--input_format=id"], "\n".join(ids) + "\n"),
                           len(tests))
        cases = []
        for t, i, p, d in zip(tests, ids, pieces, decoded):
            id_list = [int(x) for x in i.split(" ")] if i else []
            # Pieces are space-separated, and a piece never contains a plain space (it is escaped to U+2581),
            # except for unigram_ws whose identity normalizer leaves no spaces either (escape_whitespaces=true).
            piece_list = p.split(" ") if p else []
            assert len(piece_list) == len(id_list), (name, t, i, p)
            cases.append({"text": t, "ids": id_list, "pieces": piece_list, "decoded": d})
        write_cases(os.path.join(OUT, f"spm_{name}.json"),
                    {"model": name + ".model", "made_with": "sentencepiece " + spm_version()}, cases)

    families.write_all(OUT, tests)
    bart_fixtures.write_bart(OUT, corpus.training_lines(), tests)


def spm_version():
    return run(["spm_train", "--version"], "").strip().split()[-1]


if __name__ == "__main__":
    main()
