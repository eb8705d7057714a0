// Weights stored as int8 (`wasm-seq2seq convert --to int8`: I8 + per-row `_scale`): loading such a file must
// give the same model as quantising the f32 original at load, for every family; malformed files get clear errors.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../bindings/model/load.js';
import { UnsupportedError, WeightsError } from '../../bindings/errors.js';
import { dequantizingStore } from '../../bindings/weights/int8.js';
import { SafeTensors } from '../../bindings/weights/safetensors.js';
import { quantizeRowsInt8, safetensorsToInt8 } from '../../bindings/weights/convert.js';
import { fixtureDir, golden, maxAbsDiff } from '../helpers/fixtures.js';
import { readRaw, writeRaw } from '../helpers/safetensors.js';

function filesOf(name: string, weights?: Uint8Array) {
  const dir = fixtureDir(name);
  return {
    'config.json': readFileSync(dir + 'config.json', 'utf8'),
    'generation_config.json': readFileSync(dir + 'generation_config.json', 'utf8'),
    'model.safetensors': weights ?? readFileSync(dir + 'model.safetensors'),
  };
}

describe('int8 safetensors', () => {
  for (const name of ['marian_tiny', 'bart_tiny', 'm2m100_tiny', 't5_v1_1_tiny']) {
    it(`${name}: the int8 file runs as the f32 file quantised at load`, async () => {
      const f32Bytes = readFileSync(fixtureDir(name) + 'model.safetensors');
      const i8Bytes: Uint8Array = safetensorsToInt8(f32Bytes);
      const store = dequantizingStore(SafeTensors.parse(i8Bytes));
      expect(store.int8Tensors).toBeGreaterThan(0);
      expect(store.names.some((n) => n.endsWith('_scale'))).toBe(false);

      const g = golden(name);
      const ids = g.inputs.input_ids, mask = g.inputs.attention_mask, dec = g.decoder_teacher_forced.decoder_input_ids;
      const [atLoad, fromFile, widened] = await Promise.all([
        loadModel(filesOf(name), { quantize: 'int8', tokenizer: false }),
        loadModel(filesOf(name, i8Bytes), { tokenizer: false }),              // int8 kernels by default
        loadModel(filesOf(name, i8Bytes), { quantize: 'none', tokenizer: false }),
      ]);
      const a = (await atLoad.decoderLogits(ids, dec, mask)).data;
      const b = (await fromFile.decoderLogits(ids, dec, mask)).data;
      const c = (await widened.decoderLogits(ids, dec, mask)).data;
      const range = Math.max(...a.map(Math.abs));
      // Same integers; the scale may differ by an ulp after the round trip through f32 values.
      expect(maxAbsDiff(a, b) / range).toBeLessThan(1e-5);
      expect(fromFile.memoryBytes).toBe(atLoad.memoryBytes);
      // f32 kernels over the dequantised weights: only the activations' int16 rounding differs.
      expect(maxAbsDiff(a, c) / range).toBeLessThan(0.01);
      const opts = { attentionMask: mask, numBeams: 4, maxNewTokens: 12, earlyStopping: true };
      expect((await fromFile.generate(ids, opts)).sequences).toEqual((await atLoad.generate(ids, opts)).sequences);
    });
  }

  it('quantises per row with max|row|/127 and round half to even', () => {
    // row 0 all zero (scale 0), row 1 max 127 so scale is exactly 1 and the halves show the rounding rule
    const w = new Float32Array([0, 0, 0, 0, 0, 127, 0.5, 1.5, 2.5, -2.5, 0.2, -0.1, 0.05, 0, 0.001]);
    const { q, scale } = quantizeRowsInt8(w, 3, 5);
    expect(Array.from(scale)).toEqual([0, 1, Math.fround(0.2 / 127)]);
    expect(Array.from(q)).toEqual([0, 0, 0, 0, 0, 127, 0, 2, 2, -2, 127, -64, 32, 0, 1]);
    for (let i = 10; i < 15; i++) expect(Math.abs(q[i] * scale[2] - w[i])).toBeLessThanOrEqual(scale[2] / 2 * (1 + 1e-6));
  });

  describe('malformed int8 weights', () => {
    const base = () => readRaw(safetensorsToInt8(readFileSync(fixtureDir('marian_tiny') + 'model.safetensors')));
    const quantized = (t: ReturnType<typeof base>) => [...t.keys()].find((n) => t.get(n)!.dtype === 'I8')!;
    const load = (t: ReturnType<typeof base>) => loadModel(filesOf('marian_tiny', writeRaw(t)), { tokenizer: false });

    it('a missing scale', async () => {
      const t = base();
      t.delete(quantized(t) + '_scale');
      await expect(load(t)).rejects.toThrow(WeightsError);
      await expect(load(t)).rejects.toThrow(/_scale" \(its per-output-channel scales\) is missing/);
    });
    it('a scale of the wrong shape', async () => {
      const t = base();
      const s = t.get(quantized(t) + '_scale')!;
      t.set(quantized(t) + '_scale', { ...s, shape: [s.shape[0] / 2, 2] });
      await expect(load(t)).rejects.toThrow(/need \[\d+\] or \[\d+, 1\]/);
    });
    it('a zero point (asymmetric int8)', async () => {
      const t = base();
      t.set(quantized(t) + '_zero_point', { dtype: 'I8', shape: [1], bytes: new Uint8Array(1) });
      await expect(load(t)).rejects.toThrow(UnsupportedError);
    });
    it('a negative or non-finite scale', async () => {
      const t = base();
      const name = quantized(t) + '_scale';
      const s = t.get(name)!;
      const bad = new Float32Array(s.bytes.slice().buffer);
      bad[0] = -1;
      t.set(name, { ...s, bytes: new Uint8Array(bad.buffer) });
      await expect(load(t)).rejects.toThrow(/not a finite non-negative number/);
    });
    it('a 1-D I8 tensor', async () => {
      const t = base();
      t.set('model.stray', { dtype: 'I8', shape: [4], bytes: new Uint8Array(4) });
      await expect(load(t)).rejects.toThrow(/only 2-D \[out, in\] weights can be int8/);
    });
  });
});
