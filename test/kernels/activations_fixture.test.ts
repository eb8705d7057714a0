// The wasm activation kernels against torch (test/fixtures/activations.json, made by tools/activations_fixture.py
// from each ACT2FN name's own definition in transformers 4.40.2 activations.py): every name, aliases included, so a
// name mapped to the wrong function, or an alias that is not the same function, fails here.
import { describe, expect, it } from 'vitest';
import { ACTIVATION_KIND } from '../../bindings/backends/activations.js';
import { parseActivation } from '../../bindings/config.js';
import { ACT64, activationsFixture, f32Range } from '../helpers/activations.js';
import { heap, maxRelErr } from '../helpers/kernels.js';

const TOL = 1e-5, ATOL = 1e-20;
const fx = activationsFixture();
const x = fx.inputs;
// Names whose torch float32 form cancels: torch computes 1 + erf(z) / 1 + tanh(u) in float32, within ~2 f32 ulps of
// 1 of the truth (measured over this fixture: 2.6e-7), times 0.5·|x| for the gelus (0.5 for laplace). So torch
// itself is that far from float64 (it returns 0 for gelu(x < -5.6) and laplace(x < -0.8)), and against torch
// float32 we allow 3e-7·max(1, 0.5·|x|) absolute on top of the 1e-5 relative.
const CANCELS = new Set(['gelu', 'gelu_python', 'gelu_10', 'gelu_new', 'gelu_fast', 'gelu_pytorch_tanh', 'gelu_accurate', 'laplace']);

describe('activations vs torch (fixtures/activations.json)', () => {
  it('covers every ACT2FN name of transformers 4.40.2, made by torch', () => {
    expect(Object.keys(fx.activations).sort()).toEqual(['gelu', 'gelu_10', 'gelu_accurate', 'gelu_fast', 'gelu_new',
      'gelu_python', 'gelu_pytorch_tanh', 'laplace', 'leaky_relu', 'linear', 'mish', 'quick_gelu', 'relu', 'relu2',
      'relu6', 'sigmoid', 'silu', 'swish', 'tanh']);
    expect(fx.made_with.torch).toMatch(/^\d+\.\d+/);
    expect(x.length).toBeGreaterThan(400);
  });

  for (const [name, t] of Object.entries(fx.activations)) {
    const act = parseActivation(name, 'test'), kind = ACTIVATION_KIND[act];
    it(`${name} (kind ${kind}, ${act})`, async () => {
      const h = await heap();
      const want = t.ref.map(f32Range);
      const px = h.putF32(x).ptr, py = h.alloc(x.length * 4);
      for (const fn of ['activation_f32', 'activation_f32_ref'] as const) {
        h.k[fn](px, py, x.length, kind);
        const got = h.f32().slice(py >>> 2, (py >>> 2) + x.length);
        // the contract, against torch's float64
        let e = maxRelErr(got, want, ATOL / TOL);
        expect(e.err, `${fn} ${name} at x=${x[e.at]}: ${got[e.at]} vs ${want[e.at]}`).toBeLessThan(TOL);
        // against what transformers computes in float32 (NaN where torch gives NaN, e.g. gelu(-inf) = -inf·0)
        const scale = Float64Array.from(want, (w, i) => Math.abs(w) + (CANCELS.has(name) ? 3e-7 * Math.max(1, 0.5 * Math.abs(x[i])) / TOL : 0));
        e = maxRelErr(got, t.f32, ATOL / TOL, scale);
        expect(e.err, `${fn} ${name} vs torch float32 at x=${x[e.at]}: ${got[e.at]} vs ${t.f32[e.at]}`).toBeLessThan(TOL);
      }
    });
  }

  it('the tests\' own float64 definitions (helpers/activations.ts) are torch\'s, for every name', () => {
    for (const [name, t] of Object.entries(fx.activations)) {
      const act = parseActivation(name, 'test');
      // 1e-8: gelu_fast's √(2/π) cut to 10 digits moves its far tail by up to ~1e-9 relative; everything else agrees
      // to float64 rounding
      const e = maxRelErr(Float64Array.from(x, ACT64[act]), t.ref, 1e-290);
      expect(e.err, `${name} at x=${x[e.at]}`).toBeLessThan(1e-8);
    }
  });
});
