// Hostile pytorch_model.bin files: each must fail with one typed error naming the file, the tensor / global /
// entry and the limit, before anything is run or allocated beyond the file's size. Files are assembled from
// scratch (tools/fuzz/binwriter.ts) or cut from the fixtures.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Seq2SeqError, SourceError, UnsupportedError, WeightsError } from '../../bindings/errors.js';
import { loadModel } from '../../bindings/model/load.js';
import { parsePytorchBin } from '../../bindings/weights/pytorch.js';
import { LIMITS } from '../../bindings/weights/pickle.js';
import { readZip } from '../../bindings/weights/zip.js';
import { concat, PickleAsm, simpleCheckpoint, stateDictPickle, torchLegacy, torchZip, zipStored, type SpecTensor } from '../../tools/fuzz/binwriter.js';
import { fixtureDir } from '../helpers/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'wasm-seq2seq-hostile-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const MARKER = join(tmp, 'pwned');

function refusal(bytes: Uint8Array, label = 'pytorch_model.bin'): Seq2SeqError {
  try {
    parsePytorchBin(bytes, label);
  } catch (e) {
    if (e instanceof Seq2SeqError) return e;
    throw new Error(`expected a typed error, got ${String(e)}`);
  }
  throw new Error('expected a refusal, the file was accepted');
}
const expectRefusal = (bytes: Uint8Array, Cls: typeof WeightsError | typeof UnsupportedError | typeof SourceError, message: string | RegExp) => {
  const e = refusal(bytes);
  expect(e).toBeInstanceOf(Cls);
  if (typeof message === 'string') expect(e.message).toBe(message);
  else expect(e.message).toMatch(message);
};

// One valid tensor "w" [2, 3] on storage "0" (6 floats), and the file built from edited variants of it.
const W = new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer);
const base = (): SpecTensor => ({ name: 'w', storage: { key: '0', type: 'FloatStorage', numel: 6 }, offset: 0, size: [2, 3], stride: [3, 1] });
const zipOf = (pickle: Uint8Array, data = W) => torchZip(pickle, new Map([['0', data]]));
const withTensor = (edit: (t: SpecTensor) => void, data = W) => {
  const t = base();
  edit(t);
  return zipOf(stateDictPickle([t]), data);
};
const pickle = (build: (p: PickleAsm) => PickleAsm) => build(new PickleAsm().proto()).stop().build();

describe('a valid minimal file (so that each refusal below is caused by its one change)', () => {
  it('loads', () => {
    expect(Array.from(parsePytorchBin(zipOf(stateDictPickle([base()]))).f32('w'))).toEqual([1, 2, 3, 4, 5, 6]);
    const { specs, storages, itemSizes } = simpleCheckpoint([{ name: 'w', shape: [2, 3], bytes: W }]);
    expect(Array.from(parsePytorchBin(torchLegacy(stateDictPickle(specs, { legacy: true }), storages, itemSizes)).f32('w'))).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('code in the pickle is refused by name, never run', () => {
  const where = 'pytorch_model.bin (pytorch_model/data.pkl), byte 2 (opcode 0x63)';
  const allowed = "a checkpoint may only name collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter " +
    'and the torch.<Float|Half|BFloat16|Double|Long|Int|Short|Char|Byte|Bool>Storage types (nothing in it is imported or run)';

  it('os.system (GLOBAL + REDUCE), also through loadModel', async () => {
    const bin = zipOf(pickle((p) => p.global('os', 'system').str(`touch ${MARKER}`).tuple(1).raw(0x52)));
    expectRefusal(bin, WeightsError, `${where}: refusing the global 'os.system': ${allowed}`);
    const dir = join(tmp, 'os_system');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), readFileSync(join(fixtureDir('marian_tiny'), 'config.json')));
    writeFileSync(join(dir, 'pytorch_model.bin'), bin);
    await expect(loadModel(dir)).rejects.toThrow(`refusing the global 'os.system'`);
    expect(existsSync(MARKER)).toBe(false);
  });

  it('builtins.eval through STACK_GLOBAL (protocol 4)', () => {
    const p = new PickleAsm().proto(4).raw(0x8c, 8, ...new TextEncoder().encode('builtins')).raw(0x8c, 4, ...new TextEncoder().encode('eval'))
      .raw(0x93).str('1+1').tuple(1).raw(0x52).stop().build();
    expectRefusal(zipOf(p), WeightsError, `pytorch_model.bin (pytorch_model/data.pkl), byte 18 (opcode 0x93): refusing the global 'builtins.eval': ${allowed}`);
  });

  it('a torch storage type not read (complex, quantised): unsupported, by name', () => {
    expectRefusal(zipOf(pickle((p) => p.global('torch', 'ComplexFloatStorage'))), UnsupportedError,
      `${where}: storage type 'torch.ComplexFloatStorage' is not supported (complex, quantised and float8 tensors are not read); ` +
      'supported: torch.<Float|Half|BFloat16|Double|Long|Int|Short|Char|Byte|Bool>Storage');
  });

  it('a torch function not on the list (_rebuild_parameter_with_state)', () => {
    expectRefusal(zipOf(pickle((p) => p.global('torch._utils', '_rebuild_parameter_with_state'))), WeightsError,
      `${where}: refusing the global 'torch._utils._rebuild_parameter_with_state': ${allowed}`);
  });

  it('REDUCE on something that is not an allowed function', () => {
    expectRefusal(zipOf(pickle((p) => p.str('os.system').tuple(0).raw(0x52))), WeightsError,
      'pytorch_model.bin (pytorch_model/data.pkl), byte 17 (opcode 0x52): REDUCE calls the str "os.system", not an allowed function');
    expectRefusal(zipOf(pickle((p) => p.global('torch', 'FloatStorage').tuple(0).raw(0x52))), WeightsError,
      'pytorch_model.bin (pytorch_model/data.pkl), byte 25 (opcode 0x52): REDUCE calls torch.FloatStorage, which may only appear inside a storage reference');
  });

  it('object-building opcodes (NEWOBJ, INST, OBJ) and unknown opcodes', () => {
    expectRefusal(zipOf(pickle((p) => p.global('collections', 'OrderedDict').tuple(0).raw(0x81))), WeightsError,
      'pytorch_model.bin (pytorch_model/data.pkl), byte 30 (opcode 0x81): opcode NEWOBJ is not allowed in a checkpoint');
    expectRefusal(zipOf(pickle((p) => p.mark().raw(0x69, ...new TextEncoder().encode('os\nsystem\n')))), WeightsError,
      'pytorch_model.bin (pytorch_model/data.pkl), byte 3 (opcode 0x69): opcode INST is not allowed in a checkpoint');
    expectRefusal(zipOf(pickle((p) => p.raw(0xff))), WeightsError,
      'pytorch_model.bin (pytorch_model/data.pkl), byte 2 (opcode 0xff): unknown opcode 0xff');
  });

  it('_rebuild_tensor_v2 with the wrong arguments, backward hooks, tensor metadata', () => {
    const rebuild = (args: (p: PickleAsm) => PickleAsm) => zipOf(pickle((p) => args(p.global('torch._utils', '_rebuild_tensor_v2').mark()).raw(0x74, 0x52)));
    expectRefusal(rebuild((p) => p.int(1)), WeightsError,
      'pytorch_model.bin (pytorch_model/data.pkl), byte 41 (opcode 0x52): _rebuild_tensor_v2 takes (storage, storage_offset, size, ' +
      'stride, requires_grad, backward_hooks[, metadata]), got 1 arguments');
    expectRefusal(rebuild((p) => p.str('x').int(0).tuple(0).tuple(0).raw(0x89).raw(0x4e)), WeightsError,
      /byte \d+ \(opcode 0x52\): _rebuild_tensor_v2: the storage is the str "x", not a storage reference$/);
  });
});

describe('truncated archives', () => {
  const zip = new Uint8Array(readFileSync(join(fixtureDir('marian_tiny_bin_zip'), 'pytorch_model.bin')));
  const legacy = new Uint8Array(readFileSync(join(fixtureDir('marian_tiny_bin_legacy'), 'pytorch_model.bin')));

  it('a zip cut anywhere has no central directory: refused, never read partially', () => {
    for (const cut of [0, 4, 30, 1000, zip.length >> 1, zip.length - 23, zip.length - 22, zip.length - 1]) {
      if (cut === 0) { expectRefusal(zip.subarray(0, 0), WeightsError, /is not a PyTorch checkpoint: it starts with bytes \(none: the file is empty\)/); continue; }
      expectRefusal(zip.subarray(0, cut), WeightsError, 'pytorch_model.bin: not a complete zip archive: no end-of-central-directory record at ' +
        'its end (the file is truncated or not a zip); refusing to read a partial archive');
    }
  });

  it('a legacy file cut at any byte is refused with a WeightsError', () => {
    const messages = new Set<string>();
    for (let cut = 1; cut < legacy.length; cut += cut < 14000 ? 7 : 4001) {
      const e = refusal(legacy.subarray(0, cut));
      expect(e, `cut at ${cut}`).toBeInstanceOf(WeightsError);
      messages.add(e.message.replace(/\d+/g, 'N'));
    }
    // every message names the file, and where it can, the pickle and byte; three of the kinds seen:
    for (const m of messages) expect(m).toMatch(/^pytorch_model\.bin[ :]/);
    expect(messages).toContain('pytorch_model.bin (legacy format, pickle N of N: the state dict), byte N (opcode NxN): the pickle ends inside a string (it needs N more bytes, N are left)');
    expect(messages).toContain('pytorch_model.bin (legacy format, pickle N of N: the state dict), byte N (opcode NxN): storage "N" declares N elements of N bytes, more than the whole file (N bytes)');
    expect(messages).toContain('pytorch_model.bin: the file ends inside the data of storage "N" (N of its N bytes present)');
    expectRefusal(concat([legacy, new Uint8Array(3)]), WeightsError, 'pytorch_model.bin: 3 unexpected bytes after the data of the last storage');
  });

  it('a pickle without STOP inside a complete archive', () => {
    expectRefusal(zipOf(new PickleAsm().proto().raw(0x7d).build()), WeightsError,
      'pytorch_model.bin (pytorch_model/data.pkl), byte 3 (opcode 0x7d): the pickle ends before its STOP opcode');
  });
});

describe('sizes, offsets and strides', () => {
  it('a tensor reaching past its storage', () => {
    expectRefusal(withTensor((t) => { t.offset = 5; }), WeightsError,
      'pytorch_model.bin: tensor "w" reaches element 10 of storage "0", which has only 6 elements (offset 5, size [2, 3], stride [3, 1])');
    expectRefusal(withTensor((t) => { t.stride = [4, 1]; }), WeightsError,
      'pytorch_model.bin: tensor "w" reaches element 6 of storage "0", which has only 6 elements (offset 0, size [2, 3], stride [4, 1])');
  });

  it('a storage declared larger (or smaller) than its record', () => {
    expectRefusal(withTensor((t) => { t.storage.numel = 7; }), WeightsError,
      'pytorch_model.bin: storage "0" (pytorch_model/data/0) holds 24 bytes, but the pickle declares 7 × torch.FloatStorage = 28 bytes');
    expectRefusal(withTensor((t) => { t.storage.numel = 5; t.size = [5]; t.stride = [1]; }), WeightsError,
      'pytorch_model.bin: storage "0" (pytorch_model/data/0) holds 24 bytes, but the pickle declares 5 × torch.FloatStorage = 20 bytes');
  });

  it('negative and huge sizes', () => {
    expectRefusal(withTensor((t) => { t.size = [-1, 3]; }), WeightsError,
      'pytorch_model.bin: tensor "w" has a negative storage offset, size or stride (offset 0, size [-1, 3], stride [3, 1])');
    expectRefusal(withTensor((t) => { t.offset = -2; }), WeightsError, /tensor "w" has a negative storage offset, size or stride \(offset -2,/);
    expectRefusal(withTensor((t) => { t.storage.numel = 2 ** 40; }), WeightsError,
      /byte \d+ \(opcode 0x51\): storage "0" declares 1099511627776 elements of 4 bytes, more than the whole file \(\d+ bytes\)$/);
    // a stride-0 expansion would make a tiny file allocate terabytes
    expectRefusal(withTensor((t) => { t.size = [2 ** 40]; t.stride = [0]; }), WeightsError,
      /^pytorch_model\.bin: tensor "w" has 1099511627776 elements, 4398046511104 bytes: more than the whole \d+-byte file \(offset 0, size \[1099511627776\], stride \[0\]\)$/);
    expectRefusal(withTensor((t) => { t.size = [2n ** 60n as unknown as number]; t.stride = [1]; }), WeightsError,
      /_rebuild_tensor_v2: the size holds the int 1152921504606846976, not an int of at most 2\^53$/);
    expectRefusal(zipOf(pickle((p) => p.raw(0x8a, 40, ...new Array(40).fill(1)))), WeightsError,
      'pytorch_model.bin (pytorch_model/data.pkl), byte 2 (opcode 0x8a): an integer of 40 bytes exceeds the 32-byte limit');
    expectRefusal(withTensor((t) => { t.size = new Array(65).fill(1); t.stride = new Array(65).fill(1); t.storage.numel = 6; }), WeightsError,
      'pytorch_model.bin: tensor "w" has 65 dimensions, more than the 64 allowed');
  });
});

describe('nesting and memory bombs are bounded', () => {
  it('deep MARK nesting', () => {
    expectRefusal(zipOf(pickle((p) => { for (let i = 0; i <= LIMITS.marks; i++) p.mark(); return p; })), WeightsError,
      `pytorch_model.bin (pytorch_model/data.pkl), byte ${2 + LIMITS.marks} (opcode 0x28): MARKs nest deeper than 256`);
  });

  it('a "billion laughs" of shared lists costs its own length, and is not a state dict', () => {
    const p = new PickleAsm().proto().raw(0x5d, 0x71, 0, 0x30);
    for (let i = 0; i < 40; i++) { p.mark(); for (let j = 0; j < 10; j++) p.raw(0x68, 0); p.raw(0x6c, 0x71, 0, 0x30); } // each list: ten references to the last
    expectRefusal(zipOf(p.raw(0x68, 0).stop().build()), WeightsError, 'pytorch_model.bin: the pickled object is a list of 10, not a state dict (a dict of tensors)');
    // a list that contains itself
    expectRefusal(zipOf(pickle((q) => q.raw(0x5d, 0x71, 0, 0x68, 0, 0x61))), WeightsError, 'pytorch_model.bin: the pickled object is a list of 1, not a state dict (a dict of tensors)');
    // a dict holding itself
    expectRefusal(zipOf(pickle((q) => q.raw(0x7d, 0x71, 0).str('w').raw(0x68, 0, 0x73))), WeightsError, 'pytorch_model.bin: entry "w" is a dict of 1, not a tensor (a nested dict: save the model\'s state_dict() itself)');
  });

  it('memo and stack floods stop at their limits', () => {
    const memo = new PickleAsm().proto().raw(0x4e);
    for (let i = 0; i <= LIMITS.memo; i++) memo.raw(0x72).u32(i);
    expectRefusal(zipOf(memo.stop().build()), WeightsError, `pytorch_model.bin (pytorch_model/data.pkl), byte ${3 + 5 * LIMITS.memo} (opcode 0x72): more than 1048576 memo entries`);
    const stack = new PickleAsm().proto();
    for (let i = 0; i <= LIMITS.stack; i++) stack.raw(0x4e);
    expectRefusal(zipOf(stack.stop().build()), WeightsError, `pytorch_model.bin (pytorch_model/data.pkl), byte ${2 + LIMITS.stack} (opcode 0x4e): more than 1048576 values on the pickle stack`);
  });
});

describe('duplicates and inconsistencies', () => {
  it('a tensor name twice in the state dict', () => {
    const t = base(), u = { ...base(), offset: 0 };
    expectRefusal(zipOf(stateDictPickle([t, u])), WeightsError, /^pytorch_model\.bin \(pytorch_model\/data\.pkl\), byte \d+ \(opcode 0x75\): a dict key appears twice: the str "w"$/);
  });

  it('a zip entry twice', () => {
    const pkl = stateDictPickle([base()]);
    const bin = zipStored([{ name: 'archive/data.pkl', data: pkl }, { name: 'archive/data/0', data: W }, { name: 'archive/data/0', data: W }]);
    expectRefusal(bin, WeightsError, 'pytorch_model.bin: entry "archive/data/0" appears twice in the central directory');
  });

  it('one storage declared with two sizes or two types', () => {
    const t = base(), u: SpecTensor = { ...base(), name: 'v', storage: { key: '0', type: 'HalfStorage', numel: 12 } };
    expectRefusal(zipOf(stateDictPickle([t, u])), WeightsError,
      /byte \d+ \(opcode 0x51\): storage "0" is declared twice, as 6 × torch\.FloatStorage and 12 × torch\.HalfStorage$/);
  });

  it('zip structure: a missing storage record, two data.pkl, a corrupt pickle, compression', () => {
    expectRefusal(torchZip(stateDictPickle([base()]), new Map()), WeightsError, 'pytorch_model.bin: storage "0" has no entry pytorch_model/data/0 in the archive');
    const pkl = stateDictPickle([base()]);
    expectRefusal(zipStored([{ name: 'a/data.pkl', data: pkl }, { name: 'b/data.pkl', data: pkl }]), WeightsError,
      "pytorch_model.bin: the zip archive has 2 '<folder>/data.pkl' entries, expected exactly 1");
    const good = zipOf(pkl), bad = good.slice();
    bad[64 + 10] ^= 1; // a byte of data.pkl (the data of the first entry starts at 64)
    expectRefusal(bad, WeightsError, /^pytorch_model\.bin: pytorch_model\/data\.pkl fails its CRC-32 check \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\): the archive is corrupt$/);
    // a damaged storage record, or a local header pointing a few bytes off, would load as other values
    const e = readZip(good, 'x').get('pytorch_model/data/0')!;
    const flipped = good.slice();
    flipped[e.start + 5] ^= 0x10;
    const crcError = /^pytorch_model\.bin: storage "0" \(pytorch_model\/data\/0\) fails its CRC-32 check \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\): the archive is corrupt$/;
    expectRefusal(flipped, WeightsError, crcError);
    const shifted = good.slice(), local = good.lastIndexOf(0x50, e.start - 30 - 'pytorch_model/data/0'.length);
    expect(new DataView(good.buffer).getUint32(local, true)).toBe(0x04034b50);
    new DataView(shifted.buffer).setUint16(local + 28, new DataView(good.buffer).getUint16(local + 28, true) - 4, true); // extra field 4 bytes shorter
    expectRefusal(shifted, WeightsError, crcError);
    const deflated = good.slice();
    const cd = good.length - 22 - (46 * 3 + 'pytorch_model/data.pkl'.length + 'pytorch_model/data/0'.length + 'pytorch_model/version'.length);
    new DataView(deflated.buffer).setUint16(cd + 10, 8, true); // method 8 in the first central directory entry
    expectRefusal(deflated, UnsupportedError, 'pytorch_model.bin: entry "pytorch_model/data.pkl" is compressed (method 8); torch.save stores entries uncompressed, and only such archives are read');
  });

  it('legacy: key list, element counts', () => {
    const { specs, storages, itemSizes } = simpleCheckpoint([{ name: 'w', shape: [2, 3], bytes: W }]);
    const pkl = stateDictPickle(specs, { legacy: true });
    expectRefusal(torchLegacy(pkl, storages, itemSizes, ['0', '0']), WeightsError,
      'pytorch_model.bin: the legacy storage key list (2 keys, 1 distinct) does not match the 1 storages the state dict uses');
    const file = torchLegacy(pkl, storages, itemSizes);
    new DataView(file.buffer).setUint32(file.length - 32, 7, true); // the count before the 24 data bytes
    expectRefusal(file, WeightsError, /^pytorch_model\.bin: storage "0" at byte \d+: its data header says 7 elements, the pickle declares 6$/);
  });

  it('not a checkpoint at all', () => {
    expectRefusal(new TextEncoder().encode('PNG not a checkpoint'), WeightsError,
      'pytorch_model.bin is not a PyTorch checkpoint: it starts with bytes 50 4e 47 20 6e 6f 74 20, not a zip archive (50 4b 03 04) nor a pickle (80 02)');
    const lfs = 'version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 1234\n';
    expectRefusal(new TextEncoder().encode(lfs), SourceError,
      `pytorch_model.bin is a Git LFS pointer (${lfs.length} bytes of text), not the weights: fetch the real file (git lfs pull) or load the model from its Hub URL`);
    expectRefusal(pickle((p) => p.int(5)), WeightsError, 'pytorch_model.bin: not a PyTorch checkpoint: a pickle, but not the legacy torch.save magic number');
  });
});
