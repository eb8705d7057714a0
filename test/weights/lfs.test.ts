// What users trip over with folders: Git LFS pointer files in place of the real files (a clone without Git LFS),
// and folders without weights (or empty). Each must be a typed error that says what was found and what to do.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LfsPointerError, SourceError } from '../../bindings/errors.js';
import { loadModel } from '../../bindings/model/load.js';
import { loadTokenizer } from '../../bindings/tokenizers/index.js';
import { lfsPointer } from '../../bindings/weights/lfs.js';
import { loadModelFiles, toModelSource, urlSource } from '../../bindings/weights/source.js';
import { textModelFiles } from '../helpers/textmodel.js';

const files = textModelFiles();
/** The pointer git-lfs writes for these bytes. */
function pointerOf(bytes: Uint8Array | string): string {
  const b = typeof bytes === 'string' ? Buffer.from(bytes) : Buffer.from(bytes);
  return `version https://git-lfs.github.com/spec/v1\noid sha256:${createHash('sha256').update(b).digest('hex')}\nsize ${b.length}\n`;
}
let tmp: string;
/** A folder with the text model's files, `pointers` replaced by their LFS pointers. */
function clone(name: string, pointers: string[], extra: Record<string, string | Uint8Array> = {}): string {
  const d = join(tmp, name);
  mkdirSync(d);
  for (const [f, v] of Object.entries({ ...files, ...extra })) writeFileSync(join(d, f), pointers.includes(f) ? pointerOf(v) : v);
  return d;
}
const failure = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a failure'); }, (e: Error) => e);

beforeAll(() => { tmp = mkdtempSync(join(tmpdir(), 'wasm-seq2seq-lfs-')); });
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('Git LFS pointers in place of files', () => {
  it('model.safetensors: says it is a pointer, the real size, and how to get the file', async () => {
    const d = clone('weights', ['model.safetensors']);
    const weights = files['model.safetensors'] as Uint8Array;
    const e = await failure(loadModel(d));
    expect(e).toBeInstanceOf(LfsPointerError);
    expect(e).toBeInstanceOf(SourceError);
    const oid = createHash('sha256').update(weights).digest('hex');
    expect(e.message).toBe(`model.safetensors from folder ${d} is a Git LFS pointer (a 131-byte text file standing for the real ` +
      `705.2 KB (705236 bytes) file, oid sha256:${oid}), not the file itself: the repository was cloned or copied without Git ` +
      'LFS. Fetch the real files with `git lfs install && git lfs pull` inside the clone (install git-lfs first; `git lfs ' +
      'install` before cloning gets them at clone time), or load the model by its Hub id instead of the folder.');
    expect([(e as LfsPointerError).size, (e as LfsPointerError).file]).toEqual([705236, 'model.safetensors']);
  });

  it.each([
    ['source.spm', {}],
    ['target.spm', {}],
    ['vocab.json', {}],
    ['tokenizer_config.json', {}],
    ['spiece.model', { 'tokenizer_config.json': '{"tokenizer_class": "T5Tokenizer"}', 'spiece.model': files['source.spm']! }],
    ['sentencepiece.bpe.model', { 'tokenizer_config.json': '{"tokenizer_class": "NllbTokenizer"}', 'sentencepiece.bpe.model': files['source.spm']! }],
    ['tokenizer.json', { 'tokenizer_config.json': '{"tokenizer_class": "BartTokenizer"}', 'tokenizer.json': '{}' }],
  ])('%s (a tokenizer file): the same error, from any loader', async (file, extra) => {
    const d = clone(`tok-${file}`, [file], extra);
    const e = await failure(loadTokenizer(d));
    expect(e).toBeInstanceOf(LfsPointerError);
    expect(e.message).toMatch(new RegExp(`^${file.replaceAll('.', '\\.')} from folder .* is a Git LFS pointer \\(a \\d+-byte text file standing for the real`));
  });

  it('pytorch_model.bin, config.json, and pointers served by URL or given in memory', async () => {
    const d = clone('bin', ['config.json'], { 'pytorch_model.bin': 'x'.repeat(5000) });
    await expect(toModelSource(d).read('pytorch_model.bin')).resolves.toBeDefined();
    writeFileSync(join(d, 'pytorch_model.bin'), pointerOf('x'.repeat(5000)));
    await expect(toModelSource(d).read('pytorch_model.bin')).rejects.toThrow(/^pytorch_model\.bin from folder .* is a Git LFS pointer .*real 5\.0 KB \(5000 bytes\) file/);
    await expect(loadModelFiles(d)).rejects.toThrow(LfsPointerError);
    // a web server deployed from a clone without LFS
    const served = urlSource('https://models.example/m', { fetch: async (url) => {
      const f = String(url).split('/').at(-1)!;
      if (f === 'config.json') return new Response(files['config.json'] as string);
      return f === 'model.safetensors' ? new Response(pointerOf(files[f]!)) : new Response('', { status: 404 });
    } });
    const e = await failure(loadModelFiles(served));
    expect(e.message).toMatch(/^model\.safetensors from URL https:\/\/models\.example\/m is a Git LFS pointer/);
    const m = await failure(loadModelFiles({ 'config.json': files['config.json'], 'model.safetensors': Buffer.from(pointerOf('abc')) }));
    expect(m.message).toMatch(/^model\.safetensors from in-memory model files is a Git LFS pointer \(a \d+-byte text file standing for the real 3 bytes file/);
  });

  it('only pointer files: ordinary small files and large files are not taken for one', () => {
    expect(lfsPointer(Buffer.from('{"model_type": "marian"}'))).toBeUndefined();
    expect(lfsPointer(Buffer.from(pointerOf('abc')))).toEqual({ oid: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), size: 3 });
    expect(lfsPointer(Buffer.from(pointerOf('abc') + ' '.repeat(2000)))).toBeUndefined();
  });
});

describe('folders without weights', () => {
  it('an empty folder, and one with everything but the weights: the error lists what is there', async () => {
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    const e = await failure(loadModel(empty));
    expect(e).toBeInstanceOf(SourceError);
    expect(e.message).toBe(`config.json not found in folder ${empty} (${empty}/config.json); it is empty`);
    const d = join(tmp, 'no-weights');
    mkdirSync(d);
    for (const f of ['config.json', 'generation_config.json', 'source.spm', 'vocab.json']) writeFileSync(join(d, f), files[f]!);
    const e2 = await failure(loadModel(d));
    expect(e2.message).toBe(`model.safetensors not found in folder ${d} (${d}/model.safetensors); it has config.json, ` +
      'generation_config.json, source.spm, vocab.json (nor model.safetensors.index.json, pytorch_model.bin or ' +
      'pytorch_model.bin.index.json)');
    expect((await toModelSource(d).list!()).sort()).toEqual(['config.json', 'generation_config.json', 'source.spm', 'vocab.json']);
    expect(readFileSync(join(d, 'vocab.json'), 'utf8')).toBe(files['vocab.json']);
  });
});
