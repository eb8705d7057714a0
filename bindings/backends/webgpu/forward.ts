/// <reference types="@webgpu/types" />
// The encoder-decoder forward pass on the GPU, read top to bottom like bindings/model/encdec.ts (same names, same
// order of operations; shapes as there: B sentences, S source length, R = B × beams decoder rows, D = d_model,
// A = attention width, F = FFN width, V = output vocabulary, T = max decoder length). Activations and KV caches
// live in GPU buffers; the CPU only sends token ids (and position ids / T5 bias rows, computed by the family's
// own code) and reads back either logits or, on the fast paths, the chosen ids.
import type { Heap } from '../../arena.js';
import { InputError, UnsupportedError } from '../../errors.js';
import type { DecoderSession } from '../../generation/types.js';
import type { EncDecWeights } from '../../model/encdec.js';
import { type Buf, type GpuKernels, Recorder } from './kernels.js';
import { MAX_ATTENTION_KEYS } from './shaders.js';
import { MAX_TOPK } from './search_shaders.js';
import type { GpuFFN, GpuWeights } from './weights.js';

/** Everything the forward pass reads: the wasm-side description (shapes, options, CPU helpers) and the GPU copies. */
export interface GpuModelParts { k: GpuKernels; heap: Heap; w: EncDecWeights; g: GpuWeights }

/** GPU buffers owned by one call; destroyed together. */
class Buffers {
  private readonly list: GPUBuffer[] = [];
  constructor(private readonly k: GpuKernels) {}
  f32(floats: number, label: string): Buf { const b = this.k.buffer(floats * 4, label); this.list.push(b); return b; }
  upload(data: Float32Array | Uint32Array, label: string): Buf { const b = this.k.upload(data, label); this.list.push(b); return b; }
  readback(bytes: number): GPUBuffer {
    const b = this.k.device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 4) * 4), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'readback' });
    this.list.push(b);
    return b;
  }
  destroy(): void { for (const b of this.list.splice(0)) b.destroy(); }
}

function checkKeys(n: number, what: string): void {
  if (n > MAX_ATTENTION_KEYS) throw new UnsupportedError(`${what} of ${n} tokens exceeds the WebGPU attention kernel's ${MAX_ATTENTION_KEYS} keys; use backend 'wasm' for longer inputs`);
}

/** Embeddings × scale + positions (+ layernorm_embedding) for `rows` sequences of `len` tokens (ids on the GPU
 *  at `idsBuf`, the same ids on the CPU in `ids` for the family's position function). */
function embedTokens(rec: Recorder, m: GpuModelParts, side: 'enc' | 'dec', ids: Int32Array, idsBuf: Buf, rows: number, len: number, past: number, out: Buf, scratch: Buffers): void {
  const { w, g } = m, n = rows * len;
  rec.embed(side === 'enc' ? g.encEmbed : g.decEmbed, idsBuf, 0, n, w.d, w.embedScale, out, 0, false);
  const pos = side === 'enc' ? g.encPositions : g.decPositions;
  if (pos) {
    const pid = new Int32Array(n);
    for (let r = 0; r < rows; r++) pos.src.ids(ids.subarray(r * len, (r + 1) * len), past, pid.subarray(r * len, (r + 1) * len));
    for (const p of pid) {
      if (p < 0 || p >= pos.src.rows) throw new InputError(`position ${p} is outside the model's position table (${pos.src.rows} rows): the sequence is too long for this model`);
    }
    const pidBuf = scratch.upload(new Uint32Array(pid.buffer), 'position ids');
    rec.embed({ kind: 'table', buf: pos.buf, rows: pos.src.rows }, pidBuf, 0, n, w.d, 1, out, 0, true);
  }
  const norm = side === 'enc' ? g.encEmbedNorm : g.decEmbedNorm;
  if (norm) rec.norm(norm, out, 0, n);
}

/** out (+)= FFN(src) for `rows` rows; `hidden` holds rows × F floats (2F for gated). */
function feedForward(rec: Recorder, f: GpuFFN, src: Buf, rows: number, out: Buf, hidden: Buf): void {
  const n = rows * f.hidden;
  rec.linear(f.up, src, 0, rows, hidden, 0);
  if (f.gate) {
    rec.linear(f.gate, src, 0, rows, hidden, n);
    rec.elementwise('gated_gelu', hidden, 0, n);
  } else {
    rec.elementwise(f.act, hidden, 0, n);
  }
  rec.linear(f.down, hidden, 0, rows, out, 0, true);
}

/** T5's relative bias for this call, computed by the family's CPU code into the heap and uploaded. */
function relBiasRows(m: GpuModelParts, floats: number, fill: (ptr: number) => void): Float32Array {
  const mark = m.heap.mark();
  try {
    const ptr = m.heap.alloc(floats * 4);
    fill(ptr);
    return m.heap.f32().slice(ptr >>> 2, (ptr >>> 2) + floats);
  } finally {
    m.heap.release(mark);
  }
}

/** The encoder over ids [B, S] with key mask [B, S]: records into `rec`, returns hidden [B*S, D] and the mask on the GPU. */
export function encodeGpu(rec: Recorder, m: GpuModelParts, ids: Int32Array, mask: Uint8Array, B: number, S: number, keep: Buffers): { hidden: Buf; mask: Buf } {
  const { w, g } = m, d = w.d, A = w.attnWidth, n = B * S, hd = A / w.encHeads;
  checkKeys(S, 'a source length');
  const tmp = new Buffers(m.k); // scratch of this pass: destroyed once the commands are queued (WebGPU keeps them alive until done)
  const h = keep.f32(n * d, 'encoder hidden [B*S, D]');
  const maskBuf = keep.upload(Uint32Array.from(mask), 'key mask [B, S]');
  const idsBuf = tmp.upload(Uint32Array.from(ids), 'input ids [B, S]');
  const x = tmp.f32(n * d, 'normed [B*S, D]'), qkv = tmp.f32(n * 3 * A, 'qkv [B*S, 3A]'), ctx = tmp.f32(n * A, 'context [B*S, A]');
  const hidden = tmp.f32(n * w.ffnHidden, 'ffn hidden [B*S, F]');
  const bias = w.relBias ? tmp.upload(relBiasRows(m, w.encHeads * S * S, (p) => w.relBias!.encoder(S, p)), 'relative bias [H, S, S]') : null;
  embedTokens(rec, m, 'enc', ids, idsBuf, B, S, 0, h, tmp);
  for (const L of g.encLayers) {
    let src = h;
    if (w.preNorm) { rec.norm(L.selfNorm, h, 0, n, x, 0); src = x; }
    rec.linear(L.qkv, src, 0, n, qkv, 0);
    rec.attention({
      q: qkv, kv: qkv, out: ctx, mask: maskBuf, bias, tq: S, tk: S, heads: w.encHeads, hd, groups: B, kvDiv: 1,
      qOff: 0, qStride: 3 * A, qGroup: S * 3 * A, scale: w.scaleAttention ? hd ** -0.5 : 1,
      kOff: A, vOff: 2 * A, kvStride: 3 * A, kvGroup: S * 3 * A,
      outOff: 0, outStride: A, outGroup: S * A, causal: -1, maskOff: 0, maskGroup: S, biasOff: 0,
    });
    rec.linear(L.out, ctx, 0, n, h, 0, true); // h += attention
    if (!w.preNorm) rec.norm(L.selfNorm, h, 0, n);
    src = h;
    if (w.preNorm) { rec.norm(L.ffnNorm, h, 0, n, x, 0); src = x; }
    feedForward(rec, L.ffn, src, n, h, hidden); // h += ffn
    if (!w.preNorm) rec.norm(L.ffnNorm, h, 0, n);
  }
  if (g.encFinalNorm) rec.norm(g.encFinalNorm, h, 0, n);
  rec.onSubmit(() => tmp.destroy());
  return { hidden: h, mask: maskBuf };
}

/** Encoder states [B*S*D] read back (model.encode()). */
export async function encodeToCpu(m: GpuModelParts, ids: Int32Array, mask: Uint8Array, B: number, S: number): Promise<Float32Array> {
  const keep = new Buffers(m.k);
  try {
    const rec = new Recorder(m.k);
    const { hidden } = encodeGpu(rec, m, ids, mask, B, S, keep);
    rec.submit();
    return new Float32Array(await m.k.read(hidden, 0, B * S * m.w.d * 4));
  } finally {
    keep.destroy();
  }
}

/**
 * Incremental decoding of R = B × beams rows on the GPU, the counterpart of EncDecSession. Buffers are made once
 * here; a step records one command buffer. dispose() frees them (the model calls it when generation ends).
 */
export class GpuDecoderSession implements DecoderSession {
  readonly vocabSize: number;
  private t = 0;
  private readonly rows: number;
  private readonly mem: Buffers;
  private readonly ids: Buf; private readonly h: Buf; private readonly x: Buf; private readonly qkv: Buf; private readonly q: Buf;
  private readonly ctx: Buf; private readonly hidden: Buf; private readonly logits: Buf; private readonly bias: Buf | null;
  private readonly saved: Buf; private readonly chosen: Buf; private readonly beamScore: Buf;
  private readonly crossKV: Buf[] = [];
  private readonly cache: Buf[] = [];
  private readonly encMask: Buf;
  private readonly logitsOut: GPUBuffer;
  private readonly idsOut: GPUBuffer;
  private topk: { score: Buf; index: Buf; threads: number; span: number; k: number; outScore: Buf; outIndex: Buf; out: GPUBuffer } | null = null;

  constructor(private readonly m: GpuModelParts, ids: Int32Array, mask: Uint8Array, private readonly B: number, private readonly S: number,
    private readonly beams: number, private readonly maxLen: number) {
    const { w, g } = m, d = w.d, A = w.attnWidth, R = B * beams;
    checkKeys(maxLen, 'a decoder length');
    this.rows = R;
    this.vocabSize = w.vocabOut;
    this.mem = new Buffers(m.k);
    const rec = new Recorder(m.k);
    const enc = encodeGpu(rec, m, ids, mask, B, S, this.mem);
    this.encMask = enc.mask;
    // cross-attention K|V once per input sentence (not per beam): [B*S, 2A] per layer
    for (const L of g.decLayers) {
      const kv = this.mem.f32(B * S * 2 * A, 'cross K|V [B*S, 2A]');
      rec.linear(L.crossKV, enc.hidden, 0, B * S, kv, 0);
      this.crossKV.push(kv);
    }
    rec.submit();
    for (let l = 0; l < g.decLayers.length; l++) this.cache.push(this.mem.f32(R * maxLen * 2 * A, 'self K|V cache [R, T, 2A]'));
    this.ids = this.mem.f32(R, 'step ids [R]');
    this.h = this.mem.f32(R * d, 'h [R, D]'); this.x = this.mem.f32(R * d, 'x [R, D]');
    this.qkv = this.mem.f32(R * 3 * A, 'qkv [R, 3A]'); this.q = this.mem.f32(R * A, 'q [R, A]'); this.ctx = this.mem.f32(R * A, 'ctx [R, A]');
    this.hidden = this.mem.f32(R * w.ffnHidden, 'ffn hidden [R, F]');
    this.logits = this.mem.f32(R * w.vocabOut, 'logits [R, V]');
    this.bias = w.relBias ? this.mem.f32(w.decHeads * maxLen, 'relative bias [H, 1, t+1]') : null;
    this.saved = this.mem.f32(R * maxLen * 2 * A, 'reorder staging [R, T, 2A]');
    this.chosen = this.mem.f32(R, 'argmax ids [R]');
    this.beamScore = this.mem.f32(R, 'beam scores [R]');
    this.logitsOut = this.mem.readback(R * w.vocabOut * 4);
    this.idsOut = this.mem.readback(R * 4);
  }

  get length(): number { return this.t; }

  /** Records one decoder step for `tokens` into `rec`; the logits [R, V] end up in this.logits. */
  private record(rec: Recorder, tokens: Int32Array): void {
    const { m, rows: R, maxLen } = this;
    const { w, g } = m, d = w.d, A = w.attnWidth, hd = A / w.decHeads, scale = w.scaleAttention ? hd ** -0.5 : 1;
    if (tokens.length !== R) throw new InputError(`step() got ${tokens.length} tokens for ${R} decoder rows`);
    if (this.t >= maxLen) throw new InputError(`decoder length ${this.t + 1} exceeds the ${maxLen} this session was sized for`);
    for (const id of tokens) {
      if (!Number.isInteger(id) || id < 0 || id >= w.vocabOut) throw new InputError(`decoder token id ${id} is outside the vocabulary [0, ${w.vocabOut})`);
    }
    const t = this.t;
    m.k.write(this.ids, Uint32Array.from(tokens));
    const tmp = new Buffers(m.k);
    const { h, x, qkv, q, ctx } = this;
    embedTokens(rec, m, 'dec', tokens, this.ids, R, 1, t, h, tmp);
    if (w.relBias && this.bias) m.k.write(this.bias, relBiasRows(m, w.decHeads * (t + 1), (p) => w.relBias!.decoderStep(t, p)));
    const rowCache = maxLen * 2 * A;
    for (let l = 0; l < g.decLayers.length; l++) {
      const L = g.decLayers[l], cache = this.cache[l];
      // self-attention: append this step's K|V to the cache, attend over positions 0..t
      let src = h;
      if (w.preNorm) { rec.norm(L.selfNorm, h, 0, R, x, 0); src = x; }
      rec.linear(L.qkv, src, 0, R, qkv, 0);
      rec.copyRows(qkv, A, 3 * A, cache, t * 2 * A, rowCache, R, 2 * A); // K|V of row r → cache[r, t]
      rec.attention({
        q: qkv, kv: cache, out: ctx, mask: null, bias: this.bias, tq: 1, tk: t + 1, heads: w.decHeads, hd, groups: R, kvDiv: 1,
        qOff: 0, qStride: 0, qGroup: 3 * A, scale, kOff: 0, vOff: A, kvStride: 2 * A, kvGroup: rowCache,
        outOff: 0, outStride: 0, outGroup: A, causal: -1, maskOff: 0, maskGroup: 0, biasOff: 0,
      });
      rec.linear(L.out, ctx, 0, R, h, 0, true);
      if (!w.preNorm) rec.norm(L.selfNorm, h, 0, R);
      // cross-attention: row r reads its sentence's K|V (r / beams), with that sentence's padding mask
      src = h;
      if (w.preNorm) { rec.norm(L.crossNorm, h, 0, R, x, 0); src = x; }
      rec.linear(L.crossQ, src, 0, R, q, 0);
      rec.attention({
        q, kv: this.crossKV[l], out: ctx, mask: this.encMask, bias: null, tq: 1, tk: this.S, heads: w.decHeads, hd, groups: R, kvDiv: this.beams,
        qOff: 0, qStride: 0, qGroup: A, scale, kOff: 0, vOff: A, kvStride: 2 * A, kvGroup: this.S * 2 * A,
        outOff: 0, outStride: 0, outGroup: A, causal: -1, maskOff: 0, maskGroup: this.S, biasOff: 0,
      });
      rec.linear(L.crossOut, ctx, 0, R, h, 0, true);
      if (!w.preNorm) rec.norm(L.crossNorm, h, 0, R);
      src = h;
      if (w.preNorm) { rec.norm(L.ffnNorm, h, 0, R, x, 0); src = x; }
      feedForward(rec, L.ffn, src, R, h, this.hidden);
      if (!w.preNorm) rec.norm(L.ffnNorm, h, 0, R);
    }
    if (g.decFinalNorm) rec.norm(g.decFinalNorm, h, 0, R);
    if (w.lmScale !== 1) rec.elementwise('scale', h, 0, R * d, w.lmScale);
    rec.linear(g.lmHead, h, 0, R, this.logits, 0);
    rec.onSubmit(() => tmp.destroy());
    this.t++;
  }

  /** Raw logits [R, V] (read back: what logits processors and decoderLogits() need). */
  async step(tokens: Int32Array): Promise<Float32Array> {
    const rec = new Recorder(this.m.k);
    this.record(rec, tokens);
    const bytes = this.rows * this.vocabSize * 4;
    rec.copy(this.logits, 0, this.logitsOut, 0, bytes);
    rec.submit();
    return new Float32Array(await this.mapped(this.logitsOut, bytes));
  }

  /** Greedy's fast path: one step, argmax on the GPU; only R ids come back. */
  async stepArgmax(tokens: Int32Array): Promise<Int32Array> {
    const rec = new Recorder(this.m.k);
    this.record(rec, tokens);
    rec.argmax(this.logits, 0, this.rows, this.vocabSize, this.chosen);
    rec.copy(this.chosen, 0, this.idsOut, 0, this.rows * 4);
    rec.submit();
    return new Int32Array(await this.mapped(this.idsOut, this.rows * 4));
  }

  /** Beam search's fast path: one step, log-softmax and each sentence's top k of f32(logp + beamScore) over its
   *  beams × V candidates on the GPU; only B × k (score, beam·V + token) pairs come back. */
  async stepTopK(tokens: Int32Array, beamScores: Float32Array, k: number): Promise<{ scores: Float32Array; indices: Int32Array }> {
    if (k > MAX_TOPK) throw new UnsupportedError(`beam top-k of ${k} candidates exceeds the WebGPU kernel's ${MAX_TOPK}`);
    const { B, beams, vocabSize: V } = this;
    if (!this.topk || this.topk.k !== k) {
      const span = 256, threads = Math.ceil((beams * V) / span);
      this.topk = {
        span, threads, k,
        score: this.mem.f32(B * threads * k, 'top-k partial scores [B, threads, k]'), index: this.mem.f32(B * threads * k, 'top-k partial ids'),
        outScore: this.mem.f32(B * k, 'top-k scores [B, k]'), outIndex: this.mem.f32(B * k, 'top-k ids [B, k]'), out: this.mem.readback(2 * B * k * 4),
      };
    }
    const tk = this.topk;
    const rec = new Recorder(this.m.k);
    this.record(rec, tokens);
    this.m.k.write(this.beamScore, beamScores);
    rec.logSoftmax(this.logits, 0, this.rows, V);
    rec.topK(this.logits, this.beamScore, B, beams, V, k, tk, tk.outScore, tk.outIndex);
    rec.copy(tk.outScore, 0, tk.out, 0, B * k * 4);
    rec.copy(tk.outIndex, 0, tk.out, B * k * 4, B * k * 4);
    rec.submit();
    const raw = await this.mapped(tk.out, 2 * B * k * 4);
    return { scores: new Float32Array(raw, 0, B * k), indices: new Int32Array(raw, B * k * 4, B * k) };
  }

  private async mapped(buf: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    await buf.mapAsync(GPUMapMode.READ, 0, Math.ceil(bytes / 4) * 4);
    try {
      return buf.getMappedRange(0, Math.ceil(bytes / 4) * 4).slice(0, bytes);
    } finally {
      buf.unmap();
    }
  }

  /** Row r of every self-attention cache becomes old row index[r], on the GPU (no readback). */
  reorder(index: Int32Array): void {
    const R = this.rows;
    if (index.length !== R) throw new InputError(`reorder() got ${index.length} indices for ${R} rows`);
    const rowBytes = this.maxLen * 2 * this.m.w.attnWidth * 4, used = this.t * 2 * this.m.w.attnWidth * 4;
    if (used === 0 || index.every((s, r) => s === r)) return;
    const rec = new Recorder(this.m.k);
    for (const cache of this.cache) {
      rec.copy(cache, 0, this.saved, 0, R * rowBytes);
      for (let r = 0; r < R; r++) if (index[r] !== r) rec.copy(this.saved, index[r] * rowBytes, cache, r * rowBytes, used);
    }
    rec.submit();
  }

  dispose(): void { this.mem.destroy(); }
}
