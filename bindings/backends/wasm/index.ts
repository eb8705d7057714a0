// The wasm backend: the Backend operations on the SIMD kernels (assembly/), over one linear memory, on this
// thread or split between the threads of a pool. How an op is cut into chunks is decided here, per op, from its
// size; every chunk computes its outputs exactly as the single-threaded kernel would, so results never depend on
// the thread count.
import type { Activation } from '../../config.js';
import { UnsupportedError } from '../../errors.js';
import { ACTIVATION_KIND } from '../activations.js';
import type { Attention, Backend, BackendLimits, Buf, EmbeddingSource, Floats, LinearPart, LinearWeights, NormWeights, RowCopy, TableWeights, WeightFormat } from '../backend.js';
import { Linear, Norm, PARALLEL_MIN_MACS, putFloats, splitRange } from './linear.js';
import { releaseNow, type WasmRuntime } from './runtime.js';
import { MAX_CHUNKS, type Chunk, type KernelCall } from './threads/pool.js';

/** A working buffer: its byte offset in wasm memory, and the bytes of one element (1 for masks, else 4). */
class WasmBuf { constructor(readonly ptr: number, readonly elementBytes: 1 | 4 = 4) {} }
class WasmTable implements TableWeights { constructor(readonly ptr: number, readonly rows: number, readonly cols: number) {} }

const ptr = (b: Buf, off = 0): number => (b as WasmBuf).ptr + off * (b as WasmBuf).elementBytes;

/** Cost of one element of an activation in PARALLEL_MIN_MACS units, ~15 per ns (measured, V8 on one Xeon core,
 *  inputs in [-8, 8]: relu, relu2, relu6, leaky_relu 0.1-0.2, sigmoid and silu 1.6, quick_gelu 1.7, mish 1.8,
 *  gelu_new 2.1, tanh 2.4, gelu, gelu_10 and laplace 4.1 ns a float; a gated op adds ~0.1): below the threshold an
 *  op stays on one thread. */
const ACTIVATION_COST: Readonly<Record<Activation, number>> = {
  relu: 3, leaky_relu: 3, linear: 1, relu2: 3, relu6: 3, sigmoid: 25, silu: 25, quick_gelu: 26, mish: 27, gelu_new: 30,
  tanh: 36, gelu: 60, gelu_10: 62, laplace: 62,
};

export class WasmBackend implements Backend {
  readonly kind = 'wasm' as const;
  readonly formats: readonly WeightFormat[] = ['f32', 'int8'];
  readonly limits: BackendLimits = { maxKeys: Infinity, maxRows: Infinity, maxTopK: Infinity };
  readonly sharedMemory = true;
  constructor(readonly rt: WasmRuntime) {}

  get description(): string {
    return `wasm SIMD (${this.rt.simd}${this.rt.threads > 1 ? `, ${this.rt.threads} threads` : ''})`;
  }

  // --- weights ------------------------------------------------------------------------------------------
  loadLinear(inF: number, parts: readonly LinearPart[], format: WeightFormat): LinearWeights {
    return Linear.pack(this.rt, inF, parts, format);
  }
  loadNorm(weight: Float32Array, bias: Float32Array | null, eps: number): NormWeights {
    return Norm.load(this.rt, weight, bias, eps);
  }
  loadTable(data: Floats, rows: number, cols: number): TableWeights {
    return new WasmTable(putFloats(this.rt.heap, data), rows, cols);
  }

  // --- memory -------------------------------------------------------------------------------------------
  mark(): number { return this.rt.heap.mark(); }
  release(mark: number): void { this.rt.heap.release(mark); }
  alloc(elements: number): Buf { return new WasmBuf(this.rt.heap.alloc(elements * 4)); }
  upload(data: Float32Array | Int32Array | Uint8Array): Buf {
    const { heap } = this.rt;
    const b = new WasmBuf(heap.alloc(data.byteLength), data instanceof Uint8Array ? 1 : 4);
    if (data instanceof Uint8Array) heap.u8().set(data, b.ptr);
    else if (data instanceof Int32Array) heap.i32().set(data, b.ptr >>> 2);
    else heap.f32().set(data, b.ptr >>> 2);
    return b;
  }
  read(buf: Buf, off: number, n: number): Float32Array {
    const at = ptr(buf, off) >>> 2;
    return this.rt.heap.f32().subarray(at, at + n);
  }
  readInts(buf: Buf, off: number, n: number): Int32Array {
    const at = ptr(buf, off) >>> 2;
    return this.rt.heap.i32().subarray(at, at + n);
  }

  // --- forward ------------------------------------------------------------------------------------------
  embed(src: EmbeddingSource, ids: Buf, n: number, scale: number, out: Buf, accumulate: boolean): void {
    const { k } = this.rt;
    if ('table' in src) {
      const t = src.table as WasmTable;
      if (!accumulate) k.embed_f32(t.ptr, ptr(ids), n, t.cols, scale, ptr(out));
      else if (scale === 1) k.gather_add_f32(t.ptr, ptr(ids), n, t.cols, ptr(out));
      else throw new UnsupportedError('the wasm backend adds table rows only unscaled (positions)');
      return;
    }
    const L = src.head as Linear;
    if (accumulate) throw new UnsupportedError('the wasm backend gathers head rows only into a fresh output');
    if (L.format === 'int8') k.embed_packed_i8(L.packed, ptr(ids), n, L.inF, scale, ptr(out));
    else k.embed_packed_f32(L.packed, ptr(ids), n, L.inF, scale, ptr(out));
  }

  linear(L: LinearWeights, x: Buf, xOff: number, rows: number, y: Buf, yOff: number, accumulate: boolean): void {
    (L as Linear).run(ptr(x, xOff), rows, ptr(y, yOff), accumulate);
  }

  norm(N: NormWeights, x: Buf, rows: number, y: Buf): void {
    (N as Norm).run(ptr(x), rows, ptr(y));
  }

  activation(act: Activation, x: Buf, off: number, n: number, gateOff?: number): void {
    const kind = ACTIVATION_KIND[act], at = ptr(x, off);
    if (gateOff === undefined) {
      if (act === 'linear') return; // identity, in place
      this.elementwise(ACTIVATION_COST[act], n, () => this.rt.k.activation_f32(at, at, n, kind),
        (i0, i1) => ['activation_f32', at + i0 * 4, at + i0 * 4, i1 - i0, kind]);
    } else {
      const g = ptr(x, gateOff);
      this.elementwise(ACTIVATION_COST[act] + 1, n, () => this.rt.k.gated_activation_f32(at, g, at, n, kind),
        (i0, i1) => ['gated_activation_f32', at + i0 * 4, g + i0 * 4, at + i0 * 4, i1 - i0, kind]);
    }
  }

  scale(x: Buf, n: number, s: number): void {
    this.rt.k.scale_f32(ptr(x), s, ptr(x), n);
  }

  /**
   * One attention_f32 call per group. Threads take whole heads of a long sequence (the encoder: each head alone is
   * S×S work) or whole groups of a decoder step (one query each), once there is enough work to split.
   */
  attention(a: Attention): void {
    const { heap, pool, threads } = this.rt;
    const A = a.heads * a.hd;
    const scratchBytes = Math.ceil(((a.hd + a.tk) * 4) / 64) * 64; // one per thread
    const mark = heap.mark();
    const scratch = heap.alloc(scratchBytes * threads);
    const q = ptr(a.q), kv = ptr(a.kv), out = ptr(a.out), mask = a.mask ? ptr(a.mask) : 0, bias = a.bias ? ptr(a.bias) : 0;
    const maskBytes = a.mask ? (a.mask as WasmBuf).elementBytes : 0;
    const call = (g: number, h0: number, h1: number): number[] => {
      const gkv = Math.floor(g / a.kvDiv), kvRow = kv + (gkv * a.kvGroup + h0 * a.hd) * 4;
      return [q + (a.qOff + g * a.qGroup + h0 * a.hd) * 4, a.qStride, kvRow + a.kOff * 4, kvRow + a.vOff * 4, a.kvStride,
        out + (a.outOff + g * a.outGroup + h0 * a.hd) * 4, a.outStride, h1 - h0, a.hd, a.tq, a.tk, a.scale,
        mask ? mask + (a.maskOff + gkv * a.maskGroup) * maskBytes : 0, a.causal, bias ? bias + h0 * a.tq * a.tk * 4 : 0, scratch];
    };
    const calls: number[][] = [];
    let split: boolean;
    if (a.tq > 1) {
      split = !!pool && a.heads > 1 && a.tq * a.tk * A >= PARALLEL_MIN_MACS;
      for (let g = 0; g < a.groups; g++) {
        if (split) for (let h = 0; h < a.heads; h++) calls.push(call(g, h, h + 1));
        else calls.push(call(g, 0, a.heads));
      }
    } else {
      // tk keys × 2A multiply-adds a group (~6.5 per ns at tk 32: four rows of a Marian cross-attention take
      // ~20 µs, a parallel step 1-2 µs)
      split = a.groups * a.tk * 2 * A >= PARALLEL_MIN_MACS / 2;
      for (let g = 0; g < a.groups; g++) calls.push(call(g, 0, a.heads));
    }
    if (!pool || !split || calls.length < 2) {
      for (const c of calls) (this.rt.k.attention_f32 as (...x: number[]) => void)(...c);
    } else {
      // argument 15, the scratch, moves to the claiming thread's own
      for (let i = 0; i < calls.length; i += MAX_CHUNKS) {
        pool.run(calls.slice(i, i + MAX_CHUNKS).map((c): Chunk => ({ call: ['attention_f32', ...c], scratchArg: 15, scratchStride: scratchBytes })));
      }
    }
    heap.release(mark);
  }

  copyRows(c: RowCopy): void {
    const s = ptr(c.src, c.srcOff), d = ptr(c.dst, c.dstOff);
    for (let r = 0; r < c.rows; r++) this.rt.k.copy_bytes(d + r * c.dstStride * 4, s + r * c.srcStride * 4, c.width * 4);
  }

  reorderRows(buf: Buf, stride: number, used: number, index: Int32Array, scratch: Buf): void {
    if (used === 0 || index.every((s, r) => s === r)) return;
    const { k } = this.rt, base = ptr(buf), saved = ptr(scratch), rowBytes = stride * 4, R = index.length;
    // stage every source row that will be overwritten before it is read, then copy into place
    const staged = new Uint8Array(R);
    for (let r = 0; r < R; r++) {
      const s = index[r];
      if (s !== r && index[s] !== s && !staged[s]) {
        staged[s] = 1;
        k.copy_bytes(saved + s * rowBytes, base + s * rowBytes, used * 4);
      }
    }
    for (let r = 0; r < R; r++) {
      const s = index[r];
      if (s !== r) k.copy_bytes(base + r * rowBytes, (staged[s] ? saved : base) + s * rowBytes, used * 4);
    }
  }

  // --- search -------------------------------------------------------------------------------------------
  logSoftmax(x: Buf, xOff: number, rows: number, n: number): void {
    const { pool, k } = this.rt, at = ptr(x, xOff);
    // rows are independent: with a pool, whole rows per chunk (~2.3 ns a float here)
    if (pool && rows > 1 && rows * n * 20 >= PARALLEL_MIN_MACS) {
      pool.run(splitRange(rows, pool.size, 2 * pool.size).map(([r0, r1]) => ({ call: ['log_softmax_f32', at + r0 * n * 4, r1 - r0, n] })));
    } else k.log_softmax_f32(at, rows, n);
  }

  /** The top-1 of each row (topk_rows_f32 with k 1: ties to the lower index, NaN never ranks). */
  argmax(x: Buf, xOff: number, rows: number, n: number, out: Buf): void {
    const { k, heap } = this.rt, mark = heap.mark(), s = heap.alloc(16), at = ptr(x, xOff), o = ptr(out) >>> 2;
    heap.f32()[s >>> 2] = 0; // the addend; then the kept score and index
    for (let r = 0; r < rows; r++) {
      const found = k.topk_rows_f32(at + r * n * 4, 1, n, s, 1, s + 4, s + 8);
      const i32 = heap.i32();
      i32[o + r] = found ? i32[(s + 8) >>> 2] : 0;
    }
    heap.release(mark);
  }

  topK(x: Buf, xOff: number, add: Buf, sentences: number, beams: number, n: number, k: number, out: Buf): void {
    const { heap } = this.rt, at = ptr(x, xOff), ad = ptr(add), sc = ptr(out), ix = sc + sentences * k * 4;
    for (let b = 0; b < sentences; b++) {
      const found = this.rt.k.topk_rows_f32(at + b * beams * n * 4, beams, n, ad + b * beams * 4, k, sc + b * k * 4, ix + b * k * 4);
      heap.i32().fill(-1, (ix >>> 2) + b * k + found, (ix >>> 2) + (b + 1) * k);
    }
  }

  nonFinite(x: Buf, xOff: number, rows: number, n: number, out: Buf, outOff: number): void {
    this.rt.heap.i32()[(ptr(out) >>> 2) + outOff] = this.rt.k.find_broken_row_f32(ptr(x, xOff), rows, n);
  }

  failure(): null { return null; }
  destroy(): void { releaseNow(this.rt); }

  /** Runs an element-wise kernel over n floats, split between the pool's threads when it is worth a step. */
  private elementwise(cost: number, n: number, one: () => void, part: (i0: number, i1: number) => KernelCall): void {
    const pool = this.rt.pool;
    if (!pool || n * cost < PARALLEL_MIN_MACS) { one(); return; }
    pool.run(splitRange(n, pool.size, 2 * pool.size, 4).map(([i0, i1]) => ({ call: part(i0, i1) })));
  }
}
