// Vector math shared by the kernels: exp, sigmoid-style helpers and horizontal sums on f32x4.
// Accuracy target: ~2 ulp for exp, so kernels built on it stay well within 1e-5 relative of float64.

// c + a·b per lane. The relaxed-SIMD build (asconfig *-relaxed targets, `--enable relaxed-simd`) fuses it into
// one instruction (an FMA where the CPU has one: one rounding instead of two, and half the instructions in a
// GEMM's inner loop); the baseline build, which every SIMD engine runs, multiplies then adds.
// @ts-ignore: decorator
@inline export function madd_f32x4(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

// @ts-ignore: decorator
@inline export const F32_MIN: f32 = -3.4028234663852886e38; // torch.finfo(float32).min: transformers' mask value

// exp of lanes already clamped to [-87.33, 88.72]: Cody-Waite range reduction x = n·ln2 + r, |r| <= ln2/2, a
// degree-6 polynomial for e^r (Cephes expf coefficients), and 2^n built in the exponent bits.
// @ts-ignore: decorator
@inline function exp_clamped_f32x4(xc: v128): v128 {
  const n = f32x4.nearest(f32x4.mul(xc, f32x4.splat(1.44269504088896341)));
  // r = x - n*ln2 in two steps so r keeps full precision
  let r = f32x4.sub(xc, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), f32x4.splat(1.0));
  // 2^n: n in [-126, 128]; split into two factors so n = 128 (x near 88.7) does not overflow the exponent.
  const ni = i32x4.trunc_sat_f32x4_s(n);
  const n1 = i32x4.shr_s(ni, 1);
  const s1 = i32x4.shl(i32x4.add(n1, i32x4.splat(127)), 23);
  const s2 = i32x4.shl(i32x4.add(i32x4.sub(ni, n1), i32x4.splat(127)), 23);
  return f32x4.mul(f32x4.mul(p, s1), s2);
}

// Flush-to-zero point of the exps below. Not ln(2^-126) = -87.33654 itself: clamped lanes are computed at this
// value before they are replaced by 0, and e^-87.33654 comes out of the polynomial a hair under 2^-126, a subnormal,
// which costs a microcode assist of ~100 cycles a lane on Intel (gelu over x in [-20, -14], all lanes clamped:
// 18.8 ns a float, 4.4 with this). e^-87.33 = 1.183e-38 is 0.7% above the smallest normal; the true values
// flushed in between are under 1.19e-38.
// @ts-ignore: decorator
@inline const EXP_LO: f32 = -87.33;

// exp(x) for each lane. Lanes below -87.33 flush to exactly 0 (true result below 1.19e-38: subnormal or all but),
// above 88.7 saturate to +inf, NaN stays NaN. pmin/pmax clamp with one minps/maxps each, where min/max need ~6
// instructions for their NaN and -0 rules (NaN is restored at the end).
// @ts-ignore: decorator
@inline export function exp_f32x4(x: v128): v128 {
  const hi = f32x4.splat(88.7228391);
  const lo = f32x4.splat(EXP_LO);
  let y = exp_clamped_f32x4(f32x4.pmin(f32x4.pmax(x, lo), hi));
  y = v128.bitselect(f32x4.splat(0), y, f32x4.lt(x, lo));
  y = v128.bitselect(f32x4.splat(Infinity), y, f32x4.gt(x, hi));
  return v128.bitselect(x, y, f32x4.ne(x, x));
}

// exp(x) for x <= 0 (softmax after subtracting the row max): the same results as exp_f32x4 there, without
// the overflow and NaN lanes work (a NaN still comes out NaN: it flows through the arithmetic).
// ~20 vector ops against ~30; a 4-beam Marian step runs it over 4 x 58101 logits.
// @ts-ignore: decorator
@inline export function exp_nonpos_f32x4(x: v128): v128 {
  const lo = f32x4.splat(EXP_LO);
  return v128.andnot(exp_clamped_f32x4(f32x4.pmax(x, lo)), f32x4.lt(x, lo)); // below -87.33: exactly 0
}

// x / (1 + exp(-z)) lane-wise: the shape of silu (z = x) and tanh-gelu (z = 2u).
// @ts-ignore: decorator
@inline export function mul_sigmoid_f32x4(x: v128, z: v128): v128 {
  const e = exp_f32x4(f32x4.neg(z));
  return f32x4.div(x, f32x4.add(f32x4.splat(1.0), e));
}

// tanh(x) lane-wise, relative error ~2e-7 everywhere (Cephes tanhf): |x| < 0.625 an odd polynomial
// x + x³·P(x²), which keeps full relative precision near 0 where 1 − 2/(e^{2x} + 1) cancels; above it
// 1 − 2/(e^{2|x|} + 1) with the sign put back (e^{2|x|} saturating to +inf gives exactly ±1; NaN stays NaN).
// @ts-ignore: decorator
@inline export function tanh_f32x4(x: v128): v128 {
  const a = f32x4.abs(x);
  const z = f32x4.mul(x, x);
  let p = f32x4.splat(-5.70498872745e-3);
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(2.06390887954e-2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(-5.37397155531e-2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(1.33314422036e-1));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(-3.33332819422e-1));
  const small = f32x4.add(f32x4.mul(f32x4.mul(p, z), x), x);
  const e = exp_f32x4(f32x4.add(a, a));
  const big = f32x4.sub(f32x4.splat(1.0), f32x4.div(f32x4.splat(2.0), f32x4.add(e, f32x4.splat(1.0))));
  // copysign(big, x): big >= 0 (or NaN), so or-ing x's sign bit in is exact
  const signed = v128.or(big, v128.and(x, i32x4.splat(i32.MIN_VALUE)));
  return v128.bitselect(small, signed, f32x4.lt(a, f32x4.splat(0.625)));
}

// erfc(z) lane-wise for any sign (Numerical Recipes erfcc: fractional error < 1.2e-7 everywhere, so the
// tail of gelu for negative inputs keeps its relative accuracy, which erf-based formulas lose).
// @ts-ignore: decorator
@inline export function erfc_f32x4(z: v128): v128 {
  const a = f32x4.abs(z);
  const one = f32x4.splat(1.0);
  const t = f32x4.div(one, f32x4.add(one, f32x4.mul(f32x4.splat(0.5), a)));
  let p = f32x4.splat(0.17087277);
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-0.82215223));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(1.48851587));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-1.13520398));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(0.27886807));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-0.18628806));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(0.09678418));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(0.37409196));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(1.00002368));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-1.26551223));
  const e = f32x4.mul(t, exp_f32x4(f32x4.sub(p, f32x4.mul(a, a))));
  // erfc(-a) = 2 - erfc(a)
  return v128.bitselect(f32x4.sub(f32x4.splat(2.0), e), e, f32x4.lt(z, f32x4.splat(0)));
}

// @ts-ignore: decorator
@inline export function hsum_f32x4(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

// @ts-ignore: decorator
@inline export function hmax_f32x4(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}

// Scalar erfc in f64 for the reference kernels (same NR formula, so the references stay independent of SIMD).
export function erfc_f64(z: f64): f64 {
  const a = Math.abs(z);
  const t = 1.0 / (1.0 + 0.5 * a);
  const p = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const e = t * Math.exp(p - a * a);
  return z >= 0 ? e : 2.0 - e;
}
