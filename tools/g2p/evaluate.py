#!/usr/bin/env python3
"""Evaluate an exported G2P model (weights/g2p-en: config.json, generation_config.json, model.safetensors)
on the dev or test split with greedy and/or beam search (transformers semantics, num_beams from
generation_config.json = 4, length_penalty 1.0, early_stopping false). The split is read from
<run-dir>/<split>.tsv (word \\t pron1 | pron2), not recomputed, so this needs no dictionary download; the run
folder is tools/g2p/runs/g2p-en for weights/g2p-en, the model folder for other exports, or --run-dir.

    /usr/bin/python3 tools/g2p/evaluate.py --model weights/g2p-en --split test --mode both

Merges {split: {greedy: {wer, per, words}, beam4: {...}}} into <run-dir>/metrics.json;
--predictions FILE writes word \\t greedy \\t beam lines.
"""
import os
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import marian  # noqa: E402
import metrics  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(ROOT, "weights", "g2p-en"))
    ap.add_argument("--run-dir", default="", help="folder of <split>.tsv and metrics.json (see above)")
    ap.add_argument("--split", default="test", choices=["dev", "test"])
    ap.add_argument("--mode", default="both", choices=["greedy", "beam", "both"])
    ap.add_argument("--limit", type=int, default=0, help="first N words (sorted) only; 0 = all")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--predictions", default="")
    ap.add_argument("--no-write", action="store_true", help="do not update metrics.json")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    model, cfg, gcfg = marian.load_hf(a.model)
    run = data.run_dir(a.model, a.run_dir)
    entries = data.read_split_tsv(os.path.join(run, f"{a.split}.tsv"))
    if a.limit:
        entries = {w: entries[w] for w in sorted(entries)[:a.limit]}
    ml = gcfg.get("max_length", 64)
    out, preds = {}, {}
    modes = ["greedy", "beam"] if a.mode == "both" else [a.mode]
    for mode in modes:
        t = time.time()
        r = metrics.evaluate(model, entries, mode=mode, max_length=ml, gen_cfg=gcfg, num_beams=gcfg.get("num_beams", 4))
        key = "greedy" if mode == "greedy" else f"beam{gcfg.get('num_beams', 4)}"
        out[key] = {"wer": round(r["wer"], 5), "per": round(r["per"], 5), "words": r["words"],
                    "seconds": round(time.time() - t, 1)}
        preds[key] = r["pred"]
        print(f"{a.split} {key}: WER {r['wer'] * 100:.2f}% PER {r['per'] * 100:.2f}% ({r['words']} words, "
              f"{time.time() - t:.0f}s)", flush=True)
    if a.predictions:
        with open(a.predictions, "w") as f:
            for w in sorted(entries):
                f.write(w + "\t" + "\t".join(" ".join(preds[k][w]) for k in preds) + "\n")
    if not a.no_write and not a.limit:
        mp = os.path.join(run, "metrics.json")
        m = json.load(open(mp)) if os.path.exists(mp) else {}
        m.setdefault(a.split, {}).update(out)
        m["model_sha256"] = data.sha256_file(os.path.join(a.model, "model.safetensors"))
        m["generation"] = {"num_beams": gcfg.get("num_beams", 4), "length_penalty": gcfg.get("length_penalty", 1.0),
                           "early_stopping": gcfg.get("early_stopping", False), "max_length": ml}
        m["definition"] = ("WER: share of words whose prediction equals none of the word's pronunciations; "
                           "PER: sum of Levenshtein distances to the closest pronunciation / sum of its lengths")
        with open(mp, "w") as f:
            json.dump(m, f, indent=1, sort_keys=True)
            f.write("\n")
    return out


if __name__ == "__main__":
    main()
