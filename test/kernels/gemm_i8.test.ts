// int8-weight kernels against a float64 reference of the DEQUANTISED weights (q · scale), read back from the
// packed bytes; and the quantiser itself: per-row scale max|w|/127, q = round-half-even(w / scale).
import { describe, expect, it } from 'vitest';
import { heap, randomF32, rng } from '../helpers/kernels.js';

const shapes: [number, number, number, boolean, boolean][] = [
  // m, k, n, bias, accumulate
  [1, 1, 1, false, false], [1, 7, 5, true, false], [1, 64, 24, true, false], [1, 65, 29, true, true], [1, 512, 200, true, false],
  [1, 700, 9, true, false], // more than 128 k-pairs: the i32 sums are flushed to f32 mid-row
  [2, 33, 17, true, false], [3, 300, 12, true, true], [4, 5, 9, true, false], [4, 513, 40, true, false],
  [5, 100, 31, false, true], [17, 129, 65, true, false], [67, 31, 7, true, false],
  [9, 70, 300, true, true], [6, 40, 263, false, false], // M > 4 with more than one 32-panel column block (and a tail)
];

// weights are stored as k-pairs per column: (k, c) at pair k>>1, byte c*2 + (k&1)
const qoff = (kk: number, c: number) => (kk >> 1) * 16 + c * 2 + (kk & 1);

/** Round half to even, as the kernels' nearest() does. */
function rne(v: number): number {
  const f = Math.floor(v), d = v - f;
  return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
}

/** The activation quantisation of linear_i8 for M <= 4: per row, scale = max|x| / 32767 (f32), q = rne(x / scale). */
function quantizeRows(a: Float32Array, m: number, k: number): Float64Array {
  const out = new Float64Array(m * k);
  for (let i = 0; i < m; i++) {
    const row = a.subarray(i * k, (i + 1) * k);
    const s = Math.fround(Math.fround(Math.max(...Array.from(row, Math.abs))) / 32767);
    for (let kk = 0; kk < k; kk++) out[i * k + kk] = s > 0 ? rne(Math.fround(row[kk] / s)) * s : 0;
  }
  return out;
}

function unpack(f32: Float32Array, i8: Int8Array, ptr: number, n: number, k: number) {
  const kp = (k + 1) & ~1, panel = 64 + kp * 8;
  const w = new Float64Array(n * k), bias = new Float64Array(n), scale = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const base = ptr + (j >> 3) * panel, c = j & 7;
    bias[j] = f32[(base >> 2) + c];
    scale[j] = f32[(base >> 2) + 8 + c];
    for (let kk = 0; kk < k; kk++) w[j * k + kk] = i8[base + 64 + qoff(kk, c)] * Math.fround(scale[j]);
  }
  return { w, bias, scale, q: (j: number, kk: number) => i8[ptr + (j >> 3) * panel + 64 + qoff(kk, j & 7)] };
}

describe('int8 weights', () => {
  it('quantise: scale = max|row| / 127, q = round-half-even(w / scale), error <= scale / 2', async () => {
    const h = await heap();
    const n = 13, k = 37;
    const w = randomF32(n * k, rng(3), -2, 2);
    w.fill(0, 5 * k, 6 * k); // an all-zero row: scale 0, q 0
    w[7 * k + 3] = 0.5 * (2 / 127) * 3; // lands on a .5 tie after scaling? (exercised, not asserted)
    const pw = h.putF32(w).ptr, dst = h.alloc(h.k.packed_size_i8(n, k));
    h.k.quantize_pack_i8_n8(pw, 0, n, k, dst);
    const u = unpack(h.f32(), new Int8Array(h.k.memory.buffer), dst, n, k);
    for (let j = 0; j < n; j++) {
      const row = w.subarray(j * k, (j + 1) * k);
      const mx = Math.max(...Array.from(row, Math.abs));
      expect(u.scale[j]).toBe(Math.fround(Math.fround(mx) / 127));
      for (let kk = 0; kk < k; kk++) {
        const q = u.q(j, kk);
        expect(Math.abs(q)).toBeLessThanOrEqual(127);
        if (mx === 0) { expect(q).toBe(0); continue; }
        const exact = row[kk] / u.scale[j];
        expect(Math.abs(q - exact)).toBeLessThanOrEqual(0.5 + 1e-6);
      }
    }
  });

  for (const [m, k, n, withBias, acc] of shapes) {
    it(`M=${m} K=${k} N=${n}${withBias ? ' +bias' : ''}${acc ? ' accumulate' : ''}`, async () => {
      const h = await heap();
      const r = rng(m * 1000 + k * 10 + n);
      const a = randomF32(m * k, r, -2, 2), w = randomF32(n * k, r, -1, 1);
      const b = withBias ? randomF32(n, r, -3, 3) : null;
      const c0 = randomF32(m * n, r);
      const pa = h.putF32(a).ptr, pw = h.putF32(w).ptr, pb = b ? h.putF32(b).ptr : 0;
      const packed = h.alloc(h.k.packed_size_i8(n, k));
      h.k.quantize_pack_i8_n8(pw, pb, n, k, packed);
      const scratch = h.alloc(8 * (k + 2) + 160);
      const u = unpack(h.f32(), new Int8Array(h.k.memory.buffer), packed, n, k);
      // linear_i8 quantises activations to int16 first: its reference uses those values
      const xq = quantizeRows(a, m, k);
      const runs: [string, (dst: number) => void, ArrayLike<number>][] = [
        ['linear_i8', (d) => h.k.linear_i8(pa, k, packed, d, n, m, k, n, acc ? 1 : 0, scratch), xq],
        ['gemm_i8_ref', (d) => h.k.gemm_i8_ref(pa, k, packed, d, n, m, k, n, acc ? 1 : 0), a],
      ];
      for (const [name, run, x] of runs) {
        const dst = h.putF32(c0).ptr;
        run(dst);
        const got = h.f32().subarray(dst >>> 2, (dst >>> 2) + m * n);
        let worst = 0;
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
          let s = u.bias[j], mag = Math.abs(u.bias[j]);
          for (let kk = 0; kk < k; kk++) { const t = x[i * k + kk] * u.w[j * k + kk]; s += t; mag += Math.abs(t); }
          if (acc) { s += c0[i * n + j]; mag += Math.abs(c0[i * n + j]); }
          worst = Math.max(worst, Math.abs(got[i * n + j] - s) / (mag + 1e-30));
        }
        expect(worst, name).toBeLessThan(1e-5);
      }
      // and the quantisation itself stays close to the f32 layer (loose: 8-bit weights)
      if (!acc) {
        const dst = h.alloc(m * n * 4);
        h.k.linear_i8(pa, k, packed, dst, n, m, k, n, 0, scratch);
        const got = h.f32().subarray(dst >>> 2, (dst >>> 2) + m * n);
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
          let s = b ? b[j] : 0, mag = 0;
          for (let kk = 0; kk < k; kk++) { s += a[i * k + kk] * w[j * k + kk]; mag += Math.abs(a[i * k + kk] * w[j * k + kk]); }
          expect(Math.abs(got[i * n + j] - s)).toBeLessThan(0.01 * mag + 1e-6);
        }
      }
    });
  }

  it('a NaN weight or activation turns its column or row into NaN (not numbers), the rest unchanged', async () => {
    const h = await heap();
    const m = 3, k = 13, n = 11, r = rng(17);
    const a = randomF32(m * k, r, -2, 2), w = randomF32(n * k, r, -1, 1);
    const run = (a: Float32Array, w: Float32Array) => {
      const pw = h.putF32(w).ptr, packed = h.alloc(h.k.packed_size_i8(n, k));
      h.k.quantize_pack_i8_n8(pw, 0, n, k, packed);
      const pa = h.putF32(a).ptr, dst = h.alloc(m * n * 4), scratch = h.alloc(8 * (k + 2) + 160);
      h.k.linear_i8(pa, k, packed, dst, n, m, k, n, 0, scratch);
      return Array.from(h.f32().subarray(dst >>> 2, (dst >>> 2) + m * n));
    };
    const clean = run(a, w);
    const wNaN = w.slice(); wNaN[4 * k + 9] = NaN;          // column 4
    const aNaN = a.slice(); aNaN[1 * k + 12] = NaN;         // row 1 (its last element: the scalar tail)
    const got = run(aNaN, wNaN);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
      if (i === 1 || j === 4) expect(got[i * n + j], `[${i}][${j}]`).toBeNaN();
      else expect(got[i * n + j], `[${i}][${j}]`).toBe(clean[i * n + j]);
    }
  });

  it('embed_packed_i8 gathers dequantised rows', async () => {
    const h = await heap();
    const V = 21, D = 9;
    const w = randomF32(V * D, rng(9));
    const pw = h.putF32(w).ptr, packed = h.alloc(h.k.packed_size_i8(V, D));
    h.k.quantize_pack_i8_n8(pw, 0, V, D, packed);
    const u = unpack(h.f32(), new Int8Array(h.k.memory.buffer), packed, V, D);
    const ids = [0, 8, 20, 7, 13];
    const pi = h.alloc(ids.length * 4);
    h.i32().set(ids, pi >>> 2);
    const out = h.alloc(ids.length * D * 4);
    h.k.embed_packed_i8(packed, pi, ids.length, D, 2, out);
    const got = h.f32().subarray(out >>> 2, (out >>> 2) + ids.length * D);
    ids.forEach((id, i) => { for (let j = 0; j < D; j++) expect(got[i * D + j]).toBe(Math.fround(u.q(id, j) * Math.fround(u.scale[id] * 2))); });
  });
});
