// Elementwise ops over n floats. In place allowed (out == x).
//   activations by kind: each distinct function of transformers 4.40's ACT2FN, numbered as below (the other ACT2FN
//   names are spellings of these: bindings/config.ts ACTIVATION_ALIASES); gated activations act(a) · b; add, scale.
import { exp_f32x4, mul_sigmoid_f32x4, erfc_f32x4, erfc_f64, tanh_f32x4 } from './vmath';

// @ts-ignore: decorator
@inline const SQRT1_2: f32 = 0.7071067811865476;
// @ts-ignore: decorator
@inline const GELU_TANH_C: f32 = 0.7978845608028654; // sqrt(2/pi)
// laplace (LaplaceActivation): 0.5·(1 + erf((x − μ)/(σ√2))), μ = 0.707107, σ = 0.282095
// @ts-ignore: decorator
@inline const LAPLACE_MU: f32 = 0.707107;
// @ts-ignore: decorator
@inline const LAPLACE_C: f32 = 2.506626424383798; // 1/(σ√2); as an f32 2.3e-8 relative off (its reciprocal: 3.7e-8)
// @ts-ignore: decorator
@inline const QUICK_GELU_C: f32 = 1.702;
// @ts-ignore: decorator
@inline const LEAKY_SLOPE: f32 = 0.01; // torch.nn.LeakyReLU's default negative_slope

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
@inline const GELU_10: i32 = 4;
// @ts-ignore: decorator
@inline const LAPLACE: i32 = 5;
// @ts-ignore: decorator
@inline const LEAKY_RELU: i32 = 6;
// @ts-ignore: decorator
@inline const LINEAR: i32 = 7;
// @ts-ignore: decorator
@inline const MISH: i32 = 8;
// @ts-ignore: decorator
@inline const QUICK_GELU: i32 = 9;
// @ts-ignore: decorator
@inline const RELU2: i32 = 10;
// @ts-ignore: decorator
@inline const RELU6: i32 = 11;
// @ts-ignore: decorator
@inline const SIGMOID: i32 = 12;
// @ts-ignore: decorator
@inline const TANH: i32 = 13;

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

// mish(x) = x·tanh(softplus(x)) = x·n/(n + 2), n = e^x(e^x + 2) (tanh(log(1 + e)) = ((1+e)² − 1)/((1+e)² + 1)):
// every term positive, so no cancellation at either end. e^x is taken at min(x, 20): above that n/(n + 2) is 1 in
// f32 (2/n < 1e-17), and e^{2x} would overflow from x = 44.
// @ts-ignore: decorator
@inline function mish_v(x: v128): v128 {
  const e = exp_f32x4(f32x4.pmin(x, f32x4.splat(20.0)));
  const n = f32x4.mul(e, f32x4.add(e, f32x4.splat(2.0)));
  return f32x4.mul(x, f32x4.div(n, f32x4.add(n, f32x4.splat(2.0)))); // x·(ratio): x·n would overflow for huge x
}

// laplace(x) = 0.5·(1 + erf((x − μ)/(σ√2))) = 0.5·erfc((μ − x)/(σ√2)): erfc keeps the left tail relative.
// @ts-ignore: decorator
@inline function laplace_v(x: v128): v128 {
  const z = f32x4.mul(f32x4.sub(f32x4.splat(LAPLACE_MU), x), f32x4.splat(LAPLACE_C));
  return f32x4.mul(erfc_f32x4(z), f32x4.splat(0.5));
}

// @ts-ignore: decorator
@inline function apply(v: v128, kind: i32): v128 {
  if (kind == GELU) return gelu_erf_v(v);
  if (kind == GELU_TANH) return gelu_tanh_v(v);
  if (kind == SILU) return mul_sigmoid_f32x4(v, v);
  // clip(gelu(x), -10, 10). pmax(v, c) = v < c ? c : v and pmin(v, c) = c < v ? c : v return v itself when it
  // is NaN (torch.clip keeps NaN), in one maxps/minps each where min/max need ~6 instructions.
  if (kind == GELU_10) return f32x4.pmin(f32x4.pmax(gelu_erf_v(v), f32x4.splat(-10.0)), f32x4.splat(10.0));
  if (kind == LAPLACE) return laplace_v(v);
  if (kind == LEAKY_RELU) return v128.bitselect(v, f32x4.mul(v, f32x4.splat(LEAKY_SLOPE)), f32x4.gt(v, f32x4.splat(0)));
  if (kind == LINEAR) return v;
  if (kind == MISH) return mish_v(v);
  if (kind == QUICK_GELU) return mul_sigmoid_f32x4(v, f32x4.mul(v, f32x4.splat(QUICK_GELU_C)));
  if (kind == RELU2) { const r = f32x4.pmax(v, f32x4.splat(0)); return f32x4.mul(r, r); }
  if (kind == RELU6) return f32x4.pmin(f32x4.pmax(v, f32x4.splat(0)), f32x4.splat(6.0));
  if (kind == SIGMOID) return mul_sigmoid_f32x4(f32x4.splat(1.0), v);
  if (kind == TANH) return tanh_f32x4(v);
  return f32x4.max(v, f32x4.splat(0)); // RELU
}

// The last m < 4 floats at p as one vector (other lanes 0), and back.
// @ts-ignore: decorator
@inline function load_tail(p: usize, m: i32): v128 {
  let v = f32x4.splat(0);
  v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (m > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (m > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}
// @ts-ignore: decorator
@inline function store_tail(p: usize, v: v128, m: i32): void {
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (m > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (m > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

// One loop per activation (the kind is tested once per call, see activation_f32), then the tail of n % 4 floats
// through the same vector formula: every element rounds the same way.
// @ts-ignore: decorator
@inline function map_unary(x: usize, out: usize, n: i32, kind: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, apply(v128.load(x + o), kind));
  }
  if (i < n) {
    const o = <usize>i << 2, m = n - i;
    store_tail(out + o, apply(load_tail(x + o, m), kind), m);
  }
}

// Each activation's loop is a function of its own, reached through the function table: binaryen does not inline
// a call_indirect back into one big function, and V8 compiles these small functions' loops faster than the same
// loops as 14 cases of one (measured: silu 1.6 against 2.2 ns a float, gelu_new 2.1 against 2.9). The gated op runs
// the same functions block by block, so each formula is compiled twice (vector loop and tail), not four times.
type Unary = (x: usize, out: usize, n: i32) => void;
function u_relu(x: usize, out: usize, n: i32): void { map_unary(x, out, n, RELU); }
function u_gelu(x: usize, out: usize, n: i32): void { map_unary(x, out, n, GELU); }
function u_gelu_tanh(x: usize, out: usize, n: i32): void { map_unary(x, out, n, GELU_TANH); }
function u_silu(x: usize, out: usize, n: i32): void { map_unary(x, out, n, SILU); }
function u_gelu_10(x: usize, out: usize, n: i32): void { map_unary(x, out, n, GELU_10); }
function u_laplace(x: usize, out: usize, n: i32): void { map_unary(x, out, n, LAPLACE); }
function u_leaky_relu(x: usize, out: usize, n: i32): void { map_unary(x, out, n, LEAKY_RELU); }
function u_linear(x: usize, out: usize, n: i32): void { map_unary(x, out, n, LINEAR); }
function u_mish(x: usize, out: usize, n: i32): void { map_unary(x, out, n, MISH); }
function u_quick_gelu(x: usize, out: usize, n: i32): void { map_unary(x, out, n, QUICK_GELU); }
function u_relu2(x: usize, out: usize, n: i32): void { map_unary(x, out, n, RELU2); }
function u_relu6(x: usize, out: usize, n: i32): void { map_unary(x, out, n, RELU6); }
function u_sigmoid(x: usize, out: usize, n: i32): void { map_unary(x, out, n, SIGMOID); }
function u_tanh(x: usize, out: usize, n: i32): void { map_unary(x, out, n, TANH); }

// @ts-ignore: decorator
@inline function unary(kind: i32): Unary {
  let f: Unary = u_relu;
  switch (kind) {
    case GELU: f = u_gelu; break;
    case GELU_TANH: f = u_gelu_tanh; break;
    case SILU: f = u_silu; break;
    case GELU_10: f = u_gelu_10; break;
    case LAPLACE: f = u_laplace; break;
    case LEAKY_RELU: f = u_leaky_relu; break;
    case LINEAR: f = u_linear; break;
    case MISH: f = u_mish; break;
    case QUICK_GELU: f = u_quick_gelu; break;
    case RELU2: f = u_relu2; break;
    case RELU6: f = u_relu6; break;
    case SIGMOID: f = u_sigmoid; break;
    case TANH: f = u_tanh; break;
  }
  return f;
}

/** out = act(x) over n floats; kind as numbered above. */
export function activation_f32(x: usize, out: usize, n: i32, kind: i32): void {
  unary(kind)(x, out, n);
}

// @ts-ignore: decorator
@inline const GATE_BLOCK: i32 = 256; // floats: act(a) into out, then out · b while the block is in L1

/** out = act(a) · b (gated feed-forward blocks: T5 v1.1 / Flan "gated-<act>": wo(act(wi_0 x) · wi_1 x)). out may
 *  be a (in place), not b. Runs the activation's own loop over blocks, each then multiplied by b. */
export function gated_activation_f32(a: usize, b: usize, out: usize, n: i32, kind: i32): void {
  const f = unary(kind);
  for (let i = 0; i < n; i += GATE_BLOCK) {
    const o = <usize>i << 2, m = min(GATE_BLOCK, n - i);
    f(a + o, out + o, m);
    mul_f32(out + o, b + o, out + o, m);
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

/** out = a · b */
// @ts-ignore: decorator
@inline function mul_f32(a: usize, b: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.mul(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) * load<f32>(b + o));
  }
}

/** out = x * s */
export function scale_f32(x: usize, s: f32, out: usize, n: i32): void {
  const sv = f32x4.splat(s);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(out + (<usize>i << 2), f32x4.mul(v128.load(x + (<usize>i << 2)), sv));
  for (; i < n; i++) store<f32>(out + (<usize>i << 2), load<f32>(x + (<usize>i << 2)) * s);
}

// Scalar references (f64 inside; cancellation-free forms of the definitions), kinds as above.
export function activation_f32_ref(x: usize, out: usize, n: i32, kind: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const v = <f64>load<f32>(x + o);
    let y: f64;
    if (kind == GELU || kind == GELU_10) {
      y = 0.5 * v * erfc_f64(-v * <f64>SQRT1_2);
      if (kind == GELU_10) y = y != y ? y : Math.min(Math.max(y, -10.0), 10.0);
    } else if (kind == GELU_TANH) {
      y = v / (1.0 + Math.exp(-2.0 * <f64>GELU_TANH_C * (v + 0.044715 * v * v * v))); // = 0.5v(1+tanh u), without 1+tanh cancelling
    } else if (kind == SILU) y = v / (1.0 + Math.exp(-v));
    else if (kind == LAPLACE) y = 0.5 * erfc_f64((0.707107 - v) / (0.282095 * Math.SQRT2));
    else if (kind == LEAKY_RELU) y = v > 0 ? v : v * 0.01;
    else if (kind == LINEAR) y = v;
    else if (kind == MISH) y = v * Math.tanh(Math.log1p(Math.exp(v)));
    else if (kind == QUICK_GELU) y = v / (1.0 + Math.exp(-1.702 * v));
    else if (kind == RELU2) y = v > 0 ? v * v : v != v ? v : 0;
    else if (kind == RELU6) y = v != v ? v : Math.min(Math.max(v, 0), 6.0);
    else if (kind == SIGMOID) y = 1.0 / (1.0 + Math.exp(-v));
    else if (kind == TANH) y = Math.tanh(v); // musl tanh: < 1 ulp, no cancellation near 0
    else y = v != v ? v : Math.max(v, 0);
    store<f32>(out + o, <f32>y);
  }
}

/** exp over n floats (exposed so tests can check the vector exp on its own). */
export function exp_f32(x: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(out + (<usize>i << 2), exp_f32x4(v128.load(x + (<usize>i << 2))));
  for (; i < n; i++) store<f32>(out + (<usize>i << 2), f32x4.extract_lane(exp_f32x4(f32x4.splat(load<f32>(x + (<usize>i << 2)))), 0));
}
