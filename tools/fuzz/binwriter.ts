// Writing pytorch_model.bin files from scratch, for the tests and the fuzzer: a pickle assembler (protocol 2, the
// opcodes torch.save emits), a state-dict pickle laid out as torch writes it, the stored ZIP archive and the legacy
// layout. Hostile files are built by assembling pickles by hand or by editing what these produce. Not part of the
// library: it never needs to write a .bin file.
import { crc32 } from '../../bindings/weights/zip.js';

export class PickleAsm {
  private bytes: number[] = [];
  private readonly memo = new Map<string, number>();

  /** Raw bytes (opcodes and arguments). */
  raw(...b: number[]): this { for (const x of b) this.bytes.push(x & 0xff); return this; }
  proto(v = 2): this { return this.raw(0x80, v); }
  stop(): this { return this.raw(0x2e); }
  mark(): this { return this.raw(0x28); }
  u32(n: number): this { return this.raw(n, n >>> 8, n >>> 16, n >>> 24); }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    this.raw(0x58).u32(b.length);
    for (const x of b) this.bytes.push(x);
    return this;
  }
  int(n: number | bigint): this {
    if (typeof n === 'number' && Number.isInteger(n) && n >= 0 && n < 256) return this.raw(0x4b, n);
    if (typeof n === 'number' && Number.isInteger(n) && n >= 0 && n < 65536) return this.raw(0x4d, n, n >> 8);
    if (typeof n === 'number' && Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31) return this.raw(0x4a).u32(n >>> 0);
    // LONG1: little-endian two's complement, as short as the sign allows
    let v = BigInt(n);
    const out: number[] = [];
    for (;;) {
      const byte = Number(v & 0xffn);
      out.push(byte);
      v >>= 8n;
      if ((v === 0n && !(byte & 0x80)) || (v === -1n && byte & 0x80)) break;
    }
    return this.raw(0x8a, out.length, ...out);
  }
  global(module: string, name: string): this {
    const key = `${module}\n${name}`;
    const at = this.memo.get(key);
    if (at !== undefined) return this.raw(0x68, at);
    this.raw(0x63);
    for (const x of new TextEncoder().encode(`${module}\n${name}\n`)) this.bytes.push(x);
    return this.put(key);
  }
  /** BINPUT under a name, so that later uses can BINGET it (torch memoises every global and string). */
  put(key: string): this {
    const i = this.memo.size;
    this.memo.set(key, i);
    return i < 256 ? this.raw(0x71, i) : this.raw(0x72).u32(i);
  }
  /** TUPLE1..3 / EMPTY_TUPLE for what is on the stack (n <= 3). */
  tuple(n: number): this { return n === 0 ? this.raw(0x29) : this.raw(0x84 + n); }
  /** A tuple of ints, as torch pickles a size or a stride. */
  ints(v: readonly (number | bigint)[]): this {
    if (v.length > 3) this.mark();
    for (const d of v) this.int(d);
    return v.length > 3 ? this.raw(0x74) : this.tuple(v.length);
  }
  build(): Uint8Array { return Uint8Array.from(this.bytes); }
}

export type StorageName = 'FloatStorage' | 'HalfStorage' | 'BFloat16Storage' | 'DoubleStorage' | 'LongStorage' | 'IntStorage' |
  'ShortStorage' | 'CharStorage' | 'ByteStorage' | 'BoolStorage';

export interface SpecTensor {
  name: string;
  storage: { key: string; type: StorageName; numel: number };
  offset: number;
  size: number[];
  stride: number[];
}

export interface StateDictOptions {
  /** Legacy layout: persistent ids have a sixth element, the view metadata None. */
  legacy?: boolean;
  /** An OrderedDict with `_metadata` set by BUILD (what torch.save(model.state_dict()) writes) instead of a dict. */
  ordered?: boolean;
  /** Wrap each tensor in torch._utils._rebuild_parameter (a saved nn.Parameter). */
  parameters?: boolean;
}

/** A state-dict pickle as torch.save writes it: {name: _rebuild_tensor_v2(persistent storage, offset, size, stride, False, OrderedDict())}. */
export function stateDictPickle(tensors: readonly SpecTensor[], opts: StateDictOptions = {}): Uint8Array {
  const p = new PickleAsm().proto();
  if (opts.ordered) p.global('collections', 'OrderedDict').tuple(0).raw(0x52);
  else p.raw(0x7d);
  p.put('top').mark();
  const typesSeen = new Set<string>();
  for (const t of tensors) {
    p.str(t.name);
    if (opts.parameters) p.global('torch._utils', '_rebuild_parameter').mark();
    p.global('torch._utils', '_rebuild_tensor_v2').mark().mark().str('storage');
    p.global('torch', t.storage.type);
    typesSeen.add(t.storage.type);
    p.str(t.storage.key).str('cpu').int(t.storage.numel);
    if (opts.legacy) p.raw(0x4e);
    p.raw(0x74).raw(0x51); // TUPLE, BINPERSID
    p.int(t.offset);
    p.ints(t.size).ints(t.stride);
    p.raw(0x89).global('collections', 'OrderedDict').tuple(0).raw(0x52); // requires_grad False, backward_hooks OrderedDict()
    p.raw(0x74).raw(0x52); // TUPLE (the args), REDUCE
    if (opts.parameters) p.raw(0x89).global('collections', 'OrderedDict').tuple(0).raw(0x52).raw(0x74).raw(0x52);
  }
  p.raw(0x75); // SETITEMS
  if (opts.ordered) {
    // BUILD with {'_metadata': OrderedDict({'': {'version': 1}})}
    p.raw(0x7d).mark().str('_metadata').global('collections', 'OrderedDict').tuple(0).raw(0x52)
      .mark().str('').raw(0x7d).mark().str('version').int(1).raw(0x75).raw(0x75).raw(0x75).raw(0x62);
  }
  return p.stop().build();
}

export interface ZipFile { name: string; data: Uint8Array; /** CRC-32 to write (default: computed) */ crc?: number }

/** A stored (uncompressed) ZIP, data aligned to `align` bytes with an extra field as torch pads it. */
export function zipStored(files: readonly ZipFile[], align = 64): Uint8Array {
  const parts: Uint8Array[] = [], central: Uint8Array[] = [];
  let at = 0;
  const enc = new TextEncoder();
  for (const f of files) {
    const name = enc.encode(f.name), crc = f.crc ?? crc32(f.data);
    const base = at + 30 + name.length;
    const pad = align > 1 ? (align - ((base + 4) % align)) % align : 0;
    const extraLen = align > 1 ? 4 + pad : 0;
    const local = new Uint8Array(30 + name.length + extraLen);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true); lv.setUint16(4, 20, true); lv.setUint32(14, crc, true);
    lv.setUint32(18, f.data.length, true); lv.setUint32(22, f.data.length, true);
    lv.setUint16(26, name.length, true); lv.setUint16(28, extraLen, true);
    local.set(name, 30);
    if (extraLen) { lv.setUint16(30 + name.length, 0x4246, true); lv.setUint16(32 + name.length, pad, true); }
    const cd = new Uint8Array(46 + name.length);
    const cv = new DataView(cd.buffer);
    cv.setUint32(0, 0x02014b50, true); cv.setUint16(4, 20, true); cv.setUint16(6, 20, true); cv.setUint32(16, crc, true);
    cv.setUint32(20, f.data.length, true); cv.setUint32(24, f.data.length, true); cv.setUint16(28, name.length, true);
    cv.setUint32(42, at, true);
    cd.set(name, 46);
    parts.push(local, f.data);
    central.push(cd);
    at += local.length + f.data.length;
  }
  const cdSize = central.reduce((a, c) => a + c.length, 0);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true); ev.setUint16(8, files.length, true); ev.setUint16(10, files.length, true);
  ev.setUint32(12, cdSize, true); ev.setUint32(16, at, true);
  return concat([...parts, ...central, eocd]);
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** A zip-format pytorch_model.bin: `<folder>/data.pkl`, `<folder>/data/<key>`, `<folder>/version`. */
export function torchZip(pickle: Uint8Array, storages: ReadonlyMap<string, Uint8Array>, folder = 'pytorch_model'): Uint8Array {
  return zipStored([
    { name: `${folder}/data.pkl`, data: pickle },
    ...[...storages].map(([key, data]) => ({ name: `${folder}/data/${key}`, data })),
    { name: `${folder}/version`, data: new TextEncoder().encode('3\n') },
  ]);
}

/** A legacy-format file: magic, protocol, sys_info, the state dict pickle, the key list, then the storages in key-list order. */
export function torchLegacy(pickle: Uint8Array, storages: ReadonlyMap<string, Uint8Array>, itemSizes: ReadonlyMap<string, number>,
  keyOrder: readonly string[] = [...storages.keys()]): Uint8Array {
  const magic = new PickleAsm().proto().int(0x1950a86a20f9469cfc6cn).stop().build();
  const protocol = new PickleAsm().proto().int(1001).stop().build();
  const sys = new PickleAsm().proto().raw(0x7d).mark().str('protocol_version').int(1001).str('little_endian').raw(0x88)
    .str('type_sizes').raw(0x7d).mark().str('short').int(2).str('int').int(4).str('long').int(4).raw(0x75).raw(0x75).stop().build();
  const keys = new PickleAsm().proto().raw(0x5d).mark();
  for (const k of keyOrder) keys.str(k);
  const parts = [magic, protocol, sys, pickle, keys.raw(0x65).stop().build()];
  for (const k of keyOrder) {
    const data = storages.get(k)!;
    const head = new Uint8Array(8);
    new DataView(head.buffer).setBigUint64(0, BigInt(data.length / itemSizes.get(k)!), true);
    parts.push(head, data);
  }
  return concat(parts);
}

/** Contiguous tensors, each on a storage of its own unless `shareWith` names an earlier tensor (tied weights). */
export function simpleCheckpoint(tensors: readonly { name: string; type?: StorageName; shape: number[]; bytes: Uint8Array; shareWith?: string }[]) {
  const specs: SpecTensor[] = [], storages = new Map<string, Uint8Array>(), itemSizes = new Map<string, number>();
  const itemOf: Record<StorageName, number> = {
    FloatStorage: 4, HalfStorage: 2, BFloat16Storage: 2, DoubleStorage: 8, LongStorage: 8, IntStorage: 4,
    ShortStorage: 2, CharStorage: 1, ByteStorage: 1, BoolStorage: 1,
  };
  for (const t of tensors) {
    const type = t.type ?? 'FloatStorage';
    const shared = t.shareWith !== undefined ? specs.find((s) => s.name === t.shareWith) : undefined;
    const key = shared?.storage.key ?? String(storages.size);
    const numel = t.bytes.length / itemOf[type];
    if (!shared) { storages.set(key, t.bytes); itemSizes.set(key, itemOf[type]); }
    const stride = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    specs.push({ name: t.name, storage: { key, type, numel }, offset: 0, size: t.shape, stride });
  }
  return { specs, storages, itemSizes };
}
