"""WER / PER for G2P with multiple references.

A word is correct when the predicted phoneme sequence equals ANY of its pronunciations (WER = wrong words /
words). PER: for each word take the reference with the smallest Levenshtein distance to the prediction
(ties: the first in dictionary order); PER = sum of those distances / sum of those references' lengths.
"""
import torch

import data
import generate


def edit_distance(a, b):
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y))
        prev = cur
    return prev[-1]


def score(pred, refs):
    """-> (correct, edits, ref_len) for one word."""
    pred = tuple(pred)
    best = None
    for r in refs:
        d = edit_distance(pred, tuple(r))
        if best is None or d < best[0]:
            best = (d, len(r))
    return (pred in {tuple(r) for r in refs}), best[0], best[1]


def batches_by_length(words, size):
    ws = sorted(words, key=lambda w: (len(w), w))
    for i in range(0, len(ws), size):
        yield ws[i:i + size]


def encode_batch(words):
    enc = [data.encode_word(w) for w in words]
    L = max(map(len, enc))
    ids = torch.full((len(enc), L), data.PAD, dtype=torch.long)
    am = torch.zeros((len(enc), L), dtype=torch.long)
    for b, e in enumerate(enc):
        ids[b, :len(e)] = torch.tensor(e)
        am[b, :len(e)] = 1
    return ids, am


def predict(model, words, mode, max_length, gen_cfg=None, num_beams=4, batch=None):
    """-> dict word -> phoneme list. gen_cfg defaults to our generation_config (bad_words [[pad]], forced eos)."""
    g = gen_cfg or {"decoder_start_token_id": data.PAD, "pad_token_id": data.PAD, "eos_token_id": data.EOS,
                    "forced_eos_token_id": data.EOS, "bad_words_ids": [[data.PAD]]}
    model.eval()
    out = {}
    size = batch or (256 if mode == "greedy" else 64)
    for ws in batches_by_length(words, size):
        ids, am = encode_batch(ws)
        if mode == "greedy":
            rows, _ = generate.greedy(model, ids, am, g, max_length)
            for w, r in zip(ws, rows):
                out[w] = data.decode_ids(r[1:])
        else:
            res = generate.beam_search(model, ids, am, g, max_length, num_beams=num_beams,
                                       length_penalty=g.get("length_penalty", 1.0),
                                       early_stopping=g.get("early_stopping", False))
            for w, r in zip(ws, res):
                out[w] = data.decode_ids(r[0][1][1:])
    return out


def evaluate(model, entries, mode="greedy", max_length=64, gen_cfg=None, num_beams=4):
    pred = predict(model, list(entries), mode, max_length, gen_cfg, num_beams)
    n_ok = n_ed = n_len = 0
    for w, refs in entries.items():
        ok, ed, ln = score(pred[w], refs)
        n_ok += ok
        n_ed += ed
        n_len += ln
    return {"words": len(entries), "wer": 1 - n_ok / len(entries), "per": n_ed / n_len, "pred": pred}
