#!/usr/bin/env python3
"""Checkpoint averaging: the mean of the last N epoch snapshots of a run (train.py --snapshots writes
ckpt-dir/epochNNN.pt), scored against the run's best.pt on the FULL dev split (greedy), exported to --out only
when it is better there. Averaging the weights of the last epochs of a decayed schedule usually generalises a
little better than any one of them (a cheap ensemble that still is one model of the same size).

    /usr/bin/python3 tools/g2p/average.py --ckpt-dir /var/tmp/wasm-seq2seq-g2p-3 --last 5

Export = train.py's (model.safetensors, config.json, generation_config.json, vocab.json; in the run folder
train_state.json with the averaged epochs and reference_sample.json), then the beam-4 test evaluation
(metrics.json, run folder), as a finished run. Run folder: --run-dir, by default as train.py chooses it.
The average is also kept as ckpt-dir/average.pt in best.pt's form (its "row" scored on train.py's dev subset),
so a further stage can start from it: train.py --init-from ckpt-dir/average.pt.
"""
import os
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
import argparse  # noqa: E402
import glob  # noqa: E402
import sys  # noqa: E402

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import metrics  # noqa: E402
import train  # noqa: E402


def build(a, state_dict):
    model = train.make_model(a)
    model.load_state_dict(state_dict)
    model.eval()
    return model


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt-dir", required=True)
    ap.add_argument("--last", type=int, default=5, help="average this many of the newest epoch snapshots")
    ap.add_argument("--out", default=os.path.join(train.ROOT, "weights", "g2p-en"))
    ap.add_argument("--run-dir", default="", help="run record folder (default: tools/g2p/runs/g2p-en for "
                    "weights/g2p-en, else --out)")
    ap.add_argument("--dict", default=data.DEFAULT_DICT)
    ap.add_argument("--force", action="store_true", help="export even if the average is not better on dev")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)

    snaps = sorted(glob.glob(os.path.join(args.ckpt_dir, "epoch[0-9][0-9][0-9].pt")))[-args.last:]
    if len(snaps) < 2:
        raise SystemExit(f"need at least 2 epoch snapshots in {args.ckpt_dir} (train.py --snapshots), found {len(snaps)}")
    cks = [torch.load(p) for p in snaps]
    a = cks[-1]["args"]
    if a.get("r2l"):
        raise SystemExit(f"{args.ckpt_dir} is a right-to-left run (train.py --r2l): this script scores and exports "
                         "left to right")
    avg = {}
    for name, t in cks[-1]["model"].items():
        avg[name] = (torch.stack([ck["model"][name].double() for ck in cks]).mean(0).to(t.dtype)
                     if t.is_floating_point() else t.clone())
    epochs = [ck["row"]["epoch"] for ck in cks]

    sp = data.split(data.load_cmudict(args.dict))
    best_path = os.path.join(args.ckpt_dir, "best.pt")
    if not os.path.exists(best_path):  # nothing in this run beat its starting point yet: compare with that
        best_path = a.get("init_from") or best_path
    best = torch.load(best_path)
    last_path = os.path.join(args.ckpt_dir, "last.pt")
    history = torch.load(last_path)["state"]["history"] if os.path.exists(last_path) else None
    scores = {}
    for label, sd in (("best", best["model"]), ("average", avg)):
        res = metrics.evaluate(build(a, sd), sp["dev"], mode="greedy", max_length=a["max_length"])
        scores[label] = res
        print(f"{label}: full dev ({res['words']} words) greedy WER {res['wer']:.4f} PER {res['per']:.4f}", flush=True)
    better = (scores["average"]["wer"], scores["average"]["per"]) < (scores["best"]["wer"], scores["best"]["per"])
    print(f"average of epochs {epochs} {'beats' if better else 'does not beat'} {best_path} (epoch {best['row']['epoch']})")
    if not (better or args.force):
        return
    model = build(a, avg)
    nparams = sum(p.numel() for p in model.parameters())
    row = {"epoch": epochs[-1], "averaged_epochs": epochs, "dev_full_wer": scores["average"]["wer"],
           "dev_full_per": scores["average"]["per"], "best_single": {"epoch": best["row"]["epoch"],
                                                                       "dev_full_wer": scores["best"]["wer"],
                                                                       "dev_full_per": scores["best"]["per"]}}
    info = {"args": dict(a), "params": nparams, "best": row,
            "history": history,
            "data": {"package": data.PACKAGE, "index_js_sha256": data.INDEX_JS_SHA256, "split_seed": data.SPLIT_SEED}}
    run = data.run_dir(args.out, args.run_dir)
    train.export(model, dict(a, run_dir=run), args.out, info, sp["dev"], sp["test"])
    print(f"exported the average to {args.out}", flush=True)
    sub = metrics.evaluate(model, train.dev_subset(sp["dev"], a), mode="greedy", max_length=a["max_length"])
    init_row = dict(row, dev_wer=sub["wer"], dev_per=sub["per"], dev_words=sub["words"])
    train.atomic_save({"args": a, "model": avg, "row": init_row}, os.path.join(args.ckpt_dir, "average.pt"))
    print(f"kept as {os.path.join(args.ckpt_dir, 'average.pt')} (dev subset WER {sub['wer']:.4f}): "
          f"train.py --init-from it starts a further stage", flush=True)
    import evaluate
    import reference_outputs
    evaluate.main(["--model", args.out, "--run-dir", run])
    reference_outputs.main(["--model", args.out, "--run-dir", run])


if __name__ == "__main__":
    main()
