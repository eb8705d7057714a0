// Beam search as transformers 4.40.2 `_beam_search` + BeamSearchScorer/BeamHypotheses
// (generation/utils.py, generation/beam_search.py); docs/model-spec.md §Beam and §Output walk through the same steps.
//
// Numerics follow torch float32 so that scores match to ~1e-6 and ties break the same way: log_softmax is
// rounded to float32 (computed in float64 with a max-subtract), processors work on float32, the running
// beam score is float32 (`Math.fround(logprob + beamScore)`), while finished-hypothesis scores are divided
// by generated_len ** length_penalty in float64 like HF's Python floats.

import { applyProcessors, buildProcessors } from './processors.js';
import { checkLogits, throwIfAborted, yieldToEventLoop } from './greedy.js';
import type { DecoderSession, EarlyStopping, GenerateOutput, RankedCandidates, ResolvedGenerateConfig } from './types.js';

// exp for the log-sum-exp pass. V8's Math.exp costs ~30 ns here and this pass runs over rows × vocab every
// step (5 × 256k for NLLB beams), so: exp(x) = 2^q · 2^(j/64) · e^r with k = 64q + j = round(x·64/ln2) and
// |r| ≤ ln2/128, e^r by a degree-5 polynomial (relative error < 1e-15, far below float32's 6e-8).
const EXP_K = 64 / Math.LN2;
const EXP_C = Math.LN2 / 64;
const ROUND_SHIFT = 6755399441055744; // 1.5·2^52: adding and subtracting it rounds a double to an integer
const EXP_FRAC = Float64Array.from({ length: 64 }, (_, j) => 2 ** (j / 64));
const EXP_INT = Float64Array.from({ length: 80 }, (_, e) => 2 ** -e);

/** Σ exp(src[i] - max) for max ≥ every src[i]. Terms below e^-50 are dropped: the max term alone is 1, so
 *  even 256k of them change the sum by < 1e-16 relative. */
export function sumExpShifted(src: Float32Array, max: number): number {
  let sum = 0;
  for (let i = 0; i < src.length; i++) {
    const x = src[i] - max;
    if (!(x > -50)) continue; // also skips -inf and NaN
    const kd = x * EXP_K + ROUND_SHIFT - ROUND_SHIFT;
    const k = kd | 0;
    const r = x - kd * EXP_C;
    const p = 1 + r * (1 + r * (0.5 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120)))));
    sum += EXP_INT[-(k >> 6)] * EXP_FRAC[k & 63] * p;
  }
  return sum;
}

/** log_softmax of `src` into `dst` (may alias), float64 internally, float32 result. */
export function logSoftmaxInto(src: Float32Array, dst: Float32Array): void {
  const n = src.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (src[i] > max) max = src[i];
  const logSum = Math.log(sumExpShifted(src, max));
  for (let i = 0; i < n; i++) dst[i] = src[i] - max - logSum;
}

/** Offers fround(row[v] + beamScore) as candidate base + v (float32 add, like torch's `scores + beam_scores`). */
function offerRow(top: TopK, row: Float32Array, beamScore: number, base: number): void {
  let threshold = top.threshold;
  for (let v = 0; v < row.length; v++) {
    const s = Math.fround(row[v] + beamScore);
    if (s >= threshold) {
      top.offer(s, base + v);
      threshold = top.threshold;
    }
  }
}

/**
 * The k best (score, index) pairs of a stream, without sorting the stream: a size-k min-heap whose root is
 * the current worst kept candidate. Order is torch.topk's for distinct scores; exact ties rank the lower
 * index first (what the fixtures need; torch's own tie order is unspecified).
 */
export class TopK {
  readonly k: number;
  private size = 0;
  private readonly score: Float64Array;
  private readonly index: Int32Array;
  private readonly order: number[];

  constructor(k: number) {
    this.k = k;
    this.score = new Float64Array(k);
    this.index = new Int32Array(k);
    this.order = new Array<number>(k);
  }

  reset(): void {
    this.size = 0;
  }

  /** Smallest score kept so far (-Infinity until full): anything not above it cannot enter. */
  get threshold(): number {
    return this.size < this.k ? -Infinity : this.score[0];
  }

  /** a ranks below b: lower score, or equal score and higher index. */
  private worse(i: number, j: number): boolean {
    const a = this.score[i];
    const b = this.score[j];
    return a < b || (a === b && this.index[i] > this.index[j]);
  }

  private swap(i: number, j: number): void {
    const s = this.score[i];
    this.score[i] = this.score[j];
    this.score[j] = s;
    const x = this.index[i];
    this.index[i] = this.index[j];
    this.index[j] = x;
  }

  offer(score: number, index: number): void {
    if (this.size < this.k) {
      let i = this.size++;
      this.score[i] = score;
      this.index[i] = index;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!this.worse(i, parent)) break;
        this.swap(i, parent);
        i = parent;
      }
      return;
    }
    const rootScore = this.score[0];
    if (score < rootScore || (score === rootScore && index > this.index[0])) return;
    if (score === rootScore && index === this.index[0]) return;
    this.score[0] = score;
    this.index[0] = index;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.size && this.worse(l, m)) m = l;
      if (r < this.size && this.worse(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
  }

  /** Kept candidates best first into the given arrays; returns how many. */
  sorted(outScore: Float64Array, outIndex: Int32Array): number {
    const order = this.order;
    order.length = this.size;
    for (let i = 0; i < this.size; i++) order[i] = i;
    order.sort((a, b) => this.score[b] - this.score[a] || this.index[a] - this.index[b]);
    for (let i = 0; i < this.size; i++) {
      outScore[i] = this.score[order[i]];
      outIndex[i] = this.index[order[i]];
    }
    return this.size;
  }
}

export interface Hypothesis {
  /** Length-penalised score (float64, as HF keeps it until finalize). */
  score: number;
  /** Decoder tokens incl. the start token, without the eos that ended it. */
  tokens: Int32Array;
}

/** The finished hypotheses of one sentence: BeamHypotheses, including its worst_score bookkeeping. */
export class BeamHypotheses {
  readonly beams: Hypothesis[] = [];
  private worstScore = 1e9;

  constructor(
    readonly numBeams: number,
    readonly lengthPenalty: number,
    readonly earlyStopping: EarlyStopping,
    readonly maxLength: number,
  ) {}

  get length(): number {
    return this.beams.length;
  }

  /** generatedLen: tokens after the start token, counting the eos that ended the hypothesis (if any). */
  add(tokens: Int32Array, sumLogprobs: number, generatedLen: number): void {
    const score = sumLogprobs / generatedLen ** this.lengthPenalty;
    if (this.beams.length < this.numBeams || score > this.worstScore) {
      this.beams.push({ score, tokens });
      if (this.beams.length > this.numBeams) {
        // HF sorts (score, position) pairs: the lowest score goes, the earliest added among equals.
        let worst = 0;
        for (let i = 1; i < this.beams.length; i++) if (this.beams[i].score < this.beams[worst].score) worst = i;
        this.beams.splice(worst, 1);
        this.worstScore = Math.min(...this.beams.map((h) => h.score));
      } else {
        this.worstScore = Math.min(score, this.worstScore);
      }
    }
  }

  /** bestSumLogprobs: the best candidate score of this step; generatedLen: what a hypothesis ending at this
   *  step would count (HF's cur_len - decoder_prompt_len). */
  isDone(bestSumLogprobs: number, generatedLen: number): boolean {
    if (this.beams.length < this.numBeams) return false;
    if (this.earlyStopping === true) return true;
    const len = this.earlyStopping === 'never' && this.lengthPenalty > 0 ? this.maxLength - 1 : generatedLen;
    return this.worstScore >= bestSumLogprobs / len ** this.lengthPenalty;
  }

  /** The best `n` by score; equal scores: the later added first (HF sorts ascending and pop()s). */
  best(n: number): Hypothesis[] {
    const ranked = this.beams.map((h, i) => ({ h, i }));
    ranked.sort((a, b) => b.h.score - a.h.score || b.i - a.i);
    return ranked.slice(0, n).map((x) => x.h);
  }
}

/**
 * Beam search over `batchSize` sentences; `session` must hold batchSize × numBeams rows (row b*numBeams+j
 * = beam j of sentence b), all starting from the decoder start token. One session.step per decoder step
 * for all rows, then session.reorder with the chosen source row of every new beam.
 */
export async function beamSearch(
  session: DecoderSession,
  batchSize: number,
  cfg: ResolvedGenerateConfig,
): Promise<GenerateOutput> {
  const V = session.vocabSize;
  const n = cfg.numBeams;
  const rows = batchSize * n;
  const maxLen = cfg.maxLength;
  const processors = buildProcessors(cfg, V);
  const eosList = cfg.eosTokenIds;
  const eos = new Set(eosList);
  const signal = cfg.signal;

  // Enough candidates that at least n of them are not eos (HF: max(2, 1 + n_eos) * num_beams).
  const k = Math.max(2, 1 + eosList.length) * n;
  if (k > n * V) throw new RangeError(`vocabulary size ${V} is too small for ${n} beams and ${eosList.length} eos ids`);

  let history = new Int32Array(rows * maxLen); // row r: tokens [r*maxLen, r*maxLen + curLen)
  let nextHistory = new Int32Array(rows * maxLen);
  for (let r = 0; r < rows; r++) history[r * maxLen] = cfg.decoderStartTokenId;
  const input = new Int32Array(rows).fill(cfg.decoderStartTokenId);
  // Only beam 0 of each sentence is live at first: the others start at -1e9 so step 1 expands one beam.
  const beamScores = new Float32Array(rows);
  for (let r = 0; r < rows; r++) if (r % n !== 0) beamScores[r] = -1e9;
  const nextScores = new Float32Array(rows);
  const sourceRow = new Int32Array(rows);

  const hyps = Array.from({ length: batchSize }, () => new BeamHypotheses(n, cfg.lengthPenalty, cfg.earlyStopping, maxLen));
  const done = new Array<boolean>(batchSize).fill(false);
  const top = new TopK(k);
  const candScore = new Float64Array(k);
  const candIndex = new Int32Array(k);
  const scratch = new Float32Array(V);
  let curLen = 1;

  for (;;) {
    if (signal) {
      throwIfAborted(signal);
      await yieldToEventLoop();
      throwIfAborted(signal);
    }
    // Without processors the session ranks where the logits are (only B × k candidates come back). Otherwise the
    // processors see every row: log-probs in place in the session's memory where it shares it (then the session
    // ranks them), else read back and ranked here.
    let ranked: RankedCandidates | null = null;
    let logits: Float32Array | null = null;
    let logProbs: Float32Array | null = null;
    const fast = processors.length === 0 ? session.stepTopK?.(input, beamScores, k) ?? null : null;
    if (fast) ranked = fast instanceof Promise ? await fast : fast;
    else {
      const out = session.step(input);
      logits = out instanceof Float32Array ? out : await out; // no await (microtask) on the wasm path
      checkLogits(logits, rows, V);
      logProbs = session.logSoftmax?.() ?? null;
      if (logProbs) {
        for (let r = 0; r < rows; r++) {
          if (processors.length > 0 && !done[Math.floor(r / n)]) applyProcessors(processors, history.subarray(r * maxLen, r * maxLen + curLen), logProbs.subarray(r * V, (r + 1) * V));
        }
        ranked = session.rankRows?.(beamScores, k) ?? null;
      }
    }

    // Everything read from `logits` happens in this loop, before reorder/step invalidate it.
    for (let b = 0; b < batchSize; b++) {
      const first = b * n;
      if (done[b]) {
        // HF feeds pad with score 0 to finished sentences (and points them at row 0; we keep each row in
        // place, which cannot change any output because a done sentence is never read again).
        for (let j = 0; j < n; j++) {
          nextScores[first + j] = 0;
          input[first + j] = cfg.padTokenId;
          sourceRow[first + j] = first + j;
        }
        continue;
      }

      let count: number;
      if (ranked) {
        count = 0;
        while (count < k && ranked.indices[b * k + count] >= 0) {
          candScore[count] = ranked.scores[b * k + count];
          candIndex[count] = ranked.indices[b * k + count];
          count++;
        }
      } else {
        top.reset();
        for (let j = 0; j < n; j++) {
          const r = first + j;
          let row: Float32Array<ArrayBufferLike> = scratch;
          if (logProbs) row = logProbs.subarray(r * V, (r + 1) * V);
          else {
            logSoftmaxInto(logits!.subarray(r * V, (r + 1) * V), scratch);
            if (processors.length > 0) applyProcessors(processors, history.subarray(r * maxLen, r * maxLen + curLen), row);
          }
          offerRow(top, row, beamScores[r], j * V);
        }
        count = top.sorted(candScore, candIndex);
      }

      // Walk candidates best first: eos inside the top n finishes a hypothesis, eos below is dropped,
      // anything else fills the next running beam until n are filled.
      let filled = 0;
      for (let rank = 0; rank < count && filled < n; rank++) {
        const j = Math.floor(candIndex[rank] / V);
        const token = candIndex[rank] - j * V;
        const src = first + j;
        if (eos.has(token)) {
          if (rank >= n) continue;
          hyps[b].add(history.slice(src * maxLen, src * maxLen + curLen), candScore[rank], curLen);
        } else {
          const r = first + filled++;
          nextScores[r] = candScore[rank];
          input[r] = token;
          sourceRow[r] = src;
        }
      }
      if (filled < n) throw new Error(`beam search found only ${filled} non-eos candidates for ${n} beams`);
      done[b] = hyps[b].isDone(candScore[0], curLen);
    }

    // New beam r continues old row sourceRow[r] with token input[r].
    for (let r = 0; r < rows; r++) {
      const from = sourceRow[r] * maxLen;
      nextHistory.set(history.subarray(from, from + curLen), r * maxLen);
      nextHistory[r * maxLen + curLen] = input[r];
    }
    [history, nextHistory] = [nextHistory, history];
    beamScores.set(nextScores);
    curLen++;
    if (curLen >= maxLen || done.every(Boolean)) break;
    session.reorder(sourceRow);
  }

  // Sentences still running at maxLength offer their beams as hypotheses (no eos, generated_len = curLen-1).
  for (let b = 0; b < batchSize; b++) {
    if (done[b]) continue;
    for (let j = 0; j < n; j++) {
      const r = b * n + j;
      hyps[b].add(history.slice(r * maxLen, r * maxLen + curLen), beamScores[r], curLen - 1);
    }
  }
  return finalizeOutput(hyps, cfg);
}

/** BeamSearchScorer.finalize: best numReturnSequences per sentence; rows as wide as the longest returned
 *  one + 1 (capped at maxLength); one eos (the first eos id, whichever ended the hypothesis) after every
 *  shorter row, then pad. */
function finalizeOutput(hyps: BeamHypotheses[], cfg: ResolvedGenerateConfig): GenerateOutput {
  const chosen = hyps.flatMap((h) => h.best(cfg.numReturnSequences));
  const longest = Math.max(...chosen.map((h) => h.tokens.length));
  const width = Math.min(longest + 1, cfg.maxLength);
  const sequences = chosen.map((h) => {
    const row = Array.from(h.tokens);
    if (row.length < width) row.push(cfg.eosTokenIds.length > 0 ? cfg.eosTokenIds[0] : cfg.padTokenId);
    while (row.length < width) row.push(cfg.padTokenId);
    return row;
  });
  return { sequences, scores: chosen.map((h) => Math.fround(h.score)) };
}
