// Elementwise ops over n floats. In place allowed (out == x).
//   activations by kind: relu, gelu (exact erf form, torch's nn.functional.gelu), gelu_tanh ("gelu_new"),
//   silu (= swish); gated activations act(a) * b; add, scale.
import { exp_f32x4, mul_sigmoid_f32x4, erfc_f32x4, erfc_f64 } from './vmath';

// @ts-ignore: decorator
@inline const SQRT1_2: f32 = 0.7071067811865476;
// @ts-ignore: decorator
@inline const GELU_TANH_C: f32 = 0.7978845608028654; // sqrt(2/pi)

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

// Activation kinds, numbered as bindings/backends/activations.ts numbers them (ACTIVATION_KIND there).
// @ts-ignore: decorator
@inline const RELU: i32 = 0;
// @ts-ignore: decorator
@inline const GELU: i32 = 1;
// @ts-ignore: decorator
@inline const GELU_TANH: i32 = 2;
// @ts-ignore: decorator
@inline const SILU: i32 = 3;

// @ts-ignore: decorator
@inline function apply(v: v128, kind: i32): v128 {
  if (kind == GELU) return gelu_erf_v(v);
  if (kind == GELU_TANH) return gelu_tanh_v(v);
  if (kind == SILU) return mul_sigmoid_f32x4(v, v);
  return f32x4.max(v, f32x4.splat(0)); // RELU
}

// Vector body + a tail that reuses the same vector formula (lane 0), so every element rounds the same way. The
// kind is tested once per call: each activation gets its own loop.
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
@inline function map_gated(a: usize, b: usize, out: usize, n: i32, kind: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.mul(apply(v128.load(a + o), kind), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, f32x4.extract_lane(apply(f32x4.splat(load<f32>(a + o)), kind), 0) * load<f32>(b + o));
  }
}

/** out = act(x) over n floats; kind as numbered above. */
export function activation_f32(x: usize, out: usize, n: i32, kind: i32): void {
  if (kind == GELU) map_unary(x, out, n, GELU);
  else if (kind == GELU_TANH) map_unary(x, out, n, GELU_TANH);
  else if (kind == SILU) map_unary(x, out, n, SILU);
  else map_unary(x, out, n, RELU);
}

/** out = act(a) · b (gated feed-forward blocks: T5 v1.1 / Flan "gated-<act>": wo(act(wi_0 x) · wi_1 x)). */
export function gated_activation_f32(a: usize, b: usize, out: usize, n: i32, kind: i32): void {
  if (kind == GELU) map_gated(a, b, out, n, GELU);
  else if (kind == GELU_TANH) map_gated(a, b, out, n, GELU_TANH);
  else if (kind == SILU) map_gated(a, b, out, n, SILU);
  else map_gated(a, b, out, n, RELU);
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

// Scalar references (f64 inside), kinds as above.
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
