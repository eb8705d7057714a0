// The load-time check that every weight is a finite number. A NaN or ±Inf anywhere in a checkpoint (a corrupt
// download, a diverged training run, a bad conversion) makes every output of the model meaningless, and nothing
// downstream would say so: greedy search picks around NaN, beam scores come back -Infinity. So loadModel checks
// each tensor as it is read — after dtype conversion, so F32, F16, BF16 and dequantised int8 are all covered —
// and names the first bad value. `checkFinite: false` skips it (docs/api.md gives its cost); decoding still
// refuses logits that go non-finite (NumericError).

import { WeightsError } from '../errors.js';
import { readF32Into, type TensorStore } from './safetensors.js';

/** Index of the first NaN or ±Inf in `a`, or -1 (a faster scanner, e.g. the wasm kernel, may replace it). */
export type FiniteScan = (a: Float32Array) => number;

/** The portable scanner: x·0 is 0 for every finite x and NaN otherwise, so one sum tells whether to look closer. */
export function firstNonFinite(a: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * 0;
  if (s === 0) return -1;
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

/** Where element `i` of a tensor of `shape` sits, as [i0, i1, ...]. */
function position(i: number, shape: readonly number[]): string {
  const at: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    at.unshift(i % shape[d]);
    i = Math.floor(i / shape[d]);
  }
  return `[${at.join(', ')}]`;
}

/** `store` with every float read checked to be finite (WeightsError naming the tensor and the element). */
export function finiteCheckingStore(store: TensorStore, scan: FiniteScan = firstNonFinite): TensorStore {
  const check = (name: string, a: Float32Array): void => {
    const i = scan(a);
    if (i < 0) return;
    const { shape, dtype } = store.info(name);
    throw new WeightsError(`tensor "${name}" (${dtype} ${JSON.stringify(shape)}) holds ${a[i]} at ${position(i, shape)}: ` +
      'a NaN or infinite weight makes every output meaningless (a corrupt file or a diverged training run); ' +
      'loadModel checks every weight unless given checkFinite: false');
  };
  return {
    names: store.names,
    int8Tensors: store.int8Tensors,
    has: (name) => store.has(name),
    info: (name) => store.info(name),
    raw: (name) => store.raw(name),
    f32(name) {
      const a = store.f32(name);
      check(name, a);
      return a;
    },
    f32Into(name, dst) {
      readF32Into(store, name, dst);
      check(name, dst);
    },
    close: () => store.close?.(),
  };
}
