/// <reference types="@webgpu/types" />
// The WebGPU backend: the Backend operations as WGSL dispatches. Operations are recorded into one command buffer
// (Recorder) and submitted when a result is read, memory is released, or the recorder fills; weights are uploaded
// once, linear layers in the panel layout of the wasm GEMM (8 columns per panel, bias first), split into chunks
// of whole panels that each fit one storage binding. Device loss and reported errors surface through failure().
import type { Activation } from '../../config.js';
import { UnsupportedError } from '../../errors.js';
import { toF16 } from '../../weights/half.js';
import { ACTIVATION_KIND } from '../activations.js';
import type { Attention, Backend, BackendLimits, Buf, EmbeddingSource, Floats, LinearPart, LinearWeights, NormWeights, RowCopy, TableWeights, WeightFormat } from '../backend.js';
import type { GpuDevice } from './device.js';
import { GpuKernels, Recorder, type Buf as GpuBuf, type GpuLinear, type GpuNorm, type GpuTable } from './recorder.js';
import { MAX_ATTENTION_KEYS, type WeightType } from './shaders.js';
import { MAX_TOPK } from './search_shaders.js';

export { acquireGpu, platformGpu, type GpuAcquisition, type GpuDevice, type GpuLike } from './device.js';

const F16_MAX = 65504;
const MAX_GROUPS = 65535; // maxComputeWorkgroupsPerDimension's guaranteed minimum: rows of the row-wise kernels

function floatsOf(src: Floats): Float32Array {
  if (src instanceof Float32Array) return src;
  const out = new Float32Array(src.length);
  src.into(out);
  return out;
}

export class WebGpuBackend implements Backend {
  readonly kind = 'webgpu' as const;
  /** Weight formats the WGSL kernels take (known before a device is opened). */
  static readonly formats: readonly WeightFormat[] = ['f32'];
  readonly formats = WebGpuBackend.formats;
  readonly limits: BackendLimits = { maxKeys: MAX_ATTENTION_KEYS, maxRows: MAX_GROUPS, maxTopK: MAX_TOPK };
  readonly sharedMemory = false;
  /** How linear layers are stored on the GPU: f16 only when asked for and the adapter has shader-f16. */
  readonly weights: WeightType;
  /** Bytes of weights uploaded. */
  weightBytes = 0;
  /** Linear layers kept in f32 although f16 was asked for (a weight beyond f16's range). */
  private f32Kept = 0;
  private lost: string | null = null;
  private reported: string | null = null;
  private readonly k: GpuKernels;
  private rec: Recorder | null = null;
  /** Working buffers, newest last; mark() is a length of this stack. */
  private readonly stack: GpuBuf[] = [];
  private readonly topkParts = new Map<string, { score: GpuBuf; index: GpuBuf; threads: number; span: number; outScore: GpuBuf; outIndex: GpuBuf }>();

  constructor(readonly gpu: GpuDevice, weights: WeightType = 'f32') {
    this.k = new GpuKernels(gpu.device);
    gpu.device.lost.then((info) => { this.lost = `WebGPU device lost (${info.reason}): ${info.message || 'no message'}`; });
    gpu.device.addEventListener('uncapturederror', (e) => { this.reported ??= (e as GPUUncapturedErrorEvent).error.message; });
    this.weights = weights === 'f16' && gpu.f16 ? 'f16' : 'f32';
  }

  get description(): string {
    const f16 = this.weights === 'f16' ? `, linear layers as f16${this.f32Kept ? ` (${this.f32Kept} kept f32: values beyond f16's range)` : ''}` : '';
    return `WebGPU on ${this.gpu.description} (${(this.weightBytes / 2 ** 20).toFixed(1)} MiB of weights uploaded${f16})`;
  }

  failure(): string | null {
    if (this.lost) return this.lost;
    const e = this.reported;
    this.reported = null;
    return e ? `WebGPU reported: ${e}` : null;
  }

  // --- weights ------------------------------------------------------------------------------------------
  loadLinear(inF: number, parts: readonly LinearPart[], format: WeightFormat, label: string): LinearWeights {
    if (format !== 'f32') throw new UnsupportedError(`the WebGPU backend has no kernels for ${format} weights (${label}); load with quantize: 'none' or use backend 'wasm'`);
    const ws = parts.map((p) => floatsOf(p.w));
    const outF = ws.reduce((n, w) => n + w.length / inF, 0);
    const panelFloats = (inF + 1) * 8, panels = Math.ceil(outF / 8);
    const wt: WeightType = this.weights === 'f16' && ws.every((w) => w.every((v) => Math.abs(v) <= F16_MAX)) &&
      parts.every((p) => !p.b || p.b.every((v) => Math.abs(v) <= F16_MAX)) ? 'f16' : 'f32';
    if (this.weights === 'f16' && wt === 'f32') this.f32Kept++;
    const elemBytes = wt === 'f16' ? 2 : 4;
    const perChunk = Math.floor(this.gpu.maxBinding / (panelFloats * elemBytes));
    if (perChunk < 1) throw new UnsupportedError(`${label}: one 8-column panel (${panelFloats * elemBytes} bytes) exceeds this adapter's maxStorageBufferBindingSize ${this.gpu.maxBinding}`);
    // column c of the layer: part and row within it
    const rowOf: { w: Float32Array; b: Float32Array | null; r: number }[] = [];
    parts.forEach((p, i) => { for (let r = 0; r < ws[i].length / inF; r++) rowOf.push({ w: ws[i], b: p.b, r }); });
    const chunks = [];
    for (let p0 = 0; p0 < panels; p0 += perChunk) {
      const n = Math.min(perChunk, panels - p0), packed = new Float32Array(n * panelFloats);
      for (let c = p0 * 8; c < Math.min(outF, (p0 + n) * 8); c++) {
        const { w, b, r } = rowOf[c], base = Math.floor(c / 8 - p0) * panelFloats, cc = c % 8;
        packed[base + cc] = b ? b[r] : 0;
        for (let i = 0; i < inF; i++) packed[base + 8 + i * 8 + cc] = w[r * inF + i];
      }
      this.weightBytes += packed.length * elemBytes;
      // panel floats are a multiple of 8, so an f16 chunk is still a whole number of 4-byte words
      const buf = this.k.upload(wt === 'f16' ? new Uint32Array(toF16(packed).buffer) : packed, `${label}[${p0}]`);
      chunks.push({ buf, colBase: p0 * 8, cols: Math.min(n * 8, outF - p0 * 8) });
    }
    const L: GpuLinear = { inF, outF, format: 'f32', chunks, weights: wt };
    return L;
  }

  loadNorm(weight: Float32Array, bias: Float32Array | null, eps: number, label: string): NormWeights {
    const dim = weight.length, gb = new Float32Array(2 * dim);
    gb.set(weight);
    if (bias) gb.set(bias, dim);
    this.weightBytes += gb.byteLength;
    const N: GpuNorm = { gb: this.k.upload(gb, label), dim, eps, rms: !bias };
    return N;
  }

  loadTable(data: Floats, rows: number, cols: number, label: string): TableWeights {
    if (rows * cols * 4 > this.gpu.maxBinding) throw new UnsupportedError(`${label}: the ${rows}×${cols} table exceeds this adapter's maxStorageBufferBindingSize ${this.gpu.maxBinding}`);
    this.weightBytes += rows * cols * 4;
    const T: GpuTable = { buf: this.k.upload(floatsOf(data), label), rows, cols };
    return T;
  }

  // --- memory -------------------------------------------------------------------------------------------
  mark(): number { return this.stack.length; }

  release(mark: number): void {
    if (this.stack.length <= mark) return;
    this.flush(); // WebGPU frees a destroyed buffer once the work already submitted is done with it
    for (const b of this.stack.splice(mark)) b.destroy();
  }

  alloc(elements: number, label: string): Buf {
    const b = this.k.buffer(elements * 4, label);
    this.stack.push(b);
    return b;
  }

  upload(data: Float32Array | Int32Array | Uint8Array, label: string): Buf {
    const b = this.k.upload(data instanceof Uint8Array ? Uint32Array.from(data) : data, label);
    this.stack.push(b);
    return b;
  }

  /** What is recorded, submitted with a copy of the elements back to the CPU. */
  read(buf: Buf, off: number, n: number): Promise<Float32Array> {
    return this.k.read(buf as GpuBuf, off * 4, n * 4, this.takeRecorder()).then((bytes) => new Float32Array(bytes));
  }

  readInts(buf: Buf, off: number, n: number): Promise<Int32Array> {
    return this.k.read(buf as GpuBuf, off * 4, n * 4, this.takeRecorder()).then((bytes) => new Int32Array(bytes));
  }

  private recorder(): Recorder { return (this.rec ??= new Recorder(this.k)); }

  /** The open recorder (or a fresh one), no longer open: the caller submits it. */
  private takeRecorder(): Recorder {
    const rec = this.recorder();
    this.rec = null;
    return rec;
  }

  private flush(): void {
    this.rec?.submit();
    this.rec = null;
  }

  // --- forward ------------------------------------------------------------------------------------------
  embed(src: EmbeddingSource, ids: Buf, n: number, scale: number, out: Buf, accumulate: boolean): void {
    const s = 'table' in src ? { table: src.table as GpuTable } : { head: src.head as GpuLinear };
    const d = 'table' in src ? src.table.cols : src.head.inF;
    this.recorder().embed(s, ids as GpuBuf, 0, n, d, scale, out as GpuBuf, 0, accumulate);
  }

  linear(L: LinearWeights, x: Buf, xOff: number, rows: number, y: Buf, yOff: number, accumulate: boolean): void {
    this.recorder().linear(L as GpuLinear, x as GpuBuf, xOff, rows, y as GpuBuf, yOff, accumulate);
  }

  norm(N: NormWeights, x: Buf, rows: number, y: Buf): void {
    this.recorder().norm(N as GpuNorm, x as GpuBuf, 0, rows, y as GpuBuf, 0);
  }

  activation(act: Activation, x: Buf, off: number, n: number, gateOff?: number): void {
    if (act === 'linear' && gateOff === undefined) return; // identity, in place
    this.recorder().elementwise(ACTIVATION_KIND[act], x as GpuBuf, off, n, 1, gateOff ?? -1);
  }

  scale(x: Buf, n: number, s: number): void { this.recorder().scale(x as GpuBuf, 0, n, s); }

  attention(a: Attention): void { this.recorder().attention(a); }

  copyRows(c: RowCopy): void {
    this.recorder().copyRows(c.src as GpuBuf, c.srcOff, c.srcStride, c.dst as GpuBuf, c.dstOff, c.dstStride, c.rows, c.width);
  }

  reorderRows(buf: Buf, stride: number, used: number, index: Int32Array, scratch: Buf): void {
    if (used === 0 || index.every((s, r) => s === r)) return;
    const rec = this.recorder(), b = buf as GpuBuf, saved = scratch as GpuBuf, rowBytes = stride * 4;
    // every source row is staged: with fewer rows after (finished rows leaving) a source may lie past the last new row
    const sources = index.reduce((m, s) => Math.max(m, s), 0) + 1;
    rec.copy(b, 0, saved, 0, sources * rowBytes);
    for (let r = 0; r < index.length; r++) if (index[r] !== r) rec.copy(saved, index[r] * rowBytes, b, r * rowBytes, used * 4);
  }

  // --- search -------------------------------------------------------------------------------------------
  logSoftmax(x: Buf, xOff: number, rows: number, n: number): void { this.recorder().logSoftmax(x as GpuBuf, xOff, rows, n); }

  argmax(x: Buf, xOff: number, rows: number, n: number, out: Buf): void { this.recorder().argmax(x as GpuBuf, xOff, rows, n, out as GpuBuf); }
  nonFinite(x: Buf, xOff: number, rows: number, n: number, out: Buf, outOff: number): void { this.recorder().nonFinite(x as GpuBuf, xOff, rows, n, out as GpuBuf, outOff); }

  topK(x: Buf, xOff: number, add: Buf, sentences: number, beams: number, n: number, k: number, out: Buf): void {
    // the shader reads x from its start: a step shared by several calls (batcher.ts) runs on wasm only
    if (xOff !== 0) throw new UnsupportedError('the WebGPU backend ranks top-k candidates only from the start of a buffer (xOff 0)');
    const key = `${sentences}x${beams}x${n}x${k}`;
    let part = this.topkParts.get(key);
    if (!part) {
      const span = 256, threads = Math.ceil((beams * n) / span), buf = (floats: number, label: string) => this.k.buffer(floats * 4, label);
      part = { span, threads, score: buf(sentences * threads * k, 'top-k partial scores'), index: buf(sentences * threads * k, 'top-k partial ids'),
        outScore: buf(sentences * k, 'top-k scores [B, k]'), outIndex: buf(sentences * k, 'top-k ids [B, k]') };
      this.topkParts.set(key, part);
    }
    const rec = this.recorder(), bytes = sentences * k * 4;
    rec.topK(x as GpuBuf, add as GpuBuf, sentences, beams, n, k, part, part.outScore, part.outIndex);
    rec.copy(part.outScore, 0, out as GpuBuf, 0, bytes);
    rec.copy(part.outIndex, 0, out as GpuBuf, bytes, bytes);
  }

  destroy(): void { this.gpu.device.destroy(); }
}
