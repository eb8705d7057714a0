#!/usr/bin/env python3
"""Train the English G2P Marian model (characters -> ARPAbet with stress) on CMUdict; resumable.

    /usr/bin/python3 tools/g2p/train.py                # start, or resume from --ckpt-dir/last.pt
    /usr/bin/python3 tools/g2p/train.py --fresh        # ignore an existing checkpoint
    /usr/bin/python3 tools/g2p/train.py --init-from /var/tmp/wasm-seq2seq-g2p/best.pt \
        --ckpt-dir /var/tmp/wasm-seq2seq-g2p-2 --lr 7e-4 --warmup 200   # stage 2: a new schedule from stage 1's best

Every --ckpt-minutes and at the end of every epoch the full training state (model, Adam, schedule step,
epoch, position in the epoch, RNG states, history) is written atomically to --ckpt-dir/last.pt; a killed
run continues from there with identical batches. After each epoch a greedy decode of a fixed dev subset
gives WER/PER; when the dev WER improves the model is exported in Hugging Face layout to --out
(model.safetensors, config.json, generation_config.json, vocab.json) with its run record in --run-dir (dev.tsv,
test.tsv, train_state.json; default: tools/g2p/runs/g2p-en for the shipped weights/g2p-en, else --out itself)
and kept as --ckpt-dir/best.pt. When all epochs are done: beam-4 evaluation of the exported model on the
full test split (metrics.json) and the reference sample (reference_sample.json), both in the run folder.
train_state.json records paths repo-relative, or by their last components when outside the repo.
Model/optimiser hyper-parameters are stored in the checkpoint and win over the command line on resume
(except --epochs, --max-minutes, --threads, --ckpt-minutes).
--init-from starts a new run (own schedule, fresh Adam, own --ckpt-dir) from another run's best.pt: the model's
shape comes from that checkpoint, and its dev score is the one to beat before anything is exported.
"""
import os
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before torch loads BLAS; torch threads: --threads
os.environ.setdefault("OMP_NUM_THREADS", "1")
import argparse
import json
import math
import random
import signal
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import marian  # noqa: E402
import metrics  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHAPE_ARGS = ("d_model", "enc_layers", "dec_layers", "heads", "ffn", "activation", "max_pos", "seed")
RESUMABLE_OVERRIDES = {"epochs", "max_minutes", "threads", "ckpt_minutes", "fresh", "ckpt_dir", "out", "dict",
                       "no_final_eval", "max_steps", "snapshots", "run_dir"}
PATH_ARGS = {"dict": "file", "init_from": "file", "out": "dir", "ckpt_dir": "dir", "run_dir": "dir"}


def parse():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dict", default=data.DEFAULT_DICT)
    ap.add_argument("--out", default=os.path.join(ROOT, "weights", "g2p-en"))
    ap.add_argument("--run-dir", default="", help="dev/test splits, train_state.json, metrics.json, reference "
                    "sample (default: tools/g2p/runs/g2p-en for weights/g2p-en, else --out)")
    ap.add_argument("--ckpt-dir", default="/var/tmp/wasm-seq2seq-g2p")
    ap.add_argument("--fresh", action="store_true", help="do not resume from ckpt-dir/last.pt")
    ap.add_argument("--init-from", default="", help="a best.pt to start a new run (stage) from")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--d-model", type=int, default=160)
    ap.add_argument("--enc-layers", type=int, default=3)
    ap.add_argument("--dec-layers", type=int, default=3)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--ffn", type=int, default=512)
    ap.add_argument("--activation", default="swish")
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--attention-dropout", type=float, default=0.0)
    ap.add_argument("--activation-dropout", type=float, default=0.0)
    ap.add_argument("--max-pos", type=int, default=128)
    ap.add_argument("--max-length", type=int, default=64, help="generation max_length (incl. start token)")
    ap.add_argument("--lr", type=float, default=1.5e-3, help="peak learning rate")
    ap.add_argument("--min-lr-ratio", type=float, default=0.02)
    ap.add_argument("--warmup", type=int, default=1000, help="linear warmup steps, then cosine decay")
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--label-smoothing", type=float, default=0.1)
    ap.add_argument("--batch-tokens", type=int, default=3000, help="max (batch * longest side) per batch")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--dev-subset", type=int, default=2000, help="dev words decoded (greedy) each epoch")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ckpt-minutes", type=float, default=5.0)
    ap.add_argument("--max-minutes", type=float, default=0, help="stop (after saving) after this long; 0 = no limit")
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps in this run (smoke tests)")
    ap.add_argument("--train-limit", type=int, default=0, help="use only the first N training pairs (smoke tests)")
    ap.add_argument("--no-final-eval", action="store_true")
    ap.add_argument("--r2l", action="store_true",
                    help="train right-to-left: the phonemes are emitted last to first (a second model that rescores "
                         "the shipped model's beams); dev WER is measured on reversed references, no final eval")
    ap.add_argument("--snapshots", action="store_true",
                    help="also keep each epoch's weights (ckpt-dir/epochNNN.pt) for checkpoint averaging (average.py)")
    return ap.parse_args()


def make_model(a):
    """The (untrained) model a run's arguments describe; average.py builds the same."""
    c = marian.marian_config(len(data.TOKENS), data.PAD, a["d_model"], a["enc_layers"], a["dec_layers"], a["heads"],
                             a["ffn"], a["max_pos"], a["activation"], True, a["dropout"], a["attention_dropout"],
                             a["activation_dropout"])
    return marian.MarianModel(c)


def dev_subset(dev, a):
    """The fixed dev words scored after every epoch (seeded): word -> pronunciations (average.py scores the same)."""
    words = sorted(dev)
    random.Random(a["seed"]).shuffle(words)
    return {w: dev[w] for w in sorted(words[:a["dev_subset"]])}


def make_batches(pairs, batch_tokens, rng):
    """Bucketing: sort by (source len, target len) with random tie order, cut into batches bounded by
    batch_tokens, shuffle the batch order."""
    order = list(range(len(pairs)))
    rng.shuffle(order)
    order.sort(key=lambda i: (len(pairs[i][0]), len(pairs[i][1])))
    batches, cur, longest = [], [], 0
    for i in order:
        L = max(len(pairs[i][0]), len(pairs[i][1]))
        if cur and max(longest, L) * (len(cur) + 1) > batch_tokens:
            batches.append(cur)
            cur, longest = [], 0
        cur.append(i)
        longest = max(longest, L)
    if cur:
        batches.append(cur)
    rng.shuffle(batches)
    return batches


def collate(pairs, idx):
    src = [pairs[i][0] for i in idx]
    tgt = [pairs[i][1] for i in idx]
    B, Ls, Lt = len(idx), max(map(len, src)), max(map(len, tgt))
    ids = torch.full((B, Ls), data.PAD, dtype=torch.long)
    am = torch.zeros((B, Ls), dtype=torch.long)
    dec = torch.full((B, Lt), data.PAD, dtype=torch.long)  # shift right: [start=pad, t0 .. t_{n-1}]
    lab = torch.full((B, Lt), -100, dtype=torch.long)
    for b, (s, t) in enumerate(zip(src, tgt)):
        ids[b, :len(s)] = torch.tensor(s)
        am[b, :len(s)] = 1
        lab[b, :len(t)] = torch.tensor(t)
        dec[b, 1:len(t)] = torch.tensor(t[:-1])
    return ids, am, dec, lab


def lr_at(step, a, total):
    if step < a["warmup"]:
        return a["lr"] * (step + 1) / a["warmup"]
    p = min(1.0, (step - a["warmup"]) / max(1, total - a["warmup"]))
    return a["lr"] * (a["min_lr_ratio"] + (1 - a["min_lr_ratio"]) * 0.5 * (1 + math.cos(math.pi * p)))


def atomic_save(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def portable_args(a):
    """Run arguments as train_state.json records them: no machine paths. A path inside the repository becomes
    repo-relative; one outside keeps only its last component (a folder) or last two (a file), e.g.
    "wasm-seq2seq-g2p-4/average.pt"."""
    out = {}
    for k, v in a.items():
        if k == "fresh":
            continue
        if k in PATH_ARGS and isinstance(v, str) and v:
            p = os.path.abspath(v)
            if p == ROOT or p.startswith(ROOT + os.sep):
                v = os.path.relpath(p, ROOT)
            else:
                v = "/".join(p.split(os.sep)[-2:] if PATH_ARGS[k] == "file" else p.split(os.sep)[-1:])
        out[k] = v
    return out


def export(model, a, out, state_info, dev, test):
    """The model into `out`; its run record (train_state.json, the splits) into data.run_dir(out)."""
    run = data.run_dir(out, a.get("run_dir"))
    os.makedirs(out, exist_ok=True)
    os.makedirs(run, exist_ok=True)
    tmp = out + ".tmp-export"
    os.makedirs(tmp, exist_ok=True)
    gcfg = marian.generation_config(model.c, num_beams=4, max_length=a["max_length"])
    marian.save_hf(model, tmp, gcfg, metadata={"format": "pt"})
    with open(os.path.join(tmp, "vocab.json"), "w") as f:
        json.dump(data.vocab_json(), f, indent=1)
        f.write("\n")
    for name in os.listdir(tmp):
        os.replace(os.path.join(tmp, name), os.path.join(out, name))
    os.rmdir(tmp)
    with open(os.path.join(run, "train_state.json"), "w") as f:
        json.dump(dict(state_info, args=portable_args(state_info.get("args", {}))), f, indent=1)
        f.write("\n")
    if not os.path.exists(os.path.join(run, "test.tsv")):
        data.write_split_tsv(os.path.join(run, "dev.tsv"), dev)
        data.write_split_tsv(os.path.join(run, "test.tsv"), test)
    # keep the run folder self-consistent: metrics.json described an older model; the reference sample is
    # remade from the new files (~20 s, same process/thread)
    if os.path.exists(os.path.join(run, "metrics.json")):
        os.remove(os.path.join(run, "metrics.json"))
    if a.get("r2l"):  # reference_outputs.py reads left to right
        return
    import reference_outputs
    rng = torch.get_rng_state()  # building the reloaded model draws init numbers: keep training RNG untouched
    reference_outputs.main(["--model", out, "--run-dir", run])
    torch.set_rng_state(rng)


def main():
    args = parse()
    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    os.makedirs(args.ckpt_dir, exist_ok=True)
    last_path = os.path.join(args.ckpt_dir, "last.pt")
    best_path = os.path.join(args.ckpt_dir, "best.pt")
    ck = None
    if os.path.exists(last_path) and not args.fresh:
        ck = torch.load(last_path)
        a = dict(ck["args"])
        for k, v in vars(args).items():
            if k in RESUMABLE_OVERRIDES:
                a[k] = v
            elif a.get(k) != v:
                print(f"[resume] keeping checkpoint's {k}={a.get(k)!r} (command line had {v!r})", flush=True)
    else:
        a = vars(args)
    init = None
    if ck is None and a.get("init_from"):
        init = torch.load(a["init_from"])
        for k in SHAPE_ARGS:
            if a.get(k) != init["args"][k]:
                print(f"[init] {k}={init['args'][k]!r} from {a['init_from']} (command line had {a.get(k)!r})", flush=True)
                a[k] = init["args"][k]

    words = data.load_cmudict(a["dict"])
    sp = data.split(words)
    r2l = bool(a.get("r2l"))
    order = (lambda p: list(p)[::-1]) if r2l else list
    train_pairs = [(data.encode_word(w), data.encode_pron(order(p))) for w in sorted(sp["train"]) for p in sp["train"][w]]
    if a.get("train_limit"):
        train_pairs = random.Random(a["seed"]).sample(train_pairs, a["train_limit"])
    # reversing the references scores an r2l model's (reversed) output with the same WER/PER
    dev_sub = {w: [order(p) for p in refs] for w, refs in dev_subset(sp["dev"], a).items()}

    torch.manual_seed(a["seed"])
    model = make_model(a)
    marian.init_weights(model, a["seed"])
    nparams = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=a["lr"], betas=(0.9, 0.98), eps=1e-9, weight_decay=a["weight_decay"])
    steps_per_epoch = len(make_batches(train_pairs, a["batch_tokens"], random.Random(0)))
    state = {"epoch": 0, "batch_in_epoch": 0, "step": 0, "history": [], "best": None, "train_seconds": 0.0}
    if init is not None:
        model.load_state_dict(init["model"])
        if bool(init["args"].get("r2l")) == r2l:
            state["best"] = dict(init["row"], stage="init")  # export only what beats the starting point
        print(f"[init] weights of {a['init_from']} (dev WER {init['row']['dev_wer']:.4f})", flush=True)
    if ck is not None:
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        state = ck["state"]
        torch.set_rng_state(ck["torch_rng"])
        print(f"[resume] epoch {state['epoch']} batch {state['batch_in_epoch']} step {state['step']} "
              f"best {state['best']}", flush=True)
    total_steps = steps_per_epoch * a["epochs"]
    print(f"params {nparams} ({nparams * 4 / 1e6:.2f} MB f32) train pairs {len(train_pairs)} "
          f"steps/epoch ~{steps_per_epoch} total ~{total_steps} threads {torch.get_num_threads()}", flush=True)

    stop = {"flag": False}

    def on_term(signum, frame):
        stop["flag"] = True
        print(f"[signal {signum}] saving and stopping", flush=True)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    def save_last():
        atomic_save({"args": a, "model": model.state_dict(), "opt": opt.state_dict(), "state": state,
                     "torch_rng": torch.get_rng_state()}, last_path)

    t_run = time.time()
    t_ck = time.time()
    steps_this_run = 0
    while state["epoch"] < a["epochs"]:
        ep = state["epoch"]
        batches = make_batches(train_pairs, a["batch_tokens"], random.Random(a["seed"] * 1000 + ep))
        model.train()
        t0 = t_ep = time.time()
        tot_loss, tot_tok = state.get("ep_loss", 0.0), state.get("ep_tok", 0)
        for bi in range(state["batch_in_epoch"], len(batches)):
            ids, am, dec, lab = collate(train_pairs, batches[bi])
            lr = lr_at(state["step"], a, total_steps)
            for gp in opt.param_groups:
                gp["lr"] = lr
            logits = model(ids, am, dec)
            loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), lab.view(-1), ignore_index=-100,
                                   label_smoothing=a["label_smoothing"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if a["clip"] > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), a["clip"])
            opt.step()
            ntok = int((lab != -100).sum())
            tot_loss += float(loss) * ntok
            tot_tok += ntok
            state["ep_loss"], state["ep_tok"] = tot_loss, tot_tok
            state["step"] += 1
            state["batch_in_epoch"] = bi + 1
            steps_this_run += 1
            if state["step"] % 100 == 0:
                el = time.time() - t0
                print(f"ep {ep} step {state['step']} batch {bi + 1}/{len(batches)} loss {tot_loss / tot_tok:.4f} "
                      f"lr {lr:.2e} {el:.0f}s", flush=True)
            out_of_time = a["max_minutes"] and (time.time() - t_run) / 60 >= a["max_minutes"]
            if stop["flag"] or out_of_time or (a["max_steps"] and steps_this_run >= a["max_steps"]):
                state["train_seconds"] += time.time() - t0
                save_last()
                print(f"stopped at epoch {ep} batch {bi + 1}; resume with the same command", flush=True)
                return
            if (time.time() - t_ck) / 60 >= a["ckpt_minutes"]:
                state["train_seconds"] += time.time() - t0
                t0 = time.time()
                save_last()
                t_ck = time.time()
        state["train_seconds"] += time.time() - t0
        ep_time = time.time() - t_ep  # wall time of this epoch in this run (partial after a resume)
        # dev evaluation (greedy, fixed subset)
        te = time.time()
        model.eval()
        res = metrics.evaluate(model, dev_sub, mode="greedy", max_length=a["max_length"])
        row = {"epoch": ep + 1, "step": state["step"], "train_loss": tot_loss / max(1, tot_tok),
               "dev_wer": res["wer"], "dev_per": res["per"], "dev_words": res["words"],
               "lr": lr_at(state["step"], a, total_steps), "train_seconds": round(state["train_seconds"], 1),
               "eval_seconds": round(time.time() - te, 1)}
        state["history"].append(row)
        state["epoch"] = ep + 1
        state["batch_in_epoch"] = 0
        state["ep_loss"], state["ep_tok"] = 0.0, 0
        if a.get("snapshots"):
            atomic_save({"args": a, "model": model.state_dict(), "row": row},
                        os.path.join(args.ckpt_dir, f"epoch{ep + 1:03d}.pt"))
        improved = state["best"] is None or (res["wer"], res["per"]) < (state["best"]["dev_wer"], state["best"]["dev_per"])
        print(f"== epoch {ep + 1} loss {row['train_loss']:.4f} dev(greedy, {res['words']} words) WER {res['wer']:.4f} "
              f"PER {res['per']:.4f} epoch-time {ep_time:.0f}s eval {row['eval_seconds']}s"
              f"{'  * best' if improved else ''}", flush=True)
        if improved:
            state["best"] = row
            atomic_save({"args": a, "model": model.state_dict(), "row": row}, best_path)
            info = {"args": dict(a), "params": nparams,
                    "best": row, "history": state["history"],
                    "data": {"package": data.PACKAGE, "index_js_sha256": data.INDEX_JS_SHA256,
                             "split_seed": data.SPLIT_SEED}}
            export(model, a, a["out"], info, sp["dev"], sp["test"])
            print(f"exported to {a['out']}", flush=True)
        save_last()
        t_ck = time.time()
    print("training done", flush=True)
    if state["best"] is not None and state["best"].get("stage") == "init":
        # an --init-from run whose epochs never beat the starting checkpoint's dev score exported nothing
        print(f"no epoch beat the starting point (dev WER {state['best']['dev_wer']:.4f}): nothing exported to "
              f"{a['out']}, no final evaluation", flush=True)
        return
    if not a["no_final_eval"] and not r2l:  # evaluate.py / reference_outputs.py read left to right
        import evaluate
        import reference_outputs
        run = data.run_dir(a["out"], a.get("run_dir"))
        evaluate.main(["--model", a["out"], "--run-dir", run])
        reference_outputs.main(["--model", a["out"], "--run-dir", run])


if __name__ == "__main__":
    main()
