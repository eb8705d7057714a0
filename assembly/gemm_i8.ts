// int8 weights, f32 activations: y = x · (q · scale)ᵀ + bias, with per-output-channel symmetric quantisation
// (scale_n = max|W[n,:]| / 127, q = round-half-even(W / scale) in [-127, 127]).
//
// Packed in panels of 8 output columns, k padded to even and stored as k-PAIRS so one v128 holds 2 k x 8 columns
// in the order i32x4.dot_i16x8_s wants (after widening to i16):
//   panel p:  [ bias f32[8] | scale f32[8] | for each pair j: c0k0 c0k1 c1k0 c1k1 ... c7k0 c7k1 (i8) ]
// Each activation row is quantised to int16 (per-row scale max|x| / 32767) and multiplied with integer dot
// products: 1 load + 2 widenings + 2 dots + 2 adds per 16 multiply-adds and row block, a quarter of the f32
// weight bytes. Partial sums go to f32 every 128 pairs, so |x| <= 32767, |q| <= 127 never overflow i32.
// Measured on the Marian-size encoder (32 rows): 40 ms this way against 56 ms dequantising each panel to f32
// for the f32 4x8 tiles (49.6 ms all f32): i32x4.dot_i16x8_s does 8 multiply-adds where f32x4 does 4.
import { store_row } from './gemm';

// @ts-ignore: decorator
@inline const NR: i32 = 8;

// @ts-ignore: decorator
@inline function padded_k(k: i32): i32 { return (k + 1) & ~1; }

/** Byte offset of weight (k, column c) inside a panel's q area. */
// @ts-ignore: decorator
@inline function qoff(kk: i32, c: i32): usize { return <usize>((kk >> 1) * 16 + c * 2 + (kk & 1)); }

/** Bytes of the packed int8 form of an [n, k] weight. */
export function packed_size_i8(n: i32, k: i32): i32 {
  return ((n + NR - 1) / NR) * (64 + padded_k(k) * NR);
}

/**
 * Quantise W [n, k] f32 (+ bias [n] or 0) per output row and pack into panels at dst. On the cold-start path
 * (a Marian-size model quantises 74M weights at load), so the max and the divisions go 4 lanes at a time; the
 * division and round-half-even are the scalar ones lane-wise, so the integers are the same.
 */
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
        scale = row_absmax(row, k) / 127;
        if (scale > 0) quantize_row_into_panel(row, k, scale, base + 64 + (<usize>c << 1));
      }
      store<f32>(base + (<usize>c << 2), col < n && bias != 0 ? load<f32>(bias + (<usize>col << 2)) : 0);
      store<f32>(base + 32 + (<usize>c << 2), scale);
    }
  }
}

/**
 * max |row[i]| (NaN if the row holds one: the row then quantises to zeros, as its scale is not > 0).
 * Compared as integers: a float without its sign bit orders like its bit pattern, and every NaN's pattern is above
 * infinity's, so i32x4.max_s (one instruction) gives f32x4.max's answer here; f32x4.max lowers to a sequence that
 * handles NaN and -0, which made this scan 1 ns a float, half of quantising an activation row (now ~0.2).
 */
// @ts-ignore: decorator
@inline function row_absmax(row: usize, k: i32): f32 {
  let mv = i32x4.splat(0);
  const magnitude = i32x4.splat(0x7fffffff);
  let i = 0;
  for (; i + 4 <= k; i += 4) mv = i32x4.max_s(mv, v128.and(v128.load(row + (<usize>i << 2)), magnitude));
  let mx: f32 = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
  for (; i < k; i++) mx = max(mx, abs(load<f32>(row + (<usize>i << 2))));
  return mx;
}

/** q = clamp(round-half-even(w / scale), -127, 127) for one row of W, stored at out + qoff(kk, 0) (one column). */
// @ts-ignore: decorator
@inline function quantize_row_into_panel(row: usize, k: i32, scale: f32, out: usize): void {
  const sv = f32x4.splat(scale), lo = f32x4.splat(-127), hi = f32x4.splat(127);
  let kk = 0;
  for (; kk + 4 <= k; kk += 4) {
    const q = i32x4.trunc_sat_f32x4_s(f32x4.min(hi, f32x4.max(lo, f32x4.nearest(f32x4.div(v128.load(row + (<usize>kk << 2)), sv)))));
    // k-pairs (kk, kk+1) and (kk+2, kk+3) of this column: two bytes each, 16 bytes apart
    store<u16>(out + qoff(kk, 0), <u16>((i32x4.extract_lane(q, 0) & 0xff) | (i32x4.extract_lane(q, 1) & 0xff) << 8));
    store<u16>(out + qoff(kk + 2, 0), <u16>((i32x4.extract_lane(q, 2) & 0xff) | (i32x4.extract_lane(q, 3) & 0xff) << 8));
  }
  for (; kk < k; kk++) {
    const q: f32 = nearest<f32>(load<f32>(row + (<usize>kk << 2)) / scale); // round half to even, like torch.round
    store<i8>(out + qoff(kk, 0), <i8>max<f32>(-127, min<f32>(127, q)));
  }
}

/**
 * Quantise `m` activation rows x [m, k] (row stride lda floats) to int16 with a per-row scale max|x|/32767, into
 * xq in blocks of 4 rows (block b = rows 4b..4b+3, 8·kp bytes; odd k padded with 0) and xs f32 [m].
 * A block of 2-4 rows is interleaved by k-pair (pair j: 2 int16 of row 0, of row 1, of row 2, of row 3; missing
 * rows 0), so the 4-row kernel reads every row through one pointer with constant offsets: with four row pointers
 * V8 ran out of registers and reloaded them from the stack in the inner loop (17 % slower). A block of one row
 * is that row as it is (what the GEMV reads). xq needs 8·kp bytes per started block of 4 rows.
 */
export function quantize_rows_i16(x: usize, lda: i32, m: i32, k: i32, xq: usize, xs: usize): void {
  const kp = padded_k(k), pairs = kp >> 1;
  for (let r0 = 0; r0 < m; r0 += 4) {
    const rows = min(4, m - r0);
    const block = xq + (<usize>(r0 * kp) << 1);
    // one row: plain (4 bytes per pair); 2-4 rows: 16 bytes per pair, row r at byte 4r of each
    const stride: usize = rows == 1 ? 4 : 16;
    if (rows > 1 && rows < 4) memory.fill(block, 0, <usize>pairs << 4);
    for (let r = 0; r < rows; r++) {
      quantize_row_i16(x + (<usize>((r0 + r) * lda) << 2), k, block + (<usize>r << 2), stride, xs + (<usize>(r0 + r) << 2));
    }
  }
}

// One row to int16 pairs `stride` bytes apart (x / scale rounded half to even, as the scalar tail:
// |x / scale| <= 32767, so the i32 -> i16 narrowing never saturates).
// @ts-ignore: decorator
@inline function quantize_row_i16(row: usize, k: i32, out: usize, stride: usize, xs: usize): void {
  const scale: f32 = row_absmax(row, k) / 32767;
  store<f32>(xs, scale);
  let i = 0;
  if (scale > 0) {
    const sv = f32x4.splat(scale);
    for (; i + 8 <= k; i += 8) {
      const lo = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.div(v128.load(row + (<usize>i << 2)), sv)));
      const hi = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.div(v128.load(row + (<usize>i << 2), 16), sv)));
      const v = i16x8.narrow_i32x4_s(lo, hi); // 4 pairs
      const d = out + <usize>(i >> 1) * stride;
      if (stride == 4) v128.store(d, v);
      else {
        v128.store32_lane(d, v, 0);
        v128.store32_lane(d + stride, v, 1);
        v128.store32_lane(d + 2 * stride, v, 2);
        v128.store32_lane(d + 3 * stride, v, 3);
      }
    }
    for (; i < k; i++) store<i16>(out + <usize>(i >> 1) * stride + (<usize>(i & 1) << 1), <i16>nearest<f32>(load<f32>(row + (<usize>i << 2)) / scale));
  } else {
    for (; i < k; i++) store<i16>(out + <usize>(i >> 1) * stride + (<usize>(i & 1) << 1), 0);
  }
  if (k & 1) store<i16>(out + <usize>(k >> 1) * stride + 2, 0);
}

// @ts-ignore: decorator
@inline const FLUSH: i32 = 128; // pairs per i32 block: 128 * 2 * 127 * 32767 < 2^31

// @ts-ignore: decorator
@inline function finish(part0: v128, part1: v128, base: usize, xscale: f32, y: usize, nr: i32, accumulate: i32): void {
  const xsv = f32x4.splat(xscale);
  const r0 = f32x4.add(f32x4.mul(f32x4.mul(part0, v128.load(base, 32)), xsv), v128.load(base));
  const r1 = f32x4.add(f32x4.mul(f32x4.mul(part1, v128.load(base, 48)), xsv), v128.load(base, 16));
  store_row(y, r0, r1, nr, accumulate);
}

/** One quantised row against every panel: y[n] (+)= (xq · xs) · (q · scale)ᵀ + b. */
export function gemv_i8_dot_1x8(xq: usize, xs: usize, packed: usize, y: usize, k: i32, n: i32, accumulate: i32): void {
  const panels = (n + NR - 1) / NR, pairs = padded_k(k) >> 1, panelBytes = <usize>(64 + padded_k(k) * NR);
  const xscale = load<f32>(xs);
  for (let p = 0; p < panels; p++) {
    const base = packed + <usize>p * panelBytes;
    let f0 = f32x4.splat(0), f1 = f32x4.splat(0);
    let q = base + 64, xp = xq;
    for (let j0 = 0; j0 < pairs; j0 += FLUSH) {
      const j1 = min(pairs, j0 + FLUSH);
      // two pairs per iteration into two sets of sums: one set made each iteration wait for the last one's
      // dot + add (~4 cycles per 16 weight bytes: ~12 GB/s, under what this core streams); integer sums in any
      // order are the same numbers
      let a0 = i32x4.splat(0), a1 = i32x4.splat(0), b0 = i32x4.splat(0), b1 = i32x4.splat(0);
      let j = j0;
      for (; j + 2 <= j1; j += 2) {
        const xa = v128.load32_splat(xp), xb = v128.load32_splat(xp, 4);
        a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load8x8_s(q), xa));
        a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.load8x8_s(q, 8), xa));
        b0 = i32x4.add(b0, i32x4.dot_i16x8_s(v128.load8x8_s(q, 16), xb));
        b1 = i32x4.add(b1, i32x4.dot_i16x8_s(v128.load8x8_s(q, 24), xb));
        q += 32; xp += 8;
      }
      if (j < j1) {
        const xv = v128.load32_splat(xp);
        a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load8x8_s(q), xv));
        a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.load8x8_s(q, 8), xv));
        q += 16; xp += 4;
      }
      f0 = f32x4.add(f0, f32x4.convert_i32x4_s(i32x4.add(a0, b0)));
      f1 = f32x4.add(f1, f32x4.convert_i32x4_s(i32x4.add(a1, b1)));
    }
    finish(f0, f1, base, xscale, y + (<usize>(p * NR) << 2), min(NR, n - p * NR), accumulate);
  }
}

/** 2-4 quantised rows (one interleaved block of quantize_rows_i16) per pass over the weights; rows beyond m are
 *  zeros, computed but not stored. */
export function gemm_i8_dot_4x8(xq: usize, xs: usize, m: i32, packed: usize, y: usize, ldy: i32, k: i32, n: i32, accumulate: i32, partial: usize): void {
  const panels = (n + NR - 1) / NR, kp = padded_k(k), pairs = kp >> 1, panelBytes = <usize>(64 + kp * NR);
  for (let p = 0; p < panels; p++) {
    const base = packed + <usize>p * panelBytes;
    memory.fill(partial, 0, 128); // f32 partial sums [4 rows][8 columns]
    for (let j0 = 0; j0 < pairs; j0 += FLUSH) {
      const j1 = min(pairs, j0 + FLUSH);
      let a00 = i32x4.splat(0), a01 = i32x4.splat(0), a10 = i32x4.splat(0), a11 = i32x4.splat(0);
      let a20 = i32x4.splat(0), a21 = i32x4.splat(0), a30 = i32x4.splat(0), a31 = i32x4.splat(0);
      let q = base + 64 + (<usize>j0 << 4);
      let xp = xq + (<usize>j0 << 4); // 16 bytes per pair: one int16 pair per row
      const end = base + 64 + (<usize>j1 << 4);
      while (q < end) {
        // widening loads (one pmovsxbw each on x64) instead of a load and two widenings (the high one is two instructions)
        const lo = v128.load8x8_s(q), hi = v128.load8x8_s(q, 8);
        let xv = v128.load32_splat(xp);
        a00 = i32x4.add(a00, i32x4.dot_i16x8_s(lo, xv)); a01 = i32x4.add(a01, i32x4.dot_i16x8_s(hi, xv));
        xv = v128.load32_splat(xp, 4);
        a10 = i32x4.add(a10, i32x4.dot_i16x8_s(lo, xv)); a11 = i32x4.add(a11, i32x4.dot_i16x8_s(hi, xv));
        xv = v128.load32_splat(xp, 8);
        a20 = i32x4.add(a20, i32x4.dot_i16x8_s(lo, xv)); a21 = i32x4.add(a21, i32x4.dot_i16x8_s(hi, xv));
        xv = v128.load32_splat(xp, 12);
        a30 = i32x4.add(a30, i32x4.dot_i16x8_s(lo, xv)); a31 = i32x4.add(a31, i32x4.dot_i16x8_s(hi, xv));
        q += 16; xp += 16;
      }
      flush(partial, a00, a01); flush(partial + 32, a10, a11); flush(partial + 64, a20, a21); flush(partial + 96, a30, a31);
    }
    const nr = min(NR, n - p * NR);
    const yc = y + (<usize>(p * NR) << 2), ldyB = <usize>ldy << 2;
    for (let r = 0; r < m; r++) {
      finish(v128.load(partial + (<usize>r << 5)), v128.load(partial + (<usize>r << 5), 16), base, load<f32>(xs + (<usize>r << 2)), yc + <usize>r * ldyB, nr, accumulate);
    }
  }
}

// @ts-ignore: decorator
@inline function flush(dst: usize, a0: v128, a1: v128): void {
  v128.store(dst, f32x4.add(v128.load(dst), f32x4.convert_i32x4_s(a0)));
  v128.store(dst, f32x4.add(v128.load(dst, 16), f32x4.convert_i32x4_s(a1)), 16);
}

/**
 * The int8 dispatcher: rows in blocks of 4, quantised to int16, integer dot products against every panel.
 * (Blocking the columns so a block of panels stays in L2 for all row blocks measured slower here: the weights
 * stream well enough, and each row block would be quantised once per column block.)
 * scratch: 8 (k + 2) + 160 bytes (one block of 4 int16 rows, their scales, 4 x 8 f32 partial sums).
 */
export function linear_i8(a: usize, lda: i32, packed: usize, c: usize, ldc: i32, m: i32, k: i32, n: i32, accumulate: i32, scratch: usize): void {
  const xq = scratch, xs = scratch + (<usize>(4 * padded_k(k)) << 1), partial = xs + 16;
  for (let r0 = 0; r0 < m; r0 += 4) {
    const rows = min(4, m - r0);
    quantize_rows_i16(a + (<usize>(r0 * lda) << 2), lda, rows, k, xq, xs);
    linear_i8_rows(xq, xs, rows, packed, c + (<usize>(r0 * ldc) << 2), ldc, k, n, accumulate, partial);
  }
}

/**
 * Rows already quantised by quantize_rows_i16 (xq: blocks of 4 rows, xs f32 [m]) against every panel, a block per pass.
 * Threads quantise once and give each thread a range of panels. partial: 128 bytes.
 */
export function linear_i8_rows(xq: usize, xs: usize, m: i32, packed: usize, y: usize, ldy: i32, k: i32, n: i32, accumulate: i32, partial: usize): void {
  const rowBytes = <usize>padded_k(k) << 1;
  for (let r0 = 0; r0 < m; r0 += 4) {
    const rows = min(4, m - r0), q = xq + <usize>r0 * rowBytes, s = xs + (<usize>r0 << 2), yr = y + (<usize>(r0 * ldy) << 2);
    if (rows == 1) gemv_i8_dot_1x8(q, s, packed, yr, k, n, accumulate);
    else gemm_i8_dot_4x8(q, s, rows, packed, yr, ldy, k, n, accumulate, partial);
  }
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
    for (let j = 0; j < k; j++) store<f32>(dst + (<usize>j << 2), <f32>load<i8>(base + 64 + qoff(j, col)) * scale);
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
      for (let kk = 0; kk < k; kk++) s += <f64>load<f32>(a + (<usize>(i * lda + kk) << 2)) * <f64>(<f32>load<i8>(base + 64 + qoff(kk, col)) * scale);
      s += <f64>load<f32>(base + (<usize>col << 2));
      const dst = c + (<usize>(i * ldc + j) << 2);
      store<f32>(dst, <f32>(accumulate ? <f64>load<f32>(dst) + s : s));
    }
  }
}
