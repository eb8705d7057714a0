// safetensors reader (https://github.com/huggingface/safetensors, README "Format" and the Rust reference
// `safetensors/src/tensor.rs`): 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON, then the data
// buffer. We apply the reference's validation rules, not a looser subset, so a file this reader accepts is one
// transformers accepts too:
//  - header at most 100 MB, valid UTF-8 starting with "{" (InvalidHeaderStart: no BOM), a JSON object; `__metadata__` (optional) maps strings to strings;
//  - every tensor: a known dtype, a shape of non-negative integers, `data_offsets` [begin, end] relative to the
//    data buffer with end - begin == product(shape) * sizeof(dtype);
//  - sorted by offsets the tensors tile the data buffer exactly: the first starts at 0, each starts where the
//    previous ended (no overlap and no gap), and the last ends at the end of the file (no trailing bytes).
//    The reference rejects gaps and trailing bytes (`InvalidOffset`, `MetadataIncompleteBuffer`), so do we.

import { UnsupportedError, WeightsError } from '../errors.js';
import { bf16ToF32, f16ToF32 } from './half.js';
import { show } from '../validate.js';

/** Element sizes of every dtype the safetensors format defines; only the float ones below can be read. */
const DTYPE_SIZES = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, F8_E8M0: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8, C64: 8,
} as const;

export type Dtype = keyof typeof DTYPE_SIZES;
/** The dtypes `f32()` converts: what real seq2seq checkpoints are stored in. */
export const FLOAT_DTYPES = ['F32', 'F16', 'BF16'] as const;
export type FloatDtype = (typeof FLOAT_DTYPES)[number];

/** Same limit as the reference, so a hostile header cannot make us parse gigabytes of JSON. */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  readonly byteLength: number;
}

/** What model code needs from a weight file; implemented by one file (SafeTensors) or several shards. */
export interface TensorStore {
  /** Tensor names in file order (sorted by data offset). */
  readonly names: readonly string[];
  has(name: string): boolean;
  /** Throws WeightsError if there is no such tensor. */
  info(name: string): TensorInfo;
  /** The tensor as float32 (row-major). Throws WeightsError for a missing tensor or a non-float dtype. */
  f32(name: string): Float32Array;
  /** The raw little-endian bytes of a tensor. */
  raw(name: string): Uint8Array;
  /** How many weights are stored as int8 (dequantised by f32(); see int8.ts). */
  readonly int8Tensors?: number;
  /**
   * Write the tensor as float32 into `dst` (exactly its element count): straight into wasm memory, without a
   * fresh array per tensor. Optional; `readF32Into` falls back to `f32()`.
   */
  f32Into?(name: string, dst: Float32Array): void;
  /** Release what the store holds open (a file read on demand); tensors cannot be read afterwards. */
  close?(): void;
}

/** A tensor's floats, read on demand into a destination the caller chose (e.g. wasm memory). */
export interface FloatReader {
  readonly length: number;
  into(dst: Float32Array): void;
}

/** `store.f32Into` where the store has it, else a copy of `store.f32(name)`. */
export function readF32Into(store: TensorStore, name: string, dst: Float32Array): void {
  if (store.f32Into) store.f32Into(name, dst);
  else {
    const src = store.f32(name);
    if (src.length !== dst.length) throw new WeightsError(`tensor "${name}" has ${src.length} values, the destination ${dst.length}`);
    dst.set(src);
  }
}

/**
 * Where a file's bytes come from when it is not held in memory: `read` fills `dst` from absolute offset `pos`
 * (Node reads the file on demand, so a model's weights go from the page cache straight into wasm memory).
 */
export interface ByteReader {
  read(pos: number, dst: Uint8Array): void;
  close?(): void;
}

interface Entry extends TensorInfo {
  readonly begin: number; // absolute offset into `bytes`
}

export function isFloatDtype(dtype: string): dtype is FloatDtype {
  return (FLOAT_DTYPES as readonly string[]).includes(dtype);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export class SafeTensors implements TensorStore {
  readonly names: readonly string[];
  /** The `__metadata__` map, if the file has one (transformers writes `{"format": "pt"}`). */
  readonly metadata: Readonly<Record<string, string>> | undefined;
  /** The whole file in memory, or null when `reader` reads it on demand. */
  private readonly bytes: Uint8Array | null;
  private readonly reader: ByteReader | null;
  private readonly entries: ReadonlyMap<string, Entry>;

  private constructor(bytes: Uint8Array | ByteReader, entries: Map<string, Entry>, metadata?: Record<string, string>) {
    this.bytes = bytes instanceof Uint8Array ? bytes : null;
    this.reader = bytes instanceof Uint8Array ? null : bytes;
    this.entries = entries;
    this.names = [...entries.keys()];
    this.metadata = metadata;
  }

  /**
   * Parses and fully validates a safetensors file. The data is not copied: `f32()` of an aligned F32 tensor
   * returns a view of `bytes`, so keep `bytes` alive and unmodified while the tensors are in use.
   * `label` names the file in error messages.
   */
  static parse(input: ArrayBuffer | Uint8Array, label = 'safetensors file'): SafeTensors {
    const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
    const { entries, metadata } = parseLayout(bytes, bytes.length, label);
    return new SafeTensors(bytes, entries, metadata);
  }

  /**
   * The same validation for a file read on demand: `head` holds at least its first 8 + headerLength(head) bytes
   * (the length and the JSON header), `size` is the whole file's; tensor data is read through `reader` as needed.
   */
  static fromReader(head: Uint8Array, size: number, reader: ByteReader, label = 'safetensors file'): SafeTensors {
    const { entries, metadata } = parseLayout(head, size, label);
    return new SafeTensors(reader, entries, metadata);
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  info(name: string): TensorInfo {
    const e = this.entry(name);
    return { dtype: e.dtype, shape: e.shape, byteLength: e.byteLength };
  }

  /** The raw little-endian bytes of a tensor (a view of an in-memory file; a fresh copy read from a file). */
  raw(name: string): Uint8Array {
    const e = this.entry(name);
    if (this.bytes) return this.bytes.subarray(e.begin, e.begin + e.byteLength);
    const out = new Uint8Array(e.byteLength);
    this.readBytes(e, out);
    return out;
  }

  f32(name: string): Float32Array {
    const e = this.floatEntry(name);
    const count = e.byteLength / DTYPE_SIZES[e.dtype];
    // An aligned F32 tensor of an in-memory file is a view, not a copy.
    if (e.dtype === 'F32' && this.bytes && (this.bytes.byteOffset + e.begin) % 4 === 0) {
      return new Float32Array(this.bytes.buffer, this.bytes.byteOffset + e.begin, count);
    }
    const out = new Float32Array(count);
    this.f32Into(name, out);
    return out;
  }

  f32Into(name: string, dst: Float32Array): void {
    const e = this.floatEntry(name);
    const count = e.byteLength / DTYPE_SIZES[e.dtype];
    if (dst.length !== count) throw new WeightsError(`tensor "${name}" has ${count} values, the destination ${dst.length}`);
    if (e.dtype === 'F32') {
      this.readBytes(e, new Uint8Array(dst.buffer, dst.byteOffset, e.byteLength));
      return;
    }
    // 16-bit formats: a Uint16Array view needs 2-byte alignment; copy the unaligned (or not in memory) case first.
    const abs = this.bytes ? this.bytes.byteOffset + e.begin : -1;
    let src: Uint16Array;
    if (this.bytes && abs % 2 === 0) src = new Uint16Array(this.bytes.buffer, abs, count);
    else {
      src = new Uint16Array(count);
      this.readBytes(e, new Uint8Array(src.buffer));
    }
    if (e.dtype === 'F16') f16ToF32(src, dst);
    else bf16ToF32(src, dst);
  }

  close(): void {
    this.reader?.close?.();
  }

  private readBytes(e: Entry, dst: Uint8Array): void {
    if (this.bytes) dst.set(this.bytes.subarray(e.begin, e.begin + e.byteLength));
    else this.reader!.read(e.begin, dst);
  }

  private floatEntry(name: string): Entry {
    const e = this.entry(name);
    if (!isFloatDtype(e.dtype)) {
      throw new WeightsError(`tensor "${name}" has dtype ${e.dtype}, which cannot be read as floats; ` +
        `supported: ${FLOAT_DTYPES.join(', ')}`);
    }
    // Typed-array views use the host's byte order; every JS engine we target is little-endian, but a silent
    // byte swap would be far worse than a clear refusal.
    if (!LITTLE_ENDIAN) throw new UnsupportedError('reading safetensors needs a little-endian host');
    return e;
  }

  private entry(name: string): Entry {
    const e = this.entries.get(name);
    if (e === undefined) throw new WeightsError(`no tensor named "${name}" in the weights`);
    return e;
  }
}

function parseLayout(bytes: Uint8Array, size: number, label: string) {
  const fail = (msg: string): never => {
    throw new WeightsError(`${label}: ${msg}`);
  };
  const n = headerLength(bytes, size, label);
  if (8 + n > bytes.length) fail(`only ${bytes.length} of the header's ${8 + n} bytes were given`);
  // The reference's InvalidHeaderStart: the JSON must begin at the first byte (no BOM, no whitespace).
  if (n === 0 || bytes[8] !== 0x7b) {
    const bom = n >= 3 && bytes[8] === 0xef && bytes[9] === 0xbb && bytes[10] === 0xbf;
    fail(`header must start with "{"${bom ? ', but starts with a UTF-8 byte order mark' : n === 0 ? ', but is empty' : `, but starts with byte 0x${bytes[8].toString(16)}`}` +
      ' (the safetensors reference rejects it: InvalidHeaderStart)');
  }
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    fail('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    fail(`header must be a JSON object, got ${Array.isArray(header) ? 'an array' : String(header)}`);
  }

  const dataStart = 8 + n;
  const dataLength = size - dataStart;
  let metadata: Record<string, string> | undefined;
  const parsed: { name: string; begin: number; end: number; info: TensorInfo }[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(raw, fail);
      continue;
    }
    const t = parseEntry(name, raw, dataLength, fail);
    parsed.push({ name, ...t });
  }

  // Exact tiling check, as the reference does after sorting by (begin, end).
  parsed.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let prev: string | undefined;
  for (const t of parsed) {
    if (t.begin < cursor) {
      fail(`tensor "${t.name}" (bytes ${t.begin}..${t.end}) overlaps tensor "${prev}" which ends at byte ${cursor}`);
    }
    if (t.begin > cursor) {
      const after = prev === undefined ? 'the start of the data' : `tensor "${prev}" (ends at byte ${cursor})`;
      fail(`${t.begin - cursor} unused bytes between ${after} and tensor "${t.name}" (starts at byte ${t.begin}); ` +
        'safetensors requires tensors to be contiguous');
    }
    cursor = t.end;
    prev = t.name;
  }
  if (cursor !== dataLength) {
    fail(`${dataLength - cursor} unused bytes after the last tensor (data ends at byte ${cursor} of ${dataLength}); ` +
      'safetensors requires the tensors to cover the whole data buffer');
  }

  const entries = new Map<string, Entry>();
  for (const t of parsed) entries.set(t.name, { ...t.info, begin: dataStart + t.begin });
  return { entries, metadata };
}

/** The JSON header's byte length from the file's first 8 bytes, checked against the limit and the file size. */
export function headerLength(first: Uint8Array, size: number, label = 'safetensors file'): number {
  const fail = (msg: string): never => {
    throw new WeightsError(`${label}: ${msg}`);
  };
  if (size < 8 || first.length < 8) fail(`file is ${size} bytes, shorter than the 8-byte header length`);
  const dv = new DataView(first.buffer, first.byteOffset, 8);
  // u64 as two u32 halves: a non-zero high half is already far beyond any file we can hold.
  const n = dv.getUint32(4, true) * 2 ** 32 + dv.getUint32(0, true);
  if (n > MAX_HEADER_BYTES) fail(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (8 + n > size) fail(`header length ${n} runs past the end of the file (${size} bytes, so at most ${size - 8})`);
  return n;
}

function parseMetadata(raw: unknown, fail: (m: string) => never): Record<string, string> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('"__metadata__" must be an object');
  for (const [k, v] of Object.entries(raw as object)) {
    if (typeof v !== 'string') fail(`"__metadata__" values must be strings, "${k}" is ${show(v)}`);
  }
  return raw as Record<string, string>;
}

function parseEntry(name: string, raw: unknown, dataLength: number, fail: (m: string) => never) {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    fail(`tensor "${name}": entry must be an object with dtype, shape and data_offsets`);
  }
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_SIZES, dtype)) {
    fail(`tensor "${name}": unknown dtype ${show(dtype)}; supported: ${FLOAT_DTYPES.join(', ')} ` +
      `(also recognised, not readable as floats: ${Object.keys(DTYPE_SIZES).filter((d) => !isFloatDtype(d)).join(', ')})`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(`tensor "${name}": shape must be an array of non-negative integers, got ${show(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    fail(`tensor "${name}": data_offsets must be [begin, end] non-negative integers, got ${show(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) fail(`tensor "${name}": data_offsets [${begin}, ${end}] end before they begin`);
  const size = DTYPE_SIZES[dtype as Dtype];
  let expected = size;
  for (const d of shape as number[]) expected *= d;
  if (!Number.isSafeInteger(expected)) fail(`tensor "${name}": shape ${show(shape)} is too large`);
  if (end - begin !== expected) {
    fail(`tensor "${name}": data_offsets [${begin}, ${end}] hold ${end - begin} bytes but shape ` +
      `${JSON.stringify(shape)} of ${dtype} needs ${expected}`);
  }
  if (end > dataLength) {
    fail(`tensor "${name}": data_offsets [${begin}, ${end}] run past the end of the file ` +
      `(the data buffer has ${dataLength} bytes)`);
  }
  const info: TensorInfo = { dtype: dtype as Dtype, shape: shape as number[], byteLength: expected };
  return { begin, end, info };
}

/**
 * Joins the shards of a model split by `save_pretrained` (model-00001-of-00002.safetensors, ... plus
 * model.safetensors.index.json). `index` is the parsed index JSON, `shards` maps shard file names to parsed files.
 * Every shard named by `weight_map` must be given and must hold the tensors the map assigns to it; a tensor
 * present in two shards is an error (which copy would win is otherwise arbitrary).
 */
export function mergeShards(index: unknown, shards: Readonly<Record<string, SafeTensors>>): TensorStore {
  const map = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new WeightsError('model.safetensors.index.json: "weight_map" must be an object of tensor name → shard file');
  }
  const owner = new Map<string, SafeTensors>();
  const problems: string[] = [];
  for (const [name, file] of Object.entries(map as Record<string, unknown>)) {
    const shard = typeof file === 'string' ? shards[file] : undefined;
    if (typeof file !== 'string') problems.push(`weight_map["${name}"] is not a file name`);
    else if (!shard) problems.push(`shard "${file}" (holding "${name}") was not provided`);
    else if (!shard.has(name)) problems.push(`"${name}" is missing from shard "${file}"`);
  }
  for (const [file, shard] of Object.entries(shards)) {
    for (const name of shard.names) {
      const seen = owner.get(name);
      if (seen) problems.push(`"${name}" is stored in more than one shard (again in "${file}")`);
      else owner.set(name, shard);
    }
  }
  if (problems.length) {
    throw new WeightsError(`sharded weights are inconsistent:\n  ${problems.slice(0, 20).join('\n  ')}` +
      (problems.length > 20 ? `\n  ... and ${problems.length - 20} more` : ''));
  }
  const get = (name: string): SafeTensors => {
    const s = owner.get(name);
    if (!s) throw new WeightsError(`no tensor named "${name}" in the weights`);
    return s;
  };
  return {
    names: [...owner.keys()],
    has: (name) => owner.has(name),
    info: (name) => get(name).info(name),
    f32: (name) => get(name).f32(name),
    f32Into: (name, dst) => get(name).f32Into(name, dst),
    raw: (name) => get(name).raw(name),
    close: () => { for (const s of Object.values(shards)) s.close(); },
  };
}
