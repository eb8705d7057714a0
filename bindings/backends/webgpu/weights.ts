/// <reference types="@webgpu/types" />
// Weights uploaded once: every buffer is copied straight out of the wasm heap where the family loaders put them
// (linear layers already in pack_f32_n8's panel layout, which the shaders read as is). The wasm copy stays: it
// is what the model falls back to if the GPU device is lost.
import type { Heap } from '../../arena.js';
import type { Activation } from '../../config.js';
import { UnsupportedError } from '../../errors.js';
import type { Embedding, EncDecWeights, Positions } from '../../model/encdec.js';
import { FeedForward, GatedFeedForward, type FFN, type Linear, type Norm } from '../../model/layers.js';
import type { Buf, GpuKernels, GpuLinear, GpuNorm } from './kernels.js';
import type { WeightType } from './shaders.js';

const F16_MAX = 65504;
const f32Scratch = new Float32Array(1);
const bitsScratch = new Uint32Array(f32Scratch.buffer);

/** IEEE binary16 bits of x, rounded to nearest even (subnormals kept; |x| > 65504 is not passed here). */
export function f16Bits(x: number): number {
  f32Scratch[0] = x;
  const b = bitsScratch[0], sign = (b >>> 16) & 0x8000, exp = (b >>> 23) & 0xff;
  let m = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (m ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) { // subnormal half: h · 2^-24
    if (e < -10) return sign;
    m |= 0x800000;
    const shift = 14 - e, half = 1 << (shift - 1), rest = m & ((1 << shift) - 1);
    let h = m >>> shift;
    if (rest > half || (rest === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (m >>> 13);
  const rest = m & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++; // a carry into the exponent is the right rounding
  return sign | h;
}

function toF16(a: Float32Array): Uint32Array {
  const h = new Uint16Array(a.length);
  for (let i = 0; i < a.length; i++) h[i] = f16Bits(a[i]);
  return new Uint32Array(h.buffer);
}

export type GpuEmbedding = { kind: 'table'; buf: Buf; rows: number } | { kind: 'packed'; linear: GpuLinear };
export interface GpuFFN { gated: boolean; up: GpuLinear; gate: GpuLinear | null; down: GpuLinear; act: Activation; hidden: number }
export interface GpuEncoderLayer { qkv: GpuLinear; out: GpuLinear; selfNorm: GpuNorm; ffn: GpuFFN; ffnNorm: GpuNorm }
export interface GpuDecoderLayer extends GpuEncoderLayer { crossQ: GpuLinear; crossKV: GpuLinear; crossOut: GpuLinear; crossNorm: GpuNorm }
export interface GpuPositions { buf: Buf; src: Positions }

export interface GpuWeights {
  encEmbed: GpuEmbedding; decEmbed: GpuEmbedding;
  encPositions: GpuPositions | null; decPositions: GpuPositions | null;
  encEmbedNorm: GpuNorm | null; decEmbedNorm: GpuNorm | null;
  encFinalNorm: GpuNorm | null; decFinalNorm: GpuNorm | null;
  encLayers: GpuEncoderLayer[]; decLayers: GpuDecoderLayer[];
  lmHead: GpuLinear;
  /** Bytes uploaded. */
  bytes: number;
}

/** Uploads `w` (f32 weights only). `activation` is the FFN activation of the config (the wasm FFN holds it as a
 *  closure). `weights` 'f16' stores linear layers (and a tied head's embedding rows) as f16, halving their bytes; a
 *  layer with a weight beyond f16's range stays f32. Throws UnsupportedError for int8 weights (no WGSL kernels). */
export function uploadWeights(k: GpuKernels, heap: Heap, w: EncDecWeights, activation: Activation, maxBinding: number, weights: WeightType = 'f32'): GpuWeights {
  let bytes = 0;
  const linears = new Map<Linear, GpuLinear>(); // a tied lm_head is also the embedding: upload it once
  const put = (ptr: number, floats: number, label: string): Buf => {
    bytes += floats * 4;
    return k.upload(heap.f32().subarray(ptr >>> 2, (ptr >>> 2) + floats), label);
  };

  const linear = (L: Linear, label: string): GpuLinear => {
    const known = linears.get(L);
    if (known) return known;
    if (L.format !== 'f32') throw new UnsupportedError(`the WebGPU backend has no kernels for ${L.format} weights (${label}); load with quantize: 'none' or use backend 'wasm'`);
    const panelFloats = (L.inF + 1) * 8;
    const panels = Math.ceil(L.outF / 8);
    const all = heap.f32().subarray(L.packed >>> 2, (L.packed >>> 2) + panels * panelFloats);
    const wt: WeightType = weights === 'f16' && all.every((v) => Math.abs(v) <= F16_MAX) ? 'f16' : 'f32';
    const elemBytes = wt === 'f16' ? 2 : 4;
    // split into chunks of whole panels no larger than one storage binding
    const perChunk = Math.floor(maxBinding / (panelFloats * elemBytes));
    if (perChunk < 1) throw new UnsupportedError(`${label}: one 8-column panel (${panelFloats * elemBytes} bytes) exceeds this adapter's maxStorageBufferBindingSize ${maxBinding}`);
    const chunks = [];
    for (let p0 = 0; p0 < panels; p0 += perChunk) {
      const n = Math.min(perChunk, panels - p0);
      const part = all.subarray(p0 * panelFloats, (p0 + n) * panelFloats);
      bytes += part.length * elemBytes;
      // panel floats are a multiple of 8, so an f16 chunk is still a whole number of 4-byte words
      const buf = k.upload(wt === 'f16' ? toF16(part) : part, `${label}[${p0}]`);
      chunks.push({ buf, colBase: p0 * 8, cols: Math.min(n * 8, L.outF - p0 * 8) });
    }
    const g: GpuLinear = { inF: L.inF, outF: L.outF, chunks, weights: wt };
    linears.set(L, g);
    return g;
  };

  const norm = (N: Norm): GpuNorm => {
    const gb = new Float32Array(2 * N.dim);
    gb.set(heap.f32().subarray(N.weight >>> 2, (N.weight >>> 2) + N.dim));
    if (N.bias) gb.set(heap.f32().subarray(N.bias >>> 2, (N.bias >>> 2) + N.dim), N.dim);
    bytes += gb.byteLength;
    return { gb: k.upload(gb, 'norm'), dim: N.dim, eps: N.eps, rms: !N.bias };
  };
  const maybeNorm = (N: Norm | null) => (N ? norm(N) : null);

  const embedding = (e: Embedding, label: string): GpuEmbedding => {
    if (e.kind === 'packed') return { kind: 'packed', linear: linear(e.linear, label) };
    const floats = e.rows * w.d;
    if (floats * 4 > maxBinding) throw new UnsupportedError(`${label}: the ${e.rows}×${w.d} embedding table exceeds this adapter's maxStorageBufferBindingSize ${maxBinding}`);
    return { kind: 'table', buf: put(e.ptr, floats, label), rows: e.rows };
  };

  const positions = (p: Positions | null): GpuPositions | null => {
    if (!p) return null;
    if (p.rows * w.d * 4 > maxBinding) throw new UnsupportedError(`the ${p.rows}×${w.d} position table exceeds this adapter's maxStorageBufferBindingSize ${maxBinding}`);
    return { buf: put(p.table, p.rows * w.d, 'positions'), src: p };
  };

  const ffn = (f: FFN, label: string): GpuFFN => {
    if (f instanceof GatedFeedForward) {
      return { gated: true, up: linear(f.wi0, `${label}.wi_0`), gate: linear(f.wi1, `${label}.wi_1`), down: linear(f.wo, `${label}.wo`), act: 'gelu_new', hidden: f.wi0.outF };
    }
    if (f instanceof FeedForward) {
      return { gated: false, up: linear(f.fc1, `${label}.fc1`), gate: null, down: linear(f.fc2, `${label}.fc2`), act: activation, hidden: f.fc1.outF };
    }
    throw new UnsupportedError(`${label}: this feed-forward block has no WebGPU implementation`);
  };

  const lmHead = linear(w.lmHead, 'lm_head');
  const out: GpuWeights = {
    encEmbed: embedding(w.encEmbed, 'encoder embeddings'),
    decEmbed: embedding(w.decEmbed, 'decoder embeddings'),
    encPositions: positions(w.encPositions), decPositions: positions(w.decPositions),
    encEmbedNorm: maybeNorm(w.encEmbedNorm), decEmbedNorm: maybeNorm(w.decEmbedNorm),
    encFinalNorm: maybeNorm(w.encFinalNorm), decFinalNorm: maybeNorm(w.decFinalNorm),
    encLayers: w.encLayers.map((L, i) => ({
      qkv: linear(L.self.qkv, `encoder.${i}.qkv`), out: linear(L.self.out, `encoder.${i}.out`),
      selfNorm: norm(L.selfNorm), ffn: ffn(L.ffn, `encoder.${i}.ffn`), ffnNorm: norm(L.ffnNorm),
    })),
    decLayers: w.decLayers.map((L, i) => ({
      qkv: linear(L.self.qkv, `decoder.${i}.qkv`), out: linear(L.self.out, `decoder.${i}.out`), selfNorm: norm(L.selfNorm),
      crossQ: linear(L.cross.q, `decoder.${i}.cross.q`), crossKV: linear(L.cross.kv, `decoder.${i}.cross.kv`),
      crossOut: linear(L.cross.out, `decoder.${i}.cross.out`), crossNorm: norm(L.crossNorm),
      ffn: ffn(L.ffn, `decoder.${i}.ffn`), ffnNorm: norm(L.ffnNorm),
    })),
    lmHead,
    bytes: 0,
  };
  out.bytes = bytes;
  return out;
}
