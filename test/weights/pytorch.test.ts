// pytorch_model.bin: the transformers-made fixtures (zip and legacy) read back bit-identical to their safetensors
// originals, every tensor form real torch writes (tools/reference/pytorch_bin_forms.py), shards, and the order in
// which a folder's weight files are preferred. Hostile files: pytorch_hostile.test.ts.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SourceError, WeightsError } from '../../bindings/errors.js';
import { loadModel } from '../../bindings/model/load.js';
import { parsePytorchBin, PytorchCheckpoint } from '../../bindings/weights/pytorch.js';
import { readPytorchWeights } from '../../bindings/weights/pytorch_source.js';
import { SafeTensors } from '../../bindings/weights/safetensors.js';
import { folderSource, loadModelFiles, memorySource } from '../../bindings/weights/source.js';
import { stateDictPickle, torchZip, type SpecTensor } from '../../tools/fuzz/binwriter.js';
import { fixtureDir, golden } from '../helpers/fixtures.js';

const file = (dir: string, name: string) => new Uint8Array(readFileSync(join(fixtureDir(dir), name)));
const TIED = ['model.shared.weight', 'model.encoder.embed_tokens.weight', 'model.decoder.embed_tokens.weight', 'lm_head.weight'];
const tmp = mkdtempSync(join(tmpdir(), 'wasm-seq2seq-bin-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.each(['marian_tiny', 'bart_tiny'])('%s as pytorch_model.bin', (model) => {
  const st = SafeTensors.parse(file(model, 'model.safetensors'));
  for (const format of ['zip', 'legacy'] as const) {
    const dir = `${model}_bin_${format}`;
    const info = JSON.parse(readFileSync(join(fixtureDir(dir), 'bin_info.json'), 'utf8')).files[0];

    it(`${format}: every tensor of the state dict, as bin_info.json lists it, bit-identical to model.safetensors`, () => {
      const ck = parsePytorchBin(file(dir, 'pytorch_model.bin'));
      expect(ck.format).toBe(format);
      expect([...ck.names].sort()).toEqual(Object.keys(info.tensors).sort());
      for (const name of ck.names) {
        const [dtype, shape] = info.tensors[name];
        expect(dtype).toBe('f4');
        expect(ck.info(name)).toEqual({ dtype: 'F32', shape, byteLength: 4 * shape.reduce((a: number, b: number) => a * b, 1) });
        const original = st.has(name) ? name : 'model.shared.weight'; // safetensors keeps one name of the tied group
        expect(Buffer.from(ck.raw(name)).equals(Buffer.from(st.raw(original))), name).toBe(true);
        const viaInto = new Float32Array(st.info(original).byteLength / 4);
        ck.f32Into(name, viaInto);
        expect(viaInto).toEqual(st.f32(original));
      }
    });

    it(`${format}: the four tied names share one storage and come out identical`, () => {
      const ck = parsePytorchBin(file(dir, 'pytorch_model.bin'));
      const storages = new Set(TIED.map((n) => ck.layout(n).storage));
      expect(storages.size).toBe(1);
      expect(info.shared_storage).toEqual([expect.arrayContaining(TIED)]);
      const values = TIED.map((n) => ck.f32(n));
      for (const v of values.slice(1)) expect(v).toEqual(values[0]);
      values[1][0] += 1; // f32() hands out copies: changing one name's values changes no other
      expect(ck.f32(TIED[0])[0]).toBe(values[0][0]);
    });
  }
});

describe('every tensor form real torch writes (pytorch_bin_forms)', () => {
  const expected = JSON.parse(readFileSync(join(fixtureDir('pytorch_bin_forms'), 'expected.json'), 'utf8')).tensors;
  const check = (store: { names: readonly string[]; info(n: string): { dtype: string; shape: readonly number[] }; f32(n: string): Float32Array; raw(n: string): Uint8Array }) => {
    expect([...store.names].sort()).toEqual(Object.keys(expected).sort());
    for (const [name, want] of Object.entries<any>(expected)) {
      expect(store.info(name), name).toMatchObject({ dtype: want.dtype, shape: want.shape });
      const raw = store.raw(name);
      const copy = () => { const c = new Uint8Array(raw.length); c.set(raw); return c.buffer; };
      if (['F32', 'F16', 'BF16'].includes(want.dtype)) expect(Array.from(store.f32(name)), name).toEqual(want.values);
      else if (want.dtype === 'I64') expect(Array.from(new BigInt64Array(copy()), Number), name).toEqual(want.values);
      else if (want.dtype === 'F64') expect(Array.from(new Float64Array(copy())), name).toEqual(want.values);
      else expect(Array.from(raw), name).toEqual(want.values);
    }
  };

  for (const f of ['forms_zip.bin', 'forms_legacy.bin']) {
    it(`${f}: strided views gathered, 16-bit floats widened, ints and bools raw`, () => {
      const ck = parsePytorchBin(file('pytorch_bin_forms', f), f);
      check(ck);
      expect(ck.layout('w_t')).toMatchObject({ storage: ck.layout('w_f32').storage, offset: 0, stride: [1, 3] });
      expect(ck.layout('w_col')).toMatchObject({ offset: 1, stride: [3] });
      expect(ck.layout('expanded').stride).toEqual([1, 0]);
      expect(() => ck.f32('f64')).toThrow(new WeightsError('tensor "f64" has dtype F64, which cannot be read as floats; supported: F32, F16, BF16'));
      expect(() => ck.f32('nope')).toThrow(WeightsError);
    });
  }

  it('sharded: pytorch_model.bin.index.json and its shards, from a folder and from memory', async () => {
    const dir = join(fixtureDir('pytorch_bin_forms'), 'sharded');
    check((await readPytorchWeights(folderSource(dir)))!);
    const files: Record<string, Uint8Array> = {};
    for (const f of ['pytorch_model.bin.index.json', 'pytorch_model-00001-of-00002.bin', 'pytorch_model-00002-of-00002.bin']) files[f] = file('pytorch_bin_forms', `sharded/${f}`);
    const store = (await readPytorchWeights(memorySource(files)))!;
    check(store);
    store.close?.();
    expect(() => store.f32('half')).toThrow(/read after the model finished loading/);
    expect(await readPytorchWeights(memorySource({}))).toBeUndefined();
  });

  it('sharded: a tensor in two shards is refused, whichever the index names', async () => {
    const w = new Uint8Array(new Float32Array([1, 2]).buffer);
    const spec: SpecTensor = { name: 'w', storage: { key: '0', type: 'FloatStorage', numel: 2 }, offset: 0, size: [2], stride: [1] };
    const shard = (folder: string) => torchZip(stateDictPickle([spec]), new Map([['0', w]]), folder);
    const files = {
      'pytorch_model.bin.index.json': JSON.stringify({ weight_map: { w: 'a.bin', v: 'b.bin' } }), 'a.bin': shard('a'), 'b.bin': shard('b'),
    };
    await expect(readPytorchWeights(memorySource(files))).rejects.toThrow(new WeightsError('sharded pytorch_model.bin weights are inconsistent:\n' +
      '  "w" is stored in more than one shard (again in b.bin)\n  "v" is missing from b.bin'));
  });
});

describe('which weights a folder loads', () => {
  const copy = (from: string, to: string, files: string[]) => {
    mkdirSync(to, { recursive: true });
    for (const f of files) writeFileSync(join(to, f), readFileSync(join(fixtureDir(from), f)));
  };

  it('model.safetensors wins over pytorch_model.bin (here a corrupt one that would fail if it were read)', async () => {
    const dir = join(tmp, 'both');
    copy('marian_tiny', dir, ['config.json', 'generation_config.json', 'model.safetensors']);
    writeFileSync(join(dir, 'pytorch_model.bin'), 'not a checkpoint');
    const files = await loadModelFiles(dir);
    expect(files.weights).toBeInstanceOf(SafeTensors);
    files.weights.close?.();
    rmSync(join(dir, 'model.safetensors'));
    await expect(loadModelFiles(dir)).rejects.toThrow(new WeightsError('pytorch_model.bin is not a PyTorch checkpoint: it starts with ' +
      'bytes 6e 6f 74 20 61 20 63 68, not a zip archive (50 4b 03 04) nor a pickle (80 02)'));
  });

  it('pytorch_model.bin alone loads, from a folder and from memory', async () => {
    const folder = await loadModelFiles(fixtureDir('bart_tiny_bin_zip'));
    expect(folder.weights).toBeInstanceOf(PytorchCheckpoint);
    const mem = await loadModelFiles({ 'config.json': file('bart_tiny_bin_legacy', 'config.json'), 'pytorch_model.bin': file('bart_tiny_bin_legacy', 'pytorch_model.bin') });
    expect((mem.weights as PytorchCheckpoint).format).toBe('legacy');
  });

  it('no weights at all: the error names all four files', async () => {
    const dir = join(tmp, 'none');
    copy('marian_tiny', dir, ['config.json']);
    await expect(loadModelFiles(dir)).rejects.toThrow(SourceError);
    await expect(loadModelFiles(dir)).rejects.toThrow(/nor model\.safetensors\.index\.json, pytorch_model\.bin or pytorch_model\.bin\.index\.json\)/);
  });

  it('a sharded pytorch_model.bin checkpoint generates the golden output', async () => {
    // marian_tiny's tensors in two shards written from scratch; the tied group stays in one shard, as transformers keeps it
    const ck = parsePytorchBin(file('marian_tiny_bin_zip', 'pytorch_model.bin'));
    const dir = join(tmp, 'sharded');
    copy('marian_tiny', dir, ['config.json', 'generation_config.json']);
    const weightMap: Record<string, string> = {};
    const halves = [ck.names.filter((n) => n.includes('decoder.layers')), ck.names.filter((n) => !n.includes('decoder.layers'))];
    halves.forEach((names, i) => {
      const shard = `pytorch_model-0000${i + 1}-of-00002.bin`;
      const specs: SpecTensor[] = [], storages = new Map<string, Uint8Array>();
      for (const name of names) {
        const l = ck.layout(name);
        if (!storages.has(l.storage)) storages.set(l.storage, ck.raw(name));
        specs.push({ name, storage: { key: l.storage, type: 'FloatStorage', numel: storages.get(l.storage)!.length / 4 }, offset: l.offset, size: [...l.shape], stride: [...l.stride] });
        weightMap[name] = shard;
      }
      writeFileSync(join(dir, shard), torchZip(stateDictPickle(specs), storages, shard.slice(0, -4)));
    });
    writeFileSync(join(dir, 'pytorch_model.bin.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const g = golden('marian_tiny');
    const m = await loadModel(dir, { tokenizer: false });
    const out = await m.generate(g.inputs.input_ids, { attentionMask: g.inputs.attention_mask, numBeams: 4, maxNewTokens: 12 });
    expect(out.sequences).toEqual(g.generate.beam4.sequences);
    m.dispose();

    // the index and the shards must agree
    const index = JSON.parse(readFileSync(join(dir, 'pytorch_model.bin.index.json'), 'utf8'));
    const moved = { ...index.weight_map, 'final_logits_bias': 'pytorch_model-00001-of-00002.bin' };
    writeFileSync(join(dir, 'pytorch_model.bin.index.json'), JSON.stringify({ weight_map: moved }));
    await expect(loadModelFiles(dir)).rejects.toThrow(new WeightsError('sharded pytorch_model.bin weights are inconsistent:\n' +
      '  "final_logits_bias" is in pytorch_model-00002-of-00002.bin but the index maps it to pytorch_model-00001-of-00002.bin\n' +
      '  "final_logits_bias" is missing from pytorch_model-00001-of-00002.bin'));
    writeFileSync(join(dir, 'pytorch_model.bin.index.json'), JSON.stringify({ weight_map: { ...index.weight_map, x: '../etc/passwd' } }));
    await expect(loadModelFiles(dir)).rejects.toThrow(new WeightsError('pytorch_model.bin.index.json: weight_map["x"] is "../etc/passwd", not a plain file name in the model folder'));
  });
});
