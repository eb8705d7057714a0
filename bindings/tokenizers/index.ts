// loadTokenizer: find a model's tokenizer files in a source (folder, URL, in-memory files) and build the tokenizer
// transformers would, so that text goes in and ids come out exactly as `AutoTokenizer.from_pretrained` gives them.
//
// Which files: the SentencePiece ("slow") files are preferred when present, because our SentencePiece is verified
// bit-for-bit against the C++ reference (test/tokenizers/); tokenizer.json is used otherwise (or with
// `prefer: 'tokenizer.json'`). Marian has only slow files; BART only byte-level BPE (tokenizer.json or
// vocab.json + merges.txt).

import { ConfigError, SourceError } from '../errors.js';
import type { HubOptions } from '../weights/hub.js';
import { toModelSource, type ModelSource, type ProgressCallback, type SourceInput } from '../weights/source.js';
import { FairseqTokenizer, M2M100Tokenizer, MarianTokenizer, T5Tokenizer } from './families.js';
import { bartTokenizerJson, JsonTokenizer } from './hf_json.js';
import { SentencePiece } from './sentencepiece.js';
import { parseTokenizerConfig, type TokenizerConfig } from './slow.js';
import type { Tokenizer, TokenizerFamily } from './types.js';

export type { DecodeOptions, EncodeOptions, Tokenizer, TokenizerFamily } from './types.js';
export { SentencePiece } from './sentencepiece.js';

/** Hub options (revision, hubUrl, token, ...) apply when `input` is a Hub id. */
export interface LoadTokenizerOptions extends HubOptions {
  /** Default source language (NLLB `eng_Latn`, M2M100 `en`, mBART `en_XX`), overriding tokenizer_config.json. */
  readonly srcLang?: string;
  /** Which files win when a repo has both: 'sentencepiece' (default) or 'tokenizer.json'. */
  readonly prefer?: 'sentencepiece' | 'tokenizer.json';
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressCallback;
}

/** config.json (parsed or raw): only `model_type` is read. */
export interface ModelConfigLike {
  readonly model_type?: unknown;
}

/** tokenizer_config.json `tokenizer_class` (without "Fast") → family. */
const CLASS_FAMILIES: Record<string, TokenizerFamily> = {
  MarianTokenizer: 'marian', T5Tokenizer: 't5', NllbTokenizer: 'nllb', M2M100Tokenizer: 'm2m_100',
  MBartTokenizer: 'mbart', MBart50Tokenizer: 'mbart50', BartTokenizer: 'bart', RobertaTokenizer: 'bart',
};

class Files {
  constructor(readonly source: ModelSource, private readonly options: LoadTokenizerOptions) {}

  bytes(file: string): Promise<Uint8Array | undefined> {
    return this.source.read(file, { optional: true, signal: this.options.signal, onProgress: this.options.onProgress });
  }

  async text(file: string): Promise<string | undefined> {
    const b = await this.bytes(file);
    return b && new TextDecoder('utf-8', { ignoreBOM: false }).decode(b);
  }

  async json(file: string): Promise<Record<string, unknown> | undefined> {
    const t = await this.text(file);
    if (t === undefined) return undefined;
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch (e) {
      throw new ConfigError(`${file} from ${this.source.description} is not valid JSON: ${(e as Error).message}`, { cause: e });
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      throw new ConfigError(`${file} from ${this.source.description} must hold a JSON object`);
    }
    return v as Record<string, unknown>;
  }

  /** vocab.json: token → id. */
  async vocab(file: string): Promise<Map<string, number> | undefined> {
    const v = await this.json(file);
    if (!v) return undefined;
    const map = new Map<string, number>();
    for (const [k, id] of Object.entries(v)) {
      if (!Number.isInteger(id) || (id as number) < 0) throw new ConfigError(`${file}: id of ${JSON.stringify(k)} is not a non-negative integer`);
      map.set(k, id as number);
    }
    return map;
  }

  async spm(file: string): Promise<SentencePiece | undefined> {
    const b = await this.bytes(file);
    return b && SentencePiece.load(b, `${file} (${this.source.description})`);
  }

  async required<T>(file: string, what: Promise<T | undefined>, why: string): Promise<T> {
    const v = await what;
    if (v === undefined) throw new SourceError(`${file} is missing from ${this.source.description} (${why})`);
    return v;
  }
}

/**
 * Loads the tokenizer of a Hugging Face model repo, or resolves to null when the source has no tokenizer files.
 * `config` is the model's config.json (its `model_type` picks the family; read from the source when omitted).
 */
export async function loadTokenizer(input: SourceInput, config?: ModelConfigLike,
  options: LoadTokenizerOptions = {}): Promise<Tokenizer | null> {
  const files = new Files(toModelSource(input, options), options);
  const rawCfg = await files.json('tokenizer_config.json');
  const cfg = parseTokenizerConfig(
    options.srcLang === undefined ? rawCfg : { ...rawCfg, src_lang: options.srcLang },
    await files.json('special_tokens_map.json'), 'tokenizer_config.json');
  const modelType = config?.model_type ?? (await files.json('config.json'))?.model_type;
  const cls = typeof cfg.raw.tokenizer_class === 'string' ? cfg.raw.tokenizer_class.replace(/Fast$/, '') : undefined;
  let family: TokenizerFamily | undefined = cls && Object.hasOwn(CLASS_FAMILIES, cls) ? CLASS_FAMILIES[cls] : undefined;
  if (!family && typeof modelType === 'string') {
    const byType = { marian: 'marian', t5: 't5', bart: 'bart', mbart: 'mbart', m2m_100: 'm2m_100' } as const;
    family = Object.hasOwn(byType, modelType) ? byType[modelType as 'bart'] : undefined; // not "constructor" & co
  }
  const preferJson = options.prefer === 'tokenizer.json';
  const fromJson = async (fam: TokenizerFamily) => {
    const json = await files.json('tokenizer.json');
    return json ? new JsonTokenizer(fam, json, cfg, 'tokenizer.json') : undefined;
  };

  if (preferJson && family !== 'marian') {
    const t = await fromJson(family ?? 'tokenizer.json');
    if (t) return t;
  }
  switch (family) {
    case 'marian':
      return marian(files, cfg);
    case 't5': {
      const sp = await files.spm('spiece.model');
      return sp ? new T5Tokenizer(sp, cfg) : (await fromJson('t5')) ?? null;
    }
    case 'bart':
      return (await fromJson('bart')) ?? (await bart(files, cfg));
    case 'mbart':
    case 'mbart50':
    case 'nllb':
    case 'm2m_100': {
      const sp = await files.spm('sentencepiece.bpe.model');
      if (!sp) return (await fromJson(family)) ?? null;
      // NLLB checkpoints say model_type "m2m_100" too; they ship no vocab.json (their ids are SentencePiece's).
      if (family === 'm2m_100') {
        const vocab = await files.vocab('vocab.json');
        return vocab ? new M2M100Tokenizer(sp, vocab, cfg) : new FairseqTokenizer('nllb', sp, cfg);
      }
      return new FairseqTokenizer(family, sp, cfg);
    }
    default: {
      // No model type: go by the files.
      if (await files.bytes('source.spm')) return marian(files, cfg);
      const t5 = await files.spm('spiece.model');
      if (t5) return new T5Tokenizer(t5, cfg);
      return (await fromJson('tokenizer.json')) ?? (await bart(files, cfg));
    }
  }
}

async function marian(files: Files, cfg: TokenizerConfig): Promise<Tokenizer | null> {
  const source = await files.spm('source.spm');
  if (!source) return null;
  const why = 'a Marian tokenizer needs source.spm, target.spm and vocab.json';
  const target = await files.required('target.spm', files.spm('target.spm'), why);
  const vocab = await files.required('vocab.json', files.vocab('vocab.json'), why);
  const targetVocab = cfg.raw.separate_vocabs === true
    ? await files.required('target_vocab.json', files.vocab('target_vocab.json'), 'tokenizer_config.json sets separate_vocabs')
    : undefined;
  return new MarianTokenizer(source, target, vocab, targetVocab, cfg);
}

async function bart(files: Files, cfg: TokenizerConfig): Promise<Tokenizer | null> {
  const merges = await files.text('merges.txt');
  if (merges === undefined) return null;
  const vocab = await files.required('vocab.json', files.json('vocab.json'), 'BART byte-level BPE needs vocab.json with merges.txt');
  return new JsonTokenizer('bart', bartTokenizerJson(vocab as Record<string, number>, merges, cfg), cfg, 'vocab.json + merges.txt');
}
