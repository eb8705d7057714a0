// The fuzzer's file kinds: for each, the seed files it mutates (the repo's fixtures) and what a case runs — the
// cheap, in-process part (the parser and validator of that file) on every case, and now and then the whole
// path (loadModel + generate, loadTokenizer + encode/decode) on the mutated file.
//
// Adding a kind (e.g. pytorch_model.bin once its reader lands: `npm run fuzz:bin` fuzzes that reader on its own):
// append a FileKind to KINDS below; run.ts/child.ts need nothing else.
import { readdirSync, readFileSync } from 'node:fs';
import type { ModelConfig } from '../../bindings/config.js';
import { resolveGenerateConfig } from '../../bindings/generation/index.js';
import { Lexicon } from '../../bindings/g2p/lexicon.js';
import { readG2PVocab } from '../../bindings/g2p/phonemizer.js';
import { loadModel } from '../../bindings/model/load.js';
import { loadTokenizer } from '../../bindings/tokenizers/index.js';
import { NLLB_CODES } from '../../bindings/tokenizers/languages.js';
import { SentencePiece } from '../../bindings/tokenizers/sentencepiece.js';
import type { Tokenizer } from '../../bindings/tokenizers/types.js';
import { safetensorsToF16, safetensorsToInt8 } from '../../bindings/weights/convert.js';
import { finiteCheckingStore } from '../../bindings/weights/finite.js';
import { dequantizingStore } from '../../bindings/weights/int8.js';
import { SafeTensors } from '../../bindings/weights/safetensors.js';
import { loadModelFiles, type InMemoryFiles } from '../../bindings/weights/source.js';
import { nllbTokenizerJson, t5TokenizerJson } from '../../test/tokenizers/convert.js';
import { apiKind } from './api.js';
import { hostileText, mutateBytes, mutateJson, mutateText, type Rng } from './mutate.js';

export interface FileKind {
  readonly name: string;
  /** What the kind mutates, for the report. */
  readonly about: string;
  /** One case: mutate a seed file with `r` and run it; resolves to anything (an answer) or throws. */
  run(r: Rng): Promise<unknown>;
}

export const ROOT = new URL('../../../', import.meta.url);
const FIX = new URL('test/fixtures/', ROOT);
const bytes = (rel: string) => new Uint8Array(readFileSync(new URL(rel, FIX)));
const text = (rel: string) => readFileSync(new URL(rel, FIX), 'utf8');
const json = (rel: string) => JSON.parse(text(rel));

/** The transformers-made tiny models: every family. */
const MODELS = ['marian_tiny', 'bart_tiny', 'mbart_tiny', 'm2m100_tiny', 't5_v1_0_tiny', 't5_v1_1_tiny', 't5_gated_silu_tiny',
  ...readdirSync(new URL('random/', FIX)).map((d) => `random/${d}`)];
interface ModelSeed { name: string; config: Record<string, unknown>; gen: Record<string, unknown>; weights: Uint8Array; header: number }
let models: ModelSeed[] | null = null;
function modelSeeds(): ModelSeed[] {
  if (models) return models;
  models = MODELS.map((name) => {
    const weights = bytes(`${name}/model.safetensors`);
    return { name, config: json(`${name}/config.json`), gen: json(`${name}/generation_config.json`), weights,
      header: 8 + Number(new DataView(weights.buffer, weights.byteOffset).getBigUint64(0, true)) };
  });
  // stored as f16 and as int8 too: the dequantising reader and its scales get mutated as well
  const m = models[0];
  for (const [suffix, w] of [['f16', safetensorsToF16(m.weights)], ['int8', safetensorsToInt8(m.weights)]] as const) {
    models.push({ ...m, name: `${m.name}_${suffix}`, weights: w, header: 8 + Number(new DataView(w.buffer, w.byteOffset).getBigUint64(0, true)) });
  }
  return models;
}

/** The whole path on a (possibly mutated) model: load, generate a few tokens with greedy and beams, dispose. */
async function loadAndGenerate(files: InMemoryFiles, r: Rng): Promise<unknown> {
  const model = await loadModel(files, { tokenizer: false, threads: 1 });
  try {
    const eos = model.config.eos_token_id[0] ?? 0;
    const out = await model.generate([[1, 2, eos], [3, eos]], { maxNewTokens: 1 + r.int(4), numBeams: r.pick([1, 2, 3]) });
    return out.sequences.length;
  } finally {
    model.dispose();
  }
}

const safetensorsKind: FileKind = {
  name: 'safetensors',
  about: 'model.safetensors of every fixture family (f32, f16, bf16, int8): header JSON and data bytes',
  async run(r) {
    const m = r.pick(modelSeeds());
    // mostly the header (where the structure is), sometimes the data (NaN/Inf, truncation)
    const w = r.chance(0.75) ? mutateHeader(r, m.weights, m.header) : mutateBytes(r, m.weights, r.chance(0.5) ? [0, m.header] : undefined);
    if (r.chance(0.04)) return loadAndGenerate({ 'config.json': m.config, 'generation_config.json': m.gen, 'model.safetensors': w }, r);
    const store = finiteCheckingStore(dequantizingStore(SafeTensors.parse(w, 'model.safetensors')));
    let n = 0;
    for (const name of store.names) n += store.f32(name).length;
    return n;
  },
};

/** The header as JSON, mutated as JSON, written back with its length (data kept). */
function mutateHeader(r: Rng, file: Uint8Array, headerEnd: number): Uint8Array {
  const head = JSON.parse(new TextDecoder().decode(file.subarray(8, headerEnd)));
  const h = new TextEncoder().encode(mutateJson(r, head));
  const out = new Uint8Array(8 + h.length + file.length - headerEnd);
  new DataView(out.buffer).setBigUint64(0, BigInt(r.chance(0.05) ? h.length + r.pick([-1, 1, 8, 2 ** 20]) : h.length) & 0xffffffffffffffffn, true);
  out.set(h, 8);
  out.set(file.subarray(headerEnd), 8 + h.length);
  return out;
}

const configKind: FileKind = {
  name: 'config.json',
  about: 'config.json of every fixture family',
  async run(r) {
    const m = r.pick(modelSeeds());
    const cfg = mutateJson(r, m.config);
    const files = { 'config.json': cfg, 'generation_config.json': m.gen, 'model.safetensors': m.weights };
    if (r.chance(0.08)) return loadAndGenerate(files, r);
    const loaded = await loadModelFiles(files); // config.json parsed and checked, then the weights' header
    return loaded.config.model_type;
  },
};

const generationKind: FileKind = {
  name: 'generation_config.json',
  about: 'generation_config.json of every fixture family, resolved into generate options',
  async run(r) {
    const m = r.pick(modelSeeds());
    const gen = mutateJson(r, m.gen);
    const files = { 'config.json': m.config, 'generation_config.json': gen, 'model.safetensors': m.weights };
    if (r.chance(0.08)) return loadAndGenerate(files, r);
    const cfg: ModelConfig = (await loadModelFiles(files)).config;
    const vocab = 'decoder_vocab_size' in cfg ? cfg.decoder_vocab_size : cfg.vocab_size;
    return resolveGenerateConfig({}, cfg.generation, vocab).maxLength;
  },
};

/** Encode and decode a hostile text: what every tokenizer case ends with. */
function exercise(tok: Tokenizer | null, r: Rng): unknown {
  if (!tok) return null;
  const ids = tok.encode(hostileText(r));
  tok.decode(ids.slice(0, 200));
  tok.decode(ids.slice(0, 50), { skipSpecialTokens: false });
  return ids.length;
}

let tokenizerJsons: [string, Record<string, unknown>, Record<string, unknown>][] | null = null;
const tokenizerJsonSeeds = () => (tokenizerJsons ??= [
  ['t5', t5TokenizerJson(bytes('tokenizers/unigram.model')), {}],
  ['nllb', nllbTokenizerJson(bytes('tokenizers/bpe.model'), NLLB_CODES), { tokenizer_class: 'NllbTokenizerFast' }],
]);

const tokenizerJsonKind: FileKind = {
  name: 'tokenizer.json',
  about: 'tokenizer.json (Unigram/T5 and BPE/NLLB, as transformers converts them), then encode/decode',
  async run(r) {
    const [, seed, tcfg] = r.pick(tokenizerJsonSeeds());
    const tok = await loadTokenizer({ 'tokenizer.json': mutateJson(r, seed), 'tokenizer_config.json': tcfg });
    return exercise(tok, r);
  },
};

const SPM = ['tokenizers/unigram.model', 'tokenizers/bpe.model', 'tokenizers/unigram_ws.model', 'tokenizers/opus-mt-en-mg/source.spm'];
let spmSeeds: Uint8Array[] | null = null;

const spmKind: FileKind = {
  name: 'sentencepiece',
  about: 'SentencePiece .model files (unigram, BPE, Marian source.spm), then encode/decode, and as T5/NLLB tokenizers',
  async run(r) {
    spmSeeds ??= SPM.map(bytes);
    const i = r.int(spmSeeds.length);
    const model = mutateBytes(r, spmSeeds[i]);
    if (r.chance(0.2)) {
      const files = i === 0 ? { 'spiece.model': model } : { 'sentencepiece.bpe.model': model };
      return exercise(await loadTokenizer(files, { model_type: i === 0 ? 't5' : 'm2m_100' }), r);
    }
    const sp = SentencePiece.load(model, 'fuzz.model');
    const enc = sp.encode(hostileText(r));
    return sp.decodeIds(enc.ids).length;
  },
};

let vocabSeeds: Record<string, Uint8Array | string | object> | null = null;

const vocabKind: FileKind = {
  name: 'vocab/merges',
  about: 'BART vocab.json + merges.txt, Marian vocab.json / tokenizer_config.json, M2M100 vocab.json, the G2P vocab.json, lexicon lines',
  async run(r) {
    const v = (vocabSeeds ??= {
      bartVocab: json('tokenizers/bart/vocab.json'), bartMerges: text('tokenizers/bart/merges.txt'),
      // the small separate-vocabulary Marian fixture (opus-mt-en-mg's 800 KB files would make every case 40 ms)
      marianVocab: json('tokenizers/marian_separate/vocab.json'), marianTarget: json('tokenizers/marian_separate/target_vocab.json'),
      marianCfg: json('tokenizers/marian_separate/tokenizer_config.json'),
      source: bytes('tokenizers/bpe.model'), target: bytes('tokenizers/unigram.model'),
      m2mVocab: json('tokenizers/m2m100_vocab.json'), bpe: bytes('tokenizers/bpe.model'),
      g2p: JSON.parse(readFileSync(new URL('weights/g2p-en/vocab.json', ROOT), 'utf8')),
    });
    const enc = (s: string) => new TextEncoder().encode(s);
    switch (r.int(6)) {
      case 0: case 1: { // BART: vocab.json or merges.txt
        const vocab = r.chance(0.5) ? mutateJson(r, v.bartVocab) : JSON.stringify(v.bartVocab);
        const merges = r.chance(0.5) ? mutateText(r, v.bartMerges as string) : (v.bartMerges as string);
        return exercise(await loadTokenizer({ 'vocab.json': vocab, 'merges.txt': enc(merges) }, { model_type: 'bart' }), r);
      }
      case 2: { // Marian: vocab.json and tokenizer_config.json
        const files = { 'source.spm': v.source, 'target.spm': v.target, 'vocab.json': r.chance(0.6) ? mutateJson(r, v.marianVocab) : v.marianVocab,
          'target_vocab.json': r.chance(0.3) ? mutateJson(r, v.marianTarget) : v.marianTarget,
          'tokenizer_config.json': r.chance(0.4) ? mutateJson(r, v.marianCfg) : v.marianCfg };
        return exercise(await loadTokenizer(files as Record<string, Uint8Array>, { model_type: 'marian' }), r);
      }
      case 3: // M2M100: vocab.json beside sentencepiece.bpe.model
        return exercise(await loadTokenizer({ 'sentencepiece.bpe.model': v.bpe as Uint8Array, 'vocab.json': mutateJson(r, v.m2mVocab) }, { model_type: 'm2m_100' }), r);
      case 4: return readG2PVocab(new TextEncoder().encode(mutateJson(r, v.g2p))).tokens.length;
      default: { // lexicon lines
        const lex = Lexicon.parse(mutateText(r, 'cat\tK AE1 T\ndog\tD AO1 G|D AA1 G\nzebra\tZ IY1 B R AH0\n'));
        return lex.get(r.pick(['cat', 'dog', 'zebra', '']));
      }
    }
  },
};

/** Every kind `npm run fuzz` runs, in order. */
export const KINDS: readonly FileKind[] = [safetensorsKind, configKind, generationKind, tokenizerJsonKind, spmKind, vocabKind, apiKind];
