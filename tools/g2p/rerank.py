#!/usr/bin/env python3
"""Rescore the shipped (left-to-right) model's beam n-best with a right-to-left model (train.py --r2l).

    /usr/bin/python3 tools/g2p/rerank.py --r2l /var/tmp/wasm-seq2seq-g2p-r2l/epoch010.pt [--split dev] [--beams 4]

The two models read the word the same way and emit the phonemes in opposite orders, so they make different
mistakes; the right pronunciation is among the 4 beams for ~88 % of dev words while the top beam is right for ~71 %.
Each candidate gets score = logP_l2r(phonemes) + lam * logP_r2l(reversed phonemes) (teacher-forced sums, eos
included); the script prints WER/PER for a grid of lam (lam 0 = the l2r model's own sums, which may order the
beams differently from beam search's length-normalised scores, also printed). The n-best lists are cached
(--cache) so several r2l checkpoints can be compared quickly. Choose lam on dev, then report test once.
"""
import os
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
import argparse
import json
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import generate  # noqa: E402
import marian  # noqa: E402
import metrics  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def load_any(path):
    """A Hugging Face folder, or a train.py checkpoint (best.pt / epochNNN.pt / last.pt)."""
    if os.path.isdir(path):
        m, _, _ = marian.load_hf(path)
        return m
    import train
    ck = torch.load(path)
    m = train.make_model(ck["args"])
    m.load_state_dict(ck["model"])
    m.eval()
    return m


def nbest(model, words, beams, max_length=64, batch=64):
    g = {"decoder_start_token_id": data.PAD, "pad_token_id": data.PAD, "eos_token_id": data.EOS,
         "forced_eos_token_id": data.EOS, "bad_words_ids": [[data.PAD]]}
    out = {}
    with torch.no_grad():
        for ws in metrics.batches_by_length(words, batch):
            ids, am = metrics.encode_batch(ws)
            res = generate.beam_search(model, ids, am, g, max_length, num_beams=beams, num_return_sequences=beams)
            for w, r in zip(ws, res):
                out[w] = [(s, " ".join(data.decode_ids(h[1:]))) for s, h in r]
    return out


def forced_logprob(model, pairs, batch=256):
    """Sum of log P(target ids + eos | word) for (word, phoneme list) pairs, teacher-forced."""
    import train
    enc = [(data.encode_word(w), data.encode_pron(p)) for w, p in pairs]
    out = []
    with torch.no_grad():
        for i in range(0, len(enc), batch):
            ids, am, dec, lab = train.collate(enc, range(i, min(len(enc), i + batch)))
            lp = F.log_softmax(model(ids, am, dec).float(), -1)
            tok = lp.gather(-1, lab.clamp(min=0).unsqueeze(-1)).squeeze(-1) * (lab != -100)
            out.extend(tok.sum(-1).tolist())
    return out


def score_choice(entries, choice):
    n_ok = n_ed = n_len = 0
    for w, refs in entries.items():
        ok, ed, ln = metrics.score(choice[w].split(), refs)
        n_ok += ok
        n_ed += ed
        n_len += ln
    return 1 - n_ok / len(entries), n_ed / n_len


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--l2r", default=os.path.join(ROOT, "weights", "g2p-en"))
    ap.add_argument("--r2l", default=[], nargs="+", help="r2l checkpoints / folders (train.py --r2l): reversed targets")
    ap.add_argument("--l2r-scorers", default=[], nargs="+", help="other left-to-right models as scorers (an ensemble)")
    ap.add_argument("--split", default="dev")
    ap.add_argument("--beams", type=int, default=4)
    ap.add_argument("--limit", type=int, default=0, help="first N words of the split (sorted), 0 = all")
    ap.add_argument("--cache", default="/var/tmp/wasm-seq2seq-g2p-nbest")
    ap.add_argument("--lams", default="0,0.25,0.5,0.75,1,1.5,2")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    entries = dict(data.read_split_tsv(os.path.join(a.l2r, f"{a.split}.tsv")))
    words = sorted(entries)
    if a.limit:
        words = words[:a.limit]
        entries = {w: entries[w] for w in words}
    os.makedirs(a.cache, exist_ok=True)
    key = os.path.join(a.cache, f"{a.split}-b{a.beams}-n{len(words)}-{data.sha256_file(os.path.join(a.l2r, 'model.safetensors'))[:12]}.json")
    l2r = load_any(a.l2r)
    if os.path.exists(key):
        nb = json.load(open(key))
    else:
        nb = nbest(l2r, words, a.beams)
        pairs = [(w, h.split()) for w in words for _, h in nb[w]]
        lp = iter(forced_logprob(l2r, pairs))
        nb = {w: [[s, h, next(lp)] for s, h in nb[w]] for w in words}
        json.dump(nb, open(key, "w"))
    top = {w: nb[w][0][1] for w in words}
    oracle = {w: next((h for _, h, _ in nb[w] if h.split() in [list(r) for r in entries[w]]), top[w]) for w in words}
    print(f"{a.split}: {len(words)} words, {a.beams} beams: beam-search top {score_choice(entries, top)}, "
          f"oracle {score_choice(entries, oracle)}", flush=True)
    lams = [float(x) for x in a.lams.split(",")]
    for path, reverse in [(p, True) for p in a.r2l] + [(p, False) for p in a.l2r_scorers]:
        scorer = load_any(path)
        pairs = [(w, h.split()[::-1] if reverse else h.split()) for w in words for _, h, _ in nb[w]]
        lp = iter(forced_logprob(scorer, pairs))
        rs = {w: [next(lp) for _ in nb[w]] for w in words}
        for lam in lams:
            choice = {w: max(zip(nb[w], rs[w]), key=lambda c: c[0][2] + lam * c[1])[0][1] for w in words}
            wer, per = score_choice(entries, choice)
            print(f"{os.path.basename(path)} lam {lam:<5} WER {100 * wer:.2f} % PER {100 * per:.2f} %", flush=True)


if __name__ == "__main__":
    main()
