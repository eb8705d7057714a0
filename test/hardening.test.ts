// One regression test per class of hostile or careless input (issue 23): each was reproduced as a crash, a hang, a
// raw internal error or a silently wrong answer before the fix. The fuzzer (`npm run fuzz`) covers the space
// around them; these stay fast.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, InputError, NumericError, WeightsError } from '../bindings/errors.js';
import { Phonemizer } from '../bindings/g2p/phonemizer.js';
import { loadModel } from '../bindings/model/load.js';
import { loadTokenizer } from '../bindings/tokenizers/index.js';
import { MAX_TEXT_LENGTH } from '../bindings/validate.js';
import { fixtureDir } from './helpers/fixtures.js';
import { readRaw, toHalf, writeRaw } from './helpers/safetensors.js';

const read = (dir: string) => Object.fromEntries(['config.json', 'generation_config.json', 'model.safetensors']
  .map((f) => [f, new Uint8Array(readFileSync(`${fixtureDir(dir)}${f}`))]));
const json = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b));
const marian = read('marian_tiny');
const t5 = read('t5_v1_0_tiny');
const m2m = read('m2m100_tiny');
const G2P = new URL('../weights/g2p-en/', import.meta.url).pathname;
const g2pFiles = Object.fromEntries(['config.json', 'generation_config.json', 'vocab.json', 'model.safetensors']
  .map((f) => [f, new Uint8Array(readFileSync(`${G2P}${f}`))]));

/** marian_tiny with one element of one tensor set (F32, or the whole file as BF16 first). */
function poisoned(name: string, value: number, dtype: 'F32' | 'BF16' = 'F32', all = false): Uint8Array {
  let t = readRaw(marian['model.safetensors'].slice()); // readRaw gives views: never edit the shared bytes
  if (dtype === 'BF16') t = toHalf(t, 'BF16');
  const e = t.get(name)!;
  const f = new DataView(e.bytes.buffer, e.bytes.byteOffset, e.bytes.byteLength);
  const step = dtype === 'F32' ? 4 : 2;
  for (let at = 3 * step; at < (all ? e.bytes.byteLength : 4 * step); at += step) {
    if (dtype === 'F32') f.setFloat32(at, value, true);
    else f.setUint16(at, value === Infinity ? 0x7f80 : 0x7fc0, true);
  }
  if (all) for (let at = 0; at < 3 * step; at += step) f.setFloat32(at, value, true);
  return writeRaw(t);
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try { await p; } catch (e) { return e as Error; }
  throw new Error('expected a rejection');
}

describe('NaN/Inf weights and non-finite logits', () => {
  it('are refused at load, naming the tensor and the element (F32, BF16, final_logits_bias)', async () => {
    for (const [w, re] of [
      [poisoned('model.encoder.layers.0.fc1.weight', NaN), /tensor "model\.encoder\.layers\.0\.fc1\.weight" \(F32 \[128,64\]\) holds NaN at \[0, 3\]/],
      [poisoned('model.decoder.layers.1.fc2.weight', Infinity, 'BF16'), /tensor "model\.decoder\.layers\.1\.fc2\.weight" \(BF16 \[64,128\]\) holds Infinity at \[0, 3\]/],
      [poisoned('final_logits_bias', -Infinity), /tensor "final_logits_bias" \(F32 \[1,101\]\) holds -Infinity at \[0, 3\].*checkFinite: false/],
    ] as const) {
      const e = await rejection(loadModel({ ...marian, 'model.safetensors': w }, { tokenizer: false }));
      expect(e).toBeInstanceOf(WeightsError);
      expect(e.message).toMatch(re);
    }
  });

  it('with checkFinite: false, logits that go non-finite are a NumericError (greedy, beam, stream, decoderLogits)', async () => {
    const gen = new TextEncoder().encode(JSON.stringify({ decoder_start_token_id: 100, eos_token_id: 0 })); // no processors: the fast paths
    for (const [w, processors] of [[poisoned('model.encoder.layers.0.fc1.weight', NaN), true], [poisoned('final_logits_bias', -Infinity, 'F32', true), false]] as const) {
      const model = await loadModel({ ...marian, 'model.safetensors': w, ...(processors ? {} : { 'generation_config.json': gen }) }, { tokenizer: false, checkFinite: false });
      for (const numBeams of [1, 4]) {
        await expect(model.generate([[5, 6, 0]], { numBeams, maxNewTokens: 3 })).rejects.toThrow(NumericError);
      }
      await expect(model.stream([[5, 6, 0]]).next()).rejects.toThrow(/logits of decoder step 1 went non-finite/);
      await expect(model.decoderLogits([[5, 0]], [[100]])).rejects.toThrow(NumericError);
      model.dispose();
    }
  });

  it('a beam hypothesis scored -Infinity (every token banned) is an InputError, not scores [-Infinity]', async () => {
    const model = await loadModel(marian, { tokenizer: false });
    const banAll = Array.from({ length: 100 }, (_, i) => [i + 1]); // all but eos: after eos, nothing is possible
    const e = await rejection(model.generate([[5, 6, 0]], { numBeams: 3, numReturnSequences: 3, badWordsIds: banAll, minNewTokens: 2 }));
    expect(e).toBeInstanceOf(InputError);
    expect(e.message).toMatch(/scores -Infinity: the logits processors .* banned every token/);
  });
});

describe('configs the weights cannot hold', () => {
  it('a layer count beyond the weights is refused at once', async () => {
    const t0 = Date.now();
    const cfg = { ...json(marian['config.json']), encoder_layers: 1e8 };
    await expect(loadModel({ ...marian, 'config.json': cfg }, { tokenizer: false }))
      .rejects.toThrow(/config\.json "encoder_layers" is 100000000, but the weights hold 2 such layers/);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('a computed position table over wasm32 memory is a ConfigError (M2M100, Marian)', async () => {
    for (const files of [m2m, marian]) {
      const cfg = { ...json(files['config.json']), max_position_embeddings: 1e9 };
      const e = await rejection(loadModel({ ...files, 'config.json': cfg }, { tokenizer: false }));
      expect(e).toBeInstanceOf(ConfigError);
      expect(e.message).toMatch(/"max_position_embeddings" 1000000000 needs a sinusoidal position table .* over the 4 GiB wasm32 memory holds/);
    }
  });

  it('T5 bucket settings transformers divides by zero on (1-3 buckets) or goes negative with', async () => {
    for (const [k, v, re] of [['relative_attention_num_buckets', 2, /must be an integer >= 4/], ['relative_attention_max_distance', 16, /must be an integer > 16/]] as const) {
      const cfg = { ...json(t5['config.json']), [k]: v };
      await expect(loadModel({ ...t5, 'config.json': cfg }, { tokenizer: false })).rejects.toThrow(re);
    }
  });
});

describe('input sizes', () => {
  it('tokenizers are stack-safe up to the documented text limit, and refuse beyond it', async () => {
    const nllb = (await loadTokenizer({ 'sentencepiece.bpe.model': new Uint8Array(readFileSync(new URL('fixtures/tokenizers/bpe.model', import.meta.url))) }, { model_type: 'm2m_100' }))!;
    // byte fallback: three tokens per character, ~300k from one piece (push(...spread) overflowed the stack)
    expect(nllb.encode('ꙮ'.repeat(MAX_TEXT_LENGTH - 1)).length).toBeGreaterThan(250_000);
    expect(() => nllb.encode('a'.repeat(MAX_TEXT_LENGTH + 1))).toThrow(/has 100001 characters, over the limit of 100000/);
  });

  it('a phonemize word longer than the model takes is pronounced in pieces; the cache is an LRU of cacheSize', async () => {
    const g2p = await Phonemizer.load(g2pFiles, { threads: 1, cacheSize: 3 });
    const [long] = await g2p.phonemize('ab'.repeat(100)); // 200 letters: the encoder takes 127
    expect(long.phonemes.length).toBeGreaterThan(20);
    await g2p.phonemizeWords(['zorblax', 'quibbit', 'frandle', 'wuzzle', 'gronk']);
    expect(g2p.cachedWords).toBe(3);
    g2p.dispose();
    await expect(g2p.phonemize('cat')).rejects.toThrow(/this Phonemizer was disposed/);
  });
});

describe('API arguments', () => {
  it('are refused with the field, the value and the limit', async () => {
    const model = await loadModel(marian, { tokenizer: false });
    const cases: [() => Promise<unknown>, RegExp][] = [
      [() => model.generate([[5, 0]], null as never), /generate options must be an object, got null/],
      [() => model.generate(5 as never), /input must be text .* or token id rows .*, got 5/],
      [() => model.generate([[5, NaN]]), /inputIds\[0\]\[1\] must be a token id, .*; got NaN/],
      [() => model.generate([['5' as never]]), /got "5" \(a string\)/],
      [() => model.generate([[5, , 0]] as never), /inputIds\[0\]\[1\] is missing \(a sparse array\)/],
      [() => model.generate([[5, 0]], { eosTokenId: Array(1e6).fill(0) }), /eosTokenId has 1000000 elements, over the limit of 101/],
      [() => model.generate([[5, 0]], { numBeams: 1e5 }), /numBeams 100000 is over the limit of 101: at most one beam per vocabulary entry/],
      [() => model.generate(Array.from({ length: 1e5 }, () => [5, 6, 0]), { numBeams: 4 }), /this call needs .* MiB of working memory .* more than the .* MiB wasm32's 4 GiB has left/],
      [() => model.decoderLogits([[5, 0]], null as never), /decoderInputIds must be a non-empty array of token id rows, got null/],
      [() => model.encode([[5, 0]], [[1]]), /attentionMask\[0\] has 1 entries for 2 ids/],
      [() => loadModel(marian, { gpuWeights: 'f8' as never }), /gpuWeights must be 'f32' or 'f16', got "f8"/],
      [() => loadModel(marian, { simd: 5n as never }), /simd must be .*, got 5n \(a BigInt\)/],
    ];
    for (const [call, re] of cases) {
      const e = await rejection(call());
      expect(e, String(re)).toBeInstanceOf(InputError);
      expect(e.message).toMatch(re);
    }
    const cyclic: Record<string, unknown> = { ...json(marian['config.json']) };
    cyclic.self = cyclic;
    await expect(loadModel({ ...marian, 'config.json': cyclic }, { tokenizer: false })).rejects.toThrow(/in-memory config\.json is an object that cannot be written as JSON/);
  });

  it('malformed files: G2P vocab.json without tokens, tokenizer.json vocab a number, weight_map a list, a BOM before the safetensors header', async () => {
    const vocab = json(g2pFiles['vocab.json']);
    delete vocab.tokens;
    await expect(Phonemizer.load({ ...g2pFiles, 'vocab.json': vocab }, { threads: 1 })).rejects.toThrow(/vocab\.json of the G2P model: "tokens" must be a non-empty list of strings, got nothing/);
    const tj = { model: { type: 'BPE', vocab: 5, merges: [] } };
    await expect(loadTokenizer({ 'tokenizer.json': tj })).rejects.toThrow(/model "vocab" of a BPE model must be an object of token → id, got 5/);
    await expect(loadModel({ 'config.json': marian['config.json'], 'model.safetensors.index.json': { weight_map: ['a'] } }))
      .rejects.toThrow(/"weight_map" must be an object of tensor name → shard file/);
    const w = marian['model.safetensors'];
    const n = Number(new DataView(w.buffer, w.byteOffset).getBigUint64(0, true));
    const header = new TextDecoder().decode(w.subarray(8, 8 + n)).trimEnd();
    const bom = w.slice();
    bom.set(new TextEncoder().encode('\ufeff' + header.padEnd(n - 3)), 8);
    await expect(loadModel({ ...marian, 'model.safetensors': bom })).rejects.toThrow(/header must start with "\{", but starts with a UTF-8 byte order mark/);
  });
});

describe('dispose() and dropped streams', () => {
  it('every entry point throws after dispose()', async () => {
    const model = await loadModel(marian, { tokenizer: false });
    const open = model.stream([[5, 6, 0]], { maxNewTokens: 5 });
    await open.next();
    model.dispose();
    for (const call of [() => model.generate([[5, 0]]), () => model.stream([[5, 0]]).next(), () => open.next(),
      () => model.encode([[5, 0]]), () => model.decoderLogits([[5, 0]], [[100]])]) {
      await expect(call()).rejects.toThrow(/this model was disposed/);
    }
  });

  it('a stream read once and dropped does not block later calls; its memory goes back when it is closed', async () => {
    const model = await loadModel(marian, { tokenizer: false });
    const used = () => (model as unknown as { rt: { heap: { used: number } } }).rt.heap.used;
    const before = used();
    const dropped = model.stream([[5, 6, 0]], { maxNewTokens: 10 });
    await dropped.next();
    const other = model.stream([[7, 0]], { maxNewTokens: 3 });
    await other.next();
    const out = await model.generate([[5, 6, 0]], { maxNewTokens: 3 }); // before: waited forever
    expect(out.sequences[0].length).toBeGreaterThan(1);
    for await (const _ of other) { /* the second stream finishes while the first stays open */ }
    expect(used()).toBeGreaterThan(before); // the first stream's memory is still its own
    expect((await dropped.next()).done).toBe(false); // and it goes on where it was
    await dropped.return(undefined as never);
    expect(used()).toBe(before);
  });
});
