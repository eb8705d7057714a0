// Shared by the kernel tests: one kernels instance, a seeded RNG, float64 reference maths, comparisons.
// WASM_SEQ2SEQ_TEST_SIMD=relaxed (the vitest project 'relaxed-simd') runs the same tests on the relaxed-SIMD build.
import { loadKernels, resolveSimd, type SimdLevel } from '../../bindings/backends/wasm/kernels.js';
import { Heap } from '../../bindings/backends/wasm/heap.js';
import { testKernelsUrl, type TestKernels } from '../../tools/test_kernels.js';

/** The kernel build under test: 'baseline' unless the project asks for another. */
export const TEST_SIMD = resolveSimd((process.env.WASM_SEQ2SEQ_TEST_SIMD ?? 'baseline') as SimdLevel);

export { testKernelsUrl, type TestKernels };

let cached: Promise<TestKernels> | undefined;
export function kernels(): Promise<TestKernels> {
  cached ??= loadKernels(testKernelsUrl(TEST_SIMD)) as Promise<TestKernels>;
  return cached;
}

/** A heap over the test kernels, with a helper to copy arrays in. */
export class TestHeap extends Heap {
  declare readonly k: TestKernels;
  /** Copy `data` into fresh memory; returns its pointer as `ptr`. */
  putF32(data: Float32Array): { ptr: number } {
    const ptr = this.alloc(data.length * 4);
    this.f32().set(data, ptr >>> 2);
    return { ptr };
  }
}

export async function heap(): Promise<TestHeap> {
  return new TestHeap(await kernels());
}

/** mulberry32: small, seeded, good enough for test data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomF32(n: number, r: () => number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}

/** erf in float64 to ~1e-15: Taylor series near 0, continued fraction for erfc in the tails. */
export function erf64(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = ax, sum = ax;
    for (let n = 1; n < 200; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  return Math.sign(x) * (1 - erfc64(ax));
}

/** erfc for x >= 2.5 by Lentz's continued fraction (relative accuracy ~1e-15). */
export function erfc64(x: number): number {
  if (x < 2.5) return 1 - erf64(x);
  // erfc(x) = exp(-x²)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...))))
  let f = x, c = x, d = 0;
  for (let n = 1; n < 300; n++) {
    const an = n / 2;
    d = x + an * d; d = d === 0 ? 1e-300 : d; d = 1 / d;
    c = x + an / c; c = c === 0 ? 1e-300 : c;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

/**
 * Worst error over elements: |got - want| / (scale + atol), where scale is |want| by default or a per-element
 * magnitude the caller passes (e.g. the sum of |terms| a result was added up from, so cancellation near zero
 * is not mistaken for a kernel error). NaN must match NaN. Returns the value and where it happened.
 */
export function maxRelErr(
  got: ArrayLike<number>, want: ArrayLike<number>, atol = 1e-30, scale?: ArrayLike<number>,
): { err: number; at: number } {
  if (got.length !== want.length) throw new Error(`length ${got.length} != ${want.length}`);
  let err = 0, at = -1;
  for (let i = 0; i < got.length; i++) {
    const g = got[i], w = want[i];
    if (Number.isNaN(g) || Number.isNaN(w)) {
      if (Number.isNaN(g) && Number.isNaN(w)) continue;
      return { err: Infinity, at: i };
    }
    if (g === w) continue;
    const e = Math.abs(g - w) / ((scale ? scale[i] : Math.abs(w)) + atol);
    if (!(e <= err)) { err = e; at = i; }
  }
  return { err, at };
}
