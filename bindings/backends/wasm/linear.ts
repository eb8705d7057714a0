// The wasm backend's weights: linear layers packed once at load into 8-column panels (f32 or int8) and norms, and
// how a layer's work is cut into chunks for the thread pool (each chunk computes its outputs exactly as one
// thread would, so results never depend on the thread count).
import type { Heap } from './heap.js';
import type { WasmRuntime } from './runtime.js';
import type { Floats, LinearPart, LinearWeights, NormWeights, WeightFormat } from '../backend.js';
import { encodeStep, MAX_CHUNKS, type Chunk, type EncodedStep } from './threads/pool.js';

/** Write `src` into wasm memory at float index `at` (a reader goes from the file straight there). */
export function writeFloats(heap: Heap, src: Floats, at: number): void {
  if (src instanceof Float32Array) heap.f32().set(src, at);
  else src.into(heap.f32().subarray(at, at + src.length));
}

/** Copy `src` into fresh wasm memory; returns the pointer. */
export function putFloats(heap: Heap, src: Floats): number {
  const ptr = heap.alloc(src.length * 4);
  writeFloats(heap, src, ptr >>> 2);
  return ptr;
}

/**
 * Below this much work a GEMM/GEMV runs on one thread. Work is counted in f32 single-row multiply-adds (~8 per ns
 * here); int8 weights (2x: measured at 1-4 rows, not the 4x of their size) and several rows at once (2x: each
 * weight load serves them all) count for less. A parallel step whose worker is already spinning costs a few µs,
 * so splitting pays from ~20 µs of work: measured on 2 threads (ad-hoc loop over one layer, µs single → split),
 * int8 4x512x512 42 → 39, int8 4x512x1536 116-146 → 65-82, f32 1x512x512 30-35 → 19-29; int8 1x512x512 14-16 →
 * 12-21 (no gain: stays single).
 */
export let PARALLEL_MIN_MACS = 150_000;
/** Fewest 8-column panels per chunk of a parallel GEMM/GEMV (besides the work floor in guidedPanels). */
export let PANELS_PER_CHUNK = 2;
/** Tests: every layer through the thread pool in the smallest chunks ({ minMacs: 0, panelsPerChunk: 1 }), or the defaults. */
export function setParallelTuning(t: { minMacs?: number; panelsPerChunk?: number } = {}): void {
  PARALLEL_MIN_MACS = t.minMacs ?? 150_000;
  PANELS_PER_CHUNK = t.panelsPerChunk ?? 2;
  tuning++;
}
/** Changes with the tuning: a layer's remembered step plan is only reused under the tuning it was made with. */
let tuning = 0;

/**
 * [i0, i1) ranges cutting n items into at most `most` parts for a pool of `threads` (a multiple of it where there
 * are enough parts), each boundary a multiple of `align` (SIMD lanes, or row blocks).
 */
export function splitRange(n: number, threads: number, most: number, align = 1): [number, number][] {
  const units = Math.ceil(n / align);
  let C = Math.max(1, Math.min(units, most, MAX_CHUNKS));
  if (C > threads) C -= C % threads;
  const out: [number, number][] = [];
  for (let i = 0; i < C; i++) {
    const i0 = Math.floor((units * i) / C) * align, i1 = Math.min(n, Math.floor((units * (i + 1)) / C) * align);
    if (i1 > i0) out.push([i0, i1]);
  }
  return out;
}

/**
 * Panel ranges for a parallel GEMM/GEMV, largest first: each takes 1/(2·threads) of what is left, down to a floor
 * (PANELS_PER_CHUNK, and 1/8 of the parallel threshold's work). The thread that ends last waits for at most a
 * small chunk: with equal eighths of a 2-thread step it waited ~0.05 ms a step (~1-2 ms of a 15-20 ms int8
 * encoder, measured with a timer around the pool's wait), and a step ends when its slowest thread does.
 */
export function guidedPanels(panels: number, threads: number, workPerPanel: number): [number, number][] {
  let floor = Math.max(PANELS_PER_CHUNK, Math.ceil(PARALLEL_MIN_MACS / 8 / workPerPanel));
  for (;;) {
    const out: [number, number][] = [];
    for (let p = 0; p < panels && out.length <= MAX_CHUNKS;) {
      const p1 = Math.min(panels, p + Math.max(floor, Math.ceil((panels - p) / (2 * threads))));
      out.push([p, p1]);
      p = p1;
    }
    if (out.length <= MAX_CHUNKS) return out;
    floor *= 2;   // many threads over a wide layer: fewer, larger tail chunks
  }
}

/** y = x·Wᵀ + b, W [out, in] as PyTorch stores it, packed once into 8-column panels (f32 or int8). */
export class Linear implements LinearWeights {
  /** Bytes of one packed 8-column panel: threads take whole panels, so each computes its columns exactly as one thread would. */
  private readonly panelBytes: number;
  /** The last parallel step this layer ran, and the arguments it was made for (decoding repeats them every step). */
  private lastStep: EncodedStep | null = null;
  private readonly lastArgs: number[] = [];
  constructor(readonly rt: WasmRuntime, readonly packed: number, readonly inF: number, readonly outF: number,
    readonly format: WeightFormat = 'f32', private readonly scratch = 0, private readonly scratchBytes = 0) {
    this.panelBytes = format === 'int8' ? rt.k.packed_size_i8(8, inF) : rt.k.packed_size_f32(8, inF) * 4;
  }

  /**
   * Pack one or more [out_i, in] weights (with biases, null = zeros) into a single layer whose outputs are
   * the concatenation: fusing Q/K/V (or K/V) projections makes one GEMM instead of three.
   */
  static pack(rt: WasmRuntime, inF: number, parts: readonly LinearPart[], format: WeightFormat = 'f32'): Linear {
    const outF = parts.reduce((n, p) => n + p.w.length / inF, 0);
    const { k, heap } = rt;
    const packed = heap.alloc(format === 'int8' ? k.packed_size_i8(outF, inF) : k.packed_size_f32(outF, inF) * 4);
    // int8 scratch, one per thread: 4 int16 activation rows, their scales and 4 x 8 partial sums (those on cache
    // lines of their own: see run), whole 64-byte lines per thread
    const scratchBytes = format === 'int8' ? Math.ceil((8 * (inF + 2) + 16) / 64) * 64 + 128 : 0;
    const scratch = format === 'int8' ? heap.alloc(scratchBytes * rt.threads) : 0;
    const mark = heap.mark();
    const w = heap.alloc(outF * inF * 4), b = heap.alloc(outF * 4);
    let row = 0;
    for (const p of parts) {
      const rows = p.w.length / inF;
      writeFloats(heap, p.w, (w >>> 2) + row * inF);
      if (p.b) heap.f32().set(p.b, (b >>> 2) + row);
      else heap.f32().fill(0, (b >>> 2) + row, (b >>> 2) + row + rows);
      row += rows;
    }
    if (format === 'int8') k.quantize_pack_i8_n8(w, b, outF, inF, packed);
    else k.pack_f32_n8(w, b, outF, inF, packed);
    heap.release(mark); // the unpacked f32 copy is scratch: only the packed form stays
    return new Linear(rt, packed, inF, outF, format, scratch, scratchBytes);
  }

  /** y[rows, outF] (+)= x[rows, inF]·Wᵀ + b; ldx/ldy are row strides in floats. */
  run(x: number, rows: number, y: number, accumulate = false, ldx = this.inF, ldy = this.outF): void {
    const acc = accumulate ? 1 : 0, pool = this.rt.pool, panels = Math.ceil(this.outF / 8);
    const work = (rows * this.inF * this.outF) / ((this.format === 'int8' ? 2 : 1) * (rows > 1 ? 2 : 1));
    if (!pool || work < PARALLEL_MIN_MACS || panels < 2) {
      if (this.format === 'int8') this.rt.k.linear_i8(x, ldx, this.packed, y, ldy, rows, this.inF, this.outF, acc, this.scratch);
      else this.rt.k.linear_f32(x, ldx, this.packed, y, ldy, rows, this.inF, this.outF, acc);
      return;
    }
    // int8: quantise the activation rows once here, as linear_i8 would, instead of once per chunk (decode rows in
    // thread 0's scratch, more rows in a temporary block); each thread's partial sums stay in its own scratch.
    const k = this.rt.k, inF = this.inF, int8 = this.format === 'int8';
    const mark = this.rt.heap.mark();
    // quantize_rows_i16 writes blocks of 4 rows (the last one padded when it holds 2 or 3), then the scales
    const rowBytes = 2 * ((inF + 1) & ~1), blockRows = 4 * Math.ceil(rows / 4);
    const xq = !int8 ? 0 : rows <= 4 ? this.scratch : this.rt.heap.alloc(blockRows * rowBytes + rows * 4);
    // Partial sums start on a fresh cache line: beside the scales (which every thread reads for each panel) they
    // bounced that line between cores for every panel (4x512x58101 on 2 threads: 1.2-1.5x -> see the commit)
    const xs = xq + blockRows * rowBytes, partial = this.scratch + Math.ceil((4 * rowBytes + 16) / 64) * 64;
    if (int8) {
      // rows quantise independently, in blocks of 4: whole blocks per chunk give the bytes one call would (1.3 ns a
      // float, 10 units of PARALLEL_MIN_MACS: measured 2.6 µs for 4x512, 10.6 for 4x2048, so the encoder's 32x512
      // inputs split too)
      if (rows >= 8 && rows * inF * 10 >= PARALLEL_MIN_MACS) {
        pool.run(splitRange(rows, pool.size, 2 * pool.size, 4).map(([r0, r1]) =>
          ({ call: ['quantize_rows_i16', x + r0 * ldx * 4, ldx, r1 - r0, inF, xq + r0 * rowBytes, xs + r0 * 4] })));
      } else k.quantize_rows_i16(x, ldx, rows, inF, xq, xs);
    }
    // Output columns in chunks of whole panels (guidedPanels), claimed by whichever thread is free.
    pool.run(this.stepFor([x, rows, y, acc, ldx, ldy, xq, tuning], () => {
      const chunks: Chunk[] = [];
      for (const [p0, p1] of guidedPanels(panels, pool.size, work / panels)) {
        const c0 = p0 * 8, n = Math.min(this.outF, p1 * 8) - c0, w = this.packed + p0 * this.panelBytes, yc = y + c0 * 4;
        if (!int8) chunks.push({ call: ['linear_f32', x, ldx, w, yc, ldy, rows, inF, n, acc] });
        else chunks.push({ call: ['linear_i8_rows', xq, xs, rows, w, yc, ldy, inF, n, acc, partial], scratchArg: 9, scratchStride: this.scratchBytes });
      }
      return chunks;
    }));
    this.rt.heap.release(mark);
  }

  /** The encoded step for these arguments: the last one again when they repeat, else a fresh one. */
  private stepFor(args: number[], build: () => Chunk[]): EncodedStep {
    const last = this.lastArgs;
    if (this.lastStep && args.every((v, i) => v === last[i])) return this.lastStep;
    this.lastStep = encodeStep(build());
    last.length = 0;
    last.push(...args);
    return this.lastStep;
  }
}

/** LayerNorm (gamma, beta) or RMSNorm (weight only), eps from the config. */
export class Norm implements NormWeights {
  constructor(readonly rt: WasmRuntime, readonly weight: number, readonly bias: number, readonly dim: number, readonly eps: number) {}

  static load(rt: WasmRuntime, w: Float32Array, b: Float32Array | null, eps: number): Norm {
    return new Norm(rt, putFloats(rt.heap, w), b ? putFloats(rt.heap, b) : 0, w.length, eps);
  }

  run(x: number, rows: number, y = x): void {
    if (this.bias) this.rt.k.layer_norm_f32(x, this.weight, this.bias, y, rows, this.dim, this.eps);
    else this.rt.k.rms_norm_f32(x, this.weight, y, rows, this.dim, this.eps);
  }
}
