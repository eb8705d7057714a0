// The backend interface: the few operations the forward pass (bindings/model/forward.ts) needs, implemented by
// the wasm SIMD kernels (backends/wasm) and by WGSL shaders (backends/webgpu). The forward pass imports only
// this file; a backend imports nothing from model/.
//
// Memory: a backend owns its weights (made once at load, live as long as the backend) and a stack of working
// buffers: mark() / alloc() / release(mark), released in reverse order. Every buffer holds 4-byte elements (f32,
// or i32 for ids) except masks (one element per key, 0 = padding, whatever width the backend chooses).
// Offsets, strides and sizes are in elements, never bytes. Operations run in program order; a backend may record
// them and run them later (WebGPU), so results are only visible through read().
import type { Activation } from '../config.js';
import type { FloatReader } from '../weights/safetensors.js';

/** How linear weights are stored: f32, or int8 per output channel (quantised at load). */
export type WeightFormat = 'f32' | 'int8';

/** Weights as floats in hand, or read on demand from the file straight into the backend's memory. */
export type Floats = Float32Array | FloatReader;

/** Part of a linear layer: W [out_i, in] as PyTorch stores it, and its bias (null = zeros). */
export interface LinearPart { w: Floats; b: Float32Array | null }

/** Handles a backend gives out; what is inside is the backend's business. */
export interface LinearWeights { readonly inF: number; readonly outF: number; readonly format: WeightFormat }
export interface NormWeights { readonly dim: number }
export interface TableWeights { readonly rows: number; readonly cols: number }
/** A working buffer (activations, caches, ids, masks). */
export type Buf = object;

/** Where token embeddings come from: a [V, D] table, or the rows of a tied output head (stored once). */
export type EmbeddingSource = { table: TableWeights } | { head: LinearWeights };

/** Scaled dot-product attention over `groups` independent blocks (sentences, or decoder rows), each of `tq`
 *  queries against `tk` keys, `heads` heads of `hd`. Element (group g, query i, head h, dim d) of q is at
 *  qOff + g·qGroup + i·qStride + h·hd + d; keys/values of group g are those of group gkv = floor(g / kvDiv)
 *  (beams share their sentence's cross-attention K|V): key j at kOff + gkv·kvGroup + j·kvStride + h·hd (values
 *  at vOff likewise); output like q with outOff / outGroup / outStride. */
export interface Attention {
  q: Buf; qOff: number; qStride: number; qGroup: number;
  kv: Buf; kOff: number; vOff: number; kvStride: number; kvGroup: number; kvDiv: number;
  out: Buf; outOff: number; outStride: number; outGroup: number;
  groups: number; tq: number; tk: number; heads: number; hd: number;
  /** Multiplies q·k (hd^-0.5, or 1 for T5). */
  scale: number;
  /** Key padding mask (0 = masked) at maskOff + gkv·maskGroup + j, or null. */
  mask: Buf | null; maskOff: number; maskGroup: number;
  /** Query i sees keys j ≤ i + causal; -1 = no causal limit. */
  causal: number;
  /** Additive bias [heads, tq, tk] shared by every group (T5's relative positions), or null. */
  bias: Buf | null;
}

export interface RowCopy { src: Buf; srcOff: number; srcStride: number; dst: Buf; dstOff: number; dstStride: number; rows: number; width: number }

/** What a backend can do; the model checks a call against it before choosing where the call runs. */
export interface BackendLimits {
  /** Longest key sequence the attention op takes (source length, decoder length). */
  maxKeys: number;
  /** Most rows (tokens) one op may cover. */
  maxRows: number;
  /** Largest k of topK(). */
  maxTopK: number;
}

export interface Backend {
  readonly kind: 'wasm' | 'webgpu';
  /** For notes and logs, e.g. "wasm SIMD (relaxed), 2 threads" or "WebGPU on Google SwiftShader". */
  readonly description: string;
  /** Weight formats linear() accepts. */
  readonly formats: readonly WeightFormat[];
  readonly limits: BackendLimits;
  /** True when read() returns a live view of the backend's own memory (wasm): a caller may then change the rows
   *  in place and rank them with topK() without a copy. */
  readonly sharedMemory: boolean;

  // --- weights (made once, at load) ---------------------------------------------------------------------
  /** One linear layer whose outputs are the parts' outputs concatenated (a fused Q|K|V makes one GEMM of three). */
  loadLinear(inF: number, parts: readonly LinearPart[], format: WeightFormat, label: string): LinearWeights;
  /** LayerNorm (weight, bias) or RMSNorm (weight only, bias null). */
  loadNorm(weight: Float32Array, bias: Float32Array | null, eps: number, label: string): NormWeights;
  /** A [rows, cols] f32 table (embeddings, positions). */
  loadTable(data: Floats, rows: number, cols: number, label: string): TableWeights;

  // --- working memory -----------------------------------------------------------------------------------
  mark(): number;
  /** Frees everything allocated since `mark` (once the work using it is done). */
  release(mark: number): void;
  alloc(elements: number, label: string): Buf;
  /** A fresh buffer holding `data` (ids, positions, biases, masks, beam scores). */
  upload(data: Float32Array | Int32Array | Uint8Array, label: string): Buf;
  /** `n` elements at `off` as f32 (or i32). Backends with shared memory return a view valid until the next op. */
  read(buf: Buf, off: number, n: number): Float32Array | Promise<Float32Array>;
  readInts(buf: Buf, off: number, n: number): Int32Array | Promise<Int32Array>;

  // --- the forward pass's operations --------------------------------------------------------------------
  /** out[n, D] (+)= scale · rows ids[0..n) of the source (D = its width). */
  embed(src: EmbeddingSource, ids: Buf, n: number, scale: number, out: Buf, accumulate: boolean): void;
  /** y[rows, outF] (+)= x[rows, inF] · Wᵀ + b, rows contiguous from xOff / yOff. */
  linear(L: LinearWeights, x: Buf, xOff: number, rows: number, y: Buf, yOff: number, accumulate: boolean): void;
  /** y[rows, dim] = norm(x) (y may be x). */
  norm(N: NormWeights, x: Buf, rows: number, y: Buf): void;
  /** x[off, off + n) = act(x) in place; with `gateOff`, x = act(x) · x[gateOff, gateOff + n) (gated FFNs). */
  activation(act: Activation, x: Buf, off: number, n: number, gateOff?: number): void;
  /** x[0, n) *= s. */
  scale(x: Buf, n: number, s: number): void;
  attention(a: Attention): void;
  /** rows × width elements from src to dst, row r at off + r·stride on each side: KV-cache appends. */
  copyRows(c: RowCopy): void;
  /** Row r of buf (rows of `stride` elements, the first `used` of each live) becomes old row index[r]; `scratch`
   *  holds as many elements as buf. */
  reorderRows(buf: Buf, stride: number, used: number, index: Int32Array, scratch: Buf): void;

  // --- search -------------------------------------------------------------------------------------------
  // Each takes rows [rows, n] of x from element xOff on (a call's rows within a step shared by several calls).
  /** Row-wise log-softmax of [rows, n], in place. */
  logSoftmax(x: Buf, xOff: number, rows: number, n: number): void;
  /** out[r] = index of row r's largest value (first on ties; NaN never wins; all -inf gives 0). */
  argmax(x: Buf, xOff: number, rows: number, n: number, out: Buf): void;
  /** out[outOff] (an i32 element) = the index of the first of `rows` rows of n in x that holds a NaN or +Inf or
   *  only -Inf, or -1: how a decode step finds out that its logits went wrong without bringing them back. */
  nonFinite(x: Buf, xOff: number, rows: number, n: number, out: Buf, outOff: number): void;
  /** Per sentence b of `sentences`, the k best fround(x[b·beams + j, v] + add[b·beams + j]) over its beams × n
   *  candidates, best first, ties to the lower index j·n + v, into out: scores [sentences, k] (f32), then indices
   *  [sentences, k] (i32). Slots a sentence cannot fill (its rows hold NaN) get index -1. */
  topK(x: Buf, xOff: number, add: Buf, sentences: number, beams: number, n: number, k: number, out: Buf): void;

  /** Why this backend's results can no longer be trusted (its device was lost, or it reported an error since the
   *  last call; reading clears a reported error), or null. */
  failure(): string | null;
  /** Frees the backend's device or threads (later calls fail). */
  destroy(): void;
}

/** What loadModel's `backend` option accepts: 'auto' = WebGPU when an adapter exists, else wasm (with a note). */
export type BackendChoice = 'wasm' | 'webgpu' | 'auto';
