// Multiply-add probe for the benchmarks: 12 independent f32x4 chains a = a*m + c with no memory traffic
// (multiply then add in the baseline build; fused in the relaxed-SIMD build, madd_f32x4). Fused, it is this
// CPU's 128-bit FMA ceiling. Unfused, it is a yardstick, not a ceiling: each chain waits for its multiply and
// then its add, and V8 rebuilds the two constants in every iteration, while a GEMM's multiplies are off the
// accumulator chains; the native build of our GEMM tile (bench/native/gemm_f32_4x8.c) runs faster than it.
// Returns a value derived from the accumulators so the work cannot be optimised away.
import { hsum_f32x4, madd_f32x4 } from './vmath';

export function simd_peak_probe(iters: i32): f32 {
  const m = f32x4.splat(0.999999);
  const c = f32x4.splat(1e-7);
  let a0 = f32x4.splat(1), a1 = f32x4.splat(2), a2 = f32x4.splat(3), a3 = f32x4.splat(4);
  let a4 = f32x4.splat(5), a5 = f32x4.splat(6), a6 = f32x4.splat(7), a7 = f32x4.splat(8);
  let a8 = f32x4.splat(9), a9 = f32x4.splat(10), a10 = f32x4.splat(11), a11 = f32x4.splat(12);
  for (let i = 0; i < iters; i++) {
    a0 = madd_f32x4(a0, m, c); a1 = madd_f32x4(a1, m, c);
    a2 = madd_f32x4(a2, m, c); a3 = madd_f32x4(a3, m, c);
    a4 = madd_f32x4(a4, m, c); a5 = madd_f32x4(a5, m, c);
    a6 = madd_f32x4(a6, m, c); a7 = madd_f32x4(a7, m, c);
    a8 = madd_f32x4(a8, m, c); a9 = madd_f32x4(a9, m, c);
    a10 = madd_f32x4(a10, m, c); a11 = madd_f32x4(a11, m, c);
  }
  const s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  return hsum_f32x4(f32x4.add(s, f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11))));
}
