// The encoder-decoder Transformer of the BART family (Marian, BART, mBART, M2M100/NLLB), read top to bottom.
// A family file (marian.ts, ...) loads weights into an EncDecWeights and picks the options that differ:
// pre- or post-LayerNorm, embedding scale, positions, embedding/final norms, activation.
//
// T5 runs on the same code: no positions, RMS norms, relative-position bias, no attention scaling.
//
// Shapes (B sentences, S padded source length, R = B × beams decoder rows, D = d_model, F = ffn dim,
// H heads of hd, A = H·hd attention width (= D except T5's d_kv), V output vocabulary, T = max decoder length):
//   encoder hidden   [B*S, D]        cross K|V per layer [B*S, 2A]  (K in columns 0..A-1, V in A..2A-1)
//   decoder hidden   [R, D]          self  K|V cache per layer [R, T, 2A]
//   logits           [R, V]
import type { Heap } from '../arena.js';
import { InputError } from '../errors.js';
import type { DecoderSession } from '../generation/types.js';
import { MAX_CHUNKS, type Chunk } from '../threads/pool.js';
import { PARALLEL_MIN_MACS, splitRange, type FFN, type Linear, type Norm } from './layers.js';

export interface SelfAttention { qkv: Linear; out: Linear } // qkv: [3A, D] fused, out: [D, A]
export interface CrossAttention { q: Linear; kv: Linear; out: Linear } // q: [A, D], kv: [2A, D] fused

export interface EncoderLayer { self: SelfAttention; selfNorm: Norm; ffn: FFN; ffnNorm: Norm }
export interface DecoderLayer extends EncoderLayer { cross: CrossAttention; crossNorm: Norm }

/** Token embeddings: a plain [V, D] table, or rows gathered from a packed (tied) lm_head. */
export type Embedding = { kind: 'table'; ptr: number; rows: number } | { kind: 'packed'; linear: Linear };

/** Maps the tokens of one sequence to rows of the position table. */
export type PositionIds = (tokens: Int32Array, past: number, out: Int32Array) => void;

/** A position table in wasm memory; maxLength = the longest sequence its rows cover (rows minus any offset). */
export interface Positions { table: number; rows: number; maxLength: number; ids: PositionIds }

/** T5's relative-position bias, shared by every layer of a stack: fills [H, tq, tk] at `out`. */
export interface RelativeBias {
  encoder(S: number, out: number): void;
  /** One decoder step: the query at position t against keys 0..t, [H, 1, t+1]. */
  decoderStep(t: number, out: number): void;
}

export interface EncDecWeights {
  d: number;
  attnWidth: number; // A = heads × head_dim
  scaleAttention: boolean; // q · hd^-0.5 (BART family); T5 folds it into the weights (scale 1)
  relBias: RelativeBias | null;
  lmScale: number; // T5 tied head: d^-0.5 before the projection; 1 otherwise
  encHeads: number;
  decHeads: number;
  preNorm: boolean; // mBART/M2M100: x + f(LN(x)); Marian/BART: LN(x + f(x))
  embedScale: number;
  encEmbed: Embedding;
  decEmbed: Embedding;
  encPositions: Positions | null;
  decPositions: Positions | null;
  encEmbedNorm: Norm | null; // BART/mBART layernorm_embedding
  decEmbedNorm: Norm | null;
  encFinalNorm: Norm | null; // mBART/M2M100 final layer_norm
  decFinalNorm: Norm | null;
  encLayers: EncoderLayer[];
  decLayers: DecoderLayer[];
  lmHead: Linear; // [V, D] with final_logits_bias as its bias
  ffnHidden: number; // floats of FFN scratch per row (2F for gated FFNs)
  vocabIn: number;
  vocabOut: number;
}

function embed(heap: Heap, e: Embedding, ids: number, n: number, d: number, scale: number, out: number): void {
  if (e.kind === 'table') heap.k.embed_f32(e.ptr, ids, n, d, scale, out);
  else if (e.linear.format === 'int8') heap.k.embed_packed_i8(e.linear.packed, ids, n, d, scale, out);
  else heap.k.embed_packed_f32(e.linear.packed, ids, n, d, scale, out);
}

/** Embeddings × scale + positions (+ layernorm_embedding) for `rows` sequences of `len` tokens each. */
function embedTokens(heap: Heap, w: EncDecWeights, side: 'enc' | 'dec', ids: number, rows: number, len: number, past: number, out: number): void {
  const n = rows * len;
  embed(heap, side === 'enc' ? w.encEmbed : w.decEmbed, ids, n, w.d, w.embedScale, out);
  const pos = side === 'enc' ? w.encPositions : w.decPositions;
  if (pos) {
    const mark = heap.mark();
    const pid = heap.alloc(n * 4);
    const all = heap.i32();
    for (let r = 0; r < rows; r++) {
      const tok = all.subarray((ids >>> 2) + r * len, (ids >>> 2) + (r + 1) * len);
      pos.ids(tok, past, all.subarray((pid >>> 2) + r * len, (pid >>> 2) + (r + 1) * len));
    }
    for (let i = 0; i < n; i++) {
      const p = all[(pid >>> 2) + i];
      if (p < 0 || p >= pos.rows) throw new InputError(`position ${p} is outside the model's position table (${pos.rows} rows): the sequence is too long for this model`);
    }
    heap.k.gather_add_f32(pos.table, pid, n, w.d, out);
    heap.release(mark);
  }
  const norm = side === 'enc' ? w.encEmbedNorm : w.decEmbedNorm;
  norm?.run(out, n);
}

/**
 * attention_f32 calls (their arguments) writing disjoint outputs: on this thread, or with `split` one per chunk of
 * the pool, each computed exactly as here; argument 15, the scratch, moves to the claiming thread's own.
 */
function attend(heap: Heap, calls: number[][], split: boolean, scratchBytes: number): void {
  const pool = heap.pool;
  if (!pool || !split || calls.length < 2) {
    const attention = heap.k.attention_f32 as (...a: number[]) => void;
    for (const a of calls) attention(...a);
    return;
  }
  for (let i = 0; i < calls.length; i += MAX_CHUNKS) {
    pool.run(calls.slice(i, i + MAX_CHUNKS).map((a): Chunk => ({ call: ['attention_f32', ...a], scratchArg: 15, scratchStride: scratchBytes })));
  }
}

/**
 * Self-attention of one sentence: Q|K|V rows [S, 3A] (stride 3A) → ctx [S, A]. With a thread pool the heads are
 * split between threads (each head is computed exactly as on one thread); T5's bias [H, S, S] follows its heads.
 */
function encoderAttention(heap: Heap, qkv: number, ctx: number, H: number, hd: number, S: number, scale: number,
  mask: number, bias: number, scratch: number, scratchBytes: number): void {
  const A = H * hd;
  const heads = (h0: number, h1: number): number[] => [qkv + h0 * hd * 4, 3 * A, qkv + (A + h0 * hd) * 4,
    qkv + (2 * A + h0 * hd) * 4, 3 * A, ctx + h0 * hd * 4, A, h1 - h0, hd, S, S, scale, mask, -1,
    bias ? bias + h0 * S * S * 4 : 0, scratch];
  const split = !!heap.pool && H > 1 && S * S * A >= PARALLEL_MIN_MACS;
  // one call for every head, or one head per chunk
  attend(heap, split ? Array.from({ length: H }, (_, h) => heads(h, h + 1)) : [heads(0, H)], split, scratchBytes);
}

/** Runs the encoder over ids [B, S] (i32 in heap) with key mask [B, S] (u8); returns hidden [B*S, D]. */
export function encode(heap: Heap, w: EncDecWeights, ids: number, mask: number, B: number, S: number): number {
  const { d } = w, A = w.attnWidth, n = B * S, hd = A / w.encHeads;
  const h = heap.alloc(n * d * 4);
  const mark = heap.mark();
  const x = heap.alloc(n * d * 4), qkv = heap.alloc(n * 3 * A * 4), ctx = heap.alloc(n * A * 4);
  const scratchBytes = Math.ceil(((hd + S) * 4) / 64) * 64;
  const hidden = heap.alloc(n * w.ffnHidden * 4), scratch = heap.alloc(scratchBytes * heap.threads);
  let bias = 0;
  if (w.relBias) { bias = heap.alloc(w.encHeads * S * S * 4); w.relBias.encoder(S, bias); }
  embedTokens(heap, w, 'enc', ids, B, S, 0, h);
  for (const L of w.encLayers) {
    let src = h;
    if (w.preNorm) { L.selfNorm.run(h, n, x); src = x; }
    L.self.qkv.run(src, n, qkv);
    for (let b = 0; b < B; b++) {
      const q = qkv + b * S * 3 * A * 4;
      encoderAttention(heap, q, ctx + b * S * A * 4, w.encHeads, hd, S, w.scaleAttention ? hd ** -0.5 : 1, mask + b * S, bias, scratch, scratchBytes);
    }
    L.self.out.run(ctx, n, h, true); // h += attention
    if (!w.preNorm) L.selfNorm.run(h, n);
    src = h;
    if (w.preNorm) { L.ffnNorm.run(h, n, x); src = x; }
    L.ffn.run(src, n, h, hidden, true); // h += ffn
    if (!w.preNorm) L.ffnNorm.run(h, n);
  }
  w.encFinalNorm?.run(h, n);
  heap.release(mark);
  return h;
}

/**
 * Incremental decoding for R = B × beams rows against one encoded batch. All buffers are allocated here,
 * once; step() allocates nothing. Lives until the heap is released below its allocations.
 */
/** Candidates topKRows can rank per decoder row: HF asks for max(2, 1 + #eos) per beam, so up to 8 eos ids. */
const TOPK_PER_ROW = 9;

export class EncDecSession implements DecoderSession {
  readonly vocabSize: number;
  private t = 0; // tokens fed so far (= self-attention cache length)
  private readonly rows: number;
  private readonly ids: number; private readonly h: number; private readonly x: number; private readonly qkv: number;
  private readonly q: number; private readonly ctx: number; private readonly hidden: number; private readonly logits: number;
  private readonly scratch: number; private readonly scratchBytes: number; private readonly saved: number; private readonly bias: number;
  /** topKRows: beam scores [R] | scores [TOPK_PER_ROW·R] | indices [TOPK_PER_ROW·R] */
  private readonly topk: number;
  private readonly staged: Int32Array;
  private readonly crossKV: number[] = [];
  private readonly cache: number[] = [];

  constructor(
    private readonly heap: Heap, private readonly w: EncDecWeights,
    enc: number, private readonly encMask: number, private readonly B: number, private readonly S: number,
    private readonly beams: number, private readonly maxLen: number,
  ) {
    const { d } = w, A = w.attnWidth, R = B * beams;
    this.rows = R;
    this.vocabSize = w.vocabOut;
    // cross-attention K|V once per input sentence (not per beam): [B*S, 2A] per layer
    for (const L of w.decLayers) {
      const kv = heap.alloc(B * S * 2 * A * 4);
      L.cross.kv.run(enc, B * S, kv);
      this.crossKV.push(kv);
    }
    for (let l = 0; l < w.decLayers.length; l++) this.cache.push(heap.alloc(R * maxLen * 2 * A * 4));
    this.ids = heap.alloc(R * 4);
    this.h = heap.alloc(R * d * 4); this.x = heap.alloc(R * d * 4);
    this.qkv = heap.alloc(R * 3 * A * 4); this.q = heap.alloc(R * A * 4); this.ctx = heap.alloc(R * A * 4);
    this.hidden = heap.alloc(R * w.ffnHidden * 4);
    this.logits = heap.alloc(R * w.vocabOut * 4);
    this.scratchBytes = Math.ceil(((A / w.decHeads + Math.max(S, maxLen)) * 4) / 64) * 64; // one per thread
    this.scratch = heap.alloc(this.scratchBytes * heap.threads);
    this.bias = w.relBias ? heap.alloc(w.decHeads * maxLen * 4) : 0;
    this.saved = heap.alloc(R * maxLen * 2 * A * 4); // reorder staging for one layer
    this.staged = new Int32Array(R);
    this.topk = heap.alloc((R + 2 * TOPK_PER_ROW * R) * 4);
  }

  get length(): number { return this.t; }

  step(tokens: Int32Array): Float32Array {
    const { heap, w, rows: R } = this;
    const k = heap.k, d = w.d, A = w.attnWidth, hd = A / w.decHeads, scale = w.scaleAttention ? hd ** -0.5 : 1;
    if (tokens.length !== R) throw new InputError(`step() got ${tokens.length} tokens for ${R} decoder rows`);
    if (this.t >= this.maxLen) throw new InputError(`decoder length ${this.t + 1} exceeds the ${this.maxLen} this session was sized for`);
    for (const id of tokens) {
      if (!Number.isInteger(id) || id < 0 || id >= w.vocabOut) throw new InputError(`decoder token id ${id} is outside the vocabulary [0, ${w.vocabOut})`);
    }
    heap.i32().set(tokens, this.ids >>> 2);
    const { h, x, qkv, q, ctx } = this;
    embedTokens(heap, w, 'dec', this.ids, R, 1, this.t, h);
    const t = this.t, rowCache = this.maxLen * 2 * A * 4;
    if (w.relBias) w.relBias.decoderStep(t, this.bias);
    for (let l = 0; l < w.decLayers.length; l++) {
      const L = w.decLayers[l], cache = this.cache[l], kv = this.crossKV[l];
      // self-attention: append this step's K|V to the cache, attend over positions 0..t
      let src = h;
      if (w.preNorm) { L.selfNorm.run(h, R, x); src = x; }
      L.self.qkv.run(src, R, qkv);
      for (let r = 0; r < R; r++) k.copy_bytes(cache + r * rowCache + t * 2 * A * 4, qkv + (r * 3 + 1) * A * 4, 2 * A * 4);
      this.attendRows(t + 1, (r) => [qkv + r * 3 * A * 4, 3 * A, cache + r * rowCache, cache + r * rowCache + A * 4,
        2 * A, ctx + r * A * 4, A, w.decHeads, hd, 1, t + 1, scale, 0, -1, this.bias, this.scratch]);
      L.self.out.run(ctx, R, h, true);
      if (!w.preNorm) L.selfNorm.run(h, R);
      // cross-attention: row r reads its sentence's K|V (r / beams), with that sentence's padding mask
      src = h;
      if (w.preNorm) { L.crossNorm.run(h, R, x); src = x; }
      L.cross.q.run(src, R, q);
      this.attendRows(this.S, (r) => {
        const b = Math.floor(r / this.beams), kb = kv + b * this.S * 2 * A * 4;
        return [q + r * A * 4, A, kb, kb + A * 4, 2 * A, ctx + r * A * 4, A, w.decHeads, hd, 1, this.S,
          scale, this.encMask + b * this.S, -1, 0, this.scratch];
      });
      L.cross.out.run(ctx, R, h, true);
      if (!w.preNorm) L.crossNorm.run(h, R);
      src = h;
      if (w.preNorm) { L.ffnNorm.run(h, R, x); src = x; }
      L.ffn.run(src, R, h, this.hidden, true);
      if (!w.preNorm) L.ffnNorm.run(h, R);
    }
    w.decFinalNorm?.run(h, R);
    if (w.lmScale !== 1) k.scale_f32(h, w.lmScale, h, R * d);
    w.lmHead.run(h, R, this.logits);
    this.t++;
    return heap.f32().subarray(this.logits >>> 2, (this.logits >>> 2) + R * w.vocabOut);
  }

  /**
   * One attention call per decoder row (its query against tk keys), split by rows once they hold enough work
   * (tk keys x 2A multiply-adds each, ~6.5 per ns at tk 32: four rows of a Marian cross-attention take ~20 µs,
   * a parallel step 1-2 µs).
   */
  private attendRows(tk: number, args: (r: number) => number[]): void {
    const R = this.rows;
    attend(this.heap, Array.from({ length: R }, (_, r) => args(r)), R * tk * 2 * this.w.attnWidth >= PARALLEL_MIN_MACS / 2, this.scratchBytes);
  }

  /** In-place SIMD log-softmax of the logits the last step() returned (beam search's fast path). */
  logSoftmax(): Float32Array {
    const { heap, rows: R } = this, V = this.w.vocabOut, pool = heap.pool;
    // rows are independent: with a pool, whole rows per chunk (~2.3 ns a float here)
    if (pool && R > 1 && R * V * 20 >= PARALLEL_MIN_MACS) {
      pool.run(splitRange(R, pool.size, 2 * pool.size).map(([r0, r1]) => ({ call: ['log_softmax_f32', this.logits + r0 * V * 4, r1 - r0, V] })));
    } else heap.k.log_softmax_f32(this.logits, R, V);
    return heap.f32().subarray(this.logits >>> 2, (this.logits >>> 2) + R * V);
  }

  /** Beam search's ranking over n rows of log-probs, in wasm (topk.ts): see DecoderSession.topKRows. */
  topKRows(first: number, n: number, beamScores: Float32Array, k: number, outScore: Float64Array, outIndex: Int32Array): number | null {
    const { heap } = this, V = this.w.vocabOut;
    if (k > TOPK_PER_ROW * this.rows || first < 0 || first + n > this.rows) return null;
    const add = this.topk, sc = add + this.rows * 4, ix = sc + TOPK_PER_ROW * this.rows * 4;
    heap.f32().set(beamScores.subarray(first, first + n), add >>> 2);
    const count = heap.k.topk_rows_f32(this.logits + first * V * 4, n, V, add, k, sc, ix);
    const f = heap.f32(), i32 = heap.i32();
    for (let i = 0; i < count; i++) { outScore[i] = f[(sc >>> 2) + i]; outIndex[i] = i32[(ix >>> 2) + i]; }
    return count;
  }

  /** Row r of every self-attention cache becomes old row index[r]; rows that keep their own history are not copied. */
  reorder(index: Int32Array): void {
    const { heap, rows: R } = this;
    if (index.length !== R) throw new InputError(`reorder() got ${index.length} indices for ${R} rows`);
    const rowBytes = this.maxLen * 2 * this.w.attnWidth * 4, used = this.t * 2 * this.w.attnWidth * 4;
    if (used === 0 || index.every((s, r) => s === r)) return;
    for (const cache of this.cache) {
      // stage every source row that will be overwritten before it is read, then copy into place
      const staged = this.staged.fill(-1);
      for (let r = 0; r < R; r++) {
        const s = index[r];
        if (s !== r && index[s] !== s && staged[s] < 0) {
          staged[s] = s;
          heap.k.copy_bytes(this.saved + s * rowBytes, cache + s * rowBytes, used);
        }
      }
      for (let r = 0; r < R; r++) {
        const s = index[r];
        if (s === r) continue;
        heap.k.copy_bytes(cache + r * rowBytes, (staged[s] >= 0 ? this.saved : cache) + s * rowBytes, used);
      }
    }
  }
}
