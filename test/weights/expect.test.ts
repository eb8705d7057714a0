import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { WeightsError } from '../../bindings/errors.js';
import { expectTensors, WeightsMismatchError, type TensorSpec, type WeightSpec } from '../../bindings/weights/expect.js';
import { SafeTensors, type TensorInfo, type TensorStore } from '../../bindings/weights/safetensors.js';

const marianFile = SafeTensors.parse(
  new Uint8Array(readFileSync(new URL('../fixtures/marian_tiny/model.safetensors', import.meta.url))),
);

const SHARED_ALIASES = ['model.shared.weight', 'model.encoder.embed_tokens.weight', 'model.decoder.embed_tokens.weight', 'lm_head.weight'];

/** What a Marian model of these sizes needs, written out from docs/model-spec.md §Weights/§Marian (not from the file). */
function marianSpec(d = 64, ffn = 128, vocab = 101, layers = 2): WeightSpec {
  const spec: Record<string, TensorSpec | number[]> = {
    shared: { names: SHARED_ALIASES, shape: [vocab, d] },
    final_logits_bias: { names: 'final_logits_bias', shape: [1, vocab], optional: 'zeros' },
  };
  const linear = (p: string, out: number, inp: number) => {
    spec[`${p}.weight`] = [out, inp];
    spec[`${p}.bias`] = [out];
  };
  const norm = (p: string) => {
    spec[`${p}.weight`] = [d];
    spec[`${p}.bias`] = [d];
  };
  const attention = (p: string) => ['q_proj', 'k_proj', 'v_proj', 'out_proj'].forEach((x) => linear(`${p}.${x}`, d, d));
  for (const side of ['encoder', 'decoder']) {
    for (let i = 0; i < layers; i++) {
      const p = `model.${side}.layers.${i}`;
      attention(`${p}.self_attn`);
      norm(`${p}.self_attn_layer_norm`);
      if (side === 'decoder') {
        attention(`${p}.encoder_attn`);
        norm(`${p}.encoder_attn_layer_norm`);
      }
      linear(`${p}.fc1`, ffn, d);
      linear(`${p}.fc2`, d, ffn);
      norm(`${p}.final_layer_norm`);
    }
  }
  return spec;
}

/** The fixture with some tensors dropped, renamed, reshaped or added (metadata only; f32 reads the original). */
function edited(base: TensorStore, e: { drop?: string[]; rename?: Record<string, string>; reshape?: Record<string, number[]>; add?: Record<string, Partial<TensorInfo>> }): TensorStore {
  const infos = new Map<string, { info: TensorInfo; from: string }>();
  for (const name of base.names) {
    if (e.drop?.includes(name)) continue;
    const to = e.rename?.[name] ?? name;
    const info = base.info(name);
    infos.set(to, { info: e.reshape?.[to] ? { ...info, shape: e.reshape[to] } : info, from: name });
  }
  for (const [name, info] of Object.entries(e.add ?? {})) {
    infos.set(name, { info: { dtype: 'F32', shape: [1], byteLength: 4, ...info }, from: name });
  }
  const get = (n: string) => {
    const x = infos.get(n);
    if (!x) throw new WeightsError(`no tensor named "${n}"`);
    return x;
  };
  return {
    names: [...infos.keys()],
    has: (n) => infos.has(n),
    info: (n) => get(n).info,
    f32: (n) => base.f32(get(n).from),
    raw: (n) => base.raw(get(n).from),
  };
}

function mismatch(f: () => unknown): WeightsMismatchError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(WeightsMismatchError);
    expect(e).toBeInstanceOf(WeightsError);
    return e as WeightsMismatchError;
  }
  throw new Error('expected a WeightsMismatchError, nothing was thrown');
}

describe('expectTensors', () => {
  it('accepts the transformers-saved Marian file and resolves the tied embedding', () => {
    const w = expectTensors(marianFile, marianSpec());
    expect(w.storedName('shared')).toBe('model.shared.weight');
    expect(w.f32('shared')).toEqual(marianFile.f32('model.shared.weight'));
    expect(w.shape('model.encoder.layers.1.fc1.weight')).toEqual([128, 64]);
    expect(w.storedName('model.decoder.layers.0.fc2.bias')).toBe('model.decoder.layers.0.fc2.bias');
    expect(w.f32('model.decoder.layers.0.fc2.bias').length).toBe(64);
    expect(Array.from(w.f32('final_logits_bias'))).toEqual(Array.from(marianFile.f32('final_logits_bias')));
  });

  it('takes the shared embedding from whichever tied name a converter kept', () => {
    for (const alias of SHARED_ALIASES.slice(1)) {
      const store = edited(marianFile, { rename: { 'model.shared.weight': alias } });
      const w = expectTensors(store, marianSpec());
      expect(w.storedName('shared')).toBe(alias);
      expect(w.f32('shared')).toEqual(marianFile.f32('model.shared.weight'));
    }
  });

  it('accepts files that keep every tied copy (old pytorch_model.bin conversions), preferring model.shared.weight', () => {
    const all = edited(marianFile, { add: { 'lm_head.weight': { shape: [101, 64] }, 'model.encoder.embed_tokens.weight': { shape: [101, 64] } } });
    expect(expectTensors(all, marianSpec()).storedName('shared')).toBe('model.shared.weight');
    const badCopy = edited(marianFile, { add: { 'lm_head.weight': { shape: [100, 64] } } });
    const e = mismatch(() => expectTensors(badCopy, marianSpec()));
    expect(e.wrongShape).toEqual([{ name: 'lm_head.weight', shape: [100, 64], expected: [101, 64] }]);
  });

  it('fills an absent final_logits_bias with zeros of the expected shape', () => {
    const w = expectTensors(edited(marianFile, { drop: ['final_logits_bias'] }), marianSpec());
    expect(w.has('final_logits_bias')).toBe(false);
    const z = w.f32('final_logits_bias');
    expect(z.length).toBe(101);
    expect(z.every((x) => x === 0)).toBe(true);
  });

  it('leaves an absent optional (no fill) tensor undefined and refuses to read it', () => {
    const spec = { ...marianSpec(), extra: { names: 'model.encoder.layer_norm.weight', shape: [64], optional: true } };
    const w = expectTensors(marianFile, spec);
    expect(w.has('extra')).toBe(false);
    expect(w.storedName('extra')).toBeUndefined();
    expect(() => w.f32('extra')).toThrow(/optional tensor "model.encoder.layer_norm.weight" is not in the weights/);
  });

  it('reports a missing tensor, naming the tied alternatives it looked for', () => {
    const e = mismatch(() => expectTensors(edited(marianFile, { drop: ['model.shared.weight', 'model.decoder.layers.1.fc2.bias'] }), marianSpec()));
    expect(e.missing).toEqual(['model.shared.weight', 'model.decoder.layers.1.fc2.bias']);
    expect(e.message).toMatch(/missing: model\.shared\.weight \[101, 64\] \(or any of model\.encoder\.embed_tokens\.weight, model\.decoder\.embed_tokens\.weight, lm_head\.weight\)/);
    expect(e.message).toMatch(/missing: model\.decoder\.layers\.1\.fc2\.bias \[64\]/);
    expect(e.message).toMatch(/\(2 missing\)/);
  });

  it('reports a wrong shape with both shapes', () => {
    const store = edited(marianFile, { reshape: { 'model.encoder.layers.0.fc1.weight': [64, 128] } });
    const e = mismatch(() => expectTensors(store, marianSpec()));
    expect(e.message).toMatch(/wrong shape: model\.encoder\.layers\.0\.fc1\.weight is \[64, 128\], expected \[128, 64\]/);
    // A config/weights size mismatch (config says d_model 32) shows up as wrong shapes, never as a partial model.
    const e2 = mismatch(() => expectTensors(marianFile, marianSpec(32)));
    expect(e2.wrongShape.length).toBeGreaterThan(50);
    expect(e2.message).toMatch(/\.\.\. and \d+ more/);
  });

  it('reports unexpected extras, except those on the ignore list', () => {
    const extras = { 'model.encoder.embed_positions.weight': { shape: [64, 64] }, 'model.decoder.embed_positions.weight': { shape: [64, 64] }, 'foo.bar': { shape: [3] } };
    const store = edited(marianFile, { add: extras });
    const e = mismatch(() => expectTensors(store, marianSpec()));
    expect(e.unexpected).toEqual(Object.keys(extras));
    expect(e.message).toMatch(/unexpected: foo\.bar \[3\]/);
    const ignore = ['model.encoder.embed_positions.weight', /^model\.decoder\.embed_positions\./];
    const e2 = mismatch(() => expectTensors(store, marianSpec(), { ignore }));
    expect(e2.unexpected).toEqual(['foo.bar']);
    expect(() => expectTensors(store, marianSpec(), { ignore: [...ignore, 'foo.bar'] })).not.toThrow();
    expect(() => expectTensors(store, marianSpec(), { allowExtra: true })).not.toThrow();
  });

  it('reports every kind of problem in one error', () => {
    const store = edited(marianFile, {
      drop: ['model.encoder.layers.1.fc1.bias'],
      reshape: { 'model.decoder.layers.0.self_attn.q_proj.weight': [32, 128] },
      add: { 'model.encoder.layer_norm.weight': { shape: [64] }, 'position_ids': { dtype: 'I64', shape: [1, 64], byteLength: 512 } },
    });
    const spec = { ...marianSpec(), ids: { names: 'position_ids', shape: [1, 64] } };
    const e = mismatch(() => expectTensors(store, spec, { label: 'model.safetensors' }));
    expect(e.missing).toEqual(['model.encoder.layers.1.fc1.bias']);
    expect(e.wrongShape.map((w) => w.name)).toEqual(['model.decoder.layers.0.self_attn.q_proj.weight']);
    expect(e.unexpected).toEqual(['model.encoder.layer_norm.weight']);
    expect(e.badDtype).toEqual(['position_ids is I64']);
    expect(e.message).toMatch(/^model\.safetensors do not match the model config \(1 missing, 1 wrong shape, 1 unreadable dtype, 1 unexpected\)/);
  });
});
