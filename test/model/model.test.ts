// The public model API beyond parity: malformed checkpoints give typed errors (and no model), F16/BF16
// weights load, bad inputs are refused clearly, abort works, calls serialise, memory returns after each call.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../bindings/model/load.js';
import { AbortedError, ConfigError, InputError, UnsupportedError, WeightsError } from '../../bindings/errors.js';
import { fixtureDir, golden, maxAbsDiff } from '../helpers/fixtures.js';
import { readRaw, toHalf, writeRaw, type RawTensor } from '../helpers/safetensors.js';

const NAME = 'marian_tiny';
const dir = fixtureDir(NAME);
const config = JSON.parse(readFileSync(`${dir}config.json`, 'utf8'));
const genConfig = JSON.parse(readFileSync(`${dir}generation_config.json`, 'utf8'));
const weights = new Uint8Array(readFileSync(`${dir}model.safetensors`));
const g = golden(NAME);
const ids: number[][] = g.inputs.input_ids, mask: number[][] = g.inputs.attention_mask;

function files(edit: { config?: object; weights?: Uint8Array } = {}) {
  return { 'config.json': edit.config ?? config, 'generation_config.json': genConfig, 'model.safetensors': edit.weights ?? weights };
}
function editTensors(fn: (t: Map<string, RawTensor>) => void): Uint8Array {
  const t = readRaw(weights);
  fn(t);
  return writeRaw(t);
}

describe('loading malformed checkpoints', () => {
  it('truncated weights file', async () => {
    await expect(loadModel(files({ weights: weights.subarray(0, weights.length - 100) }))).rejects.toThrow(WeightsError);
  });
  it('header length beyond the file', async () => {
    const w = weights.slice();
    new DataView(w.buffer).setBigUint64(0, BigInt(w.length * 2), true);
    await expect(loadModel(files({ weights: w }))).rejects.toThrow(WeightsError);
  });
  it('a missing tensor is named', async () => {
    const w = editTensors((t) => t.delete('model.decoder.layers.1.fc1.weight'));
    await expect(loadModel(files({ weights: w }))).rejects.toThrow(/missing: model\.decoder\.layers\.1\.fc1\.weight \[128, 64\]/);
  });
  it('an extra tensor is named', async () => {
    const w = editTensors((t) => t.set('model.encoder.layers.9.fc1.weight', { dtype: 'F32', shape: [2], bytes: new Uint8Array(8) }));
    await expect(loadModel(files({ weights: w }))).rejects.toThrow(/unexpected: model\.encoder\.layers\.9\.fc1\.weight/);
  });
  it('saved Marian sinusoids are accepted and ignored, as transformers does', async () => {
    const w = editTensors((t) => t.set('model.encoder.embed_positions.weight', { dtype: 'F32', shape: [64, 64], bytes: new Uint8Array(64 * 64 * 4) }));
    const m = await loadModel(files({ weights: w }));
    const out = await m.generate(ids, { attentionMask: mask, maxNewTokens: 12 });
    expect(out.sequences).toEqual(g.generate.greedy.sequences);
  });
  it('weights that do not fit the config (vocab, d_model)', async () => {
    await expect(loadModel(files({ config: { ...config, vocab_size: 102, decoder_vocab_size: 102, pad_token_id: 101, decoder_start_token_id: 101 } })))
      .rejects.toThrow(/wrong shape: model\.shared\.weight is \[101, 64\], expected \[102, 64\]/);
    await expect(loadModel(files({ config: { ...config, encoder_ffn_dim: 100 } }))).rejects.toThrow(WeightsError);
  });
  it('unknown model_type lists the supported ones', async () => {
    await expect(loadModel(files({ config: { ...config, model_type: 'gpt2' } }))).rejects.toThrow(UnsupportedError);
    await expect(loadModel(files({ config: { ...config, model_type: 'gpt2' } }))).rejects.toThrow(/marian/);
  });
  it('special ids outside the vocabulary', async () => {
    await expect(loadModel(files({ config: { ...config, pad_token_id: 500 } }))).rejects.toThrow(ConfigError);
  });
  it('unknown dtype', async () => {
    const w = editTensors((t) => { const x = t.get('final_logits_bias')!; t.set('final_logits_bias', { ...x, dtype: 'F7' }); });
    await expect(loadModel(files({ weights: w }))).rejects.toThrow(WeightsError);
  });
});

describe('F16 and BF16 checkpoints', () => {
  for (const dtype of ['F16', 'BF16'] as const) {
    it(`${dtype} weights load and stay close to the f32 model`, async () => {
      const half = writeRaw(toHalf(readRaw(weights), dtype));
      const m = await loadModel(files({ weights: half }));
      const { data } = await m.decoderLogits(ids, g.decoder_teacher_forced.decoder_input_ids, mask);
      // weight rounding only (bf16 keeps 8 bits of mantissa): logits move by a few hundredths, not more
      const err = maxAbsDiff(data, g.decoder_teacher_forced.logits.data);
      expect(err).toBeGreaterThan(0);
      expect(err).toBeLessThan(dtype === 'F16' ? 5e-3 : 5e-2);
    });
  }
});

describe('generate() inputs and behaviour', async () => {
  const model = await loadModel(dir);

  it('refuses bad inputs with InputError', async () => {
    await expect(model.generate([])).rejects.toThrow(InputError);
    await expect(model.generate([[]])).rejects.toThrow(/inputIds\[0\] must not be empty/);
    await expect(model.generate([[1, 101]])).rejects.toThrow(/inputIds\[0\]\[1\] must be a token id, an integer in \[0, 101\) \(the vocabulary\); got 101/);
    await expect(model.generate([[1, 2.5]])).rejects.toThrow(InputError);
    await expect(model.generate([[1, 2]], { attentionMask: [[1]] })).rejects.toThrow(/attentionMask\[0\] has 1 entries for 2 ids/);
    await expect(model.generate([[1, 2]], { attentionMask: [[1, 2]] })).rejects.toThrow(/0 or 1/);
    await expect(model.generate([[1, 2]], { numBeams: 2, numReturnSequences: 3 })).rejects.toThrow(InputError);
    await expect(model.generate([[1, 2]], { maxLength: 100 })).rejects.toThrow(/max length 100 .* exceeds the model's 64 decoder positions/);
    await expect(model.generate([[1, 2]], { maxNewTokens: 64 })).rejects.toThrow(/max length 65/);
    await expect(model.generate([Array(70).fill(5)])).rejects.toThrow(/inputIds\[0\] has 70 ids; this model's encoder takes at most 64/);
  });

  it('a ragged batch without a mask equals the padded batch with its mask (mask inferred from pad, as transformers)', async () => {
    const ragged = ids.map((r, b) => r.slice(0, mask[b].reduce((a, x) => a + x, 0)));
    const out = await model.generate(ragged, { maxNewTokens: 12 });
    expect(out.sequences).toEqual(g.generate.greedy.sequences);
    const padded = await model.generate(ids, { maxNewTokens: 12 }); // pad ids present, no mask given
    expect(padded.sequences).toEqual(g.generate.greedy.sequences);
  });

  it('stream() yields each step and ends with the same output as generate()', async () => {
    const steps: number[][] = [];
    const it = model.stream(ids, { attentionMask: mask, maxNewTokens: 12 });
    let done;
    for (;;) {
      const r = await it.next();
      if (r.done) { done = r.value; break; }
      if (r.value.type === 'tokens') steps.push(r.value.tokens);
    }
    expect(done.sequences).toEqual(g.generate.greedy.sequences);
    expect(steps.map((s) => s[0])).toEqual(g.generate.greedy.sequences[0].slice(1, 1 + steps.length));
  });

  it('abort rejects with AbortedError and leaves the model usable', async () => {
    const c = new AbortController();
    c.abort();
    await expect(model.generate(ids, { attentionMask: mask, signal: c.signal })).rejects.toThrow(AbortedError);
    const out = await model.generate(ids, { attentionMask: mask, maxNewTokens: 12 });
    expect(out.sequences).toEqual(g.generate.greedy.sequences);
  });

  it('concurrent calls share steps and give the same results; memory returns to the same level', async () => {
    const round = () => Promise.all([
      model.generate(ids, { attentionMask: mask, numBeams: 4, maxNewTokens: 12 }),
      model.generate(ids, { attentionMask: mask, maxNewTokens: 12 }),
      model.generate([[1, 2, 3]], { numBeams: 3, maxNewTokens: 5 }).catch((e) => e),
    ]);
    await round(); // warm: the batch's peak reached
    const before = model.memoryBytes;
    const [a, b, c] = await round();
    expect(a.sequences).toEqual(g.generate.beam4.sequences);
    expect(b.sequences).toEqual(g.generate.greedy.sequences);
    expect(c.sequences.length).toBe(1);
    expect(model.memoryBytes).toBe(before); // nothing kept per round
  });

  it('forcedEosTokenId: [] switches off the forced eos from generation_config.json', async () => {
    const forced = await model.generate([ids[0]], { maxNewTokens: 3 });
    const free = await model.generate([ids[0]], { maxNewTokens: 3, forcedEosTokenId: [] });
    expect(forced.sequences[0]).toEqual([...g.generate.greedy.sequences[0].slice(0, 3), config.eos_token_id]);
    expect(free.sequences[0]).toEqual(g.generate.greedy.sequences[0].slice(0, 4));
  });

  it('generation_config.json defaults apply (bad_words bans pad; forced eos at the last step)', async () => {
    const out = await model.generate([[5, 6, 7]], { maxNewTokens: 3 });
    expect(out.sequences[0].slice(1)).not.toContain(config.pad_token_id);
    expect(out.sequences[0][3]).toBe(config.eos_token_id);
  });
});
