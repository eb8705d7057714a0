// Configs with activations the transformers fixtures do not cover, on the tiny fixtures' weights: T5
// feed_forward_proj "gated-<act>" / "<act>" and BART-family activation_function. Each loads and runs on wasm
// against a reference (test/fixtures/activation_variants.json: the repo's NumPy model tools/reference/numpy_model.py, float64, with
// transformers' ACT2FN definitions evaluated by torch; tools/activation_variants_reference.py), and on WebGPU
// where an adapter exists, with the same tokens as wasm. gated-silu itself is t5_gated_silu_tiny, whose
// golden.json transformers made (test/model/fixtures.test.ts, test/backends/webgpu.test.ts).
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireGpu } from '../../bindings/backends/webgpu/index.js';
import { loadModel } from '../../bindings/model/load.js';
import type { Seq2SeqModel } from '../../bindings/model/model.js';
import { fixtureDir, golden, maxAbsDiff } from '../helpers/fixtures.js';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER)) process.env.VK_ICD_FILENAMES = SWIFTSHADER;
const gpuProbe = await acquireGpu();
if (gpuProbe.ok) gpuProbe.gpu.device.destroy(); // each model makes its own device

interface Variant {
  fixture: string;
  config: Record<string, string>;
  max_new_tokens: number;
  teacher_forced: { decoder_input_ids: number[][]; shape: number[]; logits: number[] };
  greedy: { sequences: number[][]; min_top1_top2_gap: number };
}
const doc = JSON.parse(readFileSync(new URL('../fixtures/activation_variants.json', import.meta.url), 'utf8'));
const variants: Variant[] = doc.variants;

/** The fixture's files in memory, its config.json changed. */
function filesOf(v: Variant) {
  const dir = fixtureDir(v.fixture);
  const config = { ...JSON.parse(readFileSync(dir + 'config.json', 'utf8')), ...v.config };
  return {
    'config.json': JSON.stringify(config),
    'generation_config.json': readFileSync(dir + 'generation_config.json', 'utf8'),
    'model.safetensors': readFileSync(dir + 'model.safetensors'),
  };
}

const measured: Record<string, string> = {};
afterAll(() => { if (Object.keys(measured).length) console.log('activation variants:', JSON.stringify(measured, null, 1)); });

describe('activation variants', () => {
  it('the reference covers T5 gated and plain activations and the BART family', () => {
    expect(doc.made_with.torch).toMatch(/^\d/);
    const what = variants.map((v) => v.config.feed_forward_proj ?? v.config.activation_function);
    for (const want of ['gated-relu', 'gated-gelu_new', 'gated-quick_gelu', 'gated-mish', 'quick_gelu']) expect(what).toContain(want);
  });

  for (const v of variants) {
    const what = `${v.fixture} with ${JSON.stringify(v.config)}`;
    it(`${what}: wasm${gpuProbe.ok ? ' and WebGPU' : ''} match the reference`, async () => {
      const g = golden(v.fixture);
      const ids: number[][] = g.inputs.input_ids, mask: number[][] = g.inputs.attention_mask;
      const dec = v.teacher_forced.decoder_input_ids;
      const opts = { maxNewTokens: v.max_new_tokens, attentionMask: mask };
      const models: Seq2SeqModel[] = [await loadModel(filesOf(v), { tokenizer: false })];
      if (gpuProbe.ok) models.push(await loadModel(filesOf(v), { tokenizer: false, backend: 'webgpu' }));
      const logits: Float32Array[] = [];
      const notes: string[] = [];
      for (const m of models) {
        const got = await m.decoderLogits(ids, dec, mask);
        expect(got.shape).toEqual(v.teacher_forced.shape);
        const diff = maxAbsDiff(got.data, v.teacher_forced.logits);
        // the fixtures' tolerance against transformers (1e-4) for wasm; WebGPU against the reference as against
        // golden.json in webgpu.test.ts (1e-3)
        expect(diff, `${m.backend} logits`).toBeLessThan(m.backend === 'wasm' ? 1e-4 : 1e-3);
        logits.push(got.data);
        // the greedy path's smallest top-1 / top-2 gap is recorded with the reference: well above these diffs
        expect((await m.generate(ids, opts)).sequences, `${m.backend} greedy`).toEqual(v.greedy.sequences);
        expect(m.backend).toBe(models.indexOf(m) === 0 ? 'wasm' : 'webgpu');
        notes.push(`${m.backend} ${diff.toExponential(1)}`);
      }
      if (logits.length > 1) notes.push(`webgpu-wasm ${maxAbsDiff(logits[0], logits[1]).toExponential(1)}`);
      measured[what] = `${notes.join(', ')}; greedy equal, min gap ${v.greedy.min_top1_top2_gap}`;
      for (const m of models) m.dispose();
    });
  }
});
