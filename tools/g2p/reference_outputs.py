#!/usr/bin/env python3
"""Write <run-dir>/reference_sample.json: what the PyTorch model (computed by transformers' Marian rules,
see check_marian.py) produces for a fixed sample of test words, so the TypeScript/WASM runtime can be
checked against it.

Each word is run ALONE (batch of 1, no padding), greedy and beam search (num_beams 4, length_penalty 1.0,
early_stopping false, num_return_sequences 4 -> the 4 finished hypotheses with scores), using
generation_config.json (bad_words_ids [[pad]], forced_eos at max_length-1, max_length 64).

    /usr/bin/python3 tools/g2p/reference_outputs.py --model weights/g2p-en [--n 200]

The test words come from <run-dir>/test.tsv; the run folder is tools/g2p/runs/g2p-en for weights/g2p-en, the
model folder for other exports, or --run-dir.

Sample: --n words taken at evenly spaced positions of the sorted test list, plus a few fixed extras
(upper case, an unknown character, a hyphenated word, a very long word). For the first --logits-words
words the raw first-step decoder logits and the encoder output summary are included as well.
"""
import os
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import generate  # noqa: E402
import marian  # noqa: E402
import metrics  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EXTRAS = ["Hello", "naïve", "self-driving", "supercalifragilisticexpialidocious", "o'clock", "wasm", "a"]


def r6(x):
    if x != x or x in (float("inf"), float("-inf")):
        return None  # JSON.parse-safe (a forced-eos-only step has no top-2 margin)
    return float(f"{x:.6g}")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(ROOT, "weights", "g2p-en"))
    ap.add_argument("--run-dir", default="", help="folder of test.tsv and reference_sample.json (see above)")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--logits-words", type=int, default=5)
    ap.add_argument("--out", default="")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    model, cfg, g = marian.load_hf(a.model)
    run = data.run_dir(a.model, a.run_dir)
    test = data.read_split_tsv(os.path.join(run, "test.tsv"))
    tw = sorted(test)
    step = max(1, len(tw) // a.n)
    sample = tw[::step][:a.n] + [w for w in EXTRAS if w not in test]
    ml = g.get("max_length", 64)
    nb = g.get("num_beams", 4)
    items = []
    n_ok_g = n_ok_b = n_ref = 0
    for k, w in enumerate(sample):
        ids = torch.tensor([data.encode_word(w)])
        am = torch.ones_like(ids)
        rows, info = generate.greedy(model, ids, am, g, ml)
        beams = generate.beam_search(model, ids, am, g, ml, num_beams=nb, length_penalty=1.0,
                                     early_stopping=False, num_return_sequences=nb)[0]
        gph = data.decode_ids(rows[0][1:])
        bph = data.decode_ids(beams[0][1][1:])
        it = {
            "word": w,
            "input_ids": ids[0].tolist(),
            "greedy": {"sequence": rows[0], "phonemes": " ".join(gph),
                       "step_logprobs": [r6(x) for x in info[0]["step_logprobs"]],
                       "min_top1_top2_gap": r6(info[0]["min_gap"])},
            "beam": {"sequences": generate.pad_beam_rows([b[1] for b in beams], g["pad_token_id"], g["eos_token_id"], ml),
                     "sequences_scores": [r6(b[0]) for b in beams], "phonemes": " ".join(bph)},
        }
        if w in test:
            refs = test[w]
            it["references"] = [" ".join(p) for p in refs]
            it["greedy"]["correct"] = metrics.score(gph, refs)[0]
            it["beam"]["correct"] = metrics.score(bph, refs)[0]
            n_ok_g += it["greedy"]["correct"]
            n_ok_b += it["beam"]["correct"]
            n_ref += 1
        if k < a.logits_words:
            with torch.no_grad():
                enc = model.encode(ids, am)
                lg = model.decode(torch.tensor([[g["decoder_start_token_id"]]]), enc, am)[0, 0]
            it["encoder_last_hidden_state"] = {"shape": list(enc.shape[1:]), "sum": r6(float(enc.sum())),
                                               "abs_sum": r6(float(enc.abs().sum())),
                                               "first8": [r6(x) for x in enc[0, 0, :8].tolist()]}
            it["decoder_first_step_logits"] = [r6(x) for x in lg.tolist()]
        items.append(it)
    out = {
        "model": os.path.basename(os.path.abspath(a.model)),
        "model_sha256": data.sha256_file(os.path.join(a.model, "model.safetensors")),
        "made_with": {"torch": torch.__version__, "code": "tools/g2p/reference_outputs.py (marian.py, generate.py)"},
        "generation": {"greedy": {"num_beams": 1, "max_length": ml},
                       "beam": {"num_beams": nb, "length_penalty": 1.0, "early_stopping": False,
                                "num_return_sequences": nb, "max_length": ml},
                       "processors": {"bad_words_ids": g.get("bad_words_ids"),
                                      "forced_eos_token_id": g.get("forced_eos_token_id")}},
        "notes": ("Each word decoded alone (batch 1). input_ids = lower-cased characters -> vocab.json ids + eos 0. "
                  "greedy.sequence: start token first, eos last. beam.sequences: the 4 finished hypotheses best "
                  "first in transformers' finalize layout (start + tokens + eos, padded with pad to the longest + 1); "
                  "sequences_scores = sum of processed log-probs / generated_len (incl. eos). "
                  "min_top1_top2_gap: smallest logit margin met by greedy (processed logits), for float tolerance. "
                  "Values rounded to 6 significant digits."),
        "summary": {"words": len(items), "with_references": n_ref, "greedy_correct": n_ok_g, "beam_correct": n_ok_b},
        # plain word -> "PH ON ES" maps (what tools/eval_g2p.ts compares against)
        "greedy": {it["word"]: it["greedy"]["phonemes"] for it in items},
        f"beam{nb}": {it["word"]: it["beam"]["phonemes"] for it in items},
        "items": items,
    }
    path = a.out or os.path.join(run, "reference_sample.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path}: {len(items)} words, greedy correct {n_ok_g}/{n_ref}, beam correct {n_ok_b}/{n_ref}")


if __name__ == "__main__":
    main()
