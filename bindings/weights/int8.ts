// Pre-quantised int8 weights in a safetensors file: a linear weight W [out, in] stored as I8 beside its per-output-
// channel scale `W_scale` ([out] or [out, 1], any float dtype), W ≈ q · scale — the symmetric layout of
// compressed-tensors (`<name>.weight` + `<name>.weight_scale`). Such a file is a quarter of the f32 size, which is
// what lets the default model fit a Cloudflare Worker's 3 MB limit. `wasm-seq2seq convert --to int8` writes it with the
// same rule as the load-time quantiser (scale = max|row| / 127, round half to even), so loading it with int8
// kernels reproduces exactly the integers `loadModel(src, { quantize: 'int8' })` makes from the f32 original.
//
// The store below hides the scales and hands model code f32 like any other tensor, so every family reads such
// files unchanged; `int8Tensors` tells the loader to keep int8 kernels by default.

import { UnsupportedError, WeightsError } from '../errors.js';
import { isFloatDtype, readF32Into, type TensorInfo, type TensorStore } from './safetensors.js';

export const SCALE_SUFFIX = '_scale';

/** A store whose I8 tensors are dequantised on read; the same store back when there are none. */
export function dequantizingStore(store: TensorStore): TensorStore {
  const quantized = store.names.filter((n) => store.info(n).dtype === 'I8');
  if (quantized.length === 0) return store;
  const problems: string[] = [];
  for (const name of quantized) {
    const shape = store.info(name).shape;
    const scaleName = name + SCALE_SUFFIX;
    if (store.has(name + '_zero_point')) {
      throw new UnsupportedError(`"${name}" has a zero point: only symmetric int8 (q · scale) weights are supported`);
    }
    if (shape.length !== 2) { problems.push(`"${name}" is I8 with shape ${JSON.stringify(shape)}; only 2-D [out, in] weights can be int8`); continue; }
    if (!store.has(scaleName)) { problems.push(`"${name}" is I8 but "${scaleName}" (its per-output-channel scales) is missing`); continue; }
    const s = store.info(scaleName);
    const perRow = s.shape.length === 1 ? s.shape[0] === shape[0] : s.shape.length === 2 && s.shape[0] === shape[0] && s.shape[1] === 1;
    if (!perRow) problems.push(`"${scaleName}" has shape ${JSON.stringify(s.shape)}; per-output-channel scales of "${name}" need [${shape[0]}] or [${shape[0]}, 1]`);
    else if (!isFloatDtype(s.dtype)) problems.push(`"${scaleName}" has dtype ${s.dtype}; scales must be F32, F16 or BF16`);
  }
  if (problems.length) throw new WeightsError(`int8 weights are malformed:\n  ${problems.join('\n  ')}`);
  const scales = new Set(quantized.map((n) => n + SCALE_SUFFIX));
  const f32Into = (name: string, dst: Float32Array): void => {
    if (scales.has(name)) throw new WeightsError(`no tensor named "${name}" in the weights`);
    if (store.info(name).dtype !== 'I8') return readF32Into(store, name, dst);
    const [rows, cols] = store.info(name).shape;
    if (dst.length !== rows * cols) throw new WeightsError(`tensor "${name}" has ${rows * cols} values, the destination ${dst.length}`);
    dequantizeRows(store.raw(name), store.f32(name + SCALE_SUFFIX), rows, cols, dst);
  };
  return {
    names: store.names.filter((n) => !scales.has(n)),
    int8Tensors: quantized.length,
    has: (name) => store.has(name) && !scales.has(name),
    raw: (name) => store.raw(name),   // as stored (I8 bytes for a quantised weight)
    info(name): TensorInfo {
      if (scales.has(name)) throw new WeightsError(`no tensor named "${name}" in the weights`);
      const info = store.info(name);
      // Presented as what f32() returns, so shape/dtype checks treat it like any float weight.
      return info.dtype === 'I8' ? { dtype: 'F32', shape: info.shape, byteLength: info.byteLength * 4 } : info;
    },
    f32(name) {
      if (scales.has(name)) throw new WeightsError(`no tensor named "${name}" in the weights`);
      if (store.info(name).dtype !== 'I8') return store.f32(name);   // the scales' names are hidden above
      const [rows, cols] = store.info(name).shape;
      const out = new Float32Array(rows * cols);
      f32Into(name, out);
      return out;
    },
    f32Into,
    close: () => store.close?.(),
  };
}

/** w[r][c] = q[r][c] · scale[r], rounded to f32 as the wasm kernels round it. */
export function dequantizeRows(q: Uint8Array, scale: Float32Array, rows: number, cols: number, out: Float32Array): Float32Array {
  const qi = new Int8Array(q.buffer, q.byteOffset, q.byteLength);
  for (let r = 0; r < rows; r++) {
    const s = scale[r];
    if (!Number.isFinite(s) || s < 0) throw new WeightsError(`int8 scale ${s} of row ${r} is not a finite non-negative number`);
    for (let c = 0, i = r * cols; c < cols; c++, i++) out[i] = qi[i] * s;
  }
  return out;
}
