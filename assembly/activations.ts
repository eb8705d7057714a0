// Elementwise ops over n floats. In place allowed (out == x).
//   relu, gelu (exact erf form, torch's nn.functional.gelu), gelu_tanh ("gelu_new"), silu (= swish),
//   gated_gelu (T5 v1.1: gelu_tanh(a) * b), add (residuals), scale.
import { exp_f32x4, mul_sigmoid_f32x4, erfc_f32x4, erfc_f64 } from './vmath';

// @ts-ignore: decorator
@inline const SQRT1_2: f32 = 0.7071067811865476;
// @ts-ignore: decorator
@inline const GELU_TANH_C: f32 = 0.7978845608028654; // sqrt(2/pi)

export function relu_f32(x: usize, out: usize, n: i32): void {
  const z = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(out + (<usize>i << 2), f32x4.max(v128.load(x + (<usize>i << 2)), z));
  for (; i < n; i++) store<f32>(out + (<usize>i << 2), max(load<f32>(x + (<usize>i << 2)), 0));
}

// gelu(x) = 0.5·x·(1 + erf(x/√2)) = 0.5·x·erfc(-x/√2): the erfc form keeps relative accuracy in the
// negative tail where 1 + erf(...) cancels.
// @ts-ignore: decorator
@inline function gelu_erf_v(x: v128): v128 {
  return f32x4.mul(f32x4.mul(x, f32x4.splat(0.5)), erfc_f32x4(f32x4.mul(x, f32x4.splat(-SQRT1_2))));
}

// gelu_tanh(x) = 0.5·x·(1 + tanh(u)) = x·sigmoid(2u), u = √(2/π)(x + 0.044715x³)
// @ts-ignore: decorator
@inline function gelu_tanh_v(x: v128): v128 {
  const x3 = f32x4.mul(f32x4.mul(x, x), x);
  const u = f32x4.mul(f32x4.splat(GELU_TANH_C), f32x4.add(x, f32x4.mul(f32x4.splat(0.044715), x3)));
  return mul_sigmoid_f32x4(x, f32x4.add(u, u));
}

// Vector body + a tail that reuses the same vector formula (lane 0), so every element rounds the same way.
// @ts-ignore: decorator
@inline function map_unary(x: usize, out: usize, n: i32, kind: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, apply(v128.load(x + o), kind));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, f32x4.extract_lane(apply(f32x4.splat(load<f32>(x + o)), kind), 0));
  }
}

// @ts-ignore: decorator
@inline function apply(v: v128, kind: i32): v128 {
  if (kind == 0) return gelu_erf_v(v);
  if (kind == 1) return gelu_tanh_v(v);
  return mul_sigmoid_f32x4(v, v); // silu
}

export function gelu_f32(x: usize, out: usize, n: i32): void { map_unary(x, out, n, 0); }
export function gelu_tanh_f32(x: usize, out: usize, n: i32): void { map_unary(x, out, n, 1); }
export function silu_f32(x: usize, out: usize, n: i32): void { map_unary(x, out, n, 2); }

/** out = gelu_tanh(a) * b (T5 v1.1 / Flan gated FFN). */
export function gated_gelu_f32(a: usize, b: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.mul(gelu_tanh_v(v128.load(a + o)), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, f32x4.extract_lane(gelu_tanh_v(f32x4.splat(load<f32>(a + o))), 0) * load<f32>(b + o));
  }
}

/** out = a + b */
export function add_f32(a: usize, b: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) + load<f32>(b + o));
  }
}

/** out = x * s */
export function scale_f32(x: usize, s: f32, out: usize, n: i32): void {
  const sv = f32x4.splat(s);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(out + (<usize>i << 2), f32x4.mul(v128.load(x + (<usize>i << 2)), sv));
  for (; i < n; i++) store<f32>(out + (<usize>i << 2), load<f32>(x + (<usize>i << 2)) * s);
}

// Scalar references (f64 inside). kind: 0 relu, 1 gelu, 2 gelu_tanh, 3 silu.
export function activation_f32_ref(x: usize, out: usize, n: i32, kind: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const v = <f64>load<f32>(x + o);
    let y: f64;
    if (kind == 0) y = Math.max(v, 0);
    else if (kind == 1) y = 0.5 * v * erfc_f64(-v * <f64>SQRT1_2);
    else if (kind == 2) y = v / (1.0 + Math.exp(-2.0 * <f64>GELU_TANH_C * (v + 0.044715 * v * v * v))); // = 0.5v(1+tanh u), without 1+tanh cancelling
    else y = v / (1.0 + Math.exp(-v));
    store<f32>(out + o, <f32>y);
  }
}

/** exp over n floats (exposed so tests can check the vector exp on its own). */
export function exp_f32(x: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(out + (<usize>i << 2), exp_f32x4(v128.load(x + (<usize>i << 2))));
  for (; i < n; i++) store<f32>(out + (<usize>i << 2), f32x4.extract_lane(exp_f32x4(f32x4.splat(load<f32>(x + (<usize>i << 2)))), 0));
}
