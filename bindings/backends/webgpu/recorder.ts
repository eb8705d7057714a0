/// <reference types="@webgpu/types" />
// The shaders as callable kernels. A Recorder collects one forward pass (encoder, or one decoder step) into a
// single command buffer: each dispatch gets its parameters at its own 256-byte slot of one uniform buffer,
// written once before submit, so recording a pass costs no round trips. Dispatches in a compute pass are ordered
// by WebGPU (each is its own synchronisation scope); buffer copies end the pass.
import { UnsupportedError } from '../../errors.js';
import type { Attention } from '../backend.js';
import { ATTENTION, COPY_ROWS, ELEMENTWISE, EMBED, GEMM_TILED, GEMV, GEMV_ROWS, normShader, OP_SCALE, TILE, type WeightType } from './shaders.js';
import { ARGMAX, LOG_SOFTMAX, MAX_TOPK, NONFINITE, NONFINITE_INIT, TOPK_MERGE, TOPK_PARTIAL } from './search_shaders.js';


/** One chunk of a linear layer's packed panels: output columns [colBase, colBase + cols). */
/** A GPU buffer of f32 (or u32) elements. */
export type Buf = GPUBuffer;

export interface LinearChunk { buf: Buf; colBase: number; cols: number }
/** A linear layer on the GPU: y[rows, outF] (+)= x[rows, inF]·Wᵀ + b, weights in wasm's panel layout. */
export interface GpuLinear { readonly inF: number; readonly outF: number; readonly format: 'f32'; readonly chunks: LinearChunk[]; readonly weights: WeightType }
/** gamma | beta (beta zeros for RMS norm), dim, eps. */
export interface GpuNorm { readonly gb: Buf; readonly dim: number; readonly eps: number; readonly rms: boolean }
/** A [rows, cols] f32 table. */
export interface GpuTable { readonly buf: Buf; readonly rows: number; readonly cols: number }

const PARAM_SLOT = 256; // minUniformBufferOffsetAlignment's guaranteed maximum
const PARAM_SLOTS = 1024;
const MAX_GROUPS = 65535;

export class GpuKernels {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  /** Bound where a kernel's optional input is absent (WebGPU has no null bindings). */
  readonly dummy: Buf;
  private readonly paramPool: GPUBuffer[] = [];
  private readonly staging = new Map<number, GPUBuffer>();

  constructor(readonly device: GPUDevice) {
    this.dummy = this.buffer(16, 'dummy');
  }

  pipeline(name: string, code: string): GPUComputePipeline {
    let p = this.pipelines.get(name);
    if (!p) {
      const module = this.device.createShaderModule({ code, label: name });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: name });
      this.pipelines.set(name, p);
    }
    return p;
  }

  /** A storage buffer of `bytes` (rounded up to 4), readable as copy source and destination. */
  buffer(bytes: number, label: string): Buf {
    return this.device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 4) * 4), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, label });
  }

  upload(data: Float32Array | Int32Array | Uint32Array, label: string): Buf {
    const buf = this.buffer(data.byteLength, label);
    this.write(buf, data);
    return buf;
  }

  /** Queues a copy of `data` into `buf` at byte 0 (ordered before the next submit's commands). */
  write(buf: Buf, data: Float32Array | Int32Array | Uint32Array): void {
    // wasm memory may be a SharedArrayBuffer (threaded kernels), which Dawn's writeBuffer refuses: copy it out
    const plain = data.buffer instanceof ArrayBuffer ? data : data.slice();
    this.device.queue.writeBuffer(buf, 0, plain.buffer as ArrayBuffer, plain.byteOffset, plain.byteLength);
  }

  takeParams(): GPUBuffer {
    return this.paramPool.pop() ?? this.device.createBuffer({ size: PARAM_SLOT * PARAM_SLOTS, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: 'params' });
  }

  returnParams(b: GPUBuffer[]): void { this.paramPool.push(...b); }

  /**
   * Copies `bytes` of `src` back to the CPU (the only readbacks: logits, chosen ids, top-k candidates, encoder
   * states): the copy goes at the end of `rec` (submitted with it) or alone, into a mappable buffer kept per size.
   */
  async read(src: Buf, offset: number, bytes: number, rec?: Recorder): Promise<ArrayBuffer> {
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    let staging = this.staging.get(size);
    if (!staging) {
      staging = this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'readback' });
      this.staging.set(size, staging);
    }
    const r = rec ?? new Recorder(this);
    r.copy(src, offset, staging, 0, size);
    r.submit();
    await staging.mapAsync(GPUMapMode.READ, 0, size);
    try {
      return staging.getMappedRange(0, size).slice(0, bytes);
    } finally {
      staging.unmap();
    }
  }
}

/** Records one pass of dispatches and copies; submit() sends them as one command buffer. */
export class Recorder {
  private readonly encoder: GPUCommandEncoder;
  private pass: GPUComputePassEncoder | null = null;
  private readonly paramBufs: GPUBuffer[] = [];
  private params!: GPUBuffer;
  private staging = new ArrayBuffer(PARAM_SLOT * PARAM_SLOTS);
  private slot = PARAM_SLOTS;
  private readonly written: { buf: GPUBuffer; data: ArrayBuffer; slots: number }[] = [];

  constructor(readonly k: GpuKernels) {
    this.encoder = k.device.createCommandEncoder();
  }

  private nextSlot(values: (number | ['f' | 'i', number])[]): { buffer: GPUBuffer; offset: number; size: number } {
    if (this.slot === PARAM_SLOTS) {
      if (this.paramBufs.length) this.written.push({ buf: this.params, data: this.staging, slots: PARAM_SLOTS });
      this.params = this.k.takeParams();
      this.paramBufs.push(this.params);
      this.staging = new ArrayBuffer(PARAM_SLOT * PARAM_SLOTS);
      this.slot = 0;
    }
    const offset = this.slot++ * PARAM_SLOT;
    const u = new Uint32Array(this.staging, offset, values.length);
    const f = new Float32Array(this.staging, offset, values.length);
    const i = new Int32Array(this.staging, offset, values.length);
    values.forEach((v, n) => {
      if (typeof v === 'number') u[n] = v;
      else if (v[0] === 'f') f[n] = v[1];
      else i[n] = v[1];
    });
    return { buffer: this.params, offset, size: Math.ceil((values.length * 4) / 16) * 16 };
  }

  /** One dispatch: uniform params (u32 unless tagged ['f', x] / ['i', x]) at binding 0, buffers at 1.. */
  dispatch(name: string, code: string, params: (number | ['f' | 'i', number])[], buffers: Record<number, Buf>, groups: [number, number?, number?]): void {
    const most = this.k.device.limits.maxComputeWorkgroupsPerDimension;
    if (groups.some((g) => (g ?? 1) > most)) {
      // (e.g. a norm over more rows than that): the model answers this call on wasm
      throw new UnsupportedError(`${name} needs ${groups.join('×')} workgroups, over this adapter's maxComputeWorkgroupsPerDimension ${most}`);
    }
    const pipeline = this.k.pipeline(name, code);
    const uniform = this.nextSlot(params);
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: uniform }];
    for (const [binding, buf] of Object.entries(buffers)) entries.push({ binding: Number(binding), resource: { buffer: buf } });
    const bind = this.k.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    this.pass ??= this.encoder.beginComputePass();
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, bind);
    this.pass.dispatchWorkgroups(groups[0], groups[1] ?? 1, groups[2] ?? 1);
  }

  copy(src: Buf, srcOff: number, dst: Buf, dstOff: number, bytes: number): void {
    if (bytes === 0) return;
    this.pass?.end();
    this.pass = null;
    this.encoder.copyBufferToBuffer(src, srcOff, dst, dstOff, bytes);
  }

  submit(): void {
    this.pass?.end();
    this.pass = null;
    if (this.paramBufs.length) this.written.push({ buf: this.params, data: this.staging, slots: this.slot });
    const q = this.k.device.queue;
    for (const w of this.written) q.writeBuffer(w.buf, 0, w.data, 0, w.slots * PARAM_SLOT);
    q.submit([this.encoder.finish()]);
    this.k.returnParams(this.paramBufs); // the queue orders later writes after this submit's reads
  }

  // --- the kernels ----------------------------------------------------------------------------------------

  /** y[rows, outF] at yOff (+)= x[rows, inF] at xOff · Wᵀ + b, row strides ldx/ldy in floats. */
  linear(L: GpuLinear, x: Buf, xOff: number, rows: number, y: Buf, yOff: number, accumulate = false, ldx = L.inF, ldy = L.outF): void {
    for (const c of L.chunks) {
      const params = [rows, L.inF, c.cols, ldx, ldy, xOff, yOff, accumulate ? 1 : 0, c.colBase];
      const wt = L.weights;
      if (rows <= GEMV_ROWS) {
        this.dispatch(`gemv_${wt}`, GEMV(wt), params, { 1: x, 2: c.buf, 3: y }, grid(c.cols));
      } else {
        this.dispatch(`gemm_${wt}`, GEMM_TILED(wt), params, { 1: x, 2: c.buf, 3: y }, [Math.ceil(c.cols / TILE), Math.ceil(rows / TILE)]);
      }
    }
  }

  /** LayerNorm / RMSNorm of rows × dim at xOff into y at yOff (in place when y is x and the offsets match). */
  norm(N: GpuNorm, x: Buf, xOff: number, rows: number, y: Buf = x, yOff = xOff): void {
    const params: (number | ['f', number])[] = [rows, N.dim, xOff, yOff, ['f', N.eps], N.rms ? 1 : 0];
    if (x === y) {
      if (xOff !== yOff) throw new RangeError('in-place norm needs equal offsets');
      this.dispatch('norm_inplace', normShader(true), params, { 1: N.gb, 2: y }, [rows]);
    } else {
      this.dispatch('norm', normShader(false), params, { 1: N.gb, 2: y, 3: x }, [rows]);
    }
  }

  /** In place over n floats at off: op an activation kind or OP_SCALE; gated: times x[gateOff + i]. */
  elementwise(op: number, x: Buf, off: number, n: number, scale = 1, gateOff = -1): void {
    this.dispatch('elementwise', ELEMENTWISE, [n, off, op, ['f', scale], gateOff >= 0 ? 1 : 0, Math.max(gateOff, 0)], { 1: x }, grid(n));
  }

  scale(x: Buf, off: number, n: number, s: number): void { this.elementwise(OP_SCALE, x, off, n, s); }

  /** out[n, d] (+)= scale · rows `ids` of a [V, d] table, or of a packed lm_head (every chunk covers its ids). */
  embed(src: { table: GpuTable } | { head: GpuLinear }, ids: Buf, idsOff: number, n: number, d: number,
    scale: number, out: Buf, outOff: number, accumulate: boolean): void {
    const parts = 'table' in src
      ? [{ buf: src.table.buf, colBase: 0, cols: src.table.rows, packed: 0 }]
      : src.head.chunks.map((c) => ({ ...c, packed: 1 }));
    const wt: WeightType = 'head' in src ? src.head.weights : 'f32';
    for (const c of parts) {
      this.dispatch(`embed_${wt}`, EMBED(wt), [n, d, outOff, idsOff, ['f', scale], accumulate ? 1 : 0, c.packed, c.colBase, c.cols],
        { 1: c.buf, 2: ids, 3: out }, grid(n * d));
    }
  }

  /** rows × width floats from src (row stride srcStride) to dst (row stride dstStride), inside the compute pass. */
  copyRows(src: Buf, srcOff: number, srcStride: number, dst: Buf, dstOff: number, dstStride: number, rows: number, width: number): void {
    this.dispatch('copy_rows', COPY_ROWS, [rows, width, srcOff, srcStride, dstOff, dstStride], { 1: src, 2: dst }, grid(rows * width));
  }

  attention(a: Attention): void {
    this.dispatch('attention', ATTENTION, [
      a.tq, a.tk, a.hd, a.kvDiv,
      a.qOff, a.qStride, a.qGroup, ['f', a.scale],
      a.kOff, a.vOff, a.kvStride, a.kvGroup,
      a.outOff, a.outStride, a.outGroup, ['i', a.causal],
      a.maskOff, a.maskGroup, a.mask ? 1 : 0, 0,
      a.bias ? 1 : 0,
    ], { 1: a.q as Buf, 2: a.kv as Buf, 3: (a.mask ?? this.k.dummy) as Buf, 4: (a.bias ?? this.k.dummy) as Buf, 5: a.out as Buf }, [a.tq, a.heads, a.groups]);
  }

  logSoftmax(x: Buf, off: number, rows: number, n: number): void {
    this.dispatch('log_softmax', LOG_SOFTMAX, [rows, n, off], { 1: x }, [rows]);
  }

  argmax(x: Buf, off: number, rows: number, n: number, out: Buf): void {
    this.dispatch('argmax', ARGMAX, [rows, n, off], { 1: x, 2: out }, [rows]);
  }

  /** out[outOff] = the first of `rows` rows of n at x + off holding a NaN or ±Inf, or 0xffffffff (-1 as i32). */
  nonFinite(x: Buf, off: number, rows: number, n: number, out: Buf, outOff: number): void {
    this.dispatch('nonfinite_init', NONFINITE_INIT, [outOff], { 1: out }, [1]);
    this.dispatch('nonfinite', NONFINITE, [rows, n, off, outOff], { 1: x, 2: out }, [rows]);
  }

  /** Per sentence, the k best f32(logp + beamScore) over its beams × V candidates: scores/indices [B, k]. */
  topK(logp: Buf, beamScore: Buf, sentences: number, beams: number, V: number, k: number, part: { score: Buf; index: Buf; threads: number; span: number }, outScore: Buf, outIndex: Buf): void {
    if (k > MAX_TOPK) throw new RangeError(`top-k of ${k} exceeds the GPU kernel's ${MAX_TOPK}`);
    const params = [beams, V, k, part.span, part.threads];
    this.dispatch('topk_partial', TOPK_PARTIAL, params, { 1: logp, 2: beamScore, 3: part.score, 4: part.index }, [Math.ceil(part.threads / 64), 1, sentences]);
    this.dispatch('topk_merge', TOPK_MERGE, params, { 1: part.score, 2: part.index, 3: outScore, 4: outIndex }, [sentences]);
  }
}

/** Workgroups of 64 covering n items, as a 2-D grid when one dimension would exceed 65535. */
function grid(n: number): [number, number] {
  const groups = Math.max(1, Math.ceil(n / 64));
  if (groups <= MAX_GROUPS) return [groups, 1];
  const y = Math.ceil(groups / MAX_GROUPS);
  return [Math.ceil(groups / y), y];
}

