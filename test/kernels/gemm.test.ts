// GEMM/GEMV against a float64 reference: every M/K/N remainder, bias or not, strided A and C, accumulate.
import { describe, expect, it } from 'vitest';
import { heap, randomF32, rng } from '../helpers/kernels.js';

// The f32 error of a length-K dot product is bounded by ~K·eps·Σ|a·w|, so each element's error is measured
// against Σ|a_k·w_k| + |bias|, the scale of the terms it adds (not |result|, which may cancel to ~0).
const TOL = 1e-5;

interface Case { m: number; k: number; n: number; bias: boolean; lda?: number; ldc?: number; acc?: boolean }

const shapes: Case[] = [
  { m: 1, k: 1, n: 1, bias: false },
  { m: 1, k: 7, n: 5, bias: true },
  { m: 1, k: 512, n: 13, bias: true },
  { m: 1, k: 64, n: 24, bias: false },
  { m: 1, k: 65, n: 25, bias: true },
  { m: 1, k: 33, n: 200, bias: true },
  { m: 2, k: 33, n: 17, bias: true },
  { m: 3, k: 64, n: 8, bias: false },
  { m: 4, k: 5, n: 9, bias: true },
  { m: 5, k: 100, n: 31, bias: true },
  { m: 6, k: 3, n: 3, bias: false },
  { m: 17, k: 129, n: 65, bias: true },
  { m: 64, k: 96, n: 200, bias: true },
  { m: 67, k: 31, n: 7, bias: true }, // crosses the 64-row chunk
  { m: 130, k: 40, n: 41, bias: false },
  { m: 3, k: 20, n: 11, bias: true, lda: 27, ldc: 19 },
  { m: 1, k: 20, n: 11, bias: true, ldc: 50 },
  { m: 9, k: 16, n: 12, bias: true, acc: true },
  { m: 1, k: 16, n: 30, bias: true, acc: true },
];

function reference(a: Float32Array, lda: number, w: Float32Array, b: Float32Array | null, m: number, k: number, n: number) {
  const out = new Float64Array(m * n);
  const mag = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = b ? b[j] : 0, g = b ? Math.abs(b[j]) : 0;
      for (let kk = 0; kk < k; kk++) {
        const t = a[i * lda + kk] * w[j * k + kk];
        s += t; g += Math.abs(t);
      }
      out[i * n + j] = s; mag[i * n + j] = g;
    }
  }
  return { out, mag };
}

describe('gemm f32 (packed 8-column panels)', () => {
  for (const [ci, c] of shapes.entries()) {
    it(`M=${c.m} K=${c.k} N=${c.n}${c.bias ? ' +bias' : ''}${c.lda ? ` lda=${c.lda}` : ''}${c.ldc ? ` ldc=${c.ldc}` : ''}${c.acc ? ' accumulate' : ''}`, async () => {
      const h = await heap();
      const k = h.k;
      const r = rng(1000 + ci);
      const lda = c.lda ?? c.k, ldc = c.ldc ?? c.n;
      const a = randomF32(c.m * lda, r, -2, 2);
      const w = randomF32(c.n * c.k, r, -1, 1);
      const b = c.bias ? randomF32(c.n, r, -3, 3) : null;
      const c0 = randomF32(c.m * ldc, r, -1, 1); // prior C: accumulate adds to it, otherwise it is overwritten
      const { out, mag } = reference(a, lda, w, b, c.m, c.k, c.n);

      const pa = h.putF32(a).ptr, pw = h.putF32(w).ptr, pb = b ? h.putF32(b).ptr : 0;
      const packed = h.alloc(k.packed_size_f32(c.n, c.k) * 4);
      k.pack_f32_n8(pw, pb, c.n, c.k, packed);

      const kernelsUnderTest: [string, (dst: number) => void][] = [
        ['gemm_f32_4x8', (dst) => k.gemm_f32_4x8(pa, lda, packed, dst, ldc, c.m, c.k, c.n, c.acc ? 1 : 0)],
        ['linear_f32', (dst) => k.linear_f32(pa, lda, packed, dst, ldc, c.m, c.k, c.n, c.acc ? 1 : 0)],
        ['gemm_f32_ref', (dst) => k.gemm_f32_ref(pa, lda, pw, pb, dst, ldc, c.m, c.k, c.n, c.acc ? 1 : 0)],
      ];
      if (c.m === 1) kernelsUnderTest.push(['gemv_f32_1x24', (dst) => k.gemv_f32_1x24(pa, packed, dst, c.k, c.n, c.acc ? 1 : 0)]);

      for (const [name, run] of kernelsUnderTest) {
        const dst = h.putF32(c0).ptr;
        run(dst);
        const got = h.f32().subarray(dst >>> 2, (dst >>> 2) + c.m * ldc);
        let worst = 0;
        for (let i = 0; i < c.m; i++) {
          for (let j = 0; j < ldc; j++) {
            const g = got[i * ldc + j];
            if (j >= c.n) {
              // columns outside N must be untouched (stride padding, or the rest of a KV-cache row)
              expect(g, `${name} wrote outside N at row ${i} col ${j}`).toBe(c0[i * ldc + j]);
              continue;
            }
            const want = out[i * c.n + j] + (c.acc ? c0[i * ldc + j] : 0);
            const scale = mag[i * c.n + j] + (c.acc ? Math.abs(c0[i * ldc + j]) : 0) + 1e-30;
            worst = Math.max(worst, Math.abs(g - want) / scale);
          }
        }
        expect(worst, `${name} error`).toBeLessThan(TOL);
      }
    });
  }

  it('packing pads the last panel with zero weights and zero bias', async () => {
    const h = await heap();
    const k = h.k;
    const n = 11, kk = 3;
    const w = randomF32(n * kk, rng(7));
    const b = randomF32(n, rng(8));
    const pw = h.putF32(w).ptr, pb = h.putF32(b).ptr;
    const size = k.packed_size_f32(n, kk);
    expect(size).toBe(2 * (kk + 1) * 8);
    const dst = h.alloc(size * 4);
    k.pack_f32_n8(pw, pb, n, kk, dst);
    const p = h.f32().subarray(dst >>> 2, (dst >>> 2) + size);
    // second panel holds columns 8..10 and 5 zero columns
    const panel1 = p.subarray((kk + 1) * 8);
    expect(Array.from(panel1.subarray(0, 8))).toEqual([b[8], b[9], b[10], 0, 0, 0, 0, 0]);
    for (let r = 0; r < kk; r++) {
      expect(Array.from(panel1.subarray(8 + r * 8, 16 + r * 8))).toEqual([w[8 * kk + r], w[9 * kk + r], w[10 * kk + r], 0, 0, 0, 0, 0]);
    }
  });
});
