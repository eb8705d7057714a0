// The WebGPU backend against the wasm path on every transformers fixture, through Node + Dawn (npm `webgpu`)
// on whatever adapter exists (CI: SwiftShader from Debian's chromium). Greedy and beam token ids must equal the
// wasm path's, logits and encoder states within 1e-3; the GPU fast paths (argmax / top-k on the GPU) run
// where no logits processor is configured. Without an adapter: skipped with the reason, except in CI (CI=true),
// where that is a failure. backend 'auto' without an adapter falls back to wasm (tested with a null adapter).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { acquireGpu, platformGpu, type GpuAcquisition } from '../../bindings/backends/webgpu/index.js';
import { NumericError, UnsupportedError } from '../../bindings/errors.js';
import { f32ToF16Bits as f16Bits } from '../../bindings/weights/half.js';
import { loadModel } from '../../bindings/model/load.js';
import type { Seq2SeqModel } from '../../bindings/model/model.js';
import type { Backend } from '../../bindings/backends/backend.js';
import { DecoderSessionImpl } from '../../bindings/model/forward.js';
import { padBatch } from '../../bindings/model/inputs.js';
import type { ModelWeights } from '../../bindings/model/weights.js';
import { FIXTURES, fixtureDir, golden, maxAbsDiff } from '../helpers/fixtures.js';
import { readRaw, writeRaw } from '../helpers/safetensors.js';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER)) process.env.VK_ICD_FILENAMES = SWIFTSHADER;

const TOL = 1e-3;
const inCI = process.env.CI === 'true' || process.env.CI === '1';
const got: GpuAcquisition = await acquireGpu();
const reason = got.ok ? '' : got.reason;
if (got.ok) got.gpu.device.destroy(); // each model makes its own device
const names = readdirSync(FIXTURES).filter((n) => existsSync(new URL(`${n}/golden.json`, FIXTURES))).sort();
const camel: Record<string, string> = {
  num_beams: 'numBeams', max_new_tokens: 'maxNewTokens', length_penalty: 'lengthPenalty', early_stopping: 'earlyStopping',
  num_return_sequences: 'numReturnSequences', do_sample: '',
};
/** Measured differences, printed at the end (the numbers of the report). */
const measured: Record<string, Record<string, number | string>> = {};
afterAll(() => { if (Object.keys(measured).length) console.log('webgpu vs wasm:', JSON.stringify(measured, null, 1)); });

describe('WebGPU adapter', () => {
  it.runIf(inCI)('exists in CI (a missing adapter is a failure there)', () => {
    expect(reason).toBe('');
  });
  it.skipIf(got.ok || inCI)(`missing outside CI, WebGPU tests skipped: ${reason}`, () => {});
});

describe('backend option', () => {
  const dir = fixtureDir('marian_tiny');
  it("'auto' falls back to wasm with a note when there is no adapter", async () => {
    const nullAdapter = { requestAdapter: async () => null };
    const model = await loadModel(dir, { backend: 'auto', gpu: nullAdapter });
    expect(model.backend).toBe('wasm');
    expect(model.backendNote).toMatch(/no adapter/);
    const wasm = await loadModel(dir);
    const g = golden('marian_tiny');
    const opts = { maxNewTokens: 6, attentionMask: g.inputs.attention_mask };
    expect((await model.generate(g.inputs.input_ids, opts)).sequences).toEqual((await wasm.generate(g.inputs.input_ids, opts)).sequences);
  });
  it("'auto' falls back when there is no WebGPU at all (gpu: null)", async () => {
    const model = await loadModel(dir, { backend: 'auto', gpu: null });
    expect(model.backend).toBe('wasm');
    expect(model.backendNote).toMatch(/WebGPU not used/);
  });
  it("'webgpu' without an adapter throws UnsupportedError naming what is missing", async () => {
    const p = loadModel(dir, { backend: 'webgpu', gpu: { requestAdapter: async () => null } });
    await expect(p).rejects.toThrow(UnsupportedError);
    await expect(loadModel(dir, { backend: 'webgpu', gpu: { requestAdapter: async () => null } })).rejects.toThrow(/no adapter/);
  });
  it.skipIf(!got.ok)("gpuWeights 'f16' without shader-f16 (SwiftShader) keeps f32 weights and says so; a bad value is an InputError", async () => {
    const m = await loadModel(dir, { backend: 'webgpu', gpuWeights: 'f16' });
    expect(m.backend).toBe('webgpu');
    expect(m.backendNote).toMatch(m.backendNote.includes('linear layers as f16') ? /f16/ : /no shader-f16: f32/);
    await expect(loadModel(dir, { backend: 'webgpu', gpuWeights: 'f8' as never })).rejects.toThrow(/gpuWeights must be/);
  });
  it('f16 conversion of weights rounds to nearest even', () => {
    const cases: [number, number][] = [[1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [2 ** -24, 0x0001], [2 ** -25, 0], [3 * 2 ** -26, 0x0001],
      [1 / 3, 0x3555], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [2 ** -14, 0x0400], [0, 0], [-0, 0x8000]];
    for (const [x, bits] of cases) expect(f16Bits(x), String(x)).toBe(bits);
  });
  it('a bad backend name is an InputError', async () => {
    await expect(loadModel(dir, { backend: 'cuda' as never })).rejects.toThrow(/backend must be/);
  });
  it.skipIf(!got.ok)('logits that go non-finite are a NumericError on the GPU too (argmax and top-k fast paths, the processors path)', async () => {
    const raw = readRaw(new Uint8Array(readFileSync(`${dir}model.safetensors`)));
    const bias = raw.get('final_logits_bias')!;
    const f = new Float32Array(bias.bytes.buffer.slice(bias.bytes.byteOffset, bias.bytes.byteOffset + bias.bytes.byteLength));
    const files = (fill: (f: Float32Array) => void, gen: object) => {
      const g = f.slice();
      fill(g);
      raw.set('final_logits_bias', { ...bias, bytes: new Uint8Array(g.buffer) });
      return { 'config.json': readFileSync(`${dir}config.json`), 'generation_config.json': gen, 'model.safetensors': writeRaw(raw) };
    };
    const plain = { decoder_start_token_id: 100, eos_token_id: 0 }, withProcessors = { ...plain, bad_words_ids: [[100]] };
    for (const [fill, gen] of [[(g: Float32Array) => { g[7] = NaN; }, plain], [(g: Float32Array) => g.fill(-Infinity), plain], [(g: Float32Array) => { g[7] = Infinity; }, withProcessors]] as const) {
      const m = await loadModel(files(fill, gen), { backend: 'webgpu', checkFinite: false, tokenizer: false });
      expect(m.backend).toBe('webgpu');
      for (const numBeams of [1, 3]) await expect(m.generate([[5, 6, 0]], { numBeams, maxNewTokens: 3 })).rejects.toThrow(NumericError);
      m.dispose();
    }
  });
  it.skipIf(!got.ok)("int8 weights: 'webgpu' refuses, 'auto' runs on wasm", async () => {
    await expect(loadModel(dir, { backend: 'webgpu', quantize: 'int8' })).rejects.toThrow(/int8/);
    const m = await loadModel(dir, { backend: 'auto', quantize: 'int8' });
    expect(m.backend).toBe('wasm');
    expect(m.backendNote).toMatch(/int8/);
  });
});

for (const name of names) {
  describe.skipIf(!got.ok)(`${name} on WebGPU matches the wasm path`, async () => {
    if (!got.ok) return;
    const g = golden(name);
    const ids: number[][] = g.inputs.input_ids, mask: number[][] = g.inputs.attention_mask;
    const wasm = await loadModel(fixtureDir(name));
    const gpu: Seq2SeqModel = await loadModel(fixtureDir(name), { backend: 'webgpu' });
    const m: Record<string, number | string> = (measured[name] = {});
    // a GPU failure would silently fall back to wasm (and pass): every test must end still on WebGPU
    afterEach(() => { expect(gpu.backend, gpu.backendNote).toBe('webgpu'); });

    it('runs on WebGPU', () => {
      expect(gpu.backend).toBe('webgpu');
      expect(gpu.backendNote).toMatch(/^WebGPU on /);
    });

    it('encoder states', async () => {
      const a = await gpu.encode(ids, mask), b = await wasm.encode(ids, mask);
      expect(a.shape).toEqual(b.shape);
      m.encoder = maxAbsDiff(a.data, b.data);
      expect(m.encoder).toBeLessThan(TOL);
      expect(maxAbsDiff(a.data, g.encoder_last_hidden_state.data)).toBeLessThan(TOL);
    });

    it('teacher-forced logits', async () => {
      const dec = g.decoder_teacher_forced.decoder_input_ids;
      const a = await gpu.decoderLogits(ids, dec, mask), b = await wasm.decoderLogits(ids, dec, mask);
      m.logits = maxAbsDiff(a.data, b.data);
      expect(m.logits).toBeLessThan(TOL);
      expect(maxAbsDiff(a.data, g.decoder_teacher_forced.logits.data)).toBeLessThan(TOL);
    });

    // greedy and one beam run with the fixture's settings (logits read back when processors apply), and the
    // same without any processor (GPU argmax / top-k; only ids and scores come back)
    const runs: [string, Record<string, unknown>][] = [];
    for (const run of ['greedy', 'beam4_nbest2']) {
      const opts: Record<string, unknown> = {};
      for (const [k, v] of Object.entries<unknown>(g.generate[run].kwargs)) if (camel[k]) opts[camel[k]] = v;
      runs.push([run, opts]);
    }
    const noProcessors = { badWordsIds: [], forcedEosTokenId: [] };
    if (!gpu.generationDefaults.forced_bos_token_id) {
      runs.push(['greedy, GPU argmax', { ...runs[0][1], ...noProcessors }], ['beam4, GPU top-k', { ...runs[1][1], ...noProcessors }]);
    }
    it('finished sentences leave the session (the first leaves, later ones move up): the same logits after', async () => {
      type Inner = { primary: { backend: Backend; weights: ModelWeights } };
      const sessions = [gpu, wasm].map((model) => {
        const { backend, weights } = (model as unknown as Inner).primary;
        const batch = padBatch(weights, [ids[0], ids[1], ids[0]], [mask[0], mask[1], mask[0]], undefined, []);
        return DecoderSessionImpl.create(backend, weights, batch, 2, 6);
      });
      const start = gpu.generationDefaults.decoder_start_token_id!;
      const logits: Float32Array[][] = [[], []];
      for (const [i, s] of sessions.entries()) {
        await s.step(new Int32Array(6).fill(start));
        await s.step(Int32Array.from([5, 6, 7, 8, 9, 10]));
        s.reorder(Int32Array.from([3, 2, 4, 4]), Int32Array.from([1, 2])); // sentence 0 leaves; beams swap and copy
        logits[i].push((await s.step(Int32Array.from([11, 12, 13, 14]))).slice());
        s.reorder(Int32Array.from([2, 3]), Int32Array.from([1])); // now the first live one leaves
        logits[i].push((await s.step(Int32Array.from([15, 16]))).slice());
      }
      for (let k = 0; k < 2; k++) expect(maxAbsDiff(logits[0][k], logits[1][k])).toBeLessThan(TOL);
    });

    for (const [run, opts] of runs) {
      it(`generate ${run}: same tokens`, async () => {
        const a = await gpu.generate(ids, { ...opts, attentionMask: mask }), b = await wasm.generate(ids, { ...opts, attentionMask: mask });
        expect(a.sequences).toEqual(b.sequences);
        if (b.scores) {
          m[`${run} scores`] = maxAbsDiff(a.scores!, b.scores);
          expect(m[`${run} scores`]).toBeLessThan(TOL);
        }
        m[`${run} tokens`] = 'equal';
      });
    }
  });
}

describe.skipIf(!got.ok)('WebGPU limits and device loss', () => {
  const name = 't5_v1_0_tiny'; // tied embeddings: the lm_head chunks also serve the embedding gather
  const g = golden(name);
  const ids: number[][] = g.inputs.input_ids, mask: number[][] = g.inputs.attention_mask;
  const run = { maxNewTokens: 8, numBeams: 4, attentionMask: mask };

  it('a vocabulary projection larger than maxStorageBufferBindingSize is split across bindings', async () => {
    // an adapter that reports 8 KiB bindings: the 101-column lm_head (13 panels of 2080 bytes) becomes 5 chunks
    const platform = (await platformGpu()).gpu!; // Dawn's one GPU object: a second create() that gets collected crashes Dawn
    const small = {
      async requestAdapter(o?: object) {
        const a = (await platform.requestAdapter(o)) as GPUAdapter | null;
        if (!a) return null;
        const limits = { maxStorageBufferBindingSize: 8192, maxBufferSize: a.limits.maxBufferSize, maxStorageBuffersPerShaderStage: a.limits.maxStorageBuffersPerShaderStage };
        return { limits, features: a.features, info: a.info, requestDevice: (d?: GPUDeviceDescriptor) => a.requestDevice({ ...d, requiredLimits: {} }) };
      },
    };
    const split = await loadModel(fixtureDir(name), { backend: 'webgpu', gpu: small });
    const wasm = await loadModel(fixtureDir(name));
    expect(split.backend).toBe('webgpu');
    expect((split as unknown as { primary: { weights: { lmHead: { chunks: unknown[] } } } }).primary.weights.lmHead.chunks).toHaveLength(5);
    const a = await split.decoderLogits(ids, g.decoder_teacher_forced.decoder_input_ids, mask);
    const b = await wasm.decoderLogits(ids, g.decoder_teacher_forced.decoder_input_ids, mask);
    expect(maxAbsDiff(a.data, b.data)).toBeLessThan(TOL);
    for (const numBeams of [1, 4]) { // GPU argmax and top-k over the chunked logits
      expect((await split.generate(ids, { ...run, numBeams })).sequences).toEqual((await wasm.generate(ids, { ...run, numBeams })).sequences);
    }
    expect(split.backend, split.backendNote).toBe('webgpu');
  });

  it('a source longer than the GPU attention kernel takes runs that call on wasm, later calls still on the GPU', async () => {
    const model = await loadModel(fixtureDir(name), { backend: 'webgpu' });
    const wasm = await loadModel(fixtureDir(name));
    const long = [Array.from({ length: 1100 }, (_, i) => 2 + (i % 90))];
    const o = { maxNewTokens: 3 };
    expect(await model.generate(long, o)).toEqual(await wasm.generate(long, o));
    expect((await model.encode(long)).data).toEqual((await wasm.encode(long)).data);
    expect(model.backend).toBe('webgpu');
    expect((await model.generate(ids, run)).sequences).toEqual((await wasm.generate(ids, run)).sequences);
  });

  it('dispose() frees the GPU device too', async () => {
    const model = await loadModel(fixtureDir(name), { backend: 'webgpu' });
    const device = (model as unknown as { primary: { backend: { gpu: { device: GPUDevice } } } }).primary.backend.gpu.device;
    model.dispose();
    expect(model.backendNote).toBe('disposed');
    expect((await device.lost).reason).toBe('destroyed');
  });

  it('after the device is lost, calls run on wasm with a note', async () => {
    const model = await loadModel(fixtureDir(name), { backend: 'webgpu' });
    const wasm = await loadModel(fixtureDir(name));
    const want = await wasm.generate(ids, run);
    expect((await model.generate(ids, run)).sequences).toEqual(want.sequences);
    // what a driver reset or a browser reclaiming the GPU looks like to us: the device's lost promise resolves
    (model as unknown as { primary: { backend: { gpu: { device: GPUDevice } } } }).primary.backend.gpu.device.destroy();
    await new Promise((r) => setTimeout(r, 50));
    expect(model.backend).toBe('wasm');
    expect(model.backendNote).toMatch(/device lost.*running on wasm/);
    expect(await model.generate(ids, run)).toEqual(want);
  });

  it('a device lost mid-stream: the stream goes on on wasm, the same events, each once', async () => {
    const model = await loadModel(fixtureDir(name), { backend: 'webgpu' });
    const wasm = await loadModel(fixtureDir(name));
    const o = { maxNewTokens: 8, minNewTokens: 8 };
    const want = [];
    for await (const ev of wasm.stream(ids, o)) want.push(ev);
    const got = [];
    for await (const ev of model.stream(ids, o)) {
      got.push(ev);
      if (got.length === 3) {
        (model as unknown as { primary: { backend: { gpu: { device: GPUDevice } } } }).primary.backend.gpu.device.destroy();
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    expect(got).toEqual(want);
    expect(model.backend).toBe('wasm');
    expect(model.backendNote).toMatch(/running on wasm/);
  });
});
