// Fake decoders for the generation tests.
//
// FakeSession: logits are a deterministic function of each row's whole token prefix, defined bit for bit
// like `fake_logits` in tools/gen_reference.py (which produced reference.json): exact uint32 hashing, and
// values that are exact in float32, so Python and TypeScript see identical logits. Because the logits
// depend on the full prefix, a search that ignores reorder() (or reorders wrongly) gets different logits.
//
// ReplaySession: logits recorded by tools/gen_reference.py from the tiny checkpoints in test/fixtures, looked
// up by prefix (fixture_replay.json), so the search can be checked against real transformers output.

import { readFileSync } from 'node:fs';
import type { DecoderFactory, DecoderSession, GenerateOptions, RankedCandidates } from '../../bindings/generation/types.js';

export function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function hashTokens(seed: number, tokens: readonly number[]): number {
  let h = fmix((seed ^ 0x811c9dc5) >>> 0);
  for (const t of tokens) h = Math.imul((h ^ t) >>> 0, 16777619) >>> 0;
  return fmix(h);
}

/** [-4, 4) in steps of 2^-17. */
export function uniform(h: number, v: number): number {
  const x = fmix((h ^ Math.imul(v, 0x9e3779b1)) >>> 0);
  return ((x >>> 12) - 524288) / 131072;
}

export interface FakeParams {
  seed: number;
  vocab: number;
  repeat_bonus: number;
  /** [token, base, slope]: token's logit += base + slope * (prefix length - 1) */
  eos_boost: [number, number, number][];
}

export function fakeLogits(p: FakeParams, sentence: number, prefix: readonly number[], out: Float32Array): void {
  const hFull = hashTokens(hashTokens(p.seed, [sentence, 1]), prefix);
  const hLast = hashTokens(hashTokens(p.seed, [sentence, 2]), [prefix[prefix.length - 1]]);
  const row = new Float64Array(p.vocab);
  for (let v = 0; v < p.vocab; v++) row[v] = 0.5 * uniform(hFull, v) + uniform(hLast, v);
  row[prefix[prefix.length - 1]] += p.repeat_bonus;
  for (const [tok, base, slope] of p.eos_boost) row[tok] += base + slope * (prefix.length - 1);
  out.set(row);
}

/** log_softmax of each row of `x` [rows, n] in place: float64 with a max-subtract, rounded to float32 (torch's
 *  float32 log_softmax, within an ulp). */
export function logSoftmaxRows(x: Float32Array, n: number): Float32Array {
  for (let r = 0; r < x.length / n; r++) {
    const row = x.subarray(r * n, (r + 1) * n);
    let max = -Infinity;
    for (const v of row) if (v > max) max = v;
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    const lse = max + Math.log(sum);
    for (let i = 0; i < n; i++) row[i] = row[i] - lse;
  }
  return x;
}

/** Per sentence the k best fround(logProbs[row][v] + beamScores[row]) over its `beams` rows (index j·n + v), best
 *  first, ties to the lower index, NaN never ranked, unfilled slots -1: the backends' topK, by sorting. */
export function rankBySorting(logProbs: Float32Array, beamScores: Float32Array, beams: number, n: number, k: number): RankedCandidates {
  const sentences = beamScores.length / beams;
  const scores = new Float32Array(sentences * k), indices = new Int32Array(sentences * k).fill(-1);
  for (let b = 0; b < sentences; b++) {
    const c: [number, number][] = [];
    for (let j = 0; j < beams; j++) {
      for (let v = 0; v < n; v++) {
        const sc = Math.fround(logProbs[(b * beams + j) * n + v] + beamScores[b * beams + j]);
        if (!Number.isNaN(sc)) c.push([sc, j * n + v]);
      }
    }
    c.sort((x, y) => y[0] - x[0] || x[1] - y[1]);
    c.slice(0, k).forEach(([sc, i], r) => { scores[b * k + r] = sc; indices[b * k + r] = i; });
  }
  return { scores, indices };
}

/** A session from just step() and reorder(): beam search's log-probs and ranking derived from step(). */
export function fromStep<T extends { vocabSize: number; step(tokens: Int32Array): Float32Array; reorder(index: Int32Array, sentences?: Int32Array): void }>(
  s: T, beams = 1): T & DecoderSession {
  return Object.assign(s, {
    stepLogProbs(tokens: Int32Array) { return logSoftmaxRows(s.step(tokens), s.vocabSize); },
    rank(logProbs: Float32Array, beamScores: Float32Array, k: number) { return rankBySorting(logProbs, beamScores, beams, s.vocabSize, k); },
  });
}

/** Shared by both fakes: per-row prefixes that follow step() and reorder() (finished sentences leaving it too),
 *  plus misuse checks. */
abstract class PrefixSession implements DecoderSession {
  readonly vocabSize: number;
  /** Live rows: those of the live sentences. */
  rows: number;
  prefixes: number[][];
  /** The batch sentence of each live row. */
  rowSentence: number[];
  stepCalls = 0;
  /** Rows fed, summed over steps (what finished rows leaving saves). */
  rowSteps = 0;
  reorderCalls: Int32Array[] = [];
  /** One buffer for every step, clobbered by reorder(): reading logits late gives NaN. */
  private readonly buffer: Float32Array;

  constructor(
    vocabSize: number,
    readonly batch: number,
    readonly numBeams: number,
    private readonly ignoreReorder = false,
  ) {
    this.vocabSize = vocabSize;
    this.rows = batch * numBeams;
    this.prefixes = Array.from({ length: this.rows }, () => []);
    this.rowSentence = Array.from({ length: this.rows }, (_, r) => Math.floor(r / numBeams));
    this.buffer = new Float32Array(this.rows * vocabSize);
  }

  protected abstract logits(sentence: number, prefix: readonly number[], out: Float32Array): void;

  step(tokens: Int32Array): Float32Array {
    if (tokens.length !== this.rows) throw new Error(`step got ${tokens.length} tokens for ${this.rows} rows`);
    this.stepCalls++;
    this.rowSteps += this.rows;
    for (let r = 0; r < this.rows; r++) {
      this.prefixes[r].push(tokens[r]);
      this.logits(this.rowSentence[r], this.prefixes[r], this.buffer.subarray(r * this.vocabSize, (r + 1) * this.vocabSize));
    }
    return this.buffer.subarray(0, this.rows * this.vocabSize);
  }

  /** step(), then log_softmax in place (through this.step, so a wrapped step still sees every call). */
  stepLogProbs(tokens: Int32Array): Float32Array {
    return logSoftmaxRows(this.step(tokens), this.vocabSize);
  }

  rank(logProbs: Float32Array, beamScores: Float32Array, k: number): RankedCandidates {
    return rankBySorting(logProbs, beamScores, this.numBeams, this.vocabSize, k);
  }

  reorder(index: Int32Array, sentences?: Int32Array): void {
    const n = this.numBeams, kept = sentences ?? Int32Array.from({ length: this.rows / n }, (_, s) => s);
    if (index.length !== kept.length * n) throw new Error(`reorder got ${index.length} indices for ${kept.length * n} rows`);
    index.forEach((src, r) => {
      if (Math.floor(src / n) !== kept[Math.floor(r / n)]) throw new Error(`reorder moved row ${src} into another sentence's row ${r}`);
    });
    this.reorderCalls.push(index.slice());
    this.buffer.fill(NaN);
    this.rows = index.length;
    // ignoring the reorder still lets finished sentences' rows leave: each kept row stays the row it was
    const from = this.ignoreReorder ? Array.from(index, (_, r) => kept[Math.floor(r / n)] * n + (r % n)) : Array.from(index);
    this.prefixes = from.map((src) => [...this.prefixes[src]]);
    this.rowSentence = from.map((src) => this.rowSentence[src]);
  }
}

export class FakeSession extends PrefixSession {
  constructor(
    readonly params: FakeParams,
    batch: number,
    numBeams: number,
    ignoreReorder = false,
  ) {
    super(params.vocab, batch, numBeams, ignoreReorder);
  }

  protected logits(sentence: number, prefix: readonly number[], out: Float32Array): void {
    fakeLogits(this.params, sentence, prefix, out);
  }
}

/** A factory that records the sessions it made. */
export function fakeFactory(
  params: FakeParams,
  batch: number,
  ignoreReorder = false,
): DecoderFactory & { sessions: FakeSession[] } {
  const sessions: FakeSession[] = [];
  const factory = (numBeams: number) => {
    const s = new FakeSession(params, batch, numBeams, ignoreReorder);
    sessions.push(s);
    return s;
  };
  return Object.assign(factory, { sessions });
}

export class ReplaySession extends PrefixSession {
  misses = 0;
  constructor(
    private readonly table: Map<string, Float32Array>[],
    vocabSize: number,
    batch: number,
    numBeams: number,
  ) {
    super(vocabSize, batch, numBeams);
  }

  protected logits(sentence: number, prefix: readonly number[], out: Float32Array): void {
    const hit = this.table[sentence].get(prefix.join(','));
    if (hit) {
      out.set(hit);
    } else {
      // Rows of finished sentences (pad-fed) were never recorded; their logits must not matter.
      this.misses++;
      out.fill(0);
    }
  }
}

/** snake_case HF kwargs → GenerateOptions (camelCase). */
export function toOptions(kwargs: Record<string, unknown>): GenerateOptions {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(kwargs)) out[k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] = v;
  return out as GenerateOptions;
}

/** JSON with -Infinity (Python's json writes it; JSON.parse does not accept it). */
export function readJson<T>(url: URL): T {
  const text = readFileSync(url, 'utf8').replace(/-Infinity/g, '-1e999');
  return JSON.parse(text) as T;
}

export function decodeFloat32(base64: string): Float32Array {
  const bytes = Buffer.from(base64, 'base64');
  const copy = new Uint8Array(bytes); // own, aligned buffer
  return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
}
