// Beam search as transformers 4.40.2 `_beam_search` + BeamSearchScorer/BeamHypotheses
// (generation/utils.py, generation/beam_search.py); docs/model-spec.md §Beam and §Output walk through the same steps.
//
// Numerics follow torch float32 so that scores match to ~1e-6 and ties break the same way: the session's
// log-probs and processors are float32, the running beam score is float32 (`fround(logprob + beamScore)`, ranked
// by the session: ties to the lower index), while finished-hypothesis scores are divided by
// generated_len ** length_penalty in float64 like HF's Python floats.

import { InputError, NumericError } from '../errors.js';
import { checkBeamCandidates } from './limits.js';
import { applyProcessors, buildProcessors } from './processors.js';
import { checkLogits, throwIfAborted, yieldToEventLoop } from './greedy.js';
import type { DecoderSession, EarlyStopping, GenerateOutput, RankedCandidates, ResolvedGenerateConfig } from './types.js';

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
        this.worstScore = this.beams.reduce((m, h) => Math.min(m, h.score), Infinity);
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
  checkBeamCandidates(n, eosList, V);
  const k = Math.max(2, 1 + eosList.length) * n;

  let history = new Int32Array(rows * maxLen); // row r = b*n + j: tokens [r*maxLen, r*maxLen + curLen)
  let nextHistory = new Int32Array(rows * maxLen);
  for (let r = 0; r < rows; r++) history[r * maxLen] = cfg.decoderStartTokenId;
  // The session holds the rows of live sentences only (live[p]: the sentence at place p; its beams are session
  // rows p*n + j): a finished sentence leaves it, where transformers keeps feeding it pad, never read again.
  let live = Int32Array.from({ length: batchSize }, (_, b) => b);
  let input = new Int32Array(rows).fill(cfg.decoderStartTokenId); // [live × n], session order
  // Only beam 0 of each sentence is live at first: the others start at -1e9 so step 1 expands one beam.
  let beamScores = new Float32Array(rows); // [live × n], session order
  for (let r = 0; r < rows; r++) if (r % n !== 0) beamScores[r] = -1e9;
  const nextScores = new Float32Array(rows);
  const nextInput = new Int32Array(rows);
  const sourceRow = new Int32Array(rows); // session row each new beam continues

  const hyps = Array.from({ length: batchSize }, () => new BeamHypotheses(n, cfg.lengthPenalty, cfg.earlyStopping, maxLen));
  const done = new Array<boolean>(batchSize).fill(false);
  const candScore = new Float64Array(k);
  const candIndex = new Int32Array(k);
  let curLen = 1;

  for (;;) {
    if (signal) {
      throwIfAborted(signal);
      if (!session.yieldsToEventLoop) {
        await yieldToEventLoop(); // an abort event can only arrive while the loop turns
        throwIfAborted(signal);
      }
    }
    const liveRows = live.length * n;
    // The session ranks each sentence's candidates where its log-probs are (only B × k come back); processors,
    // when there are any, change the log-prob rows first.
    let ranked: RankedCandidates;
    if (processors.length === 0 && session.stepTopK) {
      const out = session.stepTopK(input, beamScores, k);
      ranked = out instanceof Promise ? await out : out; // no await (microtask) on the wasm path
    } else {
      const out = session.stepLogProbs(input);
      const logProbs = out instanceof Float32Array ? out : await out;
      checkLogits(logProbs, liveRows, V);
      for (let p = 0; p < live.length && processors.length > 0; p++) {
        for (let j = 0; j < n; j++) {
          const r = live[p] * n + j, i = p * n + j;
          applyProcessors(processors, history.subarray(r * maxLen, r * maxLen + curLen), logProbs.subarray(i * V, (i + 1) * V));
        }
      }
      const r = session.rank(logProbs, beamScores, k);
      ranked = r instanceof Promise ? await r : r;
    }

    for (let p = 0; p < live.length; p++) {
      const b = live[p];
      let count = 0;
      while (count < k && ranked.indices[p * k + count] >= 0) {
        candScore[count] = ranked.scores[p * k + count];
        candIndex[count] = ranked.indices[p * k + count];
        count++;
      }

      // Walk candidates best first: eos inside the top n finishes a hypothesis, eos below is dropped,
      // anything else fills the next running beam until n are filled.
      let filled = 0;
      for (let rank = 0; rank < count && filled < n; rank++) {
        const j = Math.floor(candIndex[rank] / V);
        const token = candIndex[rank] - j * V;
        if (eos.has(token)) {
          if (rank >= n) continue;
          const src = b * n + j;
          hyps[b].add(history.slice(src * maxLen, src * maxLen + curLen), candScore[rank], curLen);
        } else {
          const i = p * n + filled++;
          nextScores[i] = candScore[rank];
          nextInput[i] = token;
          sourceRow[i] = p * n + j;
        }
      }
      if (filled < n) {
        throw new NumericError(`beam search found only ${filled} usable candidates for ${n} beams of sentence ${b} at step ` +
          `${curLen} (the others scored NaN): the model's numbers went non-finite`);
      }
      done[b] = hyps[b].isDone(candScore[0], curLen);
    }

    // New beam (b, j) continues old beam sourceRow - b's first row with token nextInput; history is kept for every
    // live sentence (a finished one's last running beams are still offered at maxLength if it were not done).
    for (let p = 0; p < live.length; p++) {
      for (let j = 0; j < n; j++) {
        const i = p * n + j, r = live[p] * n + j, from = (live[p] * n + (sourceRow[i] - p * n)) * maxLen;
        nextHistory.set(history.subarray(from, from + curLen), r * maxLen);
        nextHistory[r * maxLen + curLen] = nextInput[i];
      }
    }
    [history, nextHistory] = [nextHistory, history];
    curLen++;
    const keep = Int32Array.from(live.keys()).filter((p) => !done[live[p]]);
    if (curLen >= maxLen || keep.length === 0) {
      beamScores = nextScores.slice(0, liveRows);
      break;
    }
    // The session's rows follow the new beams, and finished sentences leave.
    const index = new Int32Array(keep.length * n);
    input = new Int32Array(keep.length * n);
    beamScores = new Float32Array(keep.length * n);
    keep.forEach((p, q) => {
      for (let j = 0; j < n; j++) {
        index[q * n + j] = sourceRow[p * n + j];
        input[q * n + j] = nextInput[p * n + j];
        beamScores[q * n + j] = nextScores[p * n + j];
      }
    });
    if (keep.length === live.length) session.reorder(index);
    else session.reorder(index, keep);
    live = Int32Array.from(keep, (p) => live[p]);
  }

  // Sentences still running at maxLength offer their beams as hypotheses (no eos, generated_len = curLen-1).
  live.forEach((b, p) => {
    if (done[b]) return;
    for (let j = 0; j < n; j++) {
      const r = b * n + j;
      hyps[b].add(history.slice(r * maxLen, r * maxLen + curLen), beamScores[p * n + j], curLen - 1);
    }
  });
  return finalizeOutput(hyps, cfg);
}

/** BeamSearchScorer.finalize: best numReturnSequences per sentence; rows as wide as the longest returned
 *  one + 1 (capped at maxLength); one eos (the first eos id, whichever ended the hypothesis) after every
 *  shorter row, then pad. */
function finalizeOutput(hyps: BeamHypotheses[], cfg: ResolvedGenerateConfig): GenerateOutput {
  const chosen = hyps.flatMap((h) => h.best(cfg.numReturnSequences));
  // A running beam may score -Infinity (every continuation banned) and still lose to a finished hypothesis, as in
  // transformers; a *returned* one that does is an arbitrary sequence, which must not pass as an answer.
  chosen.forEach((h, i) => {
    if (h.score === -Infinity) {
      throw new InputError(`beam search hypothesis ${i % cfg.numReturnSequences} of sentence ${Math.floor(i / cfg.numReturnSequences)} ` +
        'scores -Infinity: the logits processors (badWordsIds, minLength, forced ids, noRepeatNgramSize) banned every token at some ' +
        'step, so the sequence is arbitrary; loosen them, or ask for fewer numReturnSequences');
    }
    if (Number.isNaN(h.score)) throw new NumericError(`beam search hypothesis ${i} scores NaN: the model's numbers went non-finite`);
  });
  const longest = chosen.reduce((m, h) => Math.max(m, h.tokens.length), 0);
  const width = Math.min(longest + 1, cfg.maxLength);
  const sequences = chosen.map((h) => {
    const row = Array.from(h.tokens);
    if (row.length < width) row.push(cfg.eosTokenIds.length > 0 ? cfg.eosTokenIds[0] : cfg.padTokenId);
    while (row.length < width) row.push(cfg.padTokenId);
    return row;
  });
  return { sequences, scores: chosen.map((h) => Math.fround(h.score)) };
}
