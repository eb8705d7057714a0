// topk_rows_f32 (beam search's ranking in wasm) and its scalar reference against an independent ranking here:
// every non-NaN candidate float32(x + addend) sorted by score, ties by the lower flat index, first k.
import { describe, expect, it } from 'vitest';
import { heap, randomF32, rng } from '../helpers/kernels.js';

function expected(x: Float32Array, rows: number, n: number, addend: Float32Array, k: number) {
  const all: { s: number; i: number }[] = [];
  for (let r = 0; r < rows; r++) for (let v = 0; v < n; v++) {
    const s = Math.fround(x[r * n + v] + addend[r]);
    if (!Number.isNaN(s)) all.push({ s, i: r * n + v });
  }
  all.sort((a, b) => b.s - a.s || a.i - b.i);
  return all.slice(0, Math.max(0, k));
}

type Case = { name: string; rows: number; n: number; k: number; fill: (r: () => number, size: number) => Float32Array; addend?: number[] };

const cases: Case[] = [
  { name: 'random, vocabulary not a multiple of 4', rows: 4, n: 1001, k: 8, fill: (r, m) => randomF32(m, r, -20, 0) },
  { name: 'many exact ties (few distinct values)', rows: 3, n: 257, k: 12, fill: (r, m) => Float32Array.from({ length: m }, () => -Math.floor(r() * 4)) },
  { name: 'ties across rows through the addend', rows: 2, n: 64, k: 5, fill: (_, m) => new Float32Array(m).fill(-1), addend: [0, 0] },
  { name: '-inf everywhere but a few (forced eos step)', rows: 4, n: 99, k: 8, fill: (_, m) => { const a = new Float32Array(m).fill(-Infinity); a[7] = 0; a[99 + 3] = 0; return a; } },
  { name: 'NaN entries never rank', rows: 2, n: 33, k: 6, fill: (r, m) => Float32Array.from({ length: m }, (_, i) => (i % 3 === 0 ? NaN : -r())) },
  { name: 'k larger than the candidates', rows: 1, n: 5, k: 9, fill: (r, m) => randomF32(m, r) },
  { name: 'k = 1 and a best value in the scalar tail', rows: 1, n: 7, k: 1, fill: (_, m) => Float32Array.from({ length: m }, (_, i) => (i === 6 ? 5 : -1)) },
  { name: 'k = 0', rows: 2, n: 8, k: 0, fill: (r, m) => randomF32(m, r) },
  { name: 'beam scores of -1e9 for not yet live beams', rows: 4, n: 300, k: 8, fill: (r, m) => randomF32(m, r, -12, 0), addend: [-0.5, -1e9, -1e9, -1e9] },
];

describe('topk_rows_f32', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const h = await heap();
      const r = rng(c.rows * 7919 + c.n * 31 + c.k);
      const x = c.fill(r, c.rows * c.n);
      const addend = Float32Array.from(c.addend ?? Array.from({ length: c.rows }, () => -10 * r()));
      const want = expected(x, c.rows, c.n, addend, c.k);
      const px = h.putF32(x).ptr, pa = h.putF32(addend).ptr;
      for (const fn of ['topk_rows_f32', 'topk_rows_f32_ref'] as const) {
        const sc = h.alloc(4 * Math.max(1, c.k)), ix = h.alloc(4 * Math.max(1, c.k));
        const count = h.k[fn](px, c.rows, c.n, pa, c.k, sc, ix);
        expect(count, fn).toBe(want.length);
        const scores = Array.from(h.f32().subarray(sc >>> 2, (sc >>> 2) + count));
        const idx = Array.from(h.i32().subarray(ix >>> 2, (ix >>> 2) + count));
        expect(idx, fn).toEqual(want.map((w) => w.i));
        expect(scores, fn).toEqual(want.map((w) => w.s));
      }
    });
  }
});
