// Small safetensors editing for tests, by tensor name, over the library's one reader/writer (weights/convert.ts).
import { readTensors, tensorF32, writeSafetensors, type RawTensor as NamedTensor } from '../../bindings/weights/convert.js';
import { f32ToBf16Bits, f32ToF16Bits } from '../../bindings/weights/half.js';

export interface RawTensor { dtype: string; shape: number[]; bytes: Uint8Array }

export function readRaw(file: Uint8Array): Map<string, RawTensor> {
  return new Map(readTensors(file).tensors.map(({ name, ...t }) => [name, t]));
}

export function writeRaw(tensors: Map<string, RawTensor>): Uint8Array {
  return writeSafetensors([...tensors].map(([name, t]): NamedTensor => ({ name, ...t })), { format: 'pt' });
}

/** Re-encode every F32 tensor as F16 or BF16 (round to nearest even). */
export function toHalf(tensors: Map<string, RawTensor>, dtype: 'F16' | 'BF16'): Map<string, RawTensor> {
  const out = new Map<string, RawTensor>();
  const narrow = dtype === 'BF16' ? f32ToBf16Bits : f32ToF16Bits;
  for (const [name, t] of tensors) {
    const f = tensorF32({ name, ...t });
    out.set(name, { dtype, shape: t.shape, bytes: new Uint8Array(Uint16Array.from(f, narrow).buffer) });
  }
  return out;
}
