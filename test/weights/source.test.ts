import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortedError, ConfigError, SourceError, UnsupportedError, WeightsError } from '../../bindings/errors.js';
import { readF32Into, SafeTensors } from '../../bindings/weights/safetensors.js';
import { loadModel } from '../../bindings/model/load.js';
import { readRaw, toHalf, writeRaw } from '../helpers/safetensors.js';
import {
  folderSource, loadModelFiles, memorySource, toModelSource, urlSource, type FileProgress,
} from '../../bindings/weights/source.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const fileOf = (model: string, file: string) => readFileSync(join(FIXTURES, model, file));

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection, the promise resolved');
}

/** Checks that the events of one file start at 0, never go backwards, and end at the file's size. */
function checkProgress(events: FileProgress[], file: string, size: number, total: number | undefined) {
  const mine = events.filter((e) => e.file === file);
  expect(mine.length).toBeGreaterThanOrEqual(2);
  expect(mine[0].loaded).toBe(0);
  for (let i = 1; i < mine.length; i++) expect(mine[i].loaded).toBeGreaterThanOrEqual(mine[i - 1].loaded);
  expect(mine[mine.length - 1].loaded).toBe(size);
  for (const e of mine) expect(e.total).toBe(total);
  return mine;
}

describe('folder source', () => {
  const dir = join(FIXTURES, 'marian_tiny');
  const size = fileOf('marian_tiny', 'model.safetensors').length;

  it('loads config, generation config and weights with progress', async () => {
    const events: FileProgress[] = [];
    const m = await loadModelFiles(dir, { onProgress: (e) => events.push(e) });
    expect(m.config.model_type).toBe('marian');
    expect(m.rawGenerationConfig?._from_model_config).toBe(true);
    expect(m.weights.names.length).toBe(86);
    expect(m.weights.f32('model.shared.weight').length).toBe(101 * 64);
    // a folder's weights are read tensor by tensor as asked for; closing the store completes the file
    expect(events.filter((e) => e.file === 'model.safetensors').at(-1)!.loaded).toBeLessThan(size);
    m.weights.close?.();
    checkProgress(events, 'model.safetensors', size, size);
  });

  it('accepts a file: URL and a trailing slash', async () => {
    const m = await loadModelFiles(pathToFileURL(dir + '/'));
    expect(m.config.model_type).toBe('marian');
    expect((await loadModelFiles(dir + '/')).weights.names.length).toBe(86);
  });

  describe('with files missing', () => {
    let tmp = '';
    beforeAll(() => {
      tmp = mkdtempSync(join(tmpdir(), 'wasm-seq2seq-source-'));
      writeFileSync(join(tmp, 'config.json'), fileOf('t5_v1_0_tiny', 'config.json'));
    });
    afterAll(() => rmSync(tmp, { recursive: true, force: true }));

    it('allows a missing generation_config.json but not a missing model.safetensors', async () => {
      expect(await folderSource(tmp).read('generation_config.json', { optional: true })).toBeUndefined();
      const e = await rejection(loadModelFiles(tmp));
      expect(e).toBeInstanceOf(SourceError);
      expect(e.message).toContain(`model.safetensors not found in folder ${tmp}`);
      expect(e.message).toMatch(/nor model\.safetensors\.index\.json, pytorch_model\.bin or pytorch_model\.bin\.index\.json\)/);
      writeFileSync(join(tmp, 'model.safetensors'), fileOf('t5_v1_0_tiny', 'model.safetensors'));
      const m = await loadModelFiles(tmp);
      expect(m.rawGenerationConfig).toBeUndefined();
      expect(m.config.generation.source).toBe('config.json');
    });

    it('names a missing config.json and a folder that does not exist', async () => {
      const e = await rejection(loadModelFiles(join(tmp, 'nope')));
      expect(e).toBeInstanceOf(SourceError);
      expect(e.message).toMatch(/folder .*nope does not exist \(looking for config\.json\)/);
      const e2 = await rejection(folderSource(tmp).read('tokenizer.json'));
      expect(e2.message).toContain(`tokenizer.json not found in folder ${tmp}`);
    });

    it('reports a malformed config.json as ConfigError', async () => {
      writeFileSync(join(tmp, 'config.json'), '{"model_type": "t5",');
      const e = await rejection(loadModelFiles(tmp));
      expect(e).toBeInstanceOf(ConfigError);
      expect(e.message).toMatch(/config\.json from folder .* is not valid JSON/);
    });
  });
});

describe('folder source: tensors read on demand', () => {
  const whole = new Uint8Array(fileOf('marian_tiny', 'model.safetensors')); // not a Buffer: its slice() is a view
  const ref = SafeTensors.parse(whole);
  let tmp = '';
  const openFds = () => readdirSync('/proc/self/fd').length;
  const linux = process.platform === 'linux';
  beforeAll(() => { tmp = mkdtempSync(join(tmpdir(), 'wasm-seq2seq-lazy-')); });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  /** A folder holding marian_tiny's config with the given weight files. */
  const folder = (name: string, files: Record<string, Uint8Array | string>) => {
    const d = join(tmp, name);
    mkdirSync(d);
    writeFileSync(join(d, 'config.json'), fileOf('marian_tiny', 'config.json'));
    for (const [f, v] of Object.entries(files)) writeFileSync(join(d, f), v);
    return d;
  };

  it.each(['F32', 'F16', 'BF16'] as const)('gives the same floats and bytes as the whole file in memory (%s)', async (dtype) => {
    const bytes = dtype === 'F32' ? whole : writeRaw(toHalf(readRaw(whole), dtype));
    const inMemory = SafeTensors.parse(bytes);
    const store = (await folderSource(folder(`same-${dtype}`, { 'model.safetensors': bytes })).openTensors!('model.safetensors'))!;
    expect(store.names).toEqual(inMemory.names);
    // byte comparison (bit-exact, NaN-safe, and fast where toEqual walks typed arrays element by element)
    const same = (a: ArrayBufferView, b: ArrayBufferView) =>
      Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
    for (const n of inMemory.names) {
      expect(same(store.raw(n), inMemory.raw(n)), n).toBe(true);
      expect(same(store.f32(n), inMemory.f32(n)), n).toBe(true);
      const dst = new Float32Array(inMemory.f32(n).length + 3).subarray(1, -2); // into a view at an offset, as wasm memory is
      readF32Into(store, n, dst);
      expect(same(dst, inMemory.f32(n)), n).toBe(true);
      expect(() => store.f32Into(n, new Float32Array(dst.length + 1))).toThrow(WeightsError);
    }
    store.close();
  });

  it('closes the file: after loadModel, after a load that failed, and reads after close fail clearly', async () => {
    const d = folder('close', { 'model.safetensors': whole });
    const before = linux ? openFds() : 0;
    const model = await loadModel(d, { tokenizer: false, threads: 1 });
    expect(model.config.model_type).toBe('marian');
    if (linux) expect(openFds()).toBe(before);
    // a weight of the wrong shape fails the load after the file was opened
    const raw = readRaw(whole);
    const t = raw.get('model.shared.weight')!;
    raw.set('model.shared.weight', { ...t, shape: [t.shape[0] - 1, t.shape[1]], bytes: t.bytes.subarray(0, t.bytes.length - 4 * t.shape[1]) });
    const bad = folder('close-bad', { 'model.safetensors': writeRaw(raw) });
    expect(await rejection(loadModel(bad, { tokenizer: false, threads: 1 }))).toBeInstanceOf(WeightsError);
    if (linux) expect(openFds()).toBe(before);
    const store = (await folderSource(d).openTensors!('model.safetensors'))!;
    store.close();
    const e = (() => { try { store.f32('model.shared.weight'); } catch (err) { return err as Error; } })();
    expect(e).toBeInstanceOf(SourceError);
    expect(e!.message).toMatch(/read after the model finished loading/);
  });

  it('names a corrupt header, a file cut short after opening, and stops on abort', async () => {
    const corrupt = folder('corrupt', { 'model.safetensors': whole.subarray(0, 6) });
    const e = await rejection(loadModelFiles(corrupt));
    expect(e).toBeInstanceOf(WeightsError);
    expect(e.message).toMatch(/^model\.safetensors: file is 6 bytes/);

    const d = folder('cut', { 'model.safetensors': whole });
    const store = (await folderSource(d).openTensors!('model.safetensors'))!;
    truncateSync(join(d, 'model.safetensors'), whole.length - 100);
    const last = store.names.at(-1)!;
    const cut = (() => { try { store.f32(last); } catch (err) { return err as Error; } })();
    expect(cut).toBeInstanceOf(SourceError);
    expect(cut!.message).toMatch(/ended at byte \d+ of \d+ while being read/);
    store.close();

    const ac = new AbortController();
    const s2 = (await folderSource(folder('abort', { 'model.safetensors': whole })).openTensors!('model.safetensors', { signal: ac.signal }))!;
    expect(s2.f32(ref.names[0]).length).toBeGreaterThan(0);
    ac.abort();
    expect(() => s2.f32(ref.names[1])).toThrow(AbortedError);
    s2.close();
    expect(await folderSource(folder('absent', {})).openTensors!('model.safetensors', { optional: true })).toBeUndefined();
  });

  it('reads shards from a folder on demand', async () => {
    const raw = readRaw(whole);
    const names = [...raw.keys()];
    const [a, b] = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    const part = (odd: number) => new Map(names.filter((_, i) => i % 2 === odd).map((n) => [n, raw.get(n)!]));
    const index = { metadata: {}, weight_map: Object.fromEntries(names.map((n, i) => [n, i % 2 ? b : a])) };
    const d = folder('shards', { 'model.safetensors.index.json': JSON.stringify(index), [a]: writeRaw(part(0)), [b]: writeRaw(part(1)) });
    const before = linux ? openFds() : 0;
    const m = await loadModelFiles(d);
    for (const n of names) expect(Buffer.from(m.weights.raw(n)).equals(Buffer.from(ref.raw(n))), n).toBe(true);
    m.weights.close?.();
    if (linux) expect(openFds()).toBe(before);
  });
});

describe('in-memory source', () => {
  const weights = fileOf('bart_tiny', 'model.safetensors');
  const config = JSON.parse(fileOf('bart_tiny', 'config.json').toString());

  it('accepts JSON as an object, a string or bytes, and weights as ArrayBuffer or Uint8Array', async () => {
    const ab = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.length);
    const a = await loadModelFiles({ 'config.json': config, 'model.safetensors': ab });
    expect(a.config.model_type).toBe('bart');
    expect(a.rawGenerationConfig).toBeUndefined();
    const b = await loadModelFiles({ 'config.json': JSON.stringify(config), 'generation_config.json': fileOf('bart_tiny', 'generation_config.json'), 'model.safetensors': new Uint8Array(weights) });
    expect(b.rawGenerationConfig?.forced_bos_token_id).toBe(0);
    expect(b.weights.f32('final_logits_bias')).toEqual(a.weights.f32('final_logits_bias'));
  });

  it('names what is missing or of the wrong kind', async () => {
    const e = await rejection(loadModelFiles({ 'model.safetensors': weights }));
    expect(e).toBeInstanceOf(SourceError);
    expect(e.message).toMatch(/config\.json is missing from the in-memory model files \(given: model\.safetensors\)/);
    const e2 = await rejection(memorySource({ 'model.safetensors': 'not bytes' }).read('model.safetensors'));
    expect(e2.message).toMatch(/in-memory model\.safetensors must be an ArrayBuffer or Uint8Array, got string/);
  });

  it('merges shards listed by model.safetensors.index.json', async () => {
    const whole = SafeTensors.parse(weights);
    const names = [...whole.names];
    const shard = (part: string[]) => {
      // A minimal writer: header with contiguous offsets, padded to 8 bytes, then the raw tensor bytes.
      let off = 0;
      const header: Record<string, unknown> = {};
      for (const n of part) header[n] = { dtype: 'F32', shape: whole.info(n).shape, data_offsets: [off, (off += whole.info(n).byteLength)] };
      let json = JSON.stringify(header);
      json += ' '.repeat((8 - (json.length % 8)) % 8);
      const out = new Uint8Array(8 + json.length + off);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
      out.set(new TextEncoder().encode(json), 8);
      off = 8 + json.length;
      for (const n of part) {
        out.set(whole.raw(n), off);
        off += whole.info(n).byteLength;
      }
      return out;
    };
    const [a, b] = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    const index = { metadata: {}, weight_map: Object.fromEntries(names.map((n, i) => [n, i % 2 ? b : a])) };
    const events: FileProgress[] = [];
    const m = await loadModelFiles({
      'config.json': config, 'model.safetensors.index.json': index,
      [a]: shard(names.filter((_, i) => i % 2 === 0)), [b]: shard(names.filter((_, i) => i % 2 === 1)),
    }, { onProgress: (e) => events.push(e) });
    expect([...m.weights.names].sort()).toEqual([...names].sort());
    expect(m.weights.f32('model.shared.weight')).toEqual(whole.f32('model.shared.weight'));
    expect(events.map((e) => e.file)).toEqual(expect.arrayContaining([a, b, 'model.safetensors.index.json']));
    const e = await rejection(loadModelFiles({ 'config.json': config, 'model.safetensors.index.json': index, [a]: shard(names) }));
    expect(e).toBeInstanceOf(SourceError);
    expect(e.message).toContain(`${b} is missing`);
  });
});

describe('URL source against a local HTTP server', () => {
  let server: Server;
  let base = '';
  const requests: string[] = [];

  beforeAll(async () => {
    // Routes: /<mode>/<fixture>/<file>. Modes change how the server answers.
    server = createServer(async (req, res) => {
      requests.push(req.url ?? '');
      const [, mode, model, file] = (req.url ?? '').split('/');
      if (mode === 'gated') return void res.writeHead(403, 'Forbidden').end();
      if (mode === 'broken' && file === 'model.safetensors') return void res.writeHead(500, 'Internal Server Error').end('boom');
      let body: Buffer;
      try {
        body = mode === 'unsupported' && file === 'config.json' ? Buffer.from('{"model_type": "gpt2"}') : fileOf(model, file);
      } catch {
        return void res.writeHead(404, 'Not Found').end('Entry not found');
      }
      const headers: Record<string, string> = {};
      if (mode !== 'chunked') headers['content-length'] = String(body.length + (mode === 'truncated' ? 1000 : 0));
      res.writeHead(200, headers);
      // Several writes with pauses so the client sees several chunks (and several progress events).
      for (let i = 0; i < body.length; i += 100_000) {
        res.write(body.subarray(i, i + 100_000));
        await new Promise((r) => setTimeout(r, 2));
      }
      if (mode === 'truncated') res.destroy();
      else res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const size = fileOf('t5_v1_1_tiny', 'model.safetensors').length;

  it('downloads a model with byte progress from Content-Length', async () => {
    const events: FileProgress[] = [];
    const m = await loadModelFiles(`${base}/plain/t5_v1_1_tiny`, { onProgress: (e) => events.push(e) });
    expect(m.config.model_type).toBe('t5');
    expect(m.weights.f32('lm_head.weight')).toEqual(SafeTensors.parse(fileOf('t5_v1_1_tiny', 'model.safetensors')).f32('lm_head.weight'));
    const mine = checkProgress(events, 'model.safetensors', size, size);
    expect(mine.length).toBeGreaterThan(3);
    checkProgress(events, 'config.json', fileOf('t5_v1_1_tiny', 'config.json').length, fileOf('t5_v1_1_tiny', 'config.json').length);
  });

  it('reports progress with an unknown total when the server sends no Content-Length', async () => {
    const events: FileProgress[] = [];
    const m = await loadModelFiles(new URL(`${base}/chunked/t5_v1_1_tiny/`), { onProgress: (e) => events.push(e) });
    expect(m.weights.names.length).toBe(52);
    checkProgress(events, 'model.safetensors', size, undefined);
  });

  it('treats a 404 generation_config.json as absent', async () => {
    const src = urlSource(`${base}/plain/t5_v1_1_tiny`);
    expect(await src.read('generation_config.json.missing', { optional: true })).toBeUndefined();
    const e = await rejection(src.read('tokenizer.json'));
    expect(e).toBeInstanceOf(SourceError);
    expect(e.message).toBe(`tokenizer.json not found: GET ${base}/plain/t5_v1_1_tiny/tokenizer.json answered HTTP 404 Not Found`);
  });

  it('names the URL and HTTP status of failures', async () => {
    const e = await rejection(loadModelFiles(`${base}/gated/t5_v1_1_tiny`));
    expect(e).toBeInstanceOf(SourceError);
    expect(e.message).toBe(`GET ${base}/gated/t5_v1_1_tiny/config.json answered HTTP 403 Forbidden`);
    const e2 = await rejection(loadModelFiles(`${base}/broken/t5_v1_1_tiny`));
    expect(e2.message).toBe(`GET ${base}/broken/t5_v1_1_tiny/model.safetensors answered HTTP 500 Internal Server Error`);
    const e3 = await rejection(loadModelFiles(`${base}/plain/no_such_model`));
    expect(e3.message).toMatch(/config\.json not found: GET .*no_such_model\/config\.json answered HTTP 404/);
    const e4 = await rejection(loadModelFiles('http://127.0.0.1:1/x'));
    expect(e4).toBeInstanceOf(SourceError);
    expect(e4.message).toMatch(/^GET http:\/\/127\.0\.0\.1:1\/x\/config\.json failed/);
  });

  it('detects a download cut short', async () => {
    const e = await rejection(urlSource(`${base}/truncated/t5_v1_1_tiny`).read('model.safetensors'));
    expect(e).toBeInstanceOf(SourceError);
    expect(e.message).toMatch(/downloading .*model\.safetensors failed after \d+ bytes|incomplete: got \d+ of \d+ bytes/);
  });

  it('rejects a body that ends cleanly but short of its Content-Length (no transport error to rely on)', async () => {
    const src = urlSource('https://example.invalid/m', {
      fetch: async () => new Response(new Uint8Array(10), { headers: { 'content-length': '100' } }),
    });
    const e = await rejection(src.read('model.safetensors'));
    expect(e).toBeInstanceOf(SourceError);
    expect(e.message).toBe('download of https://example.invalid/m/model.safetensors is incomplete: got 10 of 100 bytes');
  });

  it('validates the config before downloading the weights', async () => {
    requests.length = 0;
    const e = await rejection(loadModelFiles(`${base}/unsupported/t5_v1_1_tiny`));
    expect(e).toBeInstanceOf(UnsupportedError);
    expect(requests).toContain('/unsupported/t5_v1_1_tiny/config.json');
    expect(requests.some((r) => r.endsWith('model.safetensors'))).toBe(false);
  });

  it('stops with AbortedError when the signal fires mid-download', async () => {
    const ctl = new AbortController();
    const e = await rejection(loadModelFiles(`${base}/plain/t5_v1_1_tiny`, {
      signal: ctl.signal,
      onProgress: (p) => p.file === 'model.safetensors' && p.loaded > 0 && ctl.abort(),
    }));
    expect(e).toBeInstanceOf(AbortedError);
  });

  it('uses an injected fetch (e.g. for auth headers)', async () => {
    const seen: string[] = [];
    const src = urlSource('https://example.invalid/repo/resolve/main/', {
      fetch: async (url) => {
        seen.push(String(url));
        return new Response('{"a": 1}', { status: 200 });
      },
    });
    const bytes = await src.read('config.json');
    expect(new TextDecoder().decode(bytes)).toBe('{"a": 1}');
    expect(seen).toEqual(['https://example.invalid/repo/resolve/main/config.json']);
  });
});

describe('toModelSource', () => {
  it('picks the source kind from the input', async () => {
    expect(toModelSource('https://huggingface.co/x/resolve/main').description).toBe('URL https://huggingface.co/x/resolve/main');
    expect(toModelSource('./models/opus').description).toBe('folder ./models/opus');
    expect(toModelSource({ 'config.json': {} }).description).toBe('in-memory model files');
    // a source of your own comes back checked for LFS pointers, everything else it has reached as before
    const custom = { description: 'custom', read: async () => new Uint8Array(3), hits: ['config.json'] };
    const checked = toModelSource(custom);
    expect(checked.description).toBe('custom');
    expect((checked as typeof custom).hits).toBe(custom.hits);
    expect(await checked.read('config.json')).toEqual(new Uint8Array(3));
    expect(toModelSource(checked)).toBe(checked); // checked once
  });

  it('wraps a corrupt weights file as WeightsError naming the file', async () => {
    const e = await rejection(loadModelFiles({ 'config.json': { model_type: 't5' }, 'model.safetensors': new Uint8Array(4) }));
    expect(e).toBeInstanceOf(WeightsError);
    expect(e.message).toMatch(/^model\.safetensors: file is 4 bytes/);
  });
});
