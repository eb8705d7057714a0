// Hub ids where there is no Node (browsers, Workers, Deno): strings are taken as a browser takes them, and the
// files are kept by cache.ts's Cache API store, keyed by <hub>/<id>/resolve/<revision>/<file>. Node's runtime
// checks are stubbed to "not Node" for this file; the Cache API is an in-memory one (the real ones run in
// test/runtimes/).
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

vi.mock('../../bindings/platform.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../bindings/platform.js')>()),
  hasNodeApis: () => false,
  isNodeJs: () => false,
}));

const { HubError } = await import('../../bindings/errors.js');
const { loadModel } = await import('../../bindings/model/load.js');
const { hubSource } = await import('../../bindings/weights/hub.js');
const { toModelSource } = await import('../../bindings/weights/source.js');
const { golden } = await import('../helpers/fixtures.js');
const { startMockHub } = await import('../helpers/mock_hub.js');
const { textModelFiles } = await import('../helpers/textmodel.js');

class FakeCache {
  entries = new Map<string, { body: Uint8Array; headers: [string, string][] }>();
  async match(req: string | Request) {
    const e = this.entries.get(typeof req === 'string' ? req : req.url);
    return e && new Response(e.body as Uint8Array<ArrayBuffer>, { headers: e.headers });
  }
  async put(req: string | Request, res: Response) {
    this.entries.set(typeof req === 'string' ? req : req.url, { body: new Uint8Array(await res.arrayBuffer()), headers: [...(res.headers as unknown as Iterable<[string, string]>)] });
  }
  async keys() { return [...this.entries.keys()].map((url) => new Request(url)); }
  async delete(req: string | Request) { return this.entries.delete(typeof req === 'string' ? req : req.url); }
}
const storage = new Map<string, FakeCache>();
const ID = 'acme/opus-tiny';
const g = golden('marian_tiny');
// the kernels as a page gets them (bytes), since "not Node" also means no reading them from a file path
const wasm = new Uint8Array(readFileSync(new URL('../../build/kernels.wasm', import.meta.url)));
let hub: Awaited<ReturnType<typeof startMockHub>>;

beforeAll(async () => {
  (globalThis as { caches?: unknown }).caches = {
    open: async (name: string) => storage.get(name) ?? storage.set(name, new FakeCache()).get(name)!,
  };
  hub = await startMockHub({ [ID]: { files: textModelFiles() } });
});
afterAll(async () => {
  delete (globalThis as { caches?: unknown }).caches;
  await hub.close().catch(() => undefined);
});
afterEach(() => vi.unstubAllEnvs());

describe('Hub ids outside Node', () => {
  it('"owner/name" is a Hub id; URLs, "./relative" paths and single names stay URLs', () => {
    expect(toModelSource(ID, { hubUrl: hub.url }).description).toBe(`Hub model ${ID} (revision main, ${hub.url}) (cached in wasm-seq2seq-models)`);
    expect(toModelSource('https://example.com/acme/opus-tiny').description).toBe('URL https://example.com/acme/opus-tiny');
    expect(toModelSource('./acme/opus-tiny').description).toBe('URL ./acme/opus-tiny');
    expect(toModelSource('opus-tiny').description).toBe('URL opus-tiny');
  });

  it('downloads into the Cache API keyed by revision, then loads with the Hub stopped; offline: true needs a copy', async () => {
    const run = async (hubUrl: string) => {
      const model = await loadModel(ID, { hubUrl, threads: 1, wasm });
      const out = await model.generate(g.inputs.input_ids, { numBeams: 1, maxNewTokens: 12, attentionMask: g.inputs.attention_mask });
      expect(out.sequences).toEqual(g.generate.greedy.sequences);
      model.dispose();
    };
    await run(hub.url);
    const cache = storage.get('wasm-seq2seq-models')!;
    expect([...cache.entries.keys()]).toEqual(expect.arrayContaining([`${hub.url}/${ID}/resolve/main/model.safetensors`,
      `${hub.url}/${ID}/resolve/main/config.json`, `${hub.url}/${ID}/resolve/main/special_tokens_map.json`]));
    // CDN-served files are cached too, whatever origin they came from
    expect(hub.requests.some((r) => r.host === 'cdn')).toBe(true);
    const url = hub.url;
    await hub.close();
    await run(url);
    const e = await loadModel(ID, { hubUrl: url, revision: 'v2', offline: true }).catch((x) => x);
    expect(e).toBeInstanceOf(HubError);
    expect(e.reason).toBe('NotCached');
    expect(e.message).toBe(`offline: true (cached files only), and config.json of ${ID} (revision v2) is not in this runtime's model ` +
      'cache (wasm-seq2seq-models): load the model once online (without offline: true) to cache it, or load a folder with its files');
    const down = await loadModel(ID, { hubUrl: url, revision: 'v2' }).catch((x) => x);
    expect(down.reason).toBe('Offline');
    expect(down.message).toMatch(/and this runtime's model cache \(wasm-seq2seq-models\) has no copy of it: you seem to be offline/);
    expect(hubSource(ID, { hubUrl: url, storage: 'none' }).description).toContain(`Hub model ${ID}`);
  });
});
