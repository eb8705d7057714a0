// int8 weights, f32 activations: y = x · (q · scale)ᵀ + bias, with per-output-channel symmetric quantisation
// (scale_n = max|W[n,:]| / 127, q = round-half-even(W / scale) in [-127, 127]).
//
// Packed like the f32 panels, 8 output columns per panel, k padded to even so panels stay 16-byte aligned:
//   panel p:  [ bias f32[8] | scale f32[8] | q i8[kp][8] ]      kp = k rounded up to even, pad rows are 0
// A decode step (GEMV) reads 1 byte per weight instead of 4 and dequantises in registers; larger M
// dequantises each panel once into an L1-sized f32 panel and runs the f32 4x8 tiles over it.
import { tile_4x8, tile_1x8, store_row } from './gemm';

// @ts-ignore: decorator
@inline const NR: i32 = 8;

// @ts-ignore: decorator
@inline function padded_k(k: i32): i32 { return (k + 1) & ~1; }

/** Bytes of the packed int8 form of an [n, k] weight. */
export function packed_size_i8(n: i32, k: i32): i32 {
  return ((n + NR - 1) / NR) * (64 + padded_k(k) * NR);
}

/** Quantise W [n, k] f32 (+ bias [n] or 0) per output row and pack into panels at dst. */
export function quantize_pack_i8_n8(w: usize, bias: usize, n: i32, k: i32, dst: usize): void {
  const panels = (n + NR - 1) / NR, kp = padded_k(k);
  for (let p = 0; p < panels; p++) {
    const base = dst + <usize>p * <usize>(64 + kp * NR);
    memory.fill(base + 64, 0, <usize>(kp * NR));
    for (let c = 0; c < NR; c++) {
      const col = p * NR + c;
      let scale: f32 = 0;
      if (col < n) {
        const row = w + (<usize>col * <usize>k << 2);
        let mx: f32 = 0;
        for (let kk = 0; kk < k; kk++) mx = max(mx, abs(load<f32>(row + (<usize>kk << 2))));
        scale = mx / 127;
        if (scale > 0) {
          for (let kk = 0; kk < k; kk++) {
            const q: f32 = nearest<f32>(load<f32>(row + (<usize>kk << 2)) / scale); // round half to even, like torch.round
            store<i8>(base + 64 + <usize>(kk * NR + c), <i8>max<f32>(-127, min<f32>(127, q)));
          }
        }
      }
      store<f32>(base + (<usize>c << 2), col < n && bias != 0 ? load<f32>(bias + (<usize>col << 2)) : 0);
      store<f32>(base + 32 + (<usize>c << 2), scale);
    }
  }
}

/** One row: y[n] (+)= x[k] · Wᵀ + b, dequantising in registers (two k per 16-byte load). */
export function gemv_i8_1x8(x: usize, packed: usize, y: usize, k: i32, n: i32, accumulate: i32): void {
  const panels = (n + NR - 1) / NR, kp = padded_k(k), panelBytes = <usize>(64 + kp * NR);
  for (let p = 0; p < panels; p++) {
    const base = packed + <usize>p * panelBytes;
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0), t0 = f32x4.splat(0), t1 = f32x4.splat(0);
    let q = base + 64;
    let kk = 0;
    for (; kk + 2 <= k; kk += 2) {
      const v = v128.load(q);
      const lo = i16x8.extend_low_i8x16_s(v), hi = i16x8.extend_high_i8x16_s(v);
      const x0 = v128.load32_splat(x + (<usize>kk << 2));
      const x1 = v128.load32_splat(x + (<usize>kk << 2), 4);
      s0 = f32x4.add(s0, f32x4.mul(x0, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo))));
      s1 = f32x4.add(s1, f32x4.mul(x0, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo))));
      t0 = f32x4.add(t0, f32x4.mul(x1, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi))));
      t1 = f32x4.add(t1, f32x4.mul(x1, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi))));
      q += 16;
    }
    if (kk < k) { // odd k: the last row alone (its pad partner is zero, but x[k] may not exist)
      const lo = i16x8.extend_low_i8x16_s(v128.load(q));
      const x0 = v128.load32_splat(x + (<usize>kk << 2));
      s0 = f32x4.add(s0, f32x4.mul(x0, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo))));
      s1 = f32x4.add(s1, f32x4.mul(x0, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo))));
    }
    const r0 = f32x4.add(f32x4.mul(f32x4.add(s0, t0), v128.load(base, 32)), v128.load(base));
    const r1 = f32x4.add(f32x4.mul(f32x4.add(s1, t1), v128.load(base, 48)), v128.load(base, 16));
    store_row(y + (<usize>(p * NR) << 2), r0, r1, min(NR, n - p * NR), accumulate);
  }
}

/** Dequantise one int8 panel into the f32 panel layout of gemm.ts ([bias 8 | k x 8 floats]) at dst. */
function dequantize_panel(base: usize, k: i32, dst: usize): void {
  v128.store(dst, v128.load(base));
  v128.store(dst, v128.load(base, 16), 16);
  const sc0 = v128.load(base, 32), sc1 = v128.load(base, 48);
  let q = base + 64, d = dst + 32;
  for (let kk = 0; kk < k; kk++) {
    const lo = i16x8.extend_low_i8x16_s(v128.load64_zero(q));
    v128.store(d, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)), sc0));
    v128.store(d, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), sc1), 16);
    q += 8; d += 32;
  }
}

// @ts-ignore: decorator
@inline const MC: i32 = 64;

/** y[m, n] (+)= x[m, k] · Wᵀ + b for m > 1; scratch: (k + 1) * 8 floats (one f32 panel, stays in L1). */
export function gemm_i8_4x8(a: usize, lda: i32, packed: usize, c: usize, ldc: i32, m: i32, k: i32, n: i32, accumulate: i32, scratch: usize): void {
  const panels = (n + NR - 1) / NR, panelBytes = <usize>(64 + padded_k(k) * NR);
  const ldaB = <usize>lda << 2, ldcB = <usize>ldc << 2;
  for (let m0 = 0; m0 < m; m0 += MC) {
    const mEnd = min(m, m0 + MC);
    for (let p = 0; p < panels; p++) {
      dequantize_panel(packed + <usize>p * panelBytes, k, scratch);
      const nr = min(NR, n - p * NR);
      const cCol = c + (<usize>(p * NR) << 2);
      let i = m0;
      for (; i + 4 <= mEnd; i += 4) tile_4x8(a + <usize>i * ldaB, ldaB, scratch, cCol + <usize>i * ldcB, ldcB, k, nr, accumulate);
      for (; i < mEnd; i++) tile_1x8(a + <usize>i * ldaB, scratch, cCol + <usize>i * ldcB, k, nr, accumulate);
    }
  }
}

/** The int8 dispatcher: GEMV for one row, dequantised panels + f32 tiles otherwise. */
export function linear_i8(a: usize, lda: i32, packed: usize, c: usize, ldc: i32, m: i32, k: i32, n: i32, accumulate: i32, scratch: usize): void {
  if (m == 1) gemv_i8_1x8(a, packed, c, k, n, accumulate);
  else gemm_i8_4x8(a, lda, packed, c, ldc, m, k, n, accumulate, scratch);
}

/** Rows of W gathered out of the int8 panels (tied embeddings of a quantised lm_head): out = q · scale · s. */
export function embed_packed_i8(packed: usize, ids: usize, n: i32, k: i32, s: f32, out: usize): void {
  const panelBytes = <usize>(64 + padded_k(k) * NR);
  for (let i = 0; i < n; i++) {
    const id = load<i32>(ids + (<usize>i << 2));
    const base = packed + <usize>(id >> 3) * panelBytes;
    const col = id & 7;
    const scale = load<f32>(base + 32 + (<usize>col << 2)) * s;
    const dst = out + (<usize>i * <usize>k << 2);
    for (let j = 0; j < k; j++) store<f32>(dst + (<usize>j << 2), <f32>load<i8>(base + 64 + <usize>(j * NR + col)) * scale);
  }
}

/** Scalar reference: dequantises each weight from the packed form (so it checks the layout too). */
export function gemm_i8_ref(a: usize, lda: i32, packed: usize, c: usize, ldc: i32, m: i32, k: i32, n: i32, accumulate: i32): void {
  const panelBytes = <usize>(64 + padded_k(k) * NR);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const base = packed + <usize>(j >> 3) * panelBytes, col = j & 7;
      const scale = load<f32>(base + 32 + (<usize>col << 2));
      let s: f64 = 0;
      for (let kk = 0; kk < k; kk++) s += <f64>load<f32>(a + (<usize>(i * lda + kk) << 2)) * <f64>(<f32>load<i8>(base + 64 + <usize>(kk * NR + col)) * scale);
      s += <f64>load<f32>(base + (<usize>col << 2));
      const dst = c + (<usize>(i * ldc + j) << 2);
      store<f32>(dst, <f32>(accumulate ? <f64>load<f32>(dst) + s : s));
    }
  }
}
