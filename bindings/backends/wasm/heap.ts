// The one linear memory, managed from TypeScript as a bump allocator.
//
// Weights (packed once at load) are allocated first and live as long as the model. A generate() call then
// takes a mark, allocates every activation buffer and KV cache it needs for its batch size and length, runs
// all its forward passes inside them (no JS allocation per step), and releases back to the mark.
//
// Growing the memory detaches every typed-array view of the old buffer, so views are never cached by
// callers: `f32()` / `i32()` / `u8()` hand out views of the current buffer each time.
import { MemoryError } from '../../errors.js';
import type { KernelExports } from './kernels.js';

const PAGE = 65536;
const MAX_PAGES = 65536; // 4 GiB: wasm32's hard limit

export class Heap {
  readonly k: KernelExports;
  private top: number;
  private high: number;
  private f32View: Float32Array;
  private i32View: Int32Array;
  private u8View: Uint8Array;

  constructor(k: KernelExports) {
    this.k = k;
    this.top = align(k.heap_base(), 64);
    this.high = this.top;
    this.f32View = new Float32Array(k.memory.buffer);
    this.i32View = new Int32Array(k.memory.buffer);
    this.u8View = new Uint8Array(k.memory.buffer);
  }

  /** Bytes in use (weights + live buffers). */
  get used(): number { return this.top; }
  /** Largest `used` seen: what a deployment must budget. */
  get peak(): number { return this.high; }

  /** Allocate `bytes` (aligned to 64 bytes: cache lines, and v128 loads never straddle one). */
  alloc(bytes: number): number {
    if (!Number.isInteger(bytes) || bytes < 0) throw new MemoryError(`invalid allocation size ${bytes}`);
    const ptr = this.top;
    const end = align(ptr + bytes, 64);
    this.ensure(end);
    this.top = end;
    this.high = Math.max(this.high, end);
    return ptr;
  }

  /** Grow memory once to hold `bytes` more: loading a model then avoids hundreds of small grows. */
  reserve(bytes: number): void {
    this.ensure(align(this.top + bytes, 64));
  }

  mark(): number { return this.top; }

  /** Free everything allocated after `mark` (the memory stays reserved for reuse). */
  release(mark: number): void {
    if (mark > this.top) throw new MemoryError(`release(${mark}) above the current top ${this.top}`);
    this.top = mark;
  }

  private ensure(end: number): void {
    const mem = this.k.memory;
    const have = mem.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / PAGE);
    if (have / PAGE + pages > MAX_PAGES) {
      throw new MemoryError(`the model needs ${(end / 2 ** 20).toFixed(1)} MiB of wasm memory, over wasm32's 4 GiB limit`);
    }
    try {
      mem.grow(pages);
    } catch (e) {
      throw new MemoryError(`could not grow wasm memory to ${(end / 2 ** 20).toFixed(1)} MiB: ${(e as Error).message}`, { cause: e });
    }
  }

  private refresh(): void {
    const buf = this.k.memory.buffer;
    if (this.f32View.buffer !== buf) {
      this.f32View = new Float32Array(buf);
      this.i32View = new Int32Array(buf);
      this.u8View = new Uint8Array(buf);
    }
  }

  /** Views of the whole memory, valid until the next allocation that grows it. Index with ptr >>> 2. */
  f32(): Float32Array { this.refresh(); return this.f32View; }
  i32(): Int32Array { this.refresh(); return this.i32View; }
  u8(): Uint8Array { this.refresh(); return this.u8View; }

}

function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
