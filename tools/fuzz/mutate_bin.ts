// Mutations of a valid pytorch_model.bin for the fuzzer (pytorch_bin.ts): blind ones (byte flips, truncations,
// insertions, deletions) and field-aware ones that know the layout — the pickle's opcodes and their arguments
// (integers, strings, globals), the ZIP records' fields, the legacy file's element counts, and the tensors'
// offset/size/stride/numel rewritten into a well-formed file — so that cases get past the outer checks and reach
// the inner ones. Everything is a function of the case's seed.
import { readZip } from '../../bindings/weights/zip.js';
import { parsePytorchBin } from '../../bindings/weights/pytorch.js';
import { concat, stateDictPickle, torchLegacy, torchZip, zipStored, type SpecTensor, type StorageName, type ZipFile } from './binwriter.js';

/** mulberry32: small, fast, deterministic per seed. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: <T>(a: readonly T[]): T => a[int(a.length)] };
}
export type Rng = ReturnType<typeof rng>;

/** What the mutators know about one base file. */
export interface Base {
  name: string;
  bytes: Uint8Array;
  format: 'zip' | 'legacy';
  /** the state-dict pickle: its range in the file (legacy) or the data.pkl entry (zip) */
  pickle: { start: number; end: number };
  /** zip: the entries, in file order, with their CRCs; the central directory and EOCD offsets */
  zip?: { files: ZipFile[]; pklIndex: number; cd: number; eocd: number; locals: number[]; locator: number; eocd64: number };
  /** legacy: offsets of the int64 element counts */
  counts?: number[];
  specs: SpecTensor[];
  storages: Map<string, Uint8Array>;
  itemSizes: Map<string, number>;
}

const STORAGE_OF: Record<string, StorageName> = {
  F32: 'FloatStorage', F16: 'HalfStorage', BF16: 'BFloat16Storage', F64: 'DoubleStorage', I64: 'LongStorage',
  I32: 'IntStorage', I16: 'ShortStorage', I8: 'CharStorage', U8: 'ByteStorage', BOOL: 'BoolStorage',
};

/** Walks a pickle's opcodes: [offset, opcode, argument length] for each (the opcodes torch writes). */
export function opcodes(p: Uint8Array): [number, number, number][] {
  const out: [number, number, number][] = [];
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
  for (let i = 0; i < p.length;) {
    const op = p[i];
    let n = 0;
    if (op === 0x80 || op === 0x4b || op === 0x71 || op === 0x68) n = 1;
    else if (op === 0x4d) n = 2;
    else if (op === 0x4a || op === 0x72 || op === 0x6a) n = 4;
    else if (op === 0x58) n = 4 + dv.getUint32(i + 1, true);
    else if (op === 0x8c || op === 0x8a) n = 1 + p[i + 1];
    else if (op === 0x63) { const a = p.indexOf(10, i + 1); n = p.indexOf(10, a + 1) - i; }
    out.push([i, op, n]);
    i += 1 + n;
    if (op === 0x2e) break;
  }
  return out;
}

const ITEM: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export function describeBase(name: string, bytes: Uint8Array): Base {
  const ck = parsePytorchBin(bytes, name);
  const itemSizes = new Map<string, number>(), storages = new Map<string, Uint8Array>();
  const specs: SpecTensor[] = ck.names.map((n) => {
    const l = ck.layout(n);
    itemSizes.set(l.storage, ITEM[l.dtype]);
    return { name: n, storage: { key: l.storage, type: STORAGE_OF[l.dtype], numel: 0 }, offset: l.offset, size: [...l.shape], stride: [...l.stride] };
  });
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pickle: Base['pickle'], zip: Base['zip'], counts: number[] | undefined;
  if (ck.format === 'zip') {
    const entries = [...readZip(bytes, name).values()].sort((a, b) => a.start - b.start);
    const files = entries.map((e) => ({ name: e.name, data: bytes.slice(e.start, e.start + e.size), crc: e.crc32 }));
    const pklIndex = files.findIndex((f) => f.name.endsWith('/data.pkl'));
    const prefix = files[pklIndex].name.slice(0, -'data.pkl'.length);
    for (const key of itemSizes.keys()) storages.set(key, files.find((f) => f.name === `${prefix}data/${key}`)!.data);
    let eocd = bytes.length - 22;
    while (dv.getUint32(eocd, true) !== 0x06054b50) eocd--;
    const cd = dv.getUint32(eocd + 16, true);
    const locals: number[] = [];
    for (let i = 0, p = cd; i < files.length; i++, p += 46 + dv.getUint16(p + 28, true) + dv.getUint16(p + 30, true) + dv.getUint16(p + 32, true)) {
      locals.push(dv.getUint32(p + 42, true));
    }
    // torch's writer (miniz) always adds a ZIP64 end record and its locator before the EOCD
    const locator = eocd >= 20 && dv.getUint32(eocd - 20, true) === 0x07064b50 ? eocd - 20 : -1;
    const eocd64 = locator >= 0 ? Number(dv.getBigUint64(locator + 8, true)) : -1;
    pickle = { start: entries[pklIndex].start, end: entries[pklIndex].start + entries[pklIndex].size };
    zip = { files, pklIndex, cd, eocd, locals, locator, eocd64 };
  } else {
    const ends: number[] = []; // the five pickles, back to back
    for (let at = 0, i = 0; i < 5; i++) { const ops = opcodes(bytes.subarray(at)); at += ops[ops.length - 1][0] + 1; ends.push(at); }
    pickle = { start: ends[2], end: ends[3] };
    const keyList = bytes.subarray(ends[3], ends[4]);
    const keys = opcodes(keyList).filter(([, op]) => op === 0x58).map(([o, , n]) => new TextDecoder().decode(keyList.subarray(o + 5, o + 1 + n)));
    counts = [];
    let at = ends[4];
    for (const key of keys) { // each storage: an int64 element count, then the data
      counts.push(at);
      const n = Number(dv.getBigUint64(at, true)) * itemSizes.get(key)!;
      storages.set(key, bytes.slice(at + 8, at + 8 + n));
      at += 8 + n;
    }
  }
  for (const s of specs) s.storage.numel = storages.get(s.storage.key)!.length / itemSizes.get(s.storage.key)!;
  return { name, bytes, format: ck.format, pickle, zip, counts, specs, storages, itemSizes };
}

const INTERESTING = [0, 1, -1, 2, 3, 7, 63, 64, 255, 256, 65535, 65536, 2 ** 31 - 1, -(2 ** 31), 2 ** 32, 2 ** 53 - 1, 2 ** 53, -(2 ** 53), 1e9];
const STRINGS = ['', 'storage', 'x', '0', '1', 'cpu', '../0', 'data.pkl', 'a'.repeat(5000), '\u0000', 'model.shared.weight', 'lm_head.weight'];
const GLOBALS = [['os', 'system'], ['builtins', 'eval'], ['builtins', 'getattr'], ['torch', 'FloatStorage'], ['torch', 'HalfStorage'],
  ['torch', 'LongStorage'], ['torch', 'QInt8Storage'], ['collections', 'OrderedDict'], ['torch._utils', '_rebuild_tensor_v2'],
  ['torch._utils', '_rebuild_parameter'], ['torch._utils', '_rebuild_tensor'], ['numpy.core.multiarray', '_reconstruct'], ['torch', '']];
const OPS = [0x52, 0x62, 0x28, 0x2e, 0x30, 0x31, 0x74, 0x75, 0x73, 0x61, 0x65, 0x32, 0x81, 0x51, 0x7d, 0x5d, 0x29, 0x4e, 0x88, 0x89,
  0x85, 0x86, 0x87, 0x93, 0x94, 0x95, 0x6c, 0x64, 0x8d, 0x8b, 0x47, 0x69, 0x6f, 0x92, 0x42, 0x43];

const u32le = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
function intOp(v: number): number[] {
  if (v >= -(2 ** 31) && v < 2 ** 31) return [0x4a, ...u32le(v >>> 0)];
  let b = BigInt(v);
  const out: number[] = [];
  for (;;) { const x = Number(b & 0xffn); out.push(x); b >>= 8n; if ((b === 0n && !(x & 0x80)) || (b === -1n && x & 0x80)) break; }
  return [0x8a, out.length, ...out];
}
const strOp = (s: string | Uint8Array) => { const b = typeof s === 'string' ? new TextEncoder().encode(s) : s; return [0x58, ...u32le(b.length), ...b]; };

/** One field-aware change to a pickle; returns the new pickle and what was done. */
function mutatePickle(p: Uint8Array, r: Rng): [Uint8Array, string] {
  const ops = opcodes(p);
  const [at, op, n] = r.pick(ops);
  const before = p.subarray(0, at), after = p.subarray(at + 1 + n);
  const splice = (mid: number[] | Uint8Array) => concat([before, Uint8Array.from(mid), after]);
  const ints = ops.filter(([, o]) => o === 0x4b || o === 0x4d || o === 0x4a || o === 0x8a);
  const strs = ops.filter(([, o]) => o === 0x58);
  const globals = ops.filter(([, o]) => o === 0x63);
  switch (r.int(7)) {
    case 0: { // an integer argument → an interesting value
      const [a, , m] = r.pick(ints);
      return [concat([p.subarray(0, a), Uint8Array.from(intOp(r.pick(INTERESTING) + (r.int(3) - 1))), p.subarray(a + 1 + m)]), 'pickle-int'];
    }
    case 1: { // a string → an interesting one, or invalid UTF-8
      const [a, , m] = r.pick(strs);
      const s = r.int(5) === 0 ? Uint8Array.from([0xff, 0xfe, 0xc0]) : r.pick(STRINGS);
      return [concat([p.subarray(0, a), Uint8Array.from(strOp(s)), p.subarray(a + 1 + m)]), 'pickle-str'];
    }
    case 2: { // a GLOBAL → another name
      const [a, , m] = r.pick(globals);
      const [mod, name] = r.pick(GLOBALS);
      return [concat([p.subarray(0, a), Uint8Array.from([0x63, ...new TextEncoder().encode(`${mod}\n${name}\n`)]), p.subarray(a + 1 + m)]), 'pickle-global'];
    }
    case 3: return [splice([r.pick(OPS)]), 'pickle-opcode']; // an opcode (with its argument) → another opcode
    case 4: return [concat([before, after]), 'pickle-delete-op'];
    case 5: return [concat([p.subarray(0, at + 1 + n), p.subarray(at, at + 1 + n), after]), 'pickle-duplicate-op'];
    default: { // a random range copied elsewhere
      const [a] = r.pick(ops), [b] = r.pick(ops), [c] = r.pick(ops);
      const lo = Math.min(a, b), hi = Math.max(a, b);
      return [concat([p.subarray(0, c), p.subarray(lo, hi), p.subarray(c)]), 'pickle-splice'];
    }
  }
}

function withPickle(base: Base, pkl: Uint8Array, r: Rng): Uint8Array {
  if (base.format === 'legacy') return concat([base.bytes.subarray(0, base.pickle.start), pkl, base.bytes.subarray(base.pickle.end)]);
  const files = base.zip!.files.map((f, i) => (i === base.zip!.pklIndex ? { ...f, data: pkl, crc: r.int(8) === 0 ? f.crc : undefined } : f));
  return zipStored(files);
}

/** The tensors' metadata rewritten into a well-formed file (bounds and sizes checked by the reader). */
function mutateSpecs(base: Base, r: Rng): [Uint8Array, string] {
  const specs = base.specs.map((s) => ({ ...s, storage: { ...s.storage }, size: [...s.size], stride: [...s.stride] }));
  const t = r.pick(specs);
  const v = () => r.pick(INTERESTING) + r.int(3) - 1;
  const what = r.int(6);
  if (what === 0) t.offset = v();
  else if (what === 1 && t.size.length) t.size[r.int(t.size.length)] = v();
  else if (what === 2 && t.stride.length) t.stride[r.int(t.stride.length)] = v();
  else if (what === 3) { for (const s of specs) if (s.storage.key === t.storage.key) s.storage.numel = v(); }
  else if (what === 4) { t.size.push(r.int(3)); t.stride.push(r.int(3)); }
  else t.storage.type = r.pick(Object.values(STORAGE_OF));
  const pkl = stateDictPickle(specs, { legacy: base.format === 'legacy' });
  const file = base.format === 'zip' ? torchZip(pkl, base.storages) : torchLegacy(pkl, base.storages, base.itemSizes);
  return [file, 'tensor-meta'];
}

const FIELDS_CD = [[8, 2], [10, 2], [16, 4], [20, 4], [24, 4], [28, 2], [30, 2], [32, 2], [34, 2], [42, 4]] as const;
const FIELDS_EOCD = [[4, 2], [6, 2], [8, 2], [10, 2], [12, 4], [16, 4], [20, 2]] as const;
const FIELDS_LOCAL = [[6, 2], [8, 2], [18, 4], [22, 4], [26, 2], [28, 2]] as const;
// ZIP64 end record: disk numbers, entry counts, directory size and offset (u64: low and high halves); its locator
const FIELDS_EOCD64 = [[0, 4], [16, 4], [20, 4], [24, 4], [28, 4], [32, 4], [36, 4], [40, 4], [44, 4], [48, 4], [52, 4]] as const;
const FIELDS_LOCATOR = [[0, 4], [4, 4], [8, 4], [12, 4], [16, 4]] as const;

function setField(b: Uint8Array, at: number, size: number, r: Rng): void {
  if (at + size > b.length) return;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const old = size === 2 ? dv.getUint16(at, true) : dv.getUint32(at, true);
  const max = size === 2 ? 0xffff : 0xffffffff;
  const v = r.pick([0, 1, max, max - 1, old + 1, old - 1, old + 64, old - 64, old * 2, b.length, r.int(max)]);
  const x = ((v % (max + 1)) + max + 1) % (max + 1);
  if (size === 2) dv.setUint16(at, x, true); else dv.setUint32(at, x, true);
}

/** One mutated file for `seed` and the names of the mutations applied. */
export function mutate(bases: readonly Base[], seed: number): { base: Base; bytes: Uint8Array; kinds: string[] } {
  const r = rng(seed);
  const base = bases[seed % bases.length];
  let bytes = base.bytes;
  const kinds: string[] = [];
  const rounds = 1 + (r.int(4) === 0 ? r.int(3) : 0);
  for (let i = 0; i < rounds; i++) {
    const copy = () => { if (bytes === base.bytes) bytes = bytes.slice(); return bytes; };
    const inPickle = () => base.pickle.start + r.int(Math.max(1, base.pickle.end - base.pickle.start));
    const pos = () => (r.int(2) ? inPickle() : r.int(bytes.length));
    const k = r.int(10);
    if (k === 0) { const b = copy(); for (let j = 1 + r.int(4); j > 0; j--) { const at = Math.min(pos(), b.length - 1); b[at] = r.int(2) ? b[at] ^ (1 << r.int(8)) : r.int(256); } kinds.push('flip'); }
    else if (k === 1) { bytes = bytes.slice(0, r.int(2) ? r.int(bytes.length) : Math.max(0, bytes.length - 1 - r.int(200))); kinds.push('truncate'); }
    else if (k === 2) { const at = Math.min(pos(), bytes.length); bytes = concat([bytes.subarray(0, at), Uint8Array.from({ length: 1 + r.int(32) }, () => r.int(256)), bytes.subarray(at)]); kinds.push('insert'); }
    else if (k === 3) { const at = Math.min(pos(), bytes.length); bytes = concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + 1 + r.int(64)))]); kinds.push('delete'); }
    else if (k <= 5 && bytes === base.bytes) { // field-aware pickle change, re-embedded (zip: CRC recomputed 7 times in 8)
      const [pkl, kind] = mutatePickle(bytes.subarray(base.pickle.start, base.pickle.end), r);
      bytes = withPickle(base, pkl, r);
      kinds.push(kind);
    } else if (k === 6 && bytes === base.bytes) { const [f, kind] = mutateSpecs(base, r); bytes = f; kinds.push(kind); }
    else if (k === 7 && base.zip && bytes === base.bytes) { // a ZIP record field
      const b = copy(), z = base.zip, which = r.int(z.eocd64 >= 0 ? 5 : 3);
      if (which === 0) { let p = z.cd; for (let j = r.int(z.files.length); j > 0; j--) p += 46 + b[p + 28] + (b[p + 29] << 8) + b[p + 30] + (b[p + 31] << 8) + b[p + 32] + (b[p + 33] << 8); const [o, s] = r.pick(FIELDS_CD); setField(b, p + o, s, r); }
      else if (which === 1) { const [o, s] = r.pick(FIELDS_EOCD); setField(b, z.eocd + o, s, r); }
      else if (which === 2) { const [o, s] = r.pick(FIELDS_LOCAL); setField(b, r.pick(z.locals) + o, s, r); }
      else if (which === 3) { const [o, s] = r.pick(FIELDS_EOCD64); setField(b, z.eocd64 + o, s, r); }
      else { const [o, s] = r.pick(FIELDS_LOCATOR); setField(b, z.locator + o, s, r); }
      kinds.push('zip-field');
    } else if (k === 7 && base.counts && bytes === base.bytes) { // a legacy element count
      const b = copy(), at = r.pick(base.counts);
      new DataView(b.buffer).setBigInt64(at, BigInt(r.pick(INTERESTING)) + BigInt(r.int(3) - 1), true);
      kinds.push('legacy-count');
    } else if (k === 8 && base.zip && bytes === base.bytes) { // a storage record resized consistently in both headers
      const files = base.zip.files.map((f) => ({ ...f }));
      const f = files[r.int(files.length)];
      f.data = r.int(2) ? f.data.subarray(0, r.int(f.data.length + 1)) : concat([f.data, new Uint8Array(1 + r.int(16))]);
      f.crc = undefined;
      bytes = zipStored(files);
      kinds.push('zip-record-size');
    } else { const b = copy(); const at = pos(); if (at < b.length) b[at] = r.int(256); kinds.push('flip1'); }
  }
  return { base, bytes, kinds };
}
