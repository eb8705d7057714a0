// The onnxruntime-web side of the comparison: the three graphs tools/bench/make_marian.py exports, driven by
// plain-JS greedy and beam search with transformers 4.40's rules (the same rules bindings/generation follows).
//
//   encoder.onnx       input_ids, attention_mask -> last_hidden_state                  once per input
//   cross_kv.onnx      encoder_hidden_states -> present.{i}.encoder.{key,value}        once per input, then
//                      tiled in JS to the R = beams decoder rows (they are the same for every beam)
//   decoder_step.onnx  one token per row + past self K/V + the cross K/V -> logits, present self K/V
//
// This is Optimum's decoder_with_past layout (what transformers.js runs), with Optimum's first-step decoder
// replaced by the cross_kv graph; the self-attention cache round-trips through JS between steps, as with any
// onnxruntime-web caller (the wasm backend has no device-resident outputs).
import type * as OrtTypes from 'onnxruntime-web';
import { readFileSync } from 'node:fs';
import type { Meta } from './models.js';
import { ortGraph } from './models.js';

export type Ort = typeof OrtTypes;
type Tensor = OrtTypes.Tensor;
type Session = OrtTypes.InferenceSession;

/** Imports onnxruntime-web the way its package exports resolve in Node (the "node" condition:
 *  dist/ort.node.min.mjs, wasm backend from dist/ort-wasm-simd-threaded.wasm), single thread, SIMD. */
export async function importOrt(): Promise<Ort> {
  const ort = (await import('onnxruntime-web')) as Ort;
  ort.env.wasm.numThreads = Number(process.env.WASM_SEQ2SEQ_BENCH_THREADS ?? 1);   // compare.js --threads N
  ort.env.wasm.simd = true;
  ort.env.wasm.proxy = false;
  return ort;
}

export const SESSION_OPTIONS: OrtTypes.InferenceSession.SessionOptions = {
  executionProviders: ['wasm'],
  graphOptimizationLevel: 'all',
};

export async function createSession(ort: Ort, file: string): Promise<Session> {
  // bytes, as a browser caller has them after fetch(); file reading is part of the measured load
  return ort.InferenceSession.create(readFileSync(file), SESSION_OPTIONS);
}

export interface StepTiming {
  /** ms in session.run of the decoder, summed over steps */
  runMs: number;
  /** from the first decoder run's start to the last one's end: runs + search + cache handling */
  loopMs: number;
  steps: number;
}

/** The self-attention cache and the per-step feeds for R rows. */
class DecoderState {
  private past: Record<string, Tensor> = {};
  private readonly ids: BigInt64Array;
  private readonly feeds: Record<string, Tensor>;
  t = 0;
  readonly timing: StepTiming = { runMs: 0, loopMs: 0, steps: 0 };
  private loopStart = 0;

  constructor(private readonly ort: Ort, private readonly m: OrtMarian, readonly rows: number, cross: Tensor[], S: number) {
    const { heads: H, head_dim: hd, layers: L } = m.meta;
    this.ids = new BigInt64Array(rows);
    this.feeds = {
      input_ids: new ort.Tensor('int64', this.ids, [rows, 1]),
      encoder_attention_mask: new ort.Tensor('int64', new BigInt64Array(rows * S).fill(1n), [rows, S]),
    };
    for (let i = 0; i < L; i++) {
      this.past[`past_key_values.${i}.decoder.key`] = new ort.Tensor('float32', new Float32Array(0), [rows, H, 0, hd]);
      this.past[`past_key_values.${i}.decoder.value`] = new ort.Tensor('float32', new Float32Array(0), [rows, H, 0, hd]);
      this.feeds[`past_key_values.${i}.encoder.key`] = cross[2 * i];
      this.feeds[`past_key_values.${i}.encoder.value`] = cross[2 * i + 1];
    }
  }

  /** One token per row -> logits [R, V] (a copy owned by JS). */
  async step(tokens: Int32Array): Promise<Float32Array> {
    for (let r = 0; r < this.rows; r++) this.ids[r] = BigInt(tokens[r]);
    const t0 = performance.now();
    if (this.timing.steps === 0) this.loopStart = t0;
    const out = await this.m.decoder.run({ ...this.feeds, ...this.past });
    const t1 = performance.now();
    this.timing.runMs += t1 - t0;
    this.timing.steps++;
    this.timing.loopMs = t1 - this.loopStart;
    for (let i = 0; i < this.m.meta.layers; i++) {
      this.past[`past_key_values.${i}.decoder.key`] = out[`present.${i}.decoder.key`];
      this.past[`past_key_values.${i}.decoder.value`] = out[`present.${i}.decoder.value`];
    }
    this.t++;
    return out.logits.data as Float32Array;
  }

  /** Row r of the self-attention cache becomes old row src[r] (transformers' _reorder_cache). */
  reorder(src: Int32Array): void {
    if (src.every((s, r) => s === r)) return;
    for (const name of Object.keys(this.past)) {
      const t = this.past[name];
      const data = t.data as Float32Array;
      const block = data.length / this.rows;
      const out = new Float32Array(data.length);
      for (let r = 0; r < this.rows; r++) out.set(data.subarray(src[r] * block, (src[r] + 1) * block), r * block);
      this.past[name] = new this.ort.Tensor('float32', out, t.dims as number[]);
    }
  }
}

export interface OrtGenerateResult {
  tokens: number[];
  /** ms: whole call; encoder graph; cross-K/V graph + tiling; decode loop (see StepTiming) */
  totalMs: number;
  encoderMs: number;
  setupMs: number;
  timing: StepTiming;
  /** raw logits of the first `keepLogits` steps (row 0) */
  logits: Float32Array[];
}

export class OrtMarian {
  private constructor(
    private readonly ort: Ort, readonly meta: Meta,
    readonly encoder: Session, readonly crossKv: Session, readonly decoder: Session,
  ) {}

  static async load(ort: Ort, meta: Meta): Promise<OrtMarian> {
    const enc = await createSession(ort, ortGraph('encoder.onnx'));
    const ckv = await createSession(ort, ortGraph('cross_kv.onnx'));
    const dec = await createSession(ort, ortGraph('decoder_step.onnx'));
    return new OrtMarian(ort, meta, enc, ckv, dec);
  }

  /** last_hidden_state [1, S, D] for one sentence. */
  async encode(ids: readonly number[]): Promise<Tensor> {
    const S = ids.length;
    const out = await this.encoder.run({
      input_ids: new this.ort.Tensor('int64', BigInt64Array.from(ids, (x) => BigInt(x)), [1, S]),
      attention_mask: new this.ort.Tensor('int64', new BigInt64Array(S).fill(1n), [1, S]),
    });
    return out.last_hidden_state;
  }

  /** Cross-attention K/V for one sentence, tiled to `rows` decoder rows. */
  async cross(enc: Tensor, rows: number): Promise<Tensor[]> {
    const out = await this.crossKv.run({ encoder_hidden_states: enc });
    const res: Tensor[] = [];
    for (let i = 0; i < this.meta.layers; i++) {
      for (const kind of ['key', 'value']) {
        const t = out[`present.${i}.encoder.${kind}`];
        if (rows === 1) { res.push(t); continue; }
        const d = t.data as Float32Array;
        const tiled = new Float32Array(d.length * rows);
        for (let r = 0; r < rows; r++) tiled.set(d, r * d.length);
        res.push(new this.ort.Tensor('float32', tiled, [rows, ...(t.dims as number[]).slice(1)]));
      }
    }
    return res;
  }

  /**
   * Greedy (beams = 1) or beam search for one sentence, exactly `steps` decoder steps: no eos, no bad words, and
   * the forced-eos processor at the last step with `forcedEos` (what the benchmark asks of both runtimes).
   */
  async generate(ids: readonly number[], steps: number, beams: number, keepLogits = 0, forcedEos: readonly number[] | null = []): Promise<OrtGenerateResult> {
    const t0 = performance.now();
    const enc = await this.encode(ids);
    const t1 = performance.now();
    const cross = await this.cross(enc, beams);
    const state = new DecoderState(this.ort, this, beams, cross, ids.length);
    const t2 = performance.now();
    const r = beams === 1
      ? await greedy(state, this.meta.vocab, steps, this.meta.decoder_start_token_id, keepLogits, forcedEos)
      : await beamSearch(state, this.meta.vocab, beams, steps, this.meta.decoder_start_token_id, forcedEos);
    const t3 = performance.now();
    return { tokens: r.tokens, logits: r.logits, totalMs: t3 - t0, encoderMs: t1 - t0, setupMs: t2 - t1, timing: state.timing };
  }
}

function argmax(row: Float32Array): number {
  let best = 0, bv = row[0];
  for (let i = 1; i < row.length; i++) if (row[i] > bv) { bv = row[i]; best = i; }
  return best;
}

/**
 * transformers' ForcedEOSTokenLogitsProcessor at the last step (cur_len == max_length - 1): every score -inf but
 * the listed ids, which become 0. An empty list means no forced eos, as `forcedEosTokenId: []` does in our API
 * (the benchmark passes [] to both runtimes so both decode 64 free steps).
 */
function forceEos(scores: Float32Array, ids: readonly number[]): void {
  scores.fill(-Infinity);
  for (const e of ids) scores[e] = 0;
}

/** transformers' greedy search: argmax of the raw logits, `steps` times (forced eos at the last step). */
async function greedy(state: DecoderState, V: number, steps: number, start: number, keepLogits: number, forcedEos: readonly number[] | null): Promise<{ tokens: number[]; logits: Float32Array[] }> {
  const tokens: number[] = [];
  const logits: Float32Array[] = [];
  const input = new Int32Array(1).fill(start);
  for (let s = 0; s < steps; s++) {
    const l = await state.step(input);
    if (s < keepLogits) logits.push(l.slice(0, V));
    const row = l.subarray(0, V);
    if (forcedEos && forcedEos.length > 0 && s === steps - 1) forceEos(row, forcedEos);
    input[0] = argmax(row);
    tokens.push(input[0]);
  }
  return { tokens, logits };
}

/**
 * transformers 4.40 beam search (num_beams n, one sentence, length_penalty 1, no eos, forced eos), in the
 * same arithmetic as bindings/generation/beam.ts: float32 log-softmax per row, + the beam's float32 score,
 * top 2n over [n × V] (ties: lower index first), new beams in rank order, cache reordered after each step
 * but the last, and at max length the best running beam by score / generated_len ** length_penalty.
 */
async function beamSearch(state: DecoderState, V: number, n: number, steps: number, start: number, forcedEos: readonly number[] | null): Promise<{ tokens: number[]; logits: Float32Array[] }> {
  const k = 2 * n;
  let history: number[][] = Array.from({ length: n }, () => []);
  const input = new Int32Array(n).fill(start);
  const beamScores = new Float32Array(n).fill(-1e9);
  beamScores[0] = 0; // step 1 expands beam 0 only
  const topS = new Float64Array(k), topI = new Int32Array(k);
  const src = new Int32Array(n);
  for (let s = 0; s < steps; s++) {
    const logits = await state.step(input);
    const last = s === steps - 1;
    let filled = 0;
    for (let j = 0; j < n; j++) {
      const row = logits.subarray(j * V, (j + 1) * V);
      let max = -Infinity;
      for (let i = 0; i < V; i++) if (row[i] > max) max = row[i];
      let sum = 0;
      for (let i = 0; i < V; i++) sum += Math.exp(row[i] - max);
      const shift = max + Math.log(sum);
      const bs = beamScores[j];
      for (let i = 0; i < V; i++) {
        // log-prob in float32 (processors act on it), + the beam's score in float32
        const lp = last && forcedEos && forcedEos.length > 0 ? (forcedEos.includes(i) ? 0 : -Infinity) : Math.fround(row[i] - shift);
        const sc = Math.fround(lp + bs);
        if (filled < k || sc > topS[k - 1]) { // strict: an equal score at a higher index ranks below
          let p = filled < k ? filled++ : k - 1;
          while (p > 0 && topS[p - 1] < sc) { topS[p] = topS[p - 1]; topI[p] = topI[p - 1]; p--; }
          topS[p] = sc; topI[p] = j * V + i;
        }
      }
    }
    // no eos configured: the first n candidates become the new beams
    for (let r = 0; r < n; r++) {
      src[r] = Math.floor(topI[r] / V);
      input[r] = topI[r] - src[r] * V;
      beamScores[r] = topS[r];
    }
    history = Array.from({ length: n }, (_, r) => [...history[src[r]], input[r]]);
    if (s < steps - 1) state.reorder(src);
  }
  // all beams reach max length together: with one length, the best score wins (on ties the later beam, as
  // BeamHypotheses sorts ascending and pops)
  let best = 0;
  for (let r = 1; r < n; r++) if (beamScores[r] >= beamScores[best]) best = r;
  return { tokens: history[best], logits: [] };
}
