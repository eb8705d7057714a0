// Grapheme-to-phoneme on top of any Marian-architecture G2P checkpoint with a wasm-seq2seq g2p vocab.json
// (weights/g2p-en is the shipped English one): text → words → lexicon, else character ids → beam search → ARPAbet.
// The optional lexicon.tsv.gz beside the model (gzip of `word<TAB>PRON[|ALT...]` lines; the shipped one is all of
// CMUdict, tools/g2p/make_lexicon.py) answers dictionary words with the dictionary's primary pronunciation, as G2P
// front ends do; the model handles the rest (names, new words, typos).
import { ConfigError, InputError, SourceError } from '../errors.js';
import { loadModel, type LoadModelOptions } from '../model/load.js';
import type { Seq2SeqModel } from '../model/model.js';
import { toModelSource, type SourceInput } from '../weights/source.js';
import { checkText, denseArray, intOption, MAX_LIST_LENGTH, optionsObject, show, tokenId } from '../validate.js';
import { textToWords } from './text.js';
import { loadLexicon, type Lexicon } from './lexicon.js';

export interface G2PVocab {
  format: string;
  tokens: string[];
  special: { eos: number; unk: number; pad: number; decoder_start: number };
  source: { tokens: Record<string, number>; append_eos: boolean };
  target: { tokens: Record<string, number> };
}

export interface PhonemizedWord {
  /** The token as written in the input (a number's spelled-out words share its text). */
  text: string;
  /** The normalised word that was pronounced ('' if nothing pronounceable). */
  word: string;
  /** ARPAbet phonemes with stress digits; empty for an unpronounceable token. */
  phonemes: string[];
  /** Where the phonemes came from: the lexicon, the model, or nowhere (nothing pronounceable). */
  source: 'lexicon' | 'model' | 'none';
}

export interface PhonemizerLoadOptions extends LoadModelOptions {
  /** Look words up in the model folder's lexicon.tsv.gz first (default true; false = the model alone). */
  lexicon?: boolean;
  /** Words whose pronunciation is remembered between calls, least recently used dropped first (default
   *  DEFAULT_WORD_CACHE = 4096, ~1.2 MB at ~290 bytes a word; 0 = none). A long text's repeated words are pronounced
   *  once per call either way. */
  cacheSize?: number;
}

/** The word cache's default size (see cacheSize). */
export const DEFAULT_WORD_CACHE = 4096;

export interface PhonemizeOptions {
  /** Beam width (default: the model's generation_config.json, 4 for the shipped model). 1 = greedy. */
  numBeams?: number;
  /** Words per forward batch (default 64): larger batches amortise weight reads. */
  batchSize?: number;
  /** Called after each batch with (words done, total words). */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** The shipped English model, found beside this module in the source tree or in the installed package. */
export async function defaultG2PModelDir(): Promise<string> {
  const { existsSync } = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
  for (const rel of ['../../weights/g2p-en/', '../../../weights/g2p-en/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}model.safetensors`)) return dir;
  }
  throw new SourceError('the default G2P model (weights/g2p-en) is not installed beside wasm-seq2seq; pass --model DIR');
}

export class Phonemizer {
  /** word → phonemes, least recently used first (a Map iterates in insertion order; a hit is moved to the end) */
  private readonly cache = new Map<string, string[]>();
  private readonly idToPhoneme: string[];
  private disposed = false;
  /** Words longer than this are pronounced in pieces (see phonemizeWords). */
  readonly maxWordLetters: number;

  private constructor(readonly model: Seq2SeqModel, readonly vocab: G2PVocab,
    /** word → its lexicon line's pronunciations, unsplit ("PH ON ES|ALT ..."); null without a lexicon */
    private readonly lexicon: Lexicon | null, private readonly cacheSize: number) {
    this.idToPhoneme = [];
    for (const [p, id] of Object.entries(vocab.target.tokens)) this.idToPhoneme[id] = p;
    // the encoder reads at most its positions (less the eos appended); the decoder writes at most max_length - 1
    // tokens (less the eos): a piece must fit both, assuming about one phoneme per letter
    const cfg = model.config as { max_position_embeddings?: number };
    const input = (cfg.max_position_embeddings ?? Infinity) - (vocab.source.append_eos ? 1 : 0);
    this.maxWordLetters = Math.max(1, Math.min(input, model.generationDefaults.max_length - 2));
  }

  static async load(source?: SourceInput, options: PhonemizerLoadOptions = {}): Promise<Phonemizer> {
    options = optionsObject('Phonemizer.load options', options);
    const src = toModelSource(source ?? (await defaultG2PModelDir()), options); // once: a Hub id resolves once
    const vocab = readG2PVocab((await src.read('vocab.json', { signal: options.signal }))!);
    const { lexicon: useLexicon = true, cacheSize = DEFAULT_WORD_CACHE, ...modelOptions } = options;
    intOption('cacheSize', cacheSize, 0, Number.MAX_SAFE_INTEGER, DEFAULT_WORD_CACHE);
    const lexicon = useLexicon ? await loadLexicon(src, options.signal) : null;
    const model = await loadModel(src, modelOptions);
    if (vocab.tokens.length !== model.config.vocab_size) {
      model.dispose();
      throw new ConfigError(`vocab.json has ${vocab.tokens.length} tokens but the model's vocab_size is ${model.config.vocab_size}`);
    }
    return new Phonemizer(model, vocab, lexicon, cacheSize);
  }

  /** Stops the model's threads now; later calls throw InputError. */
  dispose(): void {
    this.disposed = true;
    this.cache.clear();
    this.model.dispose();
  }

  private checkUsable(): void {
    if (this.disposed) throw new InputError('this Phonemizer was disposed: load it again to use it');
  }

  /** Words in the cache now (at most the cacheSize it was loaded with). */
  get cachedWords(): number { return this.cache.size; }

  /** How a word is pronounced: 'lexicon' when the lexicon has it, else 'model' ('none' for ''). */
  sourceOf(word: string): PhonemizedWord['source'] {
    return !word ? 'none' : this.lexicon?.has(word) ? 'lexicon' : 'model';
  }

  /** The lexicon's pronunciations of a (normalised, lower-case) word, primary first; undefined if it has none. */
  lookup(word: string): string[][] | undefined {
    const line = this.lexicon?.get(word);
    if (line === undefined) return undefined;
    const prons = line.split('|').map((p) => p.trim().split(/\s+/));
    for (const p of prons) {
      const bad = p.find((ph) => !Object.hasOwn(this.vocab.target.tokens, ph));
      // checked here, not at load: the CLI does not split 126k lines it will never look at
      if (bad !== undefined) throw new ConfigError(`lexicon.tsv.gz: "${word}" has "${bad}", which is not a phoneme of this model's vocab.json`);
    }
    return prons;
  }

  /** Source ids for one word, lower-cased as the vocabulary says (characters outside it → unk). */
  encodeWord(word: string): number[] {
    const tokens = this.vocab.source.tokens;
    const ids = [...word.toLowerCase()].map((c) => (Object.hasOwn(tokens, c) ? tokens[c] : this.vocab.special.unk));
    if (this.vocab.source.append_eos) ids.push(this.vocab.special.eos);
    return ids;
  }

  /**
   * Pronounce words (each word once per call; results are also kept in the word cache between calls). A word
   * longer than maxWordLetters (the model's input, or its output length, would not hold it) is pronounced in
   * near-equal pieces whose phonemes are joined: no English word is that long, but a document may hold such a
   * token (a URL, a run of one letter), and it must not fail the whole call.
   */
  async phonemizeWords(words: readonly string[], options: PhonemizeOptions = {}): Promise<string[][]> {
    this.checkUsable();
    denseArray('words', words, MAX_LIST_LENGTH).forEach((w, i) => {
      if (typeof w !== 'string') throw new InputError(`words[${i}] must be a string, got ${show(w)}`);
      checkText(`words[${i}]`, w);
    });
    options = optionsObject('phonemize options', options);
    const batch = intOption('batchSize', options.batchSize, 1, 1 << 16, 64);
    if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw new InputError(`onProgress must be a function, got ${show(options.onProgress)}`);
    const found = new Map<string, string[]>(); // this call's answers
    const pieces = new Map<string, string[]>(); // long word → its pieces
    const todo = new Set<string>();
    for (const w of new Set(words)) {
      if (!w) continue;
      const hit = this.remembered(w) ?? this.lookup(w)?.[0]; // the lexicon is a lookup: not cached
      if (hit) { found.set(w, hit); continue; }
      const parts = this.split(w);
      if (parts.length > 1) pieces.set(w, parts);
      for (const p of parts) if (!found.has(p)) todo.add(p);
    }
    // the rest sorted by length so each batch pads little
    const list = [...todo].sort((a, b) => a.length - b.length);
    const { eos, pad } = this.vocab.special;
    for (let i = 0; i < list.length; i += batch) {
      const chunk = list.slice(i, i + batch);
      const out = await this.model.generate(chunk.map((w) => this.encodeWord(w)), {
        numBeams: options.numBeams, numReturnSequences: 1, signal: options.signal,
      });
      out.sequences.forEach((seq, j) => {
        const phones: string[] = [];
        for (const id of seq.slice(1)) {
          if (id === eos || id === pad) break;
          const p = this.idToPhoneme[id];
          if (p) phones.push(p); // a character id would be a model error: skip rather than print garbage
        }
        found.set(chunk[j], phones);
      });
      options.onProgress?.(Math.min(i + batch, list.length), list.length);
    }
    for (const [w, parts] of pieces) found.set(w, parts.flatMap((p) => found.get(p)!));
    for (const w of todo) if (!pieces.has(w)) this.remember(w, found.get(w)!);
    for (const w of pieces.keys()) this.remember(w, found.get(w)!);
    return words.map((w) => (w ? found.get(w)! : []));
  }

  /** Text → one entry per word (numbers spelled out; see text.ts for the rules). */
  async phonemize(text: string, options: PhonemizeOptions = {}): Promise<PhonemizedWord[]> {
    this.checkUsable();
    const words = textToWords(checkText('phonemize() text', text));
    const phones = await this.phonemizeWords(words.map((w) => w.word), options);
    return words.map((w, i) => ({ text: w.text, word: w.word, phonemes: phones[i], source: this.sourceOf(w.word) }));
  }

  /** A word too long for the model in near-equal pieces of at most maxWordLetters; else the word itself. */
  private split(word: string): string[] {
    const chars = [...word], L = this.maxWordLetters;
    if (chars.length <= L) return [word];
    const n = Math.ceil(chars.length / L), size = Math.ceil(chars.length / n);
    const out: string[] = [];
    for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(''));
    return out;
  }

  private remembered(word: string): string[] | undefined {
    const v = this.cache.get(word);
    if (v !== undefined) { this.cache.delete(word); this.cache.set(word, v); }
    return v;
  }

  private remember(word: string, phones: string[]): void {
    if (this.cacheSize === 0) return;
    this.cache.delete(word);
    this.cache.set(word, phones);
    while (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
  }
}

/** vocab.json's bytes → the checked vocabulary. */
export function readG2PVocab(bytes: Uint8Array): G2PVocab {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new ConfigError(`vocab.json of the G2P model is not valid JSON: ${(e as Error).message}`);
  }
  return parseG2PVocab(raw);
}

/** vocab.json, checked field by field (ConfigError naming the field): what the Phonemizer indexes must be there. */
export function parseG2PVocab(raw: unknown): G2PVocab {
  const fail = (what: string, got: unknown): never => {
    throw new ConfigError(`vocab.json of the G2P model: ${what}, got ${show(got)}`);
  };
  const obj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!obj(raw)) fail('must be a JSON object', raw);
  const v = raw as Record<string, unknown>;
  if (typeof v.format !== 'string' || !v.format.startsWith('wasm-seq2seq/g2p-vocab@')) {
    fail('"format" must be "wasm-seq2seq/g2p-vocab@<version>" (not a wasm-seq2seq g2p vocabulary)', v.format);
  }
  const tokens = v.tokens;
  if (!Array.isArray(tokens) || tokens.length === 0) fail('"tokens" must be a non-empty list of strings', tokens);
  denseArray('vocab.json "tokens"', tokens, MAX_LIST_LENGTH, ConfigError).forEach((t, i) => {
    if (typeof t !== 'string') fail(`"tokens"[${i}] must be a string`, t);
  });
  const V = (tokens as string[]).length;
  const idMap = (where: string, m: unknown) => {
    if (!obj(m)) fail(`"${where}" must be an object of token → id`, m);
    for (const [k, id] of Object.entries(m as object)) tokenId(`vocab.json "${where}"["${k}"]`, id, V, ConfigError);
  };
  const source = v.source as Record<string, unknown> | undefined, target = v.target as Record<string, unknown> | undefined;
  if (!obj(source)) fail('"source" must be an object with "tokens" and "append_eos"', source);
  idMap('source.tokens', source!.tokens);
  if (typeof source!.append_eos !== 'boolean') fail('"source.append_eos" must be true or false', source!.append_eos);
  if (!obj(target)) fail('"target" must be an object with "tokens"', target);
  idMap('target.tokens', target!.tokens);
  if (!obj(v.special)) fail('"special" must be an object with eos, unk, pad, decoder_start ids', v.special);
  for (const k of ['eos', 'unk', 'pad', 'decoder_start']) tokenId(`vocab.json "special.${k}"`, (v.special as Record<string, unknown>)[k], V, ConfigError);
  return raw as G2PVocab;
}
