// Norms, softmax, activations and embeddings against float64 references on random data and edge values.
import { describe, expect, it } from 'vitest';
import { sinusoids } from '../../bindings/model/marian.js';
import { ACTIVATION_KIND } from '../../bindings/backends/activations.js';
import type { Activation } from '../../bindings/config.js';
import { ACT64, f32Range } from '../helpers/activations.js';
import { heap, maxRelErr, randomF32, rng } from '../helpers/kernels.js';

const TOL = 1e-5;
const ATOL_ACT = 1e-20;
const F32_MIN = -3.4028234663852886e38;

describe('layer_norm / rms_norm', () => {
  const dims = [1, 3, 8, 63, 512, 1031];
  for (const n of dims) {
    for (const offset of [0, 100]) {
      it(`n=${n} rows=3 mean offset ${offset}`, async () => {
        const h = await heap();
        const r = rng(n * 7 + offset);
        const rows = 3;
        const x = randomF32(rows * n, r, offset - 2, offset + 2);
        const g = randomF32(n, r, 0.5, 1.5), b = randomF32(n, r, -0.5, 0.5);
        const eps = 1e-5;
        const wantLN = new Float64Array(rows * n), wantRMS = new Float64Array(rows * n), scaleLN = new Float64Array(rows * n);
        for (let i = 0; i < rows; i++) {
          const row = x.subarray(i * n, (i + 1) * n);
          let mean = 0; for (const v of row) mean += v; mean /= n;
          let vr = 0; for (const v of row) vr += (v - mean) ** 2; vr /= n;
          let ms = 0; for (const v of row) ms += v * v; ms /= n;
          for (let j = 0; j < n; j++) {
            wantLN[i * n + j] = ((row[j] - mean) / Math.sqrt(vr + eps)) * g[j] + b[j];
            // the magnitudes the output is summed from: |x̂·γ| + |β| (β may cancel the first term), plus the
            // one error no f32 kernel can avoid: the mean rounded to f32, amplified by |mean|/σ. (Divided by
            // TOL so that term is allowed in full.)
            const meanUlp = Math.abs(mean) * 2 ** -24 / Math.sqrt(vr + eps);
            scaleLN[i * n + j] = Math.abs(((row[j] - mean) / Math.sqrt(vr + eps)) * g[j]) + Math.abs(b[j]) + Math.abs(g[j]) * meanUlp / TOL;
            wantRMS[i * n + j] = (row[j] / Math.sqrt(ms + 1e-6)) * g[j];
          }
        }
        const px = h.putF32(x).ptr, pg = h.putF32(g).ptr, pb = h.putF32(b).ptr, py = h.alloc(rows * n * 4);
        for (const fn of ['layer_norm_f32', 'layer_norm_f32_ref'] as const) {
          h.k[fn](px, pg, pb, py, rows, n, eps);
          // LN output is O(1) but for offset 100 the input's own f32 rounding (ulp ~1e-5) limits it.
          const e = maxRelErr(h.f32().subarray(py >>> 2, (py >>> 2) + rows * n), wantLN, 1e-30, scaleLN);
          expect(e.err, `${fn} at ${e.at}`).toBeLessThan(TOL);
        }
        for (const fn of ['rms_norm_f32', 'rms_norm_f32_ref'] as const) {
          h.k[fn](px, pg, py, rows, n, 1e-6);
          const e = maxRelErr(h.f32().subarray(py >>> 2, (py >>> 2) + rows * n), wantRMS);
          expect(e.err, `${fn} at ${e.at}`).toBeLessThan(TOL);
        }
        // in place: y == x
        h.k.layer_norm_f32(px, pg, pb, px, rows, n, eps);
        expect(maxRelErr(h.f32().subarray(px >>> 2, (px >>> 2) + rows * n), wantLN, 1e-30, scaleLN).err).toBeLessThan(TOL);
      });
    }
  }
});

function softmaxRef(x: Float32Array, n: number, mask?: Float32Array): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / n; r++) {
    const v = Array.from(x.subarray(r * n, (r + 1) * n), (e, j) => (mask ? Math.max(Math.fround(e + mask[r * n + j]), F32_MIN) : e));
    const mx = Math.max(...v);
    if (mx === -Infinity) { for (let j = 0; j < n; j++) out[r * n + j] = 1 / n; continue; }
    let s = 0; for (const e of v) s += Math.exp(e - mx);
    for (let j = 0; j < n; j++) out[r * n + j] = Math.exp(v[j] - mx) / s;
  }
  return out;
}

describe('softmax / log_softmax', () => {
  const cases: [string, number, number, number][] = [
    ['n=1', 4, 1, 1], ['n=3', 3, 3, 5], ['n=5 large magnitudes', 2, 5, 1e4], ['n=101', 5, 101, 30],
    ['n=1031 magnitudes 80', 2, 1031, 80], ['vocab-size row', 1, 58101, 20],
  ];
  for (const [name, rows, n, mag] of cases) {
    it(name, async () => {
      const h = await heap();
      const r = rng(n + rows);
      const x = randomF32(rows * n, r, -mag, mag);
      const want = softmaxRef(x, n);
      for (const fn of ['softmax_f32', 'softmax_f32_ref'] as const) {
        const p = h.putF32(x).ptr;
        h.k[fn](p, rows, n, 0, 0);
        // relative 1e-5, with an absolute floor at f32's smallest normal: the vector exp flushes to 0 below it
        const e = maxRelErr(h.f32().subarray(p >>> 2, (p >>> 2) + rows * n), want, 1.2e-38 / TOL);
        expect(e.err, `${fn} at ${e.at}`).toBeLessThan(TOL);
      }
      const p = h.putF32(x).ptr;
      h.k.log_softmax_f32(p, rows, n);
      const got = h.f32().subarray(p >>> 2, (p >>> 2) + rows * n);
      // log-probs in float64: x - max - log(sum(exp(x - max))), compared relative to their magnitude
      const wantLog = new Float64Array(rows * n);
      for (let i = 0; i < rows; i++) {
        const row = Array.from(x.subarray(i * n, (i + 1) * n));
        const mx = Math.max(...row);
        const lse = Math.log(row.reduce((acc, v) => acc + Math.exp(v - mx), 0));
        for (let j = 0; j < n; j++) wantLog[i * n + j] = row[j] - mx - lse;
      }
      const e = maxRelErr(got, wantLog, 1e-6);
      expect(e.err, `log_softmax at ${e.at}`).toBeLessThan(TOL);
    });
  }

  it('additive masks, a fully masked row, and an all -inf row never give NaN', async () => {
    const h = await heap();
    const n = 7, rows = 4;
    const x = randomF32(rows * n, rng(3), -5, 5);
    x.fill(-Infinity, 3 * n, 4 * n); // row 3: nothing possible
    const mask = new Float32Array(rows * n);
    for (const j of [0, 4, 6]) mask[j] = F32_MIN; // row 0: some keys masked
    mask.fill(F32_MIN, n, 2 * n); // row 1: every key masked -> uniform, as transformers gives
    const want = softmaxRef(x, n, mask);
    for (const fn of ['softmax_f32', 'softmax_f32_ref'] as const) {
      const p = h.putF32(x).ptr, pm = h.putF32(mask).ptr;
      h.k[fn](p, rows, n, pm, n);
      const got = h.f32().subarray(p >>> 2, (p >>> 2) + rows * n);
      expect(got.some(Number.isNaN), fn).toBe(false);
      expect(maxRelErr(got, want).err, fn).toBeLessThan(TOL);
      expect(got[0]).toBe(0);
      for (let j = 0; j < n; j++) expect(got[n + j]).toBeCloseTo(1 / n, 6);
      for (let j = 0; j < n; j++) expect(got[3 * n + j]).toBeCloseTo(1 / n, 6);
    }
    // a mask row shared by all rows (maskStride 0)
    const p = h.putF32(x.subarray(0, 2 * n)).ptr, pm = h.putF32(mask.subarray(0, n)).ptr;
    h.k.softmax_f32(p, 2, n, pm, 0);
    const got = h.f32().subarray(p >>> 2, (p >>> 2) + 2 * n);
    expect(got[n + 0]).toBe(0);
    expect(got[n + 4]).toBe(0);
  });
});

describe('activations', () => {
  const r = rng(42);
  // 0 and ±tiny (relative precision where tanh / sigmoid forms cancel), the polynomial / exp switch of tanh (0.625),
  // relu6's and gelu_10's clip points, exp's overflow edges (e^{2x} at 44, e^x at 88.7), ±huge (x³ and x²
  // overflow), ±inf and NaN
  const special = [0, -0, 1e-45, -1e-45, 1e-38, -1e-38, 1e-30, -1e-30, 1e-7, -1e-7, 1e-3, -1e-3, 0.5, -0.5, 0.624,
    -0.624, 0.626, -0.626, 0.707107, 3, -3, 6, 6.0000005, 5.9999995, -6, 8, -8, 10, 10.000001, -10, 12, -12, 20, 20.5,
    -20.5, 30, -30, 44.5, -44.5, 88, -88, 89, -89, 100, -100, 1e10, -1e10, 1e20, -1e20, 3.4e38, -3.4e38, Infinity,
    -Infinity, NaN];
  const mags = Array.from({ length: 60 }, () => (r() < 0.5 ? -1 : 1) * 10 ** (-12 + 14 * r()));
  const x = new Float32Array([...special, ...mags, ...randomF32(997, r, -14, 14)]); // 1111 floats: a tail of 3
  const kinds = Object.entries(ACTIVATION_KIND) as [Activation, number][];

  it('kinds are 0..13, one per distinct function', () => {
    expect(kinds.map(([, k]) => k).sort((a, b) => a - b)).toEqual(kinds.map((_, i) => i));
  });

  // The contract: relative 1e-5 of float64 with an absolute floor of 1e-20 (gelu's far negative tail is ~1e-28:
  // rounding x/√2 in f32 alone moves it by more than 1e-5 relative, and nothing downstream can see it). Every kind
  // meets it. Worst over EVERY float32 input of the ranges where the value is above the floor (a one-off exhaustive
  // sweep, too slow to keep here), kernel / f64 ref: gelu and gelu_10 8.1e-6 / 1.4e-6 at x ≈ -8.8 (the rounding of
  // erfc's argument z = -x/√2 and of z², amplified by 2z²), laplace 9.96e-6 / 1.6e-7 at x ≈ -1.76 (the same
  // in the left tail of erfc((μ − x)/(σ√2)), z ≈ 6.2: the closest to the limit), gelu_new 6.9e-6 / 1.3e-6 at
  // x ≈ -7.2 (through e^{2u}), quick_gelu 2.6e-6 (1.702·x rounded, in the exponent), mish 3.1e-7, silu, sigmoid
  // and tanh under 1.8e-7 (tanh under 6.5e-8 for |x| < 0.25: the polynomial keeps it relative near 0), relu,
  // relu2, relu6, leaky_relu, linear within an ulp.
  for (const [name, kind] of kinds) {
    const f = ACT64[name];
    it(name, async () => {
      const h = await heap();
      const want = Float64Array.from(x, (v) => f32Range(f(v)));
      const px = h.putF32(x).ptr, py = h.alloc(x.length * 4);
      h.k.activation_f32(px, py, x.length, kind);
      let e = maxRelErr(h.f32().subarray(py >>> 2, (py >>> 2) + x.length), want, ATOL_ACT / TOL);
      expect(e.err, `${name} at x=${x[e.at]}`).toBeLessThan(TOL);
      h.k.activation_f32_ref(px, py, x.length, kind);
      e = maxRelErr(h.f32().subarray(py >>> 2, (py >>> 2) + x.length), want, ATOL_ACT / TOL);
      expect(e.err, `${name} ref at x=${x[e.at]}`).toBeLessThan(TOL);
      // in place
      h.k.activation_f32(px, px, x.length, kind);
      e = maxRelErr(h.f32().subarray(px >>> 2, (px >>> 2) + x.length), want, ATOL_ACT / TOL);
      expect(e.err, `${name} in place at x=${x[e.at]}`).toBeLessThan(TOL);
    });
    it(`gated ${name}: act(a) · b, out of place and in place`, async () => {
      const h = await heap();
      const b = randomF32(x.length, rng(kind + 7), -2, 2);
      const want = Float64Array.from(x, (v, i) => f32Range(f(v) * b[i]));
      const pa = h.putF32(x).ptr, pb = h.putF32(b).ptr, po = h.alloc(x.length * 4);
      h.k.gated_activation_f32(pa, pb, po, x.length, kind);
      let e = maxRelErr(h.f32().subarray(po >>> 2, (po >>> 2) + x.length), want, ATOL_ACT / TOL);
      expect(e.err, `gated ${name} at x=${x[e.at]}`).toBeLessThan(TOL);
      h.k.gated_activation_f32(pa, pb, pa, x.length, kind);
      e = maxRelErr(h.f32().subarray(pa >>> 2, (pa >>> 2) + x.length), want, ATOL_ACT / TOL);
      expect(e.err, `gated ${name} in place at x=${x[e.at]}`).toBeLessThan(TOL);
    });
  }

  it('every length: tails and gated blocks give each element what the long run gives it, bit for bit', async () => {
    const h = await heap();
    const N = 600;
    const xs = randomF32(N, rng(9), -12, 12), b = randomF32(N, rng(10), -2, 2);
    for (const [name, kind] of kinds) {
      const px = h.putF32(xs).ptr, pb = h.putF32(b).ptr, py = h.alloc(N * 4);
      h.k.activation_f32(px, py, N, kind);
      const full = h.f32().slice(py >>> 2, (py >>> 2) + N);
      h.k.gated_activation_f32(px, pb, py, N, kind);
      const fullGated = h.f32().slice(py >>> 2, (py >>> 2) + N);
      for (const n of [1, 2, 3, 4, 5, 7, 8, 255, 256, 257, 259, 511, 513, 515]) {
        for (const start of [0, 1, 2, 3]) { // unaligned starts too
          const guard = h.alloc((n + 8) * 4), at = guard + 4 * 4;
          h.f32().fill(12345, guard >>> 2, (guard >>> 2) + n + 8);
          h.k.activation_f32(px + start * 4, at, n, kind);
          const got = h.f32().subarray(guard >>> 2, (guard >>> 2) + n + 8);
          for (let i = 0; i < n; i++) expect(Object.is(got[4 + i], full[start + i]), `${name} n=${n} start=${start} i=${i}`).toBe(true);
          for (const g of [0, 1, 2, 3, n + 4, n + 5, n + 6, n + 7]) expect(got[g], `${name} n=${n}: wrote outside`).toBe(12345);
          h.f32().fill(12345, guard >>> 2, (guard >>> 2) + n + 8);
          h.k.gated_activation_f32(px + start * 4, pb + start * 4, at, n, kind);
          for (let i = 0; i < n; i++) expect(Object.is(got[4 + i], fullGated[start + i]), `gated ${name} n=${n} start=${start} i=${i}`).toBe(true);
          for (const g of [0, 1, 2, 3, n + 4, n + 5, n + 6, n + 7]) expect(got[g], `gated ${name} n=${n}: wrote outside`).toBe(12345);
        }
      }
    }
  });

  it('add, scale, exp', async () => {
    const h = await heap();
    const n = 101;
    const a = randomF32(n, r, -6, 6), b = randomF32(n, r, -2, 2);
    const pa = h.putF32(a).ptr, pb = h.putF32(b).ptr, po = h.alloc(n * 4);
    const view = () => h.f32().subarray(po >>> 2, (po >>> 2) + n);
    h.k.add_f32(pa, pb, po, n);
    expect(maxRelErr(view(), Float64Array.from(a, (v, i) => Math.fround(v + b[i])), 0).err).toBe(0);
    h.k.scale_f32(pa, 0.125, po, n);
    expect(maxRelErr(view(), Float64Array.from(a, (v) => v * 0.125), 0).err).toBe(0);
    const xs = new Float32Array([...randomF32(n - 8, r, -87, 88), 0, -0, -1000, 1000, -87.5, 88.5, NaN, -Infinity]);
    const px = h.putF32(xs).ptr;
    h.k.exp_f32(px, po, n);
    const got = view();
    const want = Float64Array.from(xs, (v) => { const e = Math.exp(v); return e < 1.1754943508222875e-38 ? 0 : e > 3.4028234663852886e38 ? Infinity : e; });
    expect(maxRelErr(got, want).err).toBeLessThan(2e-7 * 8); // within a few f32 ulps
  });
});

describe('embeddings', () => {
  it('embed_f32 gathers and scales rows; gather_add_f32 adds position rows', async () => {
    const h = await heap();
    const r = rng(5);
    const V = 37, D = 13, n = 9;
    const table = randomF32(V * D, r), pos = randomF32(20 * D, r);
    const ids = Int32Array.from({ length: n }, () => Math.floor(r() * V));
    const posIds = Int32Array.from({ length: n }, (_, i) => (i * 7) % 20);
    const pt = h.putF32(table).ptr, pp = h.putF32(pos).ptr;
    const pi = h.alloc(n * 4), ppi = h.alloc(n * 4);
    h.i32().set(ids, pi >>> 2); h.i32().set(posIds, ppi >>> 2);
    const out = h.alloc(n * D * 4);
    h.k.embed_f32(pt, pi, n, D, 8, out);
    h.k.gather_add_f32(pp, ppi, n, D, out);
    const got = h.f32().subarray(out >>> 2, (out >>> 2) + n * D);
    for (let i = 0; i < n; i++) for (let j = 0; j < D; j++) {
      expect(got[i * D + j]).toBe(Math.fround(Math.fround(table[ids[i] * D + j] * 8) + pos[posIds[i] * D + j]));
    }
  });

  it('embed_packed_f32 gathers rows out of packed lm_head panels', async () => {
    const h = await heap();
    const r = rng(6);
    const V = 19, D = 5, n = 7;
    const table = randomF32(V * D, r);
    const ids = Int32Array.from([0, 7, 8, 18, 3, 16, 9]);
    const pt = h.putF32(table).ptr, packed = h.alloc(h.k.packed_size_f32(V, D) * 4);
    h.k.pack_f32_n8(pt, 0, V, D, packed);
    const pi = h.alloc(n * 4);
    h.i32().set(ids, pi >>> 2);
    const out = h.alloc(n * D * 4);
    h.k.embed_packed_f32(packed, pi, n, D, 2.5, out);
    const got = h.f32().subarray(out >>> 2, (out >>> 2) + n * D);
    for (let i = 0; i < n; i++) for (let j = 0; j < D; j++) expect(got[i * D + j]).toBe(Math.fround(table[ids[i] * D + j] * 2.5));
  });

  for (const D of [64, 7, 512]) {
    it(`sinusoidal positions (Marian layout, d=${D})`, () => {
      const rows = 70;
      const got = sinusoids(rows, D);
      const half = Math.ceil(D / 2);
      for (let p = 0; p < rows; p++) {
        for (let i = 0; i < half; i++) {
          const angle = p / Math.pow(10000, (2 * i) / D);
          expect(got[p * D + i]).toBe(Math.fround(Math.sin(angle)));
          if (half + i < D) expect(got[p * D + half + i]).toBe(Math.fround(Math.cos(angle)));
        }
      }
    });
  }
});
