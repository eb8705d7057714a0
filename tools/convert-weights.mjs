#!/usr/bin/env node
// Shrink a model folder for shipping (a Cloudflare Worker's 3 MB limit, a smaller download):
//   --to f16   every F32 tensor → F16 (round to nearest even, as torch's .half()); the loader widens it back.
//   --to int8  every linear weight [out, in] → I8 + `<name>_scale` F32 [out] (per output channel, symmetric,
//              scale = max|row| / 127, q = round-half-even(w / scale): the rule of the load-time quantiser
//              assembly/gemm_i8.ts quantize_pack_i8_n8, so the loader's int8 kernels see the same integers as
//              `loadModel(f32 folder, { quantize: 'int8' })`). Embeddings, norms and biases stay as they are.
// JSON files (config, generation config, vocab, tokenizer) are copied unchanged.
//
//   node tools/convert-weights.mjs --to f16|int8 SRC_DIR OUT_DIR
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE binary32 → binary16 bits, round to nearest even (as numpy's astype(float16) and torch's .half()). */
export function f32ToF16Bits(value) {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);        // inf, NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;                                 // too large: inf
  if (e <= 0) {                                                        // f16 subnormal (or zero)
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;         // a carry into the exponent is right
  return sign | half;
}

const roundHalfEven = (x) => {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
};

/** Per-output-channel symmetric int8 of w [rows, cols], in f32 arithmetic as the wasm quantiser does it. */
export function quantizeRowsInt8(w, rows, cols) {
  const q = new Int8Array(rows * cols);
  const scale = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let mx = 0;
    for (let c = 0; c < cols; c++) mx = Math.max(mx, Math.abs(w[r * cols + c]));
    const s = Math.fround(mx / 127);
    scale[r] = s;
    if (s > 0) for (let c = 0; c < cols; c++) {
      q[r * cols + c] = Math.max(-127, Math.min(127, roundHalfEven(Math.fround(w[r * cols + c] / s))));
    }
  }
  return { q, scale };
}

/** The tensors of a safetensors file: { metadata, tensors: [{ name, dtype, shape, bytes }] } in file order. */
export function readSafetensors(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  const data = bytes.subarray(8 + headerLen);
  const names = Object.keys(header).filter((k) => k !== '__metadata__')
    .sort((a, b) => header[a].data_offsets[0] - header[b].data_offsets[0]);
  return {
    metadata: header.__metadata__,
    tensors: names.map((name) => {
      const { dtype, shape, data_offsets: [begin, end] } = header[name];
      return { name, dtype, shape, bytes: data.slice(begin, end) };
    }),
  };
}

/** A safetensors file of `tensors` in the given order, the data 8-byte aligned after the header. */
export function writeSafetensors(tensors, metadata) {
  const header = {};
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

const asF32 = (t) => new Float32Array(t.bytes.buffer.slice(t.bytes.byteOffset, t.bytes.byteOffset + t.bytes.byteLength));
const bytesOf = (a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Linear weights only: 2-D `.weight`, not an embedding table or a position/bias table. */
export const isLinearWeight = (t) => t.dtype === 'F32' && t.shape.length === 2 && t.name.endsWith('.weight') &&
  !/embed|shared|relative_attention_bias|positions/.test(t.name);

export function safetensorsToF16(bytes) {
  const { metadata, tensors } = readSafetensors(bytes);
  return writeSafetensors(tensors.map((t) => {
    if (t.dtype !== 'F32') return t;
    const w = asF32(t);
    const h = new Uint16Array(w.length);
    for (let i = 0; i < w.length; i++) h[i] = f32ToF16Bits(w[i]);
    return { ...t, dtype: 'F16', bytes: bytesOf(h) };
  }), metadata);
}

export function safetensorsToInt8(bytes) {
  const { metadata, tensors } = readSafetensors(bytes);
  const floats = [];
  const ints = [];   // after every 4-byte tensor, so F32 data stays 4-byte aligned
  for (const t of tensors) {
    if (!isLinearWeight(t)) { floats.push(t); continue; }
    const [rows, cols] = t.shape;
    const { q, scale } = quantizeRowsInt8(asF32(t), rows, cols);
    ints.push({ name: t.name, dtype: 'I8', shape: t.shape, bytes: bytesOf(q) });
    floats.push({ name: `${t.name}_scale`, dtype: 'F32', shape: [rows], bytes: bytesOf(scale) });
  }
  return writeSafetensors([...floats, ...ints], { ...metadata, quantization: 'int8 per-output-channel symmetric' });
}

/** Copy a model folder with model.safetensors converted; returns OUT. */
export function convertModelDir(src, out, to) {
  const convert = { f16: safetensorsToF16, int8: safetensorsToInt8 }[to];
  if (!convert) throw new Error(`--to must be f16 or int8, got ${to}`);
  if (!existsSync(join(src, 'model.safetensors'))) throw new Error(`${src} has no model.safetensors`);
  mkdirSync(out, { recursive: true });
  for (const f of readdirSync(src)) if (f.endsWith('.json') && f !== 'model.safetensors.index.json') copyFileSync(join(src, f), join(out, f));
  writeFileSync(join(out, 'model.safetensors'), convert(readFileSync(join(src, 'model.safetensors'))));
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const i = args.indexOf('--to');
  const to = i >= 0 ? args.splice(i, 2)[1] : undefined;
  if (!to || args.length !== 2) {
    console.error('usage: node tools/convert-weights.mjs --to f16|int8 SRC_DIR OUT_DIR');
    process.exit(2);
  }
  const [src, out] = args.map((a) => resolve(a));
  convertModelDir(src, out, to);
  const size = (d) => readFileSync(join(d, 'model.safetensors')).length;
  console.log(`${out}: model.safetensors ${size(src)} → ${size(out)} bytes (${to})`);
}
