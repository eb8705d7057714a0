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

// Scores of 4 keys at once: q is loaded once per 4 keys, and one transpose-add replaces four horizontal sums
// (a decoder step is tq = 1 against tk <= a few hundred keys, where the per-key overhead was the cost).
// @ts-ignore: decorator
@inline function dot4(q: usize, k0: usize, k1: usize, k2: usize, k3: usize, n: i32): v128 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const qv = v128.load(q + o);
    a0 = madd_f32x4(qv, v128.load(k0 + o), a0);
    a1 = madd_f32x4(qv, v128.load(k1 + o), a1);
    a2 = madd_f32x4(qv, v128.load(k2 + o), a2);
    a3 = madd_f32x4(qv, v128.load(k3 + o), a3);
  }
  // lanes of (a0, a1, a2, a3) -> (Σa0, Σa1, Σa2, Σa3)
  const s01 = f32x4.add(v128.shuffle<f32>(a0, a1, 0, 1, 4, 5), v128.shuffle<f32>(a0, a1, 2, 3, 6, 7));
  const s23 = f32x4.add(v128.shuffle<f32>(a2, a3, 0, 1, 4, 5), v128.shuffle<f32>(a2, a3, 2, 3, 6, 7));
  let r = f32x4.add(v128.shuffle<f32>(s01, s23, 0, 2, 4, 6), v128.shuffle<f32>(s01, s23, 1, 3, 5, 7));
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const qi = load<f32>(q + o);
    r = f32x4.add(r, f32x4.mul(f32x4.splat(qi), f32x4.replace_lane(f32x4.replace_lane(f32x4.replace_lane(
      f32x4.splat(load<f32>(k0 + o)), 1, load<f32>(k1 + o)), 2, load<f32>(k2 + o)), 3, load<f32>(k3 + o))));
  }
  return r;
}

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

// out[0, n) = Σ_j p[j] · v_j[0, n), v_j = v + j·stride bytes: 16 outputs at a time stay in registers across all
// keys (no load and store of the output per key); keys with weight 0 (masked) are skipped.
// @ts-ignore: decorator
@inline function weighted_sum(out: usize, p: usize, v: usize, stride: usize, tk: i32, n: i32): void {
  let c = 0;
  for (; c + 16 <= n; c += 16) {
    let o0 = f32x4.splat(0), o1 = f32x4.splat(0), o2 = f32x4.splat(0), o3 = f32x4.splat(0);
    let vj = v + (<usize>c << 2);
    for (let j = 0; j < tk; j++) {
      const w = load<f32>(p + (<usize>j << 2));
      if (w != 0) {
        const wv = f32x4.splat(w);
        o0 = madd_f32x4(wv, v128.load(vj), o0);
        o1 = madd_f32x4(wv, v128.load(vj, 16), o1);
        o2 = madd_f32x4(wv, v128.load(vj, 32), o2);
        o3 = madd_f32x4(wv, v128.load(vj, 48), o3);
      }
      vj += stride;
    }
    const d = out + (<usize>c << 2);
    v128.store(d, o0); v128.store(d, o1, 16); v128.store(d, o2, 32); v128.store(d, o3, 48);
  }
  for (; c + 4 <= n; c += 4) {
    let o0 = f32x4.splat(0);
    let vj = v + (<usize>c << 2);
    for (let j = 0; j < tk; j++) {
      const w = load<f32>(p + (<usize>j << 2));
      if (w != 0) o0 = madd_f32x4(f32x4.splat(w), v128.load(vj), o0);
      vj += stride;
    }
    v128.store(out + (<usize>c << 2), o0);
  }
  for (; c < n; c++) {
    let o: f32 = 0;
    let vj = v + (<usize>c << 2);
    for (let j = 0; j < tk; j++) {
      const w = load<f32>(p + (<usize>j << 2));
      if (w != 0) o += w * load<f32>(vj);
      vj += stride;
    }
    store<f32>(out + (<usize>c << 2), o);
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
      const kh = k + hOff, ks = <usize>kvStride << 2;
      // keys past the causal limit are masked whatever their scores: no dot products for them
      const last = causalOffset >= 0 ? min(tk, max(0, causalOffset + i + 1)) : tk;
      let j = 0;
      for (; j + 4 <= last; j += 4) {
        const kj = kh + <usize>j * ks;
        v128.store(p + (<usize>j << 2), dot4(qs, kj, kj + ks, kj + 2 * ks, kj + 3 * ks, hd));
      }
      for (; j < last; j++) store<f32>(p + (<usize>j << 2), dot(qs, kh + <usize>j * ks, hd));
      // bias, then masks (a masked score is F32_MIN whatever its dot product was, or is not computed)
      for (j = 0; j < tk; j++) {
        const pj = p + (<usize>j << 2);
        if (!visible(j, i, keyMask, causalOffset)) store<f32>(pj, F32_MIN);
        else if (brow != 0) store<f32>(pj, load<f32>(pj) + load<f32>(brow + (<usize>j << 2)));
      }
      softmax_row(p, tk);
      weighted_sum(out + (<usize>i * <usize>outStride << 2) + hOff, p, v + hOff, ks, tk, hd);
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
