// Fused attention against a float64 reference: heads, odd head dims, Tk = 1, padding and causal masks,
// T5-style bias, and K/V read with a cache stride (rows further apart than heads*hd).
import { describe, expect, it } from 'vitest';
import { heap, maxRelErr, randomF32, rng } from '../helpers/kernels.js';

const F32_MIN = -3.4028234663852886e38;

interface Case { heads: number; hd: number; tq: number; tk: number; kvStride?: number; mask?: 'some' | 'all'; causal?: number; bias?: boolean; scale?: number }

const cases: Case[] = [
  { heads: 1, hd: 1, tq: 1, tk: 1 },
  { heads: 4, hd: 16, tq: 5, tk: 7 },
  { heads: 3, hd: 5, tq: 4, tk: 9, mask: 'some' },
  { heads: 2, hd: 64, tq: 1, tk: 33, mask: 'some' },
  { heads: 8, hd: 64, tq: 12, tk: 12, causal: 0 }, // decoder self-attention, teacher forced
  { heads: 4, hd: 8, tq: 1, tk: 10, causal: 9, kvStride: 4 * 8 * 3 }, // one decode step against a cache
  { heads: 4, hd: 8, tq: 3, tk: 10, causal: 7, mask: 'some' },
  { heads: 2, hd: 6, tq: 3, tk: 4, mask: 'all' }, // fully masked: uniform weights, no NaN
  { heads: 4, hd: 12, tq: 6, tk: 6, bias: true, scale: 1 }, // T5: no scaling, relative bias
  { heads: 4, hd: 12, tq: 5, tk: 8, bias: true, scale: 1, causal: 3, mask: 'some' },
  { heads: 2, hd: 33, tq: 2, tk: 130 },
];

function reference(c: Case, q: Float32Array, k: Float32Array, v: Float32Array, kvs: number, keyMask: Uint8Array | null, bias: Float32Array | null, scale: number) {
  const D = c.heads * c.hd;
  const out = new Float64Array(c.tq * D);
  const scale_ = new Float64Array(c.tq * D); // Σ p_j |v_j|: the magnitude each output is averaged from
  for (let h = 0; h < c.heads; h++) {
    for (let i = 0; i < c.tq; i++) {
      const s: number[] = [];
      for (let j = 0; j < c.tk; j++) {
        const masked = (keyMask && !keyMask[j]) || (c.causal !== undefined && j > c.causal + i);
        if (masked) { s.push(F32_MIN); continue; }
        let d = 0;
        for (let e = 0; e < c.hd; e++) d += Math.fround(q[i * D + h * c.hd + e] * scale) * k[j * kvs + h * c.hd + e];
        if (bias) d += bias[(h * c.tq + i) * c.tk + j];
        s.push(d);
      }
      const mx = Math.max(...s);
      const p = s.map((x) => Math.exp(x - mx));
      const z = p.reduce((a, b) => a + b, 0);
      for (let e = 0; e < c.hd; e++) {
        let acc = 0, mag = 0;
        for (let j = 0; j < c.tk; j++) {
          acc += (p[j] / z) * v[j * kvs + h * c.hd + e];
          mag += (p[j] / z) * Math.abs(v[j * kvs + h * c.hd + e]);
        }
        out[i * D + h * c.hd + e] = acc;
        scale_[i * D + h * c.hd + e] = mag;
      }
    }
  }
  return { out, scale: scale_ };
}

describe('attention_f32', () => {
  for (const [ci, c] of cases.entries()) {
    it(`heads=${c.heads} hd=${c.hd} tq=${c.tq} tk=${c.tk}${c.mask ? ` mask=${c.mask}` : ''}${c.causal !== undefined ? ` causal@${c.causal}` : ''}${c.bias ? ' bias' : ''}${c.kvStride ? ' strided' : ''}`, async () => {
      const h = await heap();
      const r = rng(77 + ci);
      const D = c.heads * c.hd, kvs = c.kvStride ?? D;
      const scale = c.scale ?? 1 / Math.sqrt(c.hd);
      const q = randomF32(c.tq * D, r, -2, 2), k = randomF32(c.tk * kvs, r, -2, 2), v = randomF32(c.tk * kvs, r, -2, 2);
      const keyMask = c.mask ? Uint8Array.from({ length: c.tk }, (_, j) => (c.mask === 'all' ? 0 : j % 3 === 1 ? 0 : 1)) : null;
      const bias = c.bias ? randomF32(c.heads * c.tq * c.tk, r, -3, 3) : null;
      const { out: want, scale: mag } = reference(c, q, k, v, kvs, keyMask, bias, scale);
      const pq = h.putF32(q).ptr, pk = h.putF32(k).ptr, pv = h.putF32(v).ptr;
      const pb = bias ? h.putF32(bias).ptr : 0;
      let pm = 0;
      if (keyMask) { pm = h.alloc(c.tk); h.u8().set(keyMask, pm); }
      const scratch = h.alloc((c.hd + 2 * c.tk) * 8);
      for (const fn of ['attention_f32', 'attention_f32_ref'] as const) {
        const out = h.alloc(c.tq * D * 4);
        h.k[fn](pq, D, pk, pv, kvs, out, D, c.heads, c.hd, c.tq, c.tk, scale, pm, c.causal ?? -1, pb, scratch);
        const got = h.f32().subarray(out >>> 2, (out >>> 2) + c.tq * D);
        expect(got.some(Number.isNaN), `${fn} NaN`).toBe(false);
        // outputs are convex combinations of V rows: error relative to Σ p_j |v_j|, since the average may cancel
        const e = maxRelErr(got, want, 0, mag);
        expect(e.err, `${fn} at ${e.at}`).toBeLessThan(1e-5);
      }
    });
  }
});
