// pytorch_model.bin → a TensorStore, so every model family loads from it exactly as from safetensors.
//
// torch.save writes one of two layouts (docs/model-spec.md §pytorch_model.bin has the details):
//  - zip (torch >= 1.6): a stored ZIP with one top-level folder of any name holding `data.pkl` (the pickled
//    state dict; tensors name their storage by key), `data/<key>` (each storage's raw little-endian bytes,
//    exactly numel × element size), `version`, and from torch 2.1 `byteorder`;
//  - legacy: five pickles back to back (magic number, protocol 1001, sys_info, the state dict, the list of
//    storage keys), then for every key of that list, in its order, an int64 element count and the raw bytes.
// The pickles are read by pickle.ts under the allow-list of torch_pickle.ts; nothing in them is run. Before any
// tensor is handed out, every storage is matched to exactly its bytes and every tensor's strided extent
// (offset + Σ (size_i − 1) · stride_i) is checked to lie inside its storage. Data is not copied: a tensor is
// read straight from the file's bytes into its destination when asked for (non-contiguous ones are gathered).

import { SourceError, UnsupportedError, WeightsError } from '../errors.js';
import { bf16ToF32, f16ToF32 } from './half.js';
import { describe, PLAIN_DATA, PyDict, PyList, unpickle, type PyValue } from './pickle.js';
import { FLOAT_DTYPES, isFloatDtype, type Dtype, type TensorInfo, type TensorStore } from './safetensors.js';
import { TensorRef, TorchHooks, type StorageRef } from './torch_pickle.js';
import { crc32, looksLikeZip, readZip } from './zip.js';

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;
const MAX_DIMS = 64;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Where a tensor's values sit: for tests and for `convert`, which writes tensors sharing a view once. */
export interface TensorLayout {
  readonly storage: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly stride: readonly number[];
}

/** A TensorStore that also tells where each tensor's values sit (one file, or shards). */
export interface PytorchStore extends TensorStore {
  layout(name: string): TensorLayout;
}

interface Tensor extends TensorLayout {
  readonly itemSize: number;
  readonly numel: number;
  readonly contiguous: boolean;
  readonly data: Uint8Array; // the whole storage
}

export class PytorchCheckpoint implements PytorchStore {
  readonly names: readonly string[];
  private tensors: ReadonlyMap<string, Tensor> | null;

  constructor(readonly label: string, readonly format: 'zip' | 'legacy', tensors: Map<string, Tensor>) {
    this.tensors = tensors;
    this.names = [...tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors?.has(name) ?? false;
  }

  info(name: string): TensorInfo {
    const t = this.tensor(name);
    return { dtype: t.dtype, shape: t.shape, byteLength: t.numel * t.itemSize };
  }

  layout(name: string): TensorLayout {
    const { storage, dtype, shape, offset, stride } = this.tensor(name);
    return { storage, dtype, shape, offset, stride };
  }

  /** A contiguous tensor's bytes are a view of the file; a strided one's are gathered into a fresh array. */
  raw(name: string): Uint8Array {
    const t = this.tensor(name);
    return t.contiguous ? t.data.subarray(t.offset * t.itemSize, (t.offset + t.numel) * t.itemSize) : gather(t);
  }

  f32(name: string): Float32Array {
    const out = new Float32Array(this.tensor(name).numel);
    this.f32Into(name, out);
    return out;
  }

  f32Into(name: string, dst: Float32Array): void {
    const t = this.tensor(name);
    if (!isFloatDtype(t.dtype)) {
      throw new WeightsError(`tensor "${name}" has dtype ${t.dtype}, which cannot be read as floats; supported: ${FLOAT_DTYPES.join(', ')}`);
    }
    if (!LITTLE_ENDIAN) throw new UnsupportedError('reading pytorch_model.bin needs a little-endian host');
    if (dst.length !== t.numel) throw new WeightsError(`tensor "${name}" has ${t.numel} values, the destination ${dst.length}`);
    const bytes = this.raw(name);
    if (t.dtype === 'F32') {
      new Uint8Array(dst.buffer, dst.byteOffset, bytes.length).set(bytes);
      return;
    }
    let src: Uint16Array;
    if ((bytes.byteOffset & 1) === 0) src = new Uint16Array(bytes.buffer, bytes.byteOffset, t.numel);
    else {
      src = new Uint16Array(t.numel);
      new Uint8Array(src.buffer).set(bytes);
    }
    if (t.dtype === 'F16') f16ToF32(src, dst);
    else bf16ToF32(src, dst);
  }

  /** Lets go of the file's bytes; tensors cannot be read afterwards. */
  close(): void {
    this.tensors = null;
  }

  private tensor(name: string): Tensor {
    if (!this.tensors) throw new WeightsError(`${this.label} was read after the model finished loading (the store is closed)`);
    const t = this.tensors.get(name);
    if (t === undefined) throw new WeightsError(`no tensor named "${name}" in the weights`);
    return t;
  }
}

/** Copies a strided tensor into row-major order (bounds were checked when the checkpoint was parsed). */
function gather(t: Tensor): Uint8Array {
  const k = t.itemSize, out = new Uint8Array(t.numel * k), nd = t.shape.length;
  if (t.numel === 0) return out;
  if (nd === 0) return out.set(t.data.subarray(t.offset * k, t.offset * k + k)), out;
  const inner = t.shape[nd - 1], innerStride = t.stride[nd - 1], idx = new Array<number>(nd).fill(0);
  let src = t.offset, dst = 0;
  for (let row = 0, rows = t.numel / inner; row < rows; row++) {
    if (innerStride === 1) {
      out.set(t.data.subarray(src * k, (src + inner) * k), dst);
      dst += inner * k;
    } else {
      for (let j = 0, s = src * k; j < inner; j++, s += innerStride * k) for (let b = 0; b < k; b++) out[dst++] = t.data[s + b];
    }
    for (let d = nd - 2; d >= 0; d--) {
      src += t.stride[d];
      if (++idx[d] < t.shape[d]) break;
      src -= t.stride[d] * t.shape[d];
      idx[d] = 0;
    }
  }
  return out;
}

/** Parses and fully checks one torch.save file (either layout). `label` names it in errors. */
export function parsePytorchBin(bytes: Uint8Array, label = 'pytorch_model.bin'): PytorchCheckpoint {
  if (!LITTLE_ENDIAN) throw new UnsupportedError('reading pytorch_model.bin needs a little-endian host');
  if (looksLikeZip(bytes)) return readZipCheckpoint(bytes, label);
  if (bytes.length >= 2 && bytes[0] === 0x80) return readLegacyCheckpoint(bytes, label);
  if (bytes.length >= 262 && new TextDecoder().decode(bytes.subarray(257, 262)) === 'ustar') {
    throw new UnsupportedError(`${label} is a tar archive (torch.save before 0.4); only the zip and legacy formats are read`);
  }
  if (new TextDecoder().decode(bytes.subarray(0, 40)).startsWith('version https://git-lfs.github.com/spec/')) {
    throw new SourceError(`${label} is a Git LFS pointer (${bytes.length} bytes of text), not the weights: fetch the real file ` +
      '(git lfs pull) or load the model from its Hub URL');
  }
  const head = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new WeightsError(`${label} is not a PyTorch checkpoint: it starts with bytes ${head || '(none: the file is empty)'}, ` +
    'not a zip archive (50 4b 03 04) nor a pickle (80 02)');
}

function readZipCheckpoint(bytes: Uint8Array, label: string): PytorchCheckpoint {
  const fail = (msg: string): never => { throw new WeightsError(`${label}: ${msg}`); };
  const entries = readZip(bytes, label);
  const pkls = [...entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkls.length !== 1) fail(`the zip archive has ${pkls.length} '<folder>/data.pkl' entries, expected exactly 1`);
  const prefix = pkls[0].slice(0, -'data.pkl'.length);
  const body = (name: string) => {
    const e = entries.get(name)!;
    return bytes.subarray(e.start, e.start + e.size);
  };
  const order = entries.get(prefix + 'byteorder');
  if (order) {
    const text = new TextDecoder().decode(body(order.name)).trim();
    if (text === 'big') throw new UnsupportedError(`${label} was saved on a big-endian machine; only little-endian checkpoints are read`);
    if (text !== 'little') fail(`${order.name} says ${JSON.stringify(text.slice(0, 20))}, expected "little" or "big"`);
  }
  // Every entry read is checked against its CRC-32 (torch.load itself does not; without it a damaged record, or a
  // local header pointing a few bytes off, would load as other values). A stored CRC of 0 is what torch writes
  // when told not to compute CRCs (torch.serialization.set_crc32_options(False)): nothing to check then.
  const checkCrc = (name: string, data: Uint8Array, what: string) => {
    const stored = entries.get(name)!.crc32, computed = stored === 0 ? 0 : crc32(data);
    if (computed !== stored) fail(`${what} fails its CRC-32 check (stored ${hex(stored)}, computed ${hex(computed)}): the archive is corrupt`);
  };
  const pkl = entries.get(pkls[0])!;
  const pklBytes = body(pkl.name);
  checkCrc(pkl.name, pklBytes, pkl.name);
  const hooks = new TorchHooks(bytes.length);
  const { value, end } = unpickle(pklBytes, 0, hooks, `${label} (${pkl.name})`);
  if (end !== pklBytes.length) fail(`${pkl.name} has ${pklBytes.length - end} bytes after the pickle's STOP`);
  const storages = new Map<string, Uint8Array>();
  for (const [key, ref] of hooks.declared) {
    const name = `${prefix}data/${key}`;
    const e = entries.get(name);
    if (!e) fail(`storage "${key}" has no entry ${name} in the archive`);
    const want = ref.numel * ref.type.itemSize;
    if (e!.size !== want) {
      fail(`storage "${key}" (${name}) holds ${e!.size} bytes, but the pickle declares ${ref.numel} × ${ref.type.pyType} ` +
        `= ${want} bytes`);
    }
    checkCrc(name, body(name), `storage "${key}" (${name})`);
    storages.set(key, body(name));
  }
  return new PytorchCheckpoint(label, 'zip', tensorsOf(value, storages, label, bytes.length));
}

function readLegacyCheckpoint(bytes: Uint8Array, label: string): PytorchCheckpoint {
  const fail = (msg: string): never => { throw new WeightsError(`${label}: ${msg}`); };
  const step = (start: number, what: string, hooks = PLAIN_DATA) => unpickle(bytes, start, hooks, `${label} (legacy format, ${what})`);
  const magic = step(0, 'pickle 1 of 5: the magic number');
  if (typeof magic.value !== 'bigint' || magic.value !== LEGACY_MAGIC) {
    fail('not a PyTorch checkpoint: a pickle, but not the legacy torch.save magic number');
  }
  const protocol = step(magic.end, 'pickle 2 of 5: the protocol version');
  if (protocol.value !== LEGACY_PROTOCOL) throw new UnsupportedError(`${label}: legacy protocol version ${String(protocol.value)} is not supported (1001 is)`);
  const sysInfo = step(protocol.end, 'pickle 3 of 5: sys_info');
  if (!(sysInfo.value instanceof PyDict)) fail('the legacy sys_info pickle is not a dict');
  const little = (sysInfo.value as PyDict).map.get('slittle_endian')?.[1];
  if (little === false) throw new UnsupportedError(`${label} was saved on a big-endian machine; only little-endian checkpoints are read`);
  const hooks = new TorchHooks(bytes.length);
  const state = step(sysInfo.end, 'pickle 4 of 5: the state dict', hooks);
  const keys = step(state.end, 'pickle 5 of 5: the storage keys');
  const list = keys.value instanceof PyList ? keys.value.items : null;
  if (!list || !list.every((k): k is string => typeof k === 'string')) fail('the legacy storage key list is not a list of strings');
  const unique = new Set(list as string[]);
  if (unique.size !== list!.length || unique.size !== hooks.declared.size || ![...hooks.declared.keys()].every((k) => unique.has(k))) {
    fail(`the legacy storage key list (${list!.length} keys, ${unique.size} distinct) does not match the ${hooks.declared.size} ` +
      'storages the state dict uses');
  }
  const storages = new Map<string, Uint8Array>();
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = keys.end;
  for (const key of list as string[]) {
    const ref = hooks.declared.get(key)!;
    if (pos + 8 > bytes.length) fail(`the file ends at byte ${bytes.length}, before the data of storage "${key}"`);
    const count = dv.getBigInt64(pos, true);
    if (count !== BigInt(ref.numel)) fail(`storage "${key}" at byte ${pos}: its data header says ${count} elements, the pickle declares ${ref.numel}`);
    const n = ref.numel * ref.type.itemSize;
    pos += 8;
    if (n > bytes.length - pos) fail(`the file ends inside the data of storage "${key}" (${bytes.length - pos} of its ${n} bytes present)`);
    storages.set(key, bytes.subarray(pos, pos + n));
    pos += n;
  }
  if (pos !== bytes.length) fail(`${bytes.length - pos} unexpected bytes after the data of the last storage`);
  return new PytorchCheckpoint(label, 'legacy', tensorsOf(state.value, storages, label, bytes.length));
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
const fmt = (a: readonly number[]) => `[${a.join(', ')}]`;

/** The state dict's tensors, each checked against its storage. */
function tensorsOf(value: PyValue, storages: Map<string, Uint8Array>, label: string, fileSize: number): Map<string, Tensor> {
  const fail = (msg: string): never => { throw new WeightsError(`${label}: ${msg}`); };
  if (!(value instanceof PyDict)) fail(`the pickled object is ${describe(value)}, not a state dict (a dict of tensors)`);
  const out = new Map<string, Tensor>();
  for (const [k, v] of (value as PyDict).entries()) {
    if (typeof k !== 'string') fail('a state dict key is not a string');
    const name = k as string;
    if (!(v instanceof TensorRef)) {
      const hint = v instanceof PyDict ? ' (a nested dict: save the model\'s state_dict() itself)' : '';
      fail(`entry "${name}" is ${describe(v)}, not a tensor${hint}`);
    }
    out.set(name, checkTensor(name, v as TensorRef, storages.get((v as TensorRef).storage.key)!, fail, fileSize));
  }
  return out;
}

function checkTensor(name: string, t: TensorRef, data: Uint8Array, fail: (m: string) => never, fileSize: number): Tensor {
  const s: StorageRef = t.storage;
  const { offset, size, stride } = t;
  const where = `(offset ${offset}, size ${fmt(size)}, stride ${fmt(stride)})`;
  if (size.length > MAX_DIMS) fail(`tensor "${name}" has ${size.length} dimensions, more than the ${MAX_DIMS} allowed`);
  if (offset < 0 || size.some((d) => d < 0) || stride.some((d) => d < 0)) fail(`tensor "${name}" has a negative storage offset, size or stride ${where}`);
  let numel = 1;
  for (const d of size) numel *= d;
  const bytes = numel * s.type.itemSize;
  if (!Number.isSafeInteger(bytes) || bytes > fileSize) {
    fail(`tensor "${name}" has ${numel} elements, ${bytes} bytes: more than the whole ${fileSize}-byte file ${where}`);
  }
  let last = offset;
  for (let i = 0; i < size.length; i++) last += (size[i] - 1) * stride[i];
  if (numel > 0 && !(last < s.numel)) {
    fail(`tensor "${name}" reaches element ${last} of storage "${s.key}", which has only ${s.numel} elements ${where}`);
  }
  let contiguous = true;
  for (let i = size.length - 1, want = 1; i >= 0; i--) {
    if (size[i] !== 1 && stride[i] !== want) contiguous = false;
    want *= size[i];
  }
  return {
    storage: s.key, dtype: s.type.dtype, shape: size, offset, stride, itemSize: s.type.itemSize, numel,
    contiguous: contiguous || numel === 0, data,
  };
}
