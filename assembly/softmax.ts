// Row softmax / log-softmax, in place, numerically stable (max subtracted).
// Masks are additive like transformers' (0 = keep, torch.finfo(float32).min = masked); the masked sum is
// clamped at finfo.min so it can never become -inf. A row whose inputs are all -inf (nothing to choose)
// yields a uniform distribution instead of NaN, the same result transformers gives for a fully masked row.
import { exp_nonpos_f32x4, hsum_f32x4, hmax_f32x4, F32_MIN } from './vmath';

// @ts-ignore: decorator
@inline function row_max(x: usize, n: i32): f32 {
  let m = f32x4.splat(-Infinity);
  let i = 0;
  // pmax (one maxps) skips a NaN lane, but a NaN still reaches every result through the exp sum
  for (; i + 4 <= n; i += 4) m = f32x4.pmax(m, v128.load(x + (<usize>i << 2)));
  let s = hmax_f32x4(m);
  for (; i < n; i++) s = max(s, load<f32>(x + (<usize>i << 2)));
  return s;
}

/** x[i] = exp(x[i] - mx); returns the sum. */
// @ts-ignore: decorator
@inline function exp_shift_sum(x: usize, n: i32, mx: f32): f32 {
  const mv = f32x4.splat(mx);
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const e = exp_nonpos_f32x4(f32x4.sub(v128.load(x + o), mv));
    v128.store(x + o, e);
    acc = f32x4.add(acc, e);
  }
  let s = hsum_f32x4(acc);
  if (i < n) {
    // tail through the same vector exp so every element is rounded identically
    for (; i < n; i++) {
      const o = <usize>i << 2;
      const e = f32x4.extract_lane(exp_nonpos_f32x4(f32x4.splat(load<f32>(x + o) - mx)), 0);
      store<f32>(x + o, e);
      s += e;
    }
  }
  return s;
}

// @ts-ignore: decorator
@inline function fill(x: usize, n: i32, v: f32): void {
  for (let i = 0; i < n; i++) store<f32>(x + (<usize>i << 2), v);
}

// @ts-ignore: decorator
@inline function scale_row(x: usize, n: i32, s: f32): void {
  const sv = f32x4.splat(s);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(x + (<usize>i << 2), f32x4.mul(v128.load(x + (<usize>i << 2)), sv));
  for (; i < n; i++) store<f32>(x + (<usize>i << 2), load<f32>(x + (<usize>i << 2)) * s);
}

/** Adds an additive mask row (clamped at finfo.min). maskStride 0 = the same mask row for every row. */
// @ts-ignore: decorator
@inline function add_mask(x: usize, mask: usize, n: i32): void {
  const lo = f32x4.splat(F32_MIN);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(x + o, f32x4.pmax(f32x4.add(v128.load(x + o), v128.load(mask + o)), lo));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(x + o, max(load<f32>(x + o) + load<f32>(mask + o), F32_MIN));
  }
}

/** In-place softmax of `rows` rows of length n; mask (0 = none) is [rows or 1, n] additive. */
export function softmax_f32(x: usize, rows: i32, n: i32, mask: usize, maskStride: i32): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r * <usize>n << 2);
    if (mask != 0) add_mask(xr, mask + (<usize>r * <usize>maskStride << 2), n);
    softmax_row(xr, n);
  }
}

export function softmax_row(xr: usize, n: i32): void {
  const mx = row_max(xr, n);
  if (mx == -Infinity) { fill(xr, n, 1.0 / <f32>n); return; }
  scale_row(xr, n, 1.0 / exp_shift_sum(xr, n, mx));
}

/** In-place log-softmax: x - max - log(sum(exp(x - max))). Rows of all -inf stay -inf (nothing is possible). */
export function log_softmax_f32(x: usize, rows: i32, n: i32): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r * <usize>n << 2);
    const mx = row_max(xr, n);
    if (mx == -Infinity) continue;
    // sum of exp without overwriting x
    const mv = f32x4.splat(mx);
    let acc = f32x4.splat(0);
    let i = 0;
    for (; i + 4 <= n; i += 4) acc = f32x4.add(acc, exp_nonpos_f32x4(f32x4.sub(v128.load(xr + (<usize>i << 2)), mv)));
    let s = hsum_f32x4(acc);
    for (; i < n; i++) s += f32x4.extract_lane(exp_nonpos_f32x4(f32x4.splat(load<f32>(xr + (<usize>i << 2)) - mx)), 0);
    // (x - max) - log(sum): two float32 roundings in the order torch's log_softmax uses
    const ls = <f32>Math.log(<f64>s);
    const lsv = f32x4.splat(ls);
    i = 0;
    for (; i + 4 <= n; i += 4) v128.store(xr + (<usize>i << 2), f32x4.sub(f32x4.sub(v128.load(xr + (<usize>i << 2)), mv), lsv));
    for (; i < n; i++) store<f32>(xr + (<usize>i << 2), (load<f32>(xr + (<usize>i << 2)) - mx) - ls);
  }
}

export function softmax_f32_ref(x: usize, rows: i32, n: i32, mask: usize, maskStride: i32): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r * <usize>n << 2);
    let mx: f64 = -Infinity;
    for (let i = 0; i < n; i++) {
      const o = <usize>i << 2;
      let v = <f64>load<f32>(xr + o);
      if (mask != 0) v = Math.max(v + <f64>load<f32>(mask + (<usize>(r * maskStride + i) << 2)), <f64>F32_MIN);
      store<f32>(xr + o, <f32>v);
      mx = Math.max(mx, v);
    }
    if (mx == -Infinity) { fill(xr, n, 1.0 / <f32>n); continue; }
    let s: f64 = 0;
    for (let i = 0; i < n; i++) s += Math.exp(<f64>load<f32>(xr + (<usize>i << 2)) - mx);
    for (let i = 0; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(xr + o, <f32>(Math.exp(<f64>load<f32>(xr + o) - mx) / s));
    }
  }
}
