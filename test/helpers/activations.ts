// float64 definitions of every activation kind (bindings/backends/activations.ts), written in forms that do not
// cancel (so each is a reference to ~1e-15 relative wherever its value is above the tests' 1e-20 floor), and
// following torch at ±inf (x·0 = NaN where the definition multiplies -inf by a vanishing factor).
import { readFileSync } from 'node:fs';
import type { Activation } from '../../bindings/config.js';
import { erfc64 } from './kernels.js';

/** erfc for any sign (erfc64 takes x >= 0), with the limits at ±inf. */
export function erfcSigned(z: number): number {
  if (z === Infinity) return 0;
  if (z === -Infinity) return 2;
  return z >= 0 ? erfc64(z) : 2 - erfc64(-z);
}

const gelu = (v: number) => 0.5 * v * erfcSigned(-v / Math.SQRT2);
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

export const ACT64: Readonly<Record<Activation, (v: number) => number>> = {
  relu: (v) => Math.max(v, 0),
  gelu,
  // 0.5·v·(1 + tanh u) written as v·sigmoid(2u): the same function, without 1 + tanh(u) cancelling
  gelu_new: (v) => v / (1 + Math.exp(-2 * Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))),
  silu: (v) => v / (1 + Math.exp(-v)),
  gelu_10: (v) => Math.min(Math.max(gelu(v), -10), 10),
  // 0.5·(1 + erf((v − μ)/(σ√2))) = 0.5·erfc((μ − v)/(σ√2))
  laplace: (v) => 0.5 * erfcSigned((0.707107 - v) / (0.282095 * Math.SQRT2)),
  leaky_relu: (v) => (v > 0 ? v : 0.01 * v),
  linear: (v) => v,
  mish: (v) => v * Math.tanh(Math.log1p(Math.exp(v))),
  quick_gelu: (v) => v * sigmoid(1.702 * v),
  relu2: (v) => Math.max(v, 0) ** 2,
  relu6: (v) => Math.min(Math.max(v, 0), 6),
  sigmoid,
  tanh: Math.tanh,
};

const F32_MAX = 3.4028234663852886e38;
/** A float64 value as the float32 result should be: itself, or ±inf where it is beyond float32's range. */
export const f32Range = (w: number): number => (Math.abs(w) > F32_MAX ? Math.fround(w) : w);

/** test/fixtures/activations.json (tools/activations_fixture.py): torch's value of every ACT2FN name. */
export interface ActivationsFixture {
  made_with: Record<string, string>;
  /** float32 inputs */
  inputs: Float32Array;
  /** per ACT2FN name: torch's float32 result, its float64 one, and (where the literal form cancels) a
   *  cancellation-free float64 one; `ref` is the float64 reference to test against (exact, else f64). */
  activations: Record<string, { f32: Float64Array; f64: Float64Array; exact?: Float64Array; ref: Float64Array }>;
}

const num = (v: number | string) => (typeof v === 'number' ? v : v === 'nan' ? NaN : v === 'inf' ? Infinity : -Infinity);

export function activationsFixture(): ActivationsFixture {
  const doc = JSON.parse(readFileSync(new URL('../fixtures/activations.json', import.meta.url), 'utf8'));
  const arr = (a: (number | string)[]) => Float64Array.from(a, num);
  const activations: ActivationsFixture['activations'] = {};
  for (const [name, e] of Object.entries(doc.activations as Record<string, Record<string, (number | string)[]>>)) {
    const exact = e.exact ? arr(e.exact) : undefined, f64 = arr(e.f64);
    activations[name] = { f32: arr(e.f32), f64, exact, ref: exact ?? f64 };
  }
  return { made_with: doc.made_with, inputs: Float32Array.from(doc.inputs, num), activations };
}
