"""Greedy and beam search with transformers' generate() semantics (docs/model-spec.md §Generation, v4.40.2).

- decoder starts with [decoder_start_token_id]; max_length counts decoder tokens incl. the start token;
- logits processors used by our generation_config: bad_words_ids (single-token bans -> -inf) and
  forced_eos_token_id (when cur_len == max_length - 1 only eos is allowed);
- greedy: processors on the raw logits, argmax, finished rows get pad;
- beam: log_softmax(logits) -> processors -> + beam score; top 2*num_beams of [num_beams*V] (ties: lower
  flat index first); an eos candidate of rank < num_beams becomes a finished hypothesis scored
  sum_logprobs / generated_len**length_penalty (generated_len counts the eos, not the start token);
  eos at rank >= num_beams is dropped; done rule per early_stopping; at the end unfinished beams are
  offered with generated_len = tokens after start.

The decoder is recomputed over the whole prefix at each step (no KV cache): same numbers, simpler code.
Batched over sentences; bookkeeping per sentence in Python (exactly as the NumPy reference does).
"""
import torch

NEG_INF = float("-inf")


def _process(scores, cur_len, g, max_length):
    """scores [B,V] (float32); returns processed copy."""
    s = scores.clone()
    for bw in g.get("bad_words_ids") or []:
        if len(bw) == 1:
            s[:, bw[0]] = NEG_INF
    if g.get("forced_bos_token_id") is not None and cur_len == 1:
        s[:] = NEG_INF
        s[:, g["forced_bos_token_id"]] = 0
    if g.get("forced_eos_token_id") is not None and cur_len == max_length - 1:
        s[:] = NEG_INF
        s[:, g["forced_eos_token_id"]] = 0
    return s


@torch.no_grad()
def greedy(model, input_ids, attention_mask, g, max_length):
    """Returns (rows, info): rows = list of token lists (start token first, eos included if produced,
    no padding); info[i] = {"step_logprobs": [...], "min_gap": smallest top1-top2 margin of the
    processed logits over the steps that row generated}."""
    start, eos, pad = g["decoder_start_token_id"], g["eos_token_id"], g["pad_token_id"]
    B = input_ids.shape[0]
    enc = model.encode(input_ids, attention_mask)
    toks = torch.full((B, 1), start, dtype=torch.long)
    fin = torch.zeros(B, dtype=torch.bool)
    lps = [[] for _ in range(B)]
    gaps = [float("inf")] * B
    while toks.shape[1] < max_length:
        logits = model.decode(toks, enc, attention_mask)[:, -1].float()
        s = _process(logits, toks.shape[1], g, max_length)
        nxt = s.argmax(-1)
        lp = torch.log_softmax(s, -1)
        top2 = s.topk(2, -1).values
        for b in range(B):
            if not fin[b]:
                lps[b].append(float(lp[b, nxt[b]]))
                gap = float(top2[b, 0] - top2[b, 1])
                if gap == gap:  # not nan (forced eos step: inf - -inf = inf)
                    gaps[b] = min(gaps[b], gap)
        nxt = torch.where(fin, torch.full_like(nxt, pad), nxt)
        toks = torch.cat([toks, nxt[:, None]], 1)
        fin = fin | (nxt == eos)
        if bool(fin.all()):
            break
    rows = []
    for b in range(B):
        r = toks[b].tolist()
        if eos in r[1:]:
            r = r[:r.index(eos, 1) + 1]
        rows.append(r)
    return rows, [{"step_logprobs": lps[b], "min_gap": gaps[b]} for b in range(B)]


@torch.no_grad()
def beam_search(model, input_ids, attention_mask, g, max_length, num_beams=4, length_penalty=1.0,
                early_stopping=False, num_return_sequences=1):
    """Returns per sentence a list of (score, tokens) best first, tokens = start + hypothesis tokens
    (finished hypotheses without their eos, as transformers stores them; see pad_beam_rows)."""
    start, eos, pad = g["decoder_start_token_id"], g["eos_token_id"], g["pad_token_id"]
    B, nb = input_ids.shape[0], num_beams
    enc = model.encode(input_ids, attention_mask).repeat_interleave(nb, 0)
    am = attention_mask.repeat_interleave(nb, 0)
    toks = torch.full((B * nb, 1), start, dtype=torch.long)
    bscores = torch.full((B, nb), -1e9, dtype=torch.float32)
    bscores[:, 0] = 0.0
    finished = [[] for _ in range(B)]
    done = [False] * B

    def add(b, score, hyp):
        f = finished[b]
        if len(f) < nb or score > min(x[0] for x in f):
            f.append((score, hyp))
            if len(f) > nb:
                f.remove(min(f, key=lambda x: x[0]))

    while True:
        cur_len = toks.shape[1]
        logits = model.decode(toks, enc, am)[:, -1].float()
        V = logits.shape[-1]
        sc = _process(torch.log_softmax(logits, -1), cur_len, g, max_length)
        sc = (sc + bscores.view(-1, 1)).view(B, nb * V)
        new_tok = torch.full((B, nb), pad, dtype=torch.long)
        new_src = torch.arange(nb).repeat(B, 1)
        new_sc = torch.zeros(B, nb, dtype=torch.float32)
        for b in range(B):
            if done[b]:
                continue
            vals, idx = torch.sort(sc[b], descending=True, stable=True)
            vals, idx = vals[:2 * nb].tolist(), idx[:2 * nb].tolist()
            n = 0
            for rank, (v, fi) in enumerate(zip(vals, idx)):
                bi, t = divmod(fi, V)
                if t == eos:
                    if rank >= nb:
                        continue
                    hyp = toks[b * nb + bi].tolist()
                    add(b, v / (len(hyp) ** length_penalty), hyp)  # generated_len = len(hyp) (incl. eos, excl. start)
                else:
                    new_tok[b, n], new_src[b, n], new_sc[b, n] = t, bi, v
                    n += 1
                if n == nb:
                    break
            if len(finished[b]) >= nb:
                if early_stopping is True:
                    done[b] = True
                else:
                    glen = cur_len if early_stopping is False else max_length - 1
                    done[b] = min(x[0] for x in finished[b]) >= max(vals) / (glen ** length_penalty)
        src = (torch.arange(B)[:, None] * nb + new_src).view(-1)
        toks = torch.cat([toks[src], new_tok.view(-1, 1)], 1)
        bscores = new_sc
        if all(done) or toks.shape[1] >= max_length:
            break
    out = []
    for b in range(B):
        if not done[b]:
            for j in range(nb):
                hyp = toks[b * nb + j].tolist()
                add(b, float(bscores[b, j]) / ((len(hyp) - 1) ** length_penalty), hyp)
        out.append(sorted(finished[b], key=lambda x: -x[0])[:num_return_sequences])
    return out


def pad_beam_rows(rows, pad, eos, max_length):
    """transformers' BeamSearchScorer.finalize output layout for a batch of hypotheses."""
    width = min(max(len(r) for r in rows) + 1, max_length)
    out = []
    for r in rows:
        r = list(r)
        if len(r) < width:
            r.append(eos)
        out.append(r + [pad] * (width - len(r)))
    return out


def pad_greedy_rows(rows, pad):
    width = max(len(r) for r in rows)
    return [list(r) + [pad] * (width - len(r)) for r in rows]
