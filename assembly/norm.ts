// Row normalisations. x and y may alias (in-place).
//   layer_norm: y = (x - mean) / sqrt(var + eps) * gamma + beta     (nn.LayerNorm, biased variance)
//   rms_norm:   y = x / sqrt(mean(x²) + eps) * weight               (T5LayerNorm: no mean, no bias)
import { hsum_f32x4 } from './vmath';

/** Sum of a row with SIMD (two accumulators) and a scalar tail. */
// @ts-ignore: decorator
@inline function row_sum(x: usize, n: i32): f32 {
  let a = f32x4.splat(0), b = f32x4.splat(0);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    a = f32x4.add(a, v128.load(x + (<usize>i << 2)));
    b = f32x4.add(b, v128.load(x + (<usize>i << 2), 16));
  }
  let s = hsum_f32x4(f32x4.add(a, b));
  for (; i < n; i++) s += load<f32>(x + (<usize>i << 2));
  return s;
}

/** Sum of (x - c) of a row. */
// @ts-ignore: decorator
@inline function row_sum_dev(x: usize, n: i32, c: f32): f32 {
  const cv = f32x4.splat(c);
  let a = f32x4.splat(0), b = f32x4.splat(0);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    a = f32x4.add(a, f32x4.sub(v128.load(x + (<usize>i << 2)), cv));
    b = f32x4.add(b, f32x4.sub(v128.load(x + (<usize>i << 2), 16), cv));
  }
  let s = hsum_f32x4(f32x4.add(a, b));
  for (; i < n; i++) s += load<f32>(x + (<usize>i << 2)) - c;
  return s;
}

/** Sum of (x - c)² of a row. */
// @ts-ignore: decorator
@inline function row_sq_dev(x: usize, n: i32, c: f32): f32 {
  const cv = f32x4.splat(c);
  let a = f32x4.splat(0), b = f32x4.splat(0);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const d0 = f32x4.sub(v128.load(x + (<usize>i << 2)), cv);
    const d1 = f32x4.sub(v128.load(x + (<usize>i << 2), 16), cv);
    a = f32x4.add(a, f32x4.mul(d0, d0));
    b = f32x4.add(b, f32x4.mul(d1, d1));
  }
  let s = hsum_f32x4(f32x4.add(a, b));
  for (; i < n; i++) {
    const d = load<f32>(x + (<usize>i << 2)) - c;
    s += d * d;
  }
  return s;
}

export function layer_norm_f32(x: usize, gamma: usize, beta: usize, y: usize, rows: i32, n: i32, eps: f32): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r * <usize>n << 2);
    const yr = y + (<usize>r * <usize>n << 2);
    // mean in two steps: a first estimate, then the mean of the (small) deviations from it, so rows with a
    // large common offset keep full precision.
    const m0 = row_sum(xr, n) / <f32>n;
    const mean = m0 + row_sum_dev(xr, n, m0) / <f32>n;
    const inv = <f32>(1.0 / Math.sqrt(<f64>(row_sq_dev(xr, n, mean) / <f32>n + eps)));
    const mv = f32x4.splat(mean), iv = f32x4.splat(inv);
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const v = f32x4.mul(f32x4.sub(v128.load(xr + o), mv), iv);
      v128.store(yr + o, f32x4.add(f32x4.mul(v, v128.load(gamma + o)), v128.load(beta + o)));
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(yr + o, (load<f32>(xr + o) - mean) * inv * load<f32>(gamma + o) + load<f32>(beta + o));
    }
  }
}

export function rms_norm_f32(x: usize, weight: usize, y: usize, rows: i32, n: i32, eps: f32): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r * <usize>n << 2);
    const yr = y + (<usize>r * <usize>n << 2);
    const inv = <f32>(1.0 / Math.sqrt(<f64>(row_sq_dev(xr, n, 0) / <f32>n + eps)));
    const iv = f32x4.splat(inv);
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(yr + o, f32x4.mul(f32x4.mul(v128.load(xr + o), iv), v128.load(weight + o)));
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(yr + o, load<f32>(xr + o) * inv * load<f32>(weight + o));
    }
  }
}

export function layer_norm_f32_ref(x: usize, gamma: usize, beta: usize, y: usize, rows: i32, n: i32, eps: f32): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r * <usize>n << 2);
    const yr = y + (<usize>r * <usize>n << 2);
    let s: f64 = 0;
    for (let i = 0; i < n; i++) s += <f64>load<f32>(xr + (<usize>i << 2));
    const mean = s / <f64>n;
    let v: f64 = 0;
    for (let i = 0; i < n; i++) {
      const d = <f64>load<f32>(xr + (<usize>i << 2)) - mean;
      v += d * d;
    }
    const inv = 1.0 / Math.sqrt(v / <f64>n + <f64>eps);
    for (let i = 0; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(yr + o, <f32>((<f64>load<f32>(xr + o) - mean) * inv * <f64>load<f32>(gamma + o) + <f64>load<f32>(beta + o)));
    }
  }
}

export function rms_norm_f32_ref(x: usize, weight: usize, y: usize, rows: i32, n: i32, eps: f32): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r * <usize>n << 2);
    const yr = y + (<usize>r * <usize>n << 2);
    let s: f64 = 0;
    for (let i = 0; i < n; i++) {
      const v = <f64>load<f32>(xr + (<usize>i << 2));
      s += v * v;
    }
    const inv = 1.0 / Math.sqrt(s / <f64>n + <f64>eps);
    for (let i = 0; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(yr + o, <f32>(<f64>load<f32>(xr + o) * inv * <f64>load<f32>(weight + o)));
    }
  }
}
