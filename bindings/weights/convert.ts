// Writing safetensors files, and the conversions that shrink a model for shipping: F32 → F16, and linear weights
// → I8 + a per-output-channel F32 `_scale` (the rule of the load-time quantiser, assembly/gemm_i8.ts
// quantize_pack_i8_n8, so loading the int8 file gives the integers `loadModel(f32, { quantize: 'int8' })` makes).
// The one writer for the CLI's `convert` command, the tools and the tests.
import { WeightsError } from '../errors.js';
import { bf16ToF32, f16ToF32, toF16 } from './half.js';
import type { PytorchStore } from './pytorch.js';

/** One tensor as stored: dtype name (F32, F16, BF16, I8, ...), shape, little-endian bytes. */
export interface RawTensor { name: string; dtype: string; shape: number[]; bytes: Uint8Array }

/** The tensors of a safetensors file in file order, and its metadata (views into `file`, not copies). */
export function readTensors(file: Uint8Array): { metadata: Record<string, string> | undefined; tensors: RawTensor[] } {
  if (file.length < 8) throw new WeightsError(`a safetensors file needs an 8-byte header length, got ${file.length} bytes`);
  const n = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  if (8 + n > file.length) throw new WeightsError(`safetensors header of ${n} bytes runs past the ${file.length}-byte file`);
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n))) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const data = file.subarray(8 + n);
  const names = Object.keys(header).filter((k) => k !== '__metadata__').sort((a, b) => header[a].data_offsets[0] - header[b].data_offsets[0]);
  return {
    metadata: (header as Record<string, unknown>).__metadata__ as Record<string, string> | undefined,
    tensors: names.map((name) => {
      const { dtype, shape, data_offsets: [begin, end] } = header[name];
      return { name, dtype, shape, bytes: data.subarray(begin, end) };
    }),
  };
}

/** A safetensors file holding `tensors` in the given order, the data 8-byte aligned after the header. */
export function writeSafetensors(tensors: readonly RawTensor[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.byteLength] };
    offset += t.bytes.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const t of tensors) { out.set(t.bytes, at); at += t.bytes.byteLength; }
  return out;
}

/** A tensor's F32 values, copied (its bytes may be a view at any offset, e.g. of a Node Buffer, whose slice() is
 *  a view too). */
export function tensorF32(t: RawTensor): Float32Array {
  const copy = new Uint8Array(t.bytes.byteLength);
  copy.set(t.bytes);
  return new Float32Array(copy.buffer);
}
const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

const roundHalfEven = (x: number) => {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
};

/** Per-output-channel symmetric int8 of w [rows, cols], in f32 arithmetic as the wasm quantiser does it:
 *  scale = max|row| / 127, q = round-half-even(w / scale). */
export function quantizeRowsInt8(w: Float32Array, rows: number, cols: number): { q: Int8Array; scale: Float32Array } {
  const q = new Int8Array(rows * cols), scale = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let mx = 0;
    for (let c = 0; c < cols; c++) mx = Math.max(mx, Math.abs(w[r * cols + c]));
    const s = Math.fround(mx / 127);
    scale[r] = s;
    if (s > 0) for (let c = 0; c < cols; c++) q[r * cols + c] = Math.max(-127, Math.min(127, roundHalfEven(Math.fround(w[r * cols + c] / s))));
  }
  return { q, scale };
}

/** Linear weights only: 2-D `.weight`, not an embedding table or a position/bias table. */
export const isLinearWeight = (t: RawTensor) => t.dtype === 'F32' && t.shape.length === 2 && t.name.endsWith('.weight') &&
  !/embed|shared|relative_attention_bias|positions/.test(t.name);

export type ConvertTarget = 'f32' | 'f16' | 'int8';
export const CONVERT_TARGETS: readonly ConvertTarget[] = ['f32', 'f16', 'int8'];

/** F16/BF16 tensors widened to F32 (exactly); every other tensor unchanged. */
export function widenHalves(tensors: readonly RawTensor[]): RawTensor[] {
  return tensors.map((t) => {
    if (t.dtype !== 'F16' && t.dtype !== 'BF16') return t;
    const half = new Uint16Array(t.bytes.byteLength / 2);
    new Uint8Array(half.buffer).set(t.bytes);
    return { ...t, dtype: 'F32', bytes: bytesOf(t.dtype === 'F16' ? f16ToF32(half) : bf16ToF32(half)) };
  });
}

/** Every F32 tensor as F16 (round to nearest even, as torch's .half()); the loader widens them back. */
export function toF16Tensors(tensors: readonly RawTensor[]): RawTensor[] {
  return tensors.map((t) => (t.dtype !== 'F32' ? t : { ...t, dtype: 'F16', bytes: bytesOf(toF16(tensorF32(t))) }));
}

/** Every linear weight [out, in] as I8 + `<name>_scale` F32 [out], the I8 ones last (F32 data stays aligned). */
export function toInt8Tensors(tensors: readonly RawTensor[]): RawTensor[] {
  const floats: RawTensor[] = [], ints: RawTensor[] = [];
  for (const t of widenHalves(tensors)) {
    if (!isLinearWeight(t)) { floats.push(t); continue; }
    const [rows, cols] = t.shape;
    const { q, scale } = quantizeRowsInt8(tensorF32(t), rows, cols);
    ints.push({ name: t.name, dtype: 'I8', shape: t.shape, bytes: bytesOf(q) });
    floats.push({ name: `${t.name}_scale`, dtype: 'F32', shape: [rows], bytes: bytesOf(scale) });
  }
  return [...floats, ...ints];
}

/** A safetensors file of `tensors` converted to `to` (f32: half floats widened; f16; int8 as above). */
export function convertTensors(tensors: readonly RawTensor[], metadata: Record<string, string> | undefined, to: ConvertTarget): Uint8Array {
  if (to === 'f32') return writeSafetensors(widenHalves(tensors), metadata);
  if (to === 'f16') return writeSafetensors(toF16Tensors(tensors), metadata);
  return writeSafetensors(toInt8Tensors(tensors), { ...metadata, quantization: 'int8 per-output-channel symmetric' });
}

export function safetensorsToF16(bytes: Uint8Array): Uint8Array {
  const { metadata, tensors } = readTensors(bytes);
  return convertTensors(tensors, metadata, 'f16');
}

export function safetensorsToInt8(bytes: Uint8Array): Uint8Array {
  const { metadata, tensors } = readTensors(bytes);
  return convertTensors(tensors, metadata, 'int8');
}

/**
 * The tensors of a pytorch_model.bin store as safetensors writes them: each row-major (strided views gathered).
 * Names that are the very same view of one storage (tied embeddings: four names, one storage) are written once,
 * under the first name in the file, as transformers' own safetensors save keeps one name of a tied group;
 * `aliases` lists each such group, kept name first.
 */
export function pytorchTensors(store: PytorchStore): { tensors: RawTensor[]; aliases: string[][] } {
  const seen = new Map<string, string[]>();
  const tensors: RawTensor[] = [];
  for (const name of store.names) {
    const l = store.layout(name);
    const key = JSON.stringify([l.storage, l.dtype, l.offset, l.shape, l.stride]);
    const group = seen.get(key);
    if (group) { group.push(name); continue; }
    seen.set(key, [name]);
    tensors.push({ name, dtype: l.dtype, shape: [...l.shape], bytes: store.raw(name) });
  }
  return { tensors, aliases: [...seen.values()].filter((g) => g.length > 1) };
}
