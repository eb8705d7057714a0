// tokenizer.json ("fast" tokenizers: BART, T5, NLLB, mBART) through @huggingface/tokenizers (tokenizers.js),
// the pure-JS port of the Rust `tokenizers` library that transformers' fast tokenizers run. Two things are ours:
//  - its `Precompiled` normalizer ignores the charsmap and approximates it with String.normalize('NFKC'); we
//    swap in the real charsmap lookup (normalizer.ts, same algorithm as Rust's spm_precompiled);
//  - language families add `<src_lang> … </s>` from the requested source language, since the TemplateProcessing
//    saved in tokenizer.json is frozen to whatever language the file was saved with (transformers rebuilds it
//    when `src_lang` changes).
// BART's slow files (vocab.json + merges.txt) are turned into the tokenizer.json transformers' converter makes.

import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { ConfigError, InputError, Seq2SeqError, UnsupportedError } from '../errors.js';
import { M2M100_CODES, MBART50_CODES, MBART_CODES, NLLB_CODES } from './languages.js';
import { CharsMap, precompiledNormalize } from './normalizer.js';
import type { TokenizerConfig } from './slow.js';
import type { DecodeOptions, EncodeOptions, Tokenizer, TokenizerFamily } from './types.js';
import { checkText, denseArray, MAX_LIST_LENGTH, optionsObject, show, tokenId, tokenIdList } from '../validate.js';

type Json = Record<string, unknown>;

const LANGUAGES: Partial<Record<TokenizerFamily, readonly string[]>> = {
  nllb: NLLB_CODES, mbart: MBART_CODES, mbart50: MBART50_CODES, m2m_100: M2M100_CODES,
};

/** A tokenizers.js normalizer object, as far as the patch below needs it. */
interface NormalizerLike {
  config?: { type?: string; precompiled_charsmap?: string | null };
  normalizers?: unknown[];
  normalize(text: string): string;
}

/** Replaces every Precompiled normalizer (also inside a Sequence) by the exact charsmap implementation. */
function patchPrecompiled(n: NormalizerLike | null | undefined, where: string): void {
  if (!n) return;
  if (n.config?.type === 'Sequence' && Array.isArray(n.normalizers)) {
    for (const inner of n.normalizers) patchPrecompiled(inner as NormalizerLike, where);
  } else if (n.config?.type === 'Precompiled') {
    const b64 = n.config.precompiled_charsmap;
    if (!b64) {
      // An spm model with the identity rule: nothing to apply.
      n.normalize = (text: string) => text;
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    } catch (e) {
      throw new ConfigError(`${where}: precompiled_charsmap is not base64`, { cause: e });
    }
    const map = new CharsMap(bytes, where);
    n.normalize = (text: string) => precompiledNormalize(map, text);
  }
}

/** tokenizers.js' Unigram model, as far as the patch below needs it. */
interface UnigramLike { encode(tokens: string[]): string[]; tokenize?(word: string): string[]; populate_nodes?: unknown }

/** tokenizers.js' Unigram.encode appends each word's tokens with push(...spread), which overflows the stack for a
 *  word of ~100k+ tokens (one long run without spaces); the same loop without the spread. */
function patchUnigramEncode(m: UnigramLike): void {
  const tokenize = m.tokenize;
  if (typeof tokenize !== 'function' || typeof m.populate_nodes !== 'function') return;
  m.encode = (tokens: string[]) => {
    const out: string[] = [];
    for (const t of tokens) for (const piece of tokenize.call(m, t)) out.push(piece);
    return out;
  };
}

/** The tokenizer.json `model` fields tokenizers.js reads, checked (it would otherwise take a number for a vocab and
 *  map every token to <unk>, or fail inside with a TypeError). */
function checkModel(model: Json, where: string, added: unknown): void {
  const fail = (what: string, got: unknown): never => { throw new ConfigError(`${where}: model ${what}, got ${show(got)}`); };
  const vocab = model.vocab;
  if (model.type === 'Unigram') {
    if (!Array.isArray(vocab) || vocab.length === 0) fail('"vocab" of a Unigram model must be a non-empty list of [piece, score]', vocab);
    denseArray(`${where}: model "vocab"`, vocab, MAX_LIST_LENGTH, ConfigError).forEach((e, i) => {
      if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'number' || !Number.isFinite(e[1])) fail(`"vocab"[${i}] must be [piece, finite score]`, e);
    });
    if (model.unk_id !== undefined && model.unk_id !== null) tokenId(`${where}: model "unk_id"`, model.unk_id, (vocab as unknown[]).length, ConfigError);
    checkAddedIds(added, (vocab as unknown[]).length + addedCount(added));
    return;
  }
  if (typeof vocab !== 'object' || vocab === null || Array.isArray(vocab)) fail(`"vocab" of a ${model.type} model must be an object of token → id`, vocab);
  // ids index an array (tokenizers.js): they must lie within the tokens there are, not at 2^31 of a sparse one
  const entries = Object.entries(vocab as Json);
  const bound = entries.length + addedCount(added);
  for (const [k, id] of entries) tokenId(`${where}: model "vocab"[${show(k)}]`, id, bound, ConfigError);
  checkAddedIds(added, bound);
  if (model.type === 'BPE') {
    const merges = model.merges ?? [];
    denseArray(`${where}: model "merges"`, merges, MAX_LIST_LENGTH, ConfigError).forEach((m, i) => {
      const ok = typeof m === 'string' ? m.includes(' ') : Array.isArray(m) && m.length === 2 && m.every((x) => typeof x === 'string');
      if (!ok) fail(`"merges"[${i}] must be "a b" or ["a", "b"]`, m);
    });
  }
}

/** tokenizer.json `added_tokens`: a list of {id, content}; its length. */
function addedCount(added: unknown): number {
  if (added === undefined || added === null) return 0;
  const list = denseArray('tokenizer.json "added_tokens"', added, MAX_LIST_LENGTH, ConfigError);
  list.forEach((t, i) => {
    const o = t as Json;
    if (typeof o !== 'object' || o === null || typeof o.content !== 'string') {
      throw new ConfigError(`tokenizer.json "added_tokens"[${i}] must be {"id", "content", ...}, got ${show(t)}`);
    }
  });
  return list.length;
}

function checkAddedIds(added: unknown, bound: number): void {
  if (Array.isArray(added)) added.forEach((t, i) => tokenId(`tokenizer.json "added_tokens"[${i}].id`, (t as Json).id, bound, ConfigError));
}

export class JsonTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly padId: number | undefined;
  readonly eosId: number | undefined;
  readonly unkId: number | undefined;
  readonly bosId: number | undefined;
  readonly languages: readonly string[];
  private readonly hf: HfTokenizer;
  private readonly size: number;
  private readonly srcLang: string | undefined;

  constructor(readonly family: TokenizerFamily, json: Json, cfg: TokenizerConfig, private readonly where: string) {
    const model = json.model as Json | undefined;
    if (!model || typeof model !== 'object' || typeof model.type !== 'string') {
      throw new ConfigError(`${where} has no "model" with a "type"`);
    }
    if (!['BPE', 'Unigram', 'WordPiece'].includes(model.type)) {
      throw new UnsupportedError(`${where}: model type ${show(model.type)} is not supported (BPE, Unigram, WordPiece are)`);
    }
    checkModel(model, where, json.added_tokens);
    // tokenizers.js reads these from the config and expects plain strings.
    const config = {
      ...cfg.raw,
      additional_special_tokens: cfg.additionalSpecialTokens,
      clean_up_tokenization_spaces: cfg.cleanUp,
    };
    try {
      this.hf = new HfTokenizer({ normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null,
        added_tokens: [], ...json }, config);
    } catch (e) {
      throw new ConfigError(`${where} could not be loaded: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    patchPrecompiled(this.hf.normalizer as unknown as NormalizerLike | null, where);
    patchUnigramEncode(this.hf.model as unknown as UnigramLike);
    this.size = this.hf.get_vocab(true).size;
    const vocab = model.vocab;
    this.vocabSize = Array.isArray(vocab) ? vocab.length : Object.keys((vocab as Json) ?? {}).length;
    const id = (name: string, fallback: string | undefined) => {
      const t = cfg.token(name) ?? fallback;
      return t === undefined ? undefined : this.hf.token_to_id(t);
    };
    this.padId = id('pad_token', '<pad>');
    this.eosId = id('eos_token', '</s>');
    this.unkId = id('unk_token', '<unk>');
    this.bosId = id('bos_token', family === 't5' ? undefined : '<s>');
    this.languages = (LANGUAGES[family] ?? []).filter((c) => this.languageToken(c) !== undefined);
    if (this.languages.length) {
      this.srcLang = typeof cfg.raw.src_lang === 'string' ? cfg.raw.src_lang
        : family === 'nllb' ? 'eng_Latn' : family === 'm2m_100' ? 'en' : 'en_XX';
      this.langId(this.srcLang);
    }
  }

  private languageToken(code: string): number | undefined {
    const token = this.family === 'm2m_100' && !/^__.+__$/.test(code) ? `__${code}__` : code;
    return this.hf.token_to_id(token);
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    checkText('encode() text', text);
    options = optionsObject('encode() options', options);
    const add = options.addSpecialTokens ?? true;
    if (!this.srcLang) {
      if (options.srcLang !== undefined) this.langId(options.srcLang);
      return this.lib(() => this.hf.encode(text, { add_special_tokens: add }).ids);
    }
    const lang = this.langId(options.srcLang ?? this.srcLang);
    const ids = this.lib(() => this.hf.encode(text, { add_special_tokens: false }).ids);
    if (!add) return ids;
    const eos = this.eosId!;
    return this.family === 'mbart' ? [...ids, eos, lang] : [lang, ...ids, eos];
  }

  encodeBatch(texts: readonly string[], options?: EncodeOptions): number[][] {
    return denseArray('encodeBatch() texts', texts, MAX_LIST_LENGTH).map((t) => this.encode(t as string, options));
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const list = tokenIdList('decode() ids', ids);
    options = optionsObject('decode() options', options);
    if (list.length === 0) return '';
    return this.lib(() => this.hf.decode(list, {
      skip_special_tokens: options.skipSpecialTokens ?? true,
      clean_up_tokenization_spaces: options.cleanUpTokenizationSpaces,
    }));
  }

  /** A call into tokenizers.js. Its inputs are checked here, so an error it throws (a TypeError on a
   *  post_processor or decoder of the wrong shape, which it only meets when it runs them) comes from the file. */
  private lib<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof Seq2SeqError) throw e;
      throw new ConfigError(`${this.where}: tokenizers.js failed on this file's pipeline: ${e instanceof Error ? e.message : show(e)}`, { cause: e });
    }
  }

  decodeBatch(batch: readonly (readonly number[])[], options?: DecodeOptions): string[] {
    return denseArray('decodeBatch() rows', batch, MAX_LIST_LENGTH).map((ids) => this.decode(ids as number[], options));
  }

  tokenize(text: string): string[] {
    checkText('tokenize() text', text);
    return this.lib(() => this.hf.tokenize(text, { add_special_tokens: false }));
  }

  tokenToId(token: string): number | undefined {
    if (typeof token !== 'string') throw new InputError(`tokenToId() takes a token string, got ${show(token)}`);
    return this.hf.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return Number.isInteger(id) && id >= 0 && id < this.size ? this.hf.id_to_token(id) : undefined;
  }

  langId(code: string): number {
    if (typeof code !== 'string') throw new InputError(`langId() takes a language code string, got ${show(code)}`);
    if (!LANGUAGES[this.family]) {
      throw new UnsupportedError(`${this.family} tokenizers have no language tokens (langId(${show(code)}))`);
    }
    const bare = this.family === 'm2m_100' ? code.replace(/^__(.+)__$/, '$1') : code;
    const id = this.languages.includes(bare) ? this.languageToken(bare) : undefined;
    if (id === undefined) {
      throw new InputError(`unknown ${this.family} language code ${show(code)} (known: ${this.languages.slice(0, 12).join(', ')}, ...)`);
    }
    return id;
  }
}

/**
 * The tokenizer.json transformers' RobertaConverter makes from BART's vocab.json + merges.txt: byte-level BPE,
 * `<s> X </s>` around the input, `<mask>` eating the space before it.
 */
export function bartTokenizerJson(vocab: Record<string, number>, mergesTxt: string, cfg: TokenizerConfig): Json {
  const merges = mergesTxt.split('\n').filter((l, i) => l.trim() !== '' && !(i === 0 && l.startsWith('#version')));
  const tok = (name: string, fallback: string) => cfg.token(name) ?? fallback;
  const specials = ['bos_token', 'pad_token', 'eos_token', 'unk_token', 'mask_token'];
  const defaults: Record<string, string> = { bos_token: '<s>', pad_token: '<pad>', eos_token: '</s>', unk_token: '<unk>', mask_token: '<mask>' };
  const added = specials.map((name) => tok(name, defaults[name]!)).filter((t) => vocab[t] !== undefined).map((t) => ({
    id: vocab[t], content: t, single_word: false, lstrip: t === tok('mask_token', '<mask>'), rstrip: false,
    normalized: false, special: true,
  }));
  const addPrefixSpace = cfg.raw.add_prefix_space === true;
  return {
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: addPrefixSpace, trim_offsets: true, use_regex: true },
    post_processor: { type: 'RobertaProcessing', sep: [tok('eos_token', '</s>'), vocab[tok('eos_token', '</s>')]],
      cls: [tok('bos_token', '<s>'), vocab[tok('bos_token', '<s>')]], trim_offsets: true, add_prefix_space: addPrefixSpace },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false, vocab, merges },
  };
}
