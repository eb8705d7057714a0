// Fused scaled-dot-product attention for one sequence, all heads:
//   out[i, h] = softmax_j( (q[i, h] * scale) · k[j, h] + bias[h, i, j] + mask ) · v[j, h]
//
// Layouts (row = one time step, heads side by side, head_dim contiguous — what the projections produce):
//   q   [tq, heads*hd] rows qStride floats apart
//   k,v [tk, heads*hd] rows kvStride floats apart   (a KV cache: append one row per decoder step)
//   out [tq, heads*hd] rows outStride floats apart
// Masks as transformers builds them: a masked score is torch.finfo(float32).min (masked_fill, not -inf),
// so a query with every key masked attends uniformly instead of producing NaN.
//   keyMask  u8[tk], 1 = keep (0 pointer = all kept)
//   causal   query i sees keys j <= causalOffset + i   (causalOffset < 0: no causal mask)
//   bias     f32 [heads, tq, tk] added before masking (T5 relative positions; 0 pointer = none)
// q is scaled before the dot product, the order transformers uses (q_proj(x) * scaling).
// scratch: (hd + tk) floats.
import { F32_MIN, hsum_f32x4, madd_f32x4 } from './vmath';
import { softmax_row } from './softmax';

// @ts-ignore: decorator
@inline function dot(a: usize, b: usize, n: i32): f32 {
  let s0 = f32x4.splat(0), s1 = f32x4.splat(0);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    s0 = madd_f32x4(v128.load(a + (<usize>i << 2)), v128.load(b + (<usize>i << 2)), s0);
    s1 = madd_f32x4(v128.load(a + (<usize>i << 2), 16), v128.load(b + (<usize>i << 2), 16), s1);
  }
  let s = hsum_f32x4(f32x4.add(s0, s1));
  for (; i < n; i++) s += load<f32>(a + (<usize>i << 2)) * load<f32>(b + (<usize>i << 2));
  return s;
}

// @ts-ignore: decorator
@inline function axpy(y: usize, a: f32, x: usize, n: i32): void {
  const av = f32x4.splat(a);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, madd_f32x4(av, v128.load(x + o), v128.load(y + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(y + o) + a * load<f32>(x + o));
  }
}

// @ts-ignore: decorator
@inline function visible(j: i32, i: i32, keyMask: usize, causalOffset: i32): bool {
  if (causalOffset >= 0 && j > causalOffset + i) return false;
  return keyMask == 0 || load<u8>(keyMask + <usize>j) != 0;
}

export function attention_f32(
  q: usize, qStride: i32, k: usize, v: usize, kvStride: i32, out: usize, outStride: i32,
  heads: i32, hd: i32, tq: i32, tk: i32, scale: f32,
  keyMask: usize, causalOffset: i32, bias: usize, scratch: usize,
): void {
  const qs = scratch;
  const p = scratch + (<usize>hd << 2);
  const sv = f32x4.splat(scale);
  for (let h = 0; h < heads; h++) {
    const hOff = <usize>(h * hd) << 2;
    for (let i = 0; i < tq; i++) {
      const qi = q + (<usize>i * <usize>qStride << 2) + hOff;
      let d = 0;
      for (; d + 4 <= hd; d += 4) v128.store(qs + (<usize>d << 2), f32x4.mul(v128.load(qi + (<usize>d << 2)), sv));
      for (; d < hd; d++) store<f32>(qs + (<usize>d << 2), load<f32>(qi + (<usize>d << 2)) * scale);
      const brow = bias != 0 ? bias + (<usize>(h * tq + i) * <usize>tk << 2) : 0;
      for (let j = 0; j < tk; j++) {
        let s: f32 = F32_MIN;
        if (visible(j, i, keyMask, causalOffset)) {
          s = dot(qs, k + (<usize>j * <usize>kvStride << 2) + hOff, hd);
          if (brow != 0) s += load<f32>(brow + (<usize>j << 2));
        }
        store<f32>(p + (<usize>j << 2), s);
      }
      softmax_row(p, tk);
      const oi = out + (<usize>i * <usize>outStride << 2) + hOff;
      memory.fill(oi, 0, <usize>hd << 2);
      for (let j = 0; j < tk; j++) {
        const w = load<f32>(p + (<usize>j << 2));
        if (w != 0) axpy(oi, w, v + (<usize>j * <usize>kvStride << 2) + hOff, hd);
      }
    }
  }
}

/** Scalar reference (f64 accumulation), same arguments. */
export function attention_f32_ref(
  q: usize, qStride: i32, k: usize, v: usize, kvStride: i32, out: usize, outStride: i32,
  heads: i32, hd: i32, tq: i32, tk: i32, scale: f32,
  keyMask: usize, causalOffset: i32, bias: usize, scratch: usize,
): void {
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < tq; i++) {
      let mx: f64 = -Infinity;
      for (let j = 0; j < tk; j++) {
        let s: f64 = <f64>F32_MIN;
        if (visible(j, i, keyMask, causalOffset)) {
          s = 0;
          for (let d = 0; d < hd; d++) {
            s += <f64>load<f32>(q + (<usize>(i * qStride + h * hd + d) << 2)) * <f64>scale *
              <f64>load<f32>(k + (<usize>(j * kvStride + h * hd + d) << 2));
          }
          if (bias != 0) s += <f64>load<f32>(bias + (<usize>((h * tq + i) * tk + j) << 2));
        }
        store<f64>(scratch + (<usize>j << 3), s);
        mx = Math.max(mx, s);
      }
      let z: f64 = 0;
      for (let j = 0; j < tk; j++) z += Math.exp(load<f64>(scratch + (<usize>j << 3)) - mx);
      for (let d = 0; d < hd; d++) {
        let acc: f64 = 0;
        for (let j = 0; j < tk; j++) {
          acc += Math.exp(load<f64>(scratch + (<usize>j << 3)) - mx) / z * <f64>load<f32>(v + (<usize>(j * kvStride + h * hd + d) << 2));
        }
        store<f32>(out + (<usize>(i * outStride + h * hd + d) << 2), <f32>acc);
      }
    }
  }
}
