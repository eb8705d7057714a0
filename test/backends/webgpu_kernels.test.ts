// Each WGSL kernel against a float64 reference on random data with awkward shapes (columns not a multiple of 8,
// k not a multiple of the GEMM's tile, offsets and strides, a linear layer split into two chunks), with the
// accuracy contract of the wasm kernels: within 1e-5 of the magnitude a result is computed from.
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireGpu } from '../../bindings/backends/webgpu/index.js';
import { ACTIVATION_KIND } from '../../bindings/backends/activations.js';
import { type Buf, type GpuLinear, GpuKernels, Recorder } from '../../bindings/backends/webgpu/recorder.js';
import { OP_SCALE } from '../../bindings/backends/webgpu/shaders.js';
import { parseActivation } from '../../bindings/config.js';
import { activationsFixture } from '../helpers/activations.js';
import { randomF32, rng } from '../helpers/kernels.js';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER)) process.env.VK_ICD_FILENAMES = SWIFTSHADER;
const inCI = process.env.CI === 'true' || process.env.CI === '1';
const got = await acquireGpu();
const k = got.ok ? new GpuKernels(got.gpu.device) : null;
afterAll(() => { if (got.ok) got.gpu.device.destroy(); });

let seed = 12345;
const rand = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 2 ** 32 * 2 - 1; };
const randArray = (n: number, scale = 1) => Float32Array.from({ length: n }, () => rand() * scale);

async function run(f: (r: Recorder) => void, out: Buf, floats: number): Promise<Float32Array> {
  const r = new Recorder(k!);
  f(r);
  r.submit();
  return new Float32Array(await k!.read(out, 0, floats * 4));
}

/** pack_f32_n8's layout (assembly/gemm.ts) for W [n, kk] + bias. */
function pack(w: Float32Array, bias: Float32Array, n: number, kk: number): Float32Array {
  const panels = Math.ceil(n / 8), out = new Float32Array(panels * (kk + 1) * 8);
  for (let c = 0; c < n; c++) {
    const base = Math.floor(c / 8) * (kk + 1) * 8, cc = c % 8;
    out[base + cc] = bias[c];
    for (let i = 0; i < kk; i++) out[base + 8 + i * 8 + cc] = w[c * kk + i];
  }
  return out;
}

/** |got - want| ≤ 1e-5 · scale (+ a 1e-20 floor) elementwise. */
function expectClose(gotV: ArrayLike<number>, want: ArrayLike<number>, scale: ArrayLike<number>, tol = 1e-5): void {
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(gotV[i] - want[i]) / (Math.max(scale[i], 1e-20)));
  expect(worst).toBeLessThan(tol);
}

it.skipIf(got.ok || inCI)(`no WebGPU adapter, kernel tests skipped: ${got.ok ? '' : got.reason}`, () => {});
it.runIf(inCI)('a WebGPU adapter exists in CI', () => { expect(got.ok ? '' : got.reason).toBe(''); });

describe.skipIf(!got.ok)('WebGPU kernels vs float64', () => {
  for (const [rows, what] of [[3, 'GEMV'], [37, 'tiled GEMM']] as const) {
    it(`linear (${what}): ${rows} rows, k 45, n 29 in two chunks, offsets, strides, accumulate`, async () => {
      const K = 45, N = 29, ldx = 50, ldy = 33, xOff = 7, yOff = 5;
      const w = randArray(N * K), b = randArray(N), x = randArray(xOff + rows * ldx), y0 = randArray(yOff + rows * ldy);
      // chunk 0: columns 0..15 (2 panels), chunk 1: 16..28
      const full = pack(w, b, N, K), panel = (K + 1) * 8;
      const L: GpuLinear = { inF: K, outF: N, format: 'f32', weights: 'f32', chunks: [
        { buf: k!.upload(full.subarray(0, 2 * panel), 'w0'), colBase: 0, cols: 16 },
        { buf: k!.upload(full.subarray(2 * panel), 'w1'), colBase: 16, cols: 13 },
      ] };
      const xb = k!.upload(x, 'x'), yb = k!.upload(y0, 'y');
      const out = await run((r) => r.linear(L, xb, xOff, rows, yb, yOff, true, ldx, ldy), yb, y0.length);
      const want = Float64Array.from(y0), scale = Float64Array.from(y0, Math.abs);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < N; c++) {
          let s = b[c], m = Math.abs(b[c]);
          for (let i = 0; i < K; i++) { s += x[xOff + r * ldx + i] * w[c * K + i]; m += Math.abs(x[xOff + r * ldx + i] * w[c * K + i]); }
          want[yOff + r * ldy + c] += s;
          scale[yOff + r * ldy + c] += m;
        }
      }
      expectClose(out, want, scale);
    });
  }

  for (const rms of [false, true]) {
    for (const inPlace of [false, true]) {
      it(`${rms ? 'RMS' : 'layer'} norm, ${inPlace ? 'in place' : 'out of place'}, rows with a large common offset`, async () => {
        const rows = 5, dim = 70;
        const x = Float32Array.from(randArray(rows * dim), (v, i) => v + (i < dim ? 1000 : 0));
        const gamma = randArray(dim), beta = rms ? new Float32Array(dim) : randArray(dim);
        const gb = new Float32Array(2 * dim); gb.set(gamma); gb.set(beta, dim);
        const N = { gb: k!.upload(gb, 'gb'), dim, eps: 1e-5, rms };
        const xb = k!.upload(x, 'x'), yb = inPlace ? xb : k!.buffer(x.byteLength, 'y');
        const out = await run((r) => (inPlace ? r.norm(N, xb, 0, rows) : r.norm(N, xb, 0, rows, yb, 0)), yb, rows * dim);
        const want = new Float64Array(rows * dim), scale = new Float64Array(rows * dim);
        for (let r = 0; r < rows; r++) {
          const row = Array.from(x.subarray(r * dim, (r + 1) * dim));
          const mean = rms ? 0 : row.reduce((a, v) => a + v, 0) / dim;
          const inv = 1 / Math.sqrt(row.reduce((a, v) => a + (v - mean) ** 2, 0) / dim + 1e-5);
          for (let i = 0; i < dim; i++) {
            const xh = (row[i] - mean) * inv;
            want[r * dim + i] = xh * gamma[i] + beta[i];
            // + one f32 rounding of the row mean (the contract): |x| ulp × inv × |γ|
            scale[r * dim + i] = Math.abs(xh * gamma[i]) + Math.abs(beta[i]) + Math.abs(row[i]) * 6e-8 * inv * Math.abs(gamma[i]) / 1e-5;
          }
        }
        expectClose(out, want, scale);
      });
    }
  }

  it('scale', async () => {
    const n = 300, x = randArray(n, 8);
    const xb = k!.upload(x, 'x');
    const out = await run((r) => r.elementwise(OP_SCALE, xb, 0, n, 0.125), xb, n);
    expect(Array.from(out)).toEqual(Array.from(x, (v) => Math.fround(v * 0.125)));
  });

  // Every ACT2FN name against torch (test/fixtures/activations.json; its finite inputs up to 1e4 in magnitude:
  // WGSL leaves overflow, inf and NaN indeterminate), plain and gated, the gate right after the input as the FFN
  // lays it out. Tolerances (measured on SwiftShader in brackets):
  //   exp-based (gelu_new and its aliases, silu, quick_gelu, mish, sigmoid, tanh): 1e-5 relative with the 1e-20
  //     floor, the wasm contract. WGSL's exp is only specified to 3 + 2|x| ulp, so in the tails (e^-48 at the
  //     floor) that allows ~6e-6 relative [worst 4.8e-6, gelu_new at x = -6.8].
  //   erf-based (gelu, gelu_python, gelu_10, laplace): the shader's erfc is Abramowitz & Stegun 7.1.26, 1.5e-7
  //     absolute on erf, so its relative error grows in the tail (~1e-2 at gelu(-7.8) = -2.5e-15): 1e-6·max(1, |x|)
  //     absolute on top of the 1e-5 relative [worst 1.6e-7·|x| gelu, 2.9e-7 laplace].
  //   the rest (relu, relu2, relu6, leaky_relu, linear): 1e-5 relative, which they meet to 1 ulp.
  const fx = activationsFixture();
  const keep = Array.from(fx.inputs.keys()).filter((i) => Number.isFinite(fx.inputs[i]) && Math.abs(fx.inputs[i]) <= 1e4);
  const xin = Float32Array.from(keep, (i) => fx.inputs[i]);
  const gate = randomF32(xin.length, rng(77), -2, 2); // own generator: rand() above is the other tests' data
  const ERF_BASED = new Set(['gelu', 'gelu_10', 'laplace']);
  for (const [name, t] of Object.entries(fx.activations)) {
    const act = parseActivation(name, 'test');
    it(`${name} (${act}, op ${ACTIVATION_KIND[act]}) vs torch, plain and gated`, async () => {
      const n = xin.length;
      const ref = keep.map((i) => t.ref[i]);
      for (const gated of [false, true]) {
        const buf = new Float32Array(2 * n); buf.set(xin); buf.set(gate, n);
        const xb = k!.upload(buf, 'x');
        const out = await run((r) => r.elementwise(ACTIVATION_KIND[act], xb, 0, n, 1, gated ? n : -1), xb, n);
        const want = ref.map((w, i) => (gated ? w * gate[i] : w));
        const g = (i: number) => (gated ? Math.abs(gate[i]) : 1);
        const sc = want.map((w, i) => Math.abs(w) + (ERF_BASED.has(act) ? 1e-6 * Math.max(1, Math.abs(xin[i])) * g(i) / 1e-5 : 0));
        let worst = 0, at = 0;
        for (let i = 0; i < n; i++) {
          const e = Math.abs(out[i] - want[i]) / (sc[i] + 1e-20 / 1e-5);
          if (!(e <= worst)) { worst = e; at = i; }
        }
        expect(worst, `${gated ? 'gated ' : ''}${name} at x=${xin[at]}: ${out[at]} vs ${want[at]}`).toBeLessThan(1e-5);
      }
    });
  }

  it('attention with a padding mask, a causal limit and an additive bias; a fully masked row is uniform', async () => {
    const H = 3, hd = 7, tq = 4, tk = 6, G = 2, A = H * hd;
    const q = randArray(G * tq * A), kv = randArray(G * tk * 2 * A), bias = randArray(H * tq * tk);
    const mask = Uint32Array.from([1, 1, 1, 0, 1, 1, /* group 1: all masked */ 0, 0, 0, 0, 0, 0]);
    const out = k!.buffer(G * tq * A * 4, 'out');
    const scale = hd ** -0.5;
    const res = await run((r) => r.attention({
      q: k!.upload(q, 'q'), kv: k!.upload(kv, 'kv'), out, mask: k!.upload(mask, 'mask'), bias: k!.upload(bias, 'bias'),
      tq, tk, heads: H, hd, groups: G, kvDiv: 1, qOff: 0, qStride: A, qGroup: tq * A, scale,
      kOff: 0, vOff: A, kvStride: 2 * A, kvGroup: tk * 2 * A, outOff: 0, outStride: A, outGroup: tq * A, causal: 2, maskOff: 0, maskGroup: tk,
    }), out, G * tq * A);
    const want = new Float64Array(G * tq * A), mag = new Float64Array(G * tq * A);
    for (let g = 0; g < G; g++) for (let h = 0; h < H; h++) for (let i = 0; i < tq; i++) {
      const s: number[] = [];
      for (let j = 0; j < tk; j++) {
        const visible = j <= 2 + i && mask[g * tk + j] !== 0;
        let d = 0;
        for (let e = 0; e < hd; e++) d += q[g * tq * A + i * A + h * hd + e] * kv[g * tk * 2 * A + j * 2 * A + h * hd + e];
        s.push(visible ? d * scale + bias[(h * tq + i) * tk + j] : -3.4e38);
      }
      const m = Math.max(...s), e = s.map((v) => Math.exp(v - m)), sum = e.reduce((a, v) => a + v, 0);
      for (let d = 0; d < hd; d++) {
        let acc = 0, am = 0;
        for (let j = 0; j < tk; j++) { const v = kv[g * tk * 2 * A + j * 2 * A + A + h * hd + d]; acc += (e[j] / sum) * v; am += (e[j] / sum) * Math.abs(v); }
        want[g * tq * A + i * A + h * hd + d] = acc;
        mag[g * tq * A + i * A + h * hd + d] = am;
      }
    }
    expectClose(res, want, mag);
  });

  it('embedding gather (table and packed lm_head chunk) with scale, plus positions added', async () => {
    const V = 19, d = 10, n = 5, ids = Uint32Array.from([0, 18, 7, 8, 3]);
    const table = randArray(V * d), pos = randArray(n * d);
    const out = k!.buffer(n * d * 4, 'out');
    const packed = pack(table, new Float32Array(V), V, d);
    for (const kind of ['table', 'packed'] as const) {
      const src = kind === 'table'
        ? { table: { buf: k!.upload(table, 't'), rows: V, cols: d } }
        : { head: { inF: d, outF: V, format: 'f32' as const, weights: 'f32' as const, chunks: [{ buf: k!.upload(packed.subarray(0, 2 * (d + 1) * 8), 'p0'), colBase: 0, cols: 16 }, { buf: k!.upload(packed.subarray(2 * (d + 1) * 8), 'p1'), colBase: 16, cols: 3 }] } };
      const res = await run((r) => {
        r.embed(src, k!.upload(ids, 'ids'), 0, n, d, 2, out, 0, false);
        r.embed({ table: { buf: k!.upload(pos, 'pos'), rows: n, cols: d } }, k!.upload(Uint32Array.from([0, 1, 2, 3, 4]), 'pid'), 0, n, d, 1, out, 0, true);
      }, out, n * d);
      const want = Array.from({ length: n * d }, (_, e) => 2 * table[ids[Math.floor(e / d)] * d + (e % d)] + pos[e]);
      expectClose(res, want, want.map(Math.abs));
    }
  });

  it('strided row copy (KV-cache append)', async () => {
    const rows = 3, width = 10, src = randArray(rows * 30), dst = randArray(rows * 50);
    const db = k!.upload(dst, 'dst');
    const res = await run((r) => r.copyRows(k!.upload(src, 'src'), 10, 30, db, 20, 50, rows, width), db, dst.length);
    const want = Float32Array.from(dst);
    for (let r = 0; r < rows; r++) for (let j = 0; j < width; j++) want[20 + r * 50 + j] = src[10 + r * 30 + j];
    expect(Array.from(res)).toEqual(Array.from(want));
  });

  it('log-softmax, argmax (first index on ties) and the beam top-k', async () => {
    const rows = 4, V = 300, beams = 2, kTop = 5;
    const x = randArray(rows * V, 5);
    x[V + 17] = 9; x[V + 40] = 9; // tie in row 1: 17 wins
    const xb = k!.upload(x, 'x'), ids = k!.buffer(rows * 4, 'ids');
    const am = new Int32Array((await run((r) => r.argmax(xb, 0, rows, V, ids), ids, rows)).buffer);
    for (let r = 0; r < rows; r++) expect(am[r]).toBe(x.subarray(r * V, (r + 1) * V).indexOf(Math.max(...x.subarray(r * V, (r + 1) * V))));
    expect(am[1]).toBe(17);

    const beamScores = Float32Array.from([0, -1.5, -0.25, -1e9]);
    const lp = await run((r) => r.logSoftmax(xb, 0, rows, V), xb, rows * V);
    const want = new Float64Array(rows * V);
    for (let r = 0; r < rows; r++) {
      const row = Array.from(x.subarray(r * V, (r + 1) * V)), m = Math.max(...row);
      const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
      for (let i = 0; i < V; i++) want[r * V + i] = row[i] - lse;
    }
    expectClose(lp, want, Array.from(want, (v) => Math.max(Math.abs(v), 1)));

    const span = 64, threads = Math.ceil((beams * V) / span), sentences = rows / beams;
    const part = { span, threads, score: k!.buffer(sentences * threads * kTop * 4, 'ps'), index: k!.buffer(sentences * threads * kTop * 4, 'pi') };
    const os = k!.buffer(sentences * kTop * 4, 'os'), oi = k!.buffer(sentences * kTop * 4, 'oi');
    const lpb = k!.upload(lp, 'lp');
    const sc = await run((r) => r.topK(lpb, k!.upload(beamScores, 'bs'), sentences, beams, V, kTop, part, os, oi), os, sentences * kTop);
    const ix = new Int32Array(await k!.read(oi, 0, sentences * kTop * 4));
    for (let b = 0; b < sentences; b++) {
      const cands = Array.from({ length: beams * V }, (_, c) => ({ c, s: Math.fround(lp[(b * beams + Math.floor(c / V)) * V + (c % V)] + beamScores[b * beams + Math.floor(c / V)]) }));
      cands.sort((p, q) => q.s - p.s || p.c - q.c);
      expect(Array.from(ix.subarray(b * kTop, (b + 1) * kTop))).toEqual(cands.slice(0, kTop).map((p) => p.c));
      expect(Array.from(sc.subarray(b * kTop, (b + 1) * kTop))).toEqual(cands.slice(0, kTop).map((p) => p.s));
    }
  });
});
