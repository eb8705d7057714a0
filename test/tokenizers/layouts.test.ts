// The tokenizer files each family ships on the Hub, laid out as its well-known repos have them
// (test/fixtures/tokenizers/layouts/, tools/tokenizers/make_layouts.py): loaded from a folder with no config given
// (the family found from the files, as from_pretrained finds it) and by Hub id through the mock Hub, they must give
// the ids and text of the family's expectations. Then Marian with separate vocabularies on a model that has them:
// decoding must use target_vocab.json and target.spm, with transformers' source-side special ids.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../bindings/model/load.js';
import { loadTokenizer, type Tokenizer } from '../../bindings/tokenizers/index.js';
import { NLLB_CODES } from '../../bindings/tokenizers/languages.js';
import { fixtureDir, golden } from '../helpers/fixtures.js';
import { startMockHub, type MockHub } from '../helpers/mock_hub.js';
import { nllbTokenizerJson, t5TokenizerJson } from './convert.js';
import { agreement, fixtureBytes, fixtureJson, fixturePath } from './helpers.js';

interface Layout { family: string; expect: string; srcLang?: string; copy?: Record<string, string>; 'tokenizer.json'?: 't5' | 'nllb'; written: string[] }
interface Case { text: string; ids: number[]; decoded: string; decoded_raw?: string }
const layouts = fixtureJson<Record<string, Layout>>('layouts/layouts.json');

/** The files of one layout: its own JSON files, the stand-in models, the built tokenizer.json. */
function layoutFiles(name: string): Record<string, Uint8Array> {
  const l = layouts[name]!;
  const files: Record<string, Uint8Array> = {};
  for (const f of l.written) files[f] = fixtureBytes(`layouts/${name}/${f}`);
  for (const [f, from] of Object.entries(l.copy ?? {})) files[f] = fixtureBytes(from);
  if (l['tokenizer.json'] === 't5') files['tokenizer.json'] = Buffer.from(JSON.stringify(t5TokenizerJson(fixtureBytes('unigram.model'))));
  if (l['tokenizer.json'] === 'nllb') files['tokenizer.json'] = Buffer.from(JSON.stringify(nllbTokenizerJson(fixtureBytes('bpe.model'), NLLB_CODES)));
  return files;
}

function expected(l: Layout): Case[] {
  const [file, key] = l.expect.split(':') as [string, string];
  return fixtureJson<Record<string, Case[]>>(file)[key]!;
}

/** tokenizer.json (@huggingface/tokenizers) agrees with SentencePiece on plain text; exact-score ties aside
 *  (tokenizer_json.test.ts), so a fast-only layout is checked on plain lines. */
const plain = (c: Case) => /^[A-Za-z][A-Za-z ,.?']*$/.test(c.text) && !/\s\s|\s$/.test(c.text);

let tmp: string;
let hub: MockHub;
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'wasm-seq2seq-layouts-'));
  hub = await startMockHub(Object.fromEntries(Object.keys(layouts).map((n) => [`layouts/${n}`, { files: layoutFiles(n) }])));
});
afterAll(async () => {
  await hub.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe.each(Object.keys(layouts))('Hub layout %s', (name) => {
  const l = layouts[name]!;
  const check = (tok: Tokenizer | null, label: string) => {
    expect(tok?.family, label).toBe(l.family);
    const fastOnly = !Object.keys(layoutFiles(name)).some((f) => /\.(model|spm|txt)$/.test(f));
    const cases = fastOnly ? expected(l).filter(plain) : expected(l);
    expect(cases.length).toBeGreaterThan(fastOnly ? 5 : 50);
    const enc = agreement(`${label} encode`, cases, (c) => JSON.stringify(tok!.encode(c.text, { srcLang: l.srcLang })) === JSON.stringify(c.ids));
    expect(enc.map((c) => ({ text: c.text, want: c.ids, got: tok!.encode(c.text, { srcLang: l.srcLang }) }))).toEqual([]);
    const dec = agreement(`${label} decode`, cases, (c) => tok!.decode(c.ids) === c.decoded &&
      // (with special tokens kept, transformers' fast and slow tokenizers differ: "x </s>" vs "x</s>")
      (c.decoded_raw === undefined || fastOnly || tok!.decode(c.ids, { skipSpecialTokens: false }) === c.decoded_raw));
    expect(dec.map((c) => ({ ids: c.ids, want: c.decoded, got: tok!.decode(c.ids) }))).toEqual([]);
  };

  it('loads from a folder laid out like the repo, the family found from its files', async () => {
    const dir = join(tmp, name);
    mkdirSync(dir);
    for (const [f, v] of Object.entries(layoutFiles(name))) writeFileSync(join(dir, f), v);
    check(await loadTokenizer(dir), `${name} (folder)`);
  });

  it('loads by Hub id, the same', async () => {
    check(await loadTokenizer(`layouts/${name}`, undefined, { hubUrl: hub.url, cacheDir: join(tmp, 'hub-cache') }), `${name} (Hub)`);
  });
});

describe('Marian with separate vocabularies, on a model that has them (d32_swish_separate_vocabs)', () => {
  interface Cases { encode: { text: string; ids: number[] }[]; decode: { ids: number[]; decoded: string; decoded_raw: string }[] }
  const cases = fixtureJson<Cases>('marian_separate_model/cases.json');
  const files: Record<string, Uint8Array> = {
    'source.spm': fixtureBytes('unigram.model'), 'target.spm': fixtureBytes('bpe.model'),
    ...Object.fromEntries(['vocab.json', 'target_vocab.json', 'tokenizer_config.json', 'special_tokens_map.json']
      .map((f) => [f, fixtureBytes(`marian_separate_model/${f}`)])),
  };
  const modelDir = new URL('../fixtures/random/d32_swish_separate_vocabs/', import.meta.url).pathname;
  let dir: string;
  beforeAll(() => {
    dir = join(tmp, 'separate-model');
    mkdirSync(dir);
    for (const f of ['config.json', 'generation_config.json', 'model.safetensors']) copyFileSync(join(modelDir, f), join(dir, f));
    for (const [f, v] of Object.entries(files)) writeFileSync(join(dir, f), v);
  });

  it('encodes with vocab.json + source.spm, decodes with target_vocab.json + target.spm (special ids from the source side)', async () => {
    const model = await loadModel(dir, { threads: 1 });
    const tok = model.tokenizer!;
    expect([tok.family, tok.vocabSize, tok.padId, tok.eosId]).toEqual(['marian', 59, 58, 0]);
    const enc = agreement('marian separate model encode', cases.encode, (c) => JSON.stringify(tok.encode(c.text)) === JSON.stringify(c.ids));
    expect(enc.map((c) => ({ text: c.text, want: c.ids, got: tok.encode(c.text) }))).toEqual([]);
    const dec = agreement('marian separate model decode', cases.decode, (c) =>
      tok.decode(c.ids) === c.decoded && tok.decode(c.ids, { skipSpecialTokens: false }) === c.decoded_raw);
    expect(dec.map((c) => ({ ids: c.ids, want: [c.decoded, c.decoded_raw], got: [tok.decode(c.ids), tok.decode(c.ids, { skipSpecialTokens: false })] }))).toEqual([]);
    // ids past the source vocabulary are target pieces; 58 is the source <pad> (the model's decoder start) on both sides
    const target = JSON.parse(readFileSync(fixturePath('marian_separate_model/target_vocab.json'), 'utf8')) as Record<string, number>;
    const byId = Object.fromEntries(Object.entries(target).map(([p, i]) => [i, p]));
    expect([tok.idToToken(82), tok.idToToken(70), tok.idToToken(58), tok.idToToken(7)]).toEqual(['<pad>', byId[70], '<pad>', byId[7]]);
    model.dispose();
  });

  it('generate(text): the golden ids from the model, and text decoded on the target side', async () => {
    const model = await loadModel(dir, { threads: 1 });
    const g = golden('random/d32_swish_separate_vocabs');
    const greedy = await model.generate(g.inputs.input_ids, { numBeams: 1, maxNewTokens: 10, attentionMask: g.inputs.attention_mask });
    expect(greedy.sequences).toEqual(g.generate.greedy.sequences);
    const want = new Map(cases.decode.map((c) => [JSON.stringify(c.ids), c.decoded]));
    expect(greedy.sequences.map((s) => model.tokenizer!.decode(s))).toEqual(greedy.sequences.map((s) => want.get(JSON.stringify(s))));
    const texts = ['Hello world', 'the sea', 'of the']; // (short: the model has 14 positions)
    const byText = await model.generate(texts, { maxNewTokens: 6 });
    const byIds = await model.generate(texts.map((t) => model.tokenizer!.encode(t)), { maxNewTokens: 6 });
    expect(byText.sequences).toEqual(byIds.sequences);
    expect(byText.text).toEqual(byIds.sequences.map((s) => model.tokenizer!.decode(s)));
    expect(byText.sequences.flat().every((id) => id < 83)).toBe(true);
    model.dispose();
  });

  it('the same files by Hub id', async () => {
    const own = await startMockHub({ 'acme/separate': { files: { ...files, ...Object.fromEntries(['config.json', 'generation_config.json', 'model.safetensors']
      .map((f) => [f, new Uint8Array(readFileSync(join(modelDir, f)))])) } } });
    try {
      const model = await loadModel('acme/separate', { hubUrl: own.url, cacheDir: join(tmp, 'sep-cache'), threads: 1 });
      expect(model.tokenizer!.decode(cases.decode[0]!.ids)).toBe(cases.decode[0]!.decoded);
      model.dispose();
    } finally {
      await own.close();
    }
  });
});

it('fixtureDir still points at the transformers fixtures (sanity)', () => {
  expect(fixtureDir('marian_tiny')).toMatch(/fixtures\/marian_tiny\/$/);
});
