// Linear layers: C[m, n] = sum_k A[m, k] * W[n, k] + bias[n]   (W stored [out, in] as PyTorch does).
//
// W is packed ONCE at load time into panels of 8 output columns:
//   panel p (columns 8p .. 8p+7):  [ bias[8] | W[8p+c, k] for k in 0..K-1, c in 0..7 ]   -> (K + 1) * 8 floats
// Columns past N are zero. The micro-kernels then stream one panel with unit stride and keep the
// output tile in registers (4 rows x 8 columns = 8 v128 accumulators + 2 weight + 1 broadcast = 11 live
// v128, under V8's 16 xmm registers with room to spare).
//
// Every kernel writes C rows with stride ldc (so K/V projections can land straight in a KV cache) and can
// add into C instead of overwriting it (accumulate = 1: fuses the residual add into the projection).

import { madd_f32x4 } from './vmath';

// @ts-ignore: decorator
@inline const NR: i32 = 8;

/** Floats needed for the packed form of an [n, k] weight. */
export function packed_size_f32(n: i32, k: i32): i32 {
  return ((n + NR - 1) / NR) * (k + 1) * NR;
}

/** Pack W [n, k] (+ optional bias [n], 0 = none) into 8-column panels at dst. */
export function pack_f32_n8(w: usize, bias: usize, n: i32, k: i32, dst: usize): void {
  const panels = (n + NR - 1) / NR;
  for (let p = 0; p < panels; p++) {
    const base = dst + (<usize>p * <usize>(k + 1) * NR << 2);
    const c0 = p * NR;
    for (let c = 0; c < NR; c++) {
      const col = c0 + c;
      store<f32>(base + (<usize>c << 2), col < n && bias != 0 ? load<f32>(bias + (<usize>col << 2)) : 0);
    }
    const out = base + (NR << 2);
    if (c0 + NR <= n) pack_panel_full(w + (<usize>c0 * <usize>k << 2), k, out);
    else pack_panel_tail(w, c0, n, k, out);
  }
}

// A full panel: 8 rows of W, 4 k at a time, transposed in registers (two 4x4 transposes) so loads and
// stores are whole v128s; packing a Marian-size model is a one-off but sits on the cold-start path.
function pack_panel_full(src: usize, k: i32, out: usize): void {
  const rs = <usize>k << 2;
  let kk = 0;
  for (; kk + 4 <= k; kk += 4) {
    const o = <usize>kk << 2;
    const d = out + (<usize>kk * NR << 2);
    transpose4_store(v128.load(src + o), v128.load(src + rs + o), v128.load(src + 2 * rs + o), v128.load(src + 3 * rs + o), d);
    transpose4_store(v128.load(src + 4 * rs + o), v128.load(src + 5 * rs + o), v128.load(src + 6 * rs + o), v128.load(src + 7 * rs + o), d + 16);
  }
  for (; kk < k; kk++) {
    for (let c = 0; c < NR; c++) store<f32>(out + (<usize>(kk * NR + c) << 2), load<f32>(src + <usize>c * rs + (<usize>kk << 2)));
  }
}

// Rows r0..r3 (4 k each) -> 4 columns stored 8 floats apart: column j = (r0[j], r1[j], r2[j], r3[j]).
// (No objects: under --runtime stub `new` would allocate in memory the TypeScript heap owns.)
// @ts-ignore: decorator
@inline function transpose4_store(r0: v128, r1: v128, r2: v128, r3: v128, d: usize): void {
  const t0 = i32x4.shuffle(r0, r1, 0, 4, 1, 5); // r0[0] r1[0] r0[1] r1[1]
  const t1 = i32x4.shuffle(r2, r3, 0, 4, 1, 5);
  const t2 = i32x4.shuffle(r0, r1, 2, 6, 3, 7);
  const t3 = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
  v128.store(d, i64x2.shuffle(t0, t1, 0, 2));
  v128.store(d, i64x2.shuffle(t0, t1, 1, 3), 32);
  v128.store(d, i64x2.shuffle(t2, t3, 0, 2), 64);
  v128.store(d, i64x2.shuffle(t2, t3, 1, 3), 96);
}

// The last panel when n is not a multiple of 8: scalar, missing columns zero.
function pack_panel_tail(w: usize, c0: i32, n: i32, k: i32, out: usize): void {
  for (let c = 0; c < NR; c++) {
    const col = c0 + c;
    const src = w + (<usize>col * <usize>k << 2);
    let d = out + (<usize>c << 2);
    for (let kk = 0; kk < k; kk++) {
      store<f32>(d, col < n ? load<f32>(src + (<usize>kk << 2)) : 0);
      d += NR << 2;
    }
  }
}

// Store 8 lanes (v0 = columns 0..3, v1 = 4..7) of a tile row; only the first `nr` columns are real.
// @ts-ignore: decorator
@inline export function store_row(c: usize, v0: v128, v1: v128, nr: i32, accumulate: i32): void {
  if (nr == NR) {
    if (accumulate) {
      v0 = f32x4.add(v0, v128.load(c));
      v1 = f32x4.add(v1, v128.load(c, 16));
    }
    v128.store(c, v0);
    v128.store(c, v1, 16);
    return;
  }
  store_lanes(c, v0, min(nr, 4), accumulate);
  if (nr > 4) store_lanes(c + 16, v1, nr - 4, accumulate);
}

// @ts-ignore: decorator
@inline function store_lanes(c: usize, v: v128, count: i32, accumulate: i32): void {
  const a = accumulate ? 1 : 0;
  store<f32>(c, f32x4.extract_lane(v, 0) + (a ? load<f32>(c) : 0));
  if (count > 1) store<f32>(c, f32x4.extract_lane(v, 1) + (a ? load<f32>(c, 4) : 0), 4);
  if (count > 2) store<f32>(c, f32x4.extract_lane(v, 2) + (a ? load<f32>(c, 8) : 0), 8);
  if (count > 3) store<f32>(c, f32x4.extract_lane(v, 3) + (a ? load<f32>(c, 12) : 0), 12);
}

// 4 rows x 8 columns of C from one panel.
// @ts-ignore: decorator
@inline export function tile_4x8(a: usize, lda: usize, panel: usize, c: usize, ldc: usize, k: i32, nr: i32, accumulate: i32): void {
  const b0 = v128.load(panel);
  const b1 = v128.load(panel, 16);
  let c00 = b0, c01 = b1, c10 = b0, c11 = b1, c20 = b0, c21 = b1, c30 = b0, c31 = b1;
  let w = panel + (NR << 2);
  let a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda;
  const end = a + (<usize>k << 2);
  while (a0 < end) {
    const w0 = v128.load(w);
    const w1 = v128.load(w, 16);
    let x = v128.load32_splat(a0);
    c00 = madd_f32x4(x, w0, c00);
    c01 = madd_f32x4(x, w1, c01);
    x = v128.load32_splat(a1);
    c10 = madd_f32x4(x, w0, c10);
    c11 = madd_f32x4(x, w1, c11);
    x = v128.load32_splat(a2);
    c20 = madd_f32x4(x, w0, c20);
    c21 = madd_f32x4(x, w1, c21);
    x = v128.load32_splat(a3);
    c30 = madd_f32x4(x, w0, c30);
    c31 = madd_f32x4(x, w1, c31);
    a0 += 4; a1 += 4; a2 += 4; a3 += 4;
    w += NR << 2;
  }
  store_row(c, c00, c01, nr, accumulate);
  store_row(c + ldc, c10, c11, nr, accumulate);
  store_row(c + 2 * ldc, c20, c21, nr, accumulate);
  store_row(c + 3 * ldc, c30, c31, nr, accumulate);
}

// 1 row x 8 columns (row remainders). Two partial sums per half break the add dependency chain.
// @ts-ignore: decorator
@inline export function tile_1x8(a: usize, panel: usize, c: usize, k: i32, nr: i32, accumulate: i32): void {
  let s0 = v128.load(panel);
  let s1 = v128.load(panel, 16);
  let t0 = f32x4.splat(0), t1 = f32x4.splat(0);
  let w = panel + (NR << 2);
  let kk = 0;
  for (; kk + 2 <= k; kk += 2) {
    const x0 = v128.load32_splat(a + (<usize>kk << 2));
    const x1 = v128.load32_splat(a + (<usize>kk << 2), 4);
    s0 = madd_f32x4(x0, v128.load(w), s0);
    s1 = madd_f32x4(x0, v128.load(w, 16), s1);
    t0 = madd_f32x4(x1, v128.load(w, 32), t0);
    t1 = madd_f32x4(x1, v128.load(w, 48), t1);
    w += NR << 3;
  }
  if (kk < k) {
    const x0 = v128.load32_splat(a + (<usize>kk << 2));
    s0 = madd_f32x4(x0, v128.load(w), s0);
    s1 = madd_f32x4(x0, v128.load(w, 16), s1);
  }
  store_row(c, f32x4.add(s0, t0), f32x4.add(s1, t1), nr, accumulate);
}

// Rows are processed in chunks so a chunk of A (MC x K) stays in L2 while every panel of W passes
// through L1 once per chunk.
// @ts-ignore: decorator
@inline const MC: i32 = 64;

/** C[m, n] (+)= A[m, k] · Wᵀ + bias with W packed by pack_f32_n8; register tile 4x8. */
export function gemm_f32_4x8(a: usize, lda: i32, packed: usize, c: usize, ldc: i32, m: i32, k: i32, n: i32, accumulate: i32): void {
  const panels = (n + NR - 1) / NR;
  const panelBytes = <usize>(k + 1) * NR << 2;
  const ldaB = <usize>lda << 2;
  const ldcB = <usize>ldc << 2;
  for (let m0 = 0; m0 < m; m0 += MC) {
    const mEnd = min(m, m0 + MC);
    for (let p = 0; p < panels; p++) {
      const panel = packed + <usize>p * panelBytes;
      const nr = min(NR, n - p * NR);
      const cCol = c + (<usize>(p * NR) << 2);
      let i = m0;
      for (; i + 4 <= mEnd; i += 4) {
        tile_4x8(a + <usize>i * ldaB, ldaB, panel, cCol + <usize>i * ldcB, ldcB, k, nr, accumulate);
      }
      for (; i < mEnd; i++) {
        tile_1x8(a + <usize>i * ldaB, panel, cCol + <usize>i * ldcB, k, nr, accumulate);
      }
    }
  }
}

/** One row (a decoder step): 3 panels at a time = 6 independent accumulators; each weight read once. */
export function gemv_f32_1x24(a: usize, packed: usize, c: usize, k: i32, n: i32, accumulate: i32): void {
  const panels = (n + NR - 1) / NR;
  const panelBytes = <usize>(k + 1) * NR << 2;
  let p = 0;
  for (; p + 3 <= panels; p += 3) {
    const w0 = packed + <usize>p * panelBytes;
    const w1 = w0 + panelBytes;
    const w2 = w1 + panelBytes;
    let s00 = v128.load(w0), s01 = v128.load(w0, 16);
    let s10 = v128.load(w1), s11 = v128.load(w1, 16);
    let s20 = v128.load(w2), s21 = v128.load(w2, 16);
    let off: usize = NR << 2;
    let ap = a;
    const end = a + (<usize>k << 2);
    while (ap < end) {
      const x = v128.load32_splat(ap);
      s00 = madd_f32x4(x, v128.load(w0 + off), s00);
      s01 = madd_f32x4(x, v128.load(w0 + off, 16), s01);
      s10 = madd_f32x4(x, v128.load(w1 + off), s10);
      s11 = madd_f32x4(x, v128.load(w1 + off, 16), s11);
      s20 = madd_f32x4(x, v128.load(w2 + off), s20);
      s21 = madd_f32x4(x, v128.load(w2 + off, 16), s21);
      off += NR << 2;
      ap += 4;
    }
    const cc = c + (<usize>(p * NR) << 2);
    store_row(cc, s00, s01, min(NR, n - p * NR), accumulate);
    store_row(cc + (NR << 2), s10, s11, min(NR, n - (p + 1) * NR), accumulate);
    store_row(cc + (NR << 3), s20, s21, min(NR, n - (p + 2) * NR), accumulate);
  }
  for (; p < panels; p++) {
    tile_1x8(a, packed + <usize>p * panelBytes, c + (<usize>(p * NR) << 2), k, min(NR, n - p * NR), accumulate);
  }
}

/** The dispatcher the model calls: GEMV for a single row, the 4x8 GEMM otherwise (M = 2..4 still reads W once). */
export function linear_f32(a: usize, lda: i32, packed: usize, c: usize, ldc: i32, m: i32, k: i32, n: i32, accumulate: i32): void {
  if (m == 1) gemv_f32_1x24(a, packed, c, k, n, accumulate);
  else gemm_f32_4x8(a, lda, packed, c, ldc, m, k, n, accumulate);
}

/** Scalar reference over the unpacked [n, k] weight (bias 0 = none). */
export function gemm_f32_ref(a: usize, lda: i32, w: usize, bias: usize, c: usize, ldc: i32, m: i32, k: i32, n: i32, accumulate: i32): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s: f32 = bias != 0 ? load<f32>(bias + (<usize>j << 2)) : 0;
      for (let kk = 0; kk < k; kk++) {
        s += load<f32>(a + (<usize>(i * lda + kk) << 2)) * load<f32>(w + (<usize>(j * k + kk) << 2));
      }
      const dst = c + (<usize>(i * ldc + j) << 2);
      store<f32>(dst, accumulate ? load<f32>(dst) + s : s);
    }
  }
}
