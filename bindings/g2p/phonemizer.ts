// Grapheme-to-phoneme on top of any Marian-architecture G2P checkpoint with a wasm-seq2seq g2p vocab.json
// (weights/g2p-en is the shipped English one): text → words → lexicon, else character ids → beam search → ARPAbet.
// The optional lexicon.tsv.gz beside the model (gzip of `word<TAB>PRON[|ALT...]` lines; the shipped one is all of
// CMUdict, tools/g2p/make_lexicon.py) answers dictionary words with the dictionary's primary pronunciation, as G2P
// front ends do; the model handles the rest (names, new words, typos).
import { ConfigError, InputError, SourceError } from '../errors.js';
import { loadModel, type LoadModelOptions } from '../model/load.js';
import type { Seq2SeqModel } from '../model/model.js';
import { toModelSource, type SourceInput } from '../weights/source.js';
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
}

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
  private readonly cache = new Map<string, string[]>();
  private readonly idToPhoneme: string[];

  private constructor(readonly model: Seq2SeqModel, readonly vocab: G2PVocab,
    /** word → its lexicon line's pronunciations, unsplit ("PH ON ES|ALT ..."); null without a lexicon */
    private readonly lexicon: Lexicon | null) {
    this.idToPhoneme = [];
    for (const [p, id] of Object.entries(vocab.target.tokens)) this.idToPhoneme[id] = p;
  }

  static async load(source?: SourceInput, options: PhonemizerLoadOptions = {}): Promise<Phonemizer> {
    const src = toModelSource(source ?? (await defaultG2PModelDir()), options); // once: a Hub id resolves once
    const bytes = await src.read('vocab.json', { signal: options.signal });
    let vocab: G2PVocab;
    try {
      vocab = JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) {
      throw new ConfigError(`vocab.json of the G2P model is not valid JSON: ${(e as Error).message}`);
    }
    if (!vocab?.format?.startsWith('wasm-seq2seq/g2p-vocab@') || !vocab.source?.tokens || !vocab.target?.tokens) {
      throw new ConfigError(`vocab.json is not a wasm-seq2seq g2p vocabulary (format ${String(vocab?.format)})`);
    }
    const { lexicon: useLexicon = true, ...modelOptions } = options;
    const lexicon = useLexicon ? await loadLexicon(src, options.signal) : null;
    const model = await loadModel(src, modelOptions);
    if (vocab.tokens.length !== model.config.vocab_size) {
      throw new ConfigError(`vocab.json has ${vocab.tokens.length} tokens but the model's vocab_size is ${model.config.vocab_size}`);
    }
    return new Phonemizer(model, vocab, lexicon);
  }

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
      const bad = p.find((ph) => !(ph in this.vocab.target.tokens));
      // checked here, not at load: the CLI does not split 126k lines it will never look at
      if (bad !== undefined) throw new ConfigError(`lexicon.tsv.gz: "${word}" has "${bad}", which is not a phoneme of this model's vocab.json`);
    }
    return prons;
  }

  /** Source ids for one word, lower-cased as the vocabulary says (characters outside it → unk). */
  encodeWord(word: string): number[] {
    const ids = [...word.toLowerCase()].map((c) => this.vocab.source.tokens[c] ?? this.vocab.special.unk);
    if (this.vocab.source.append_eos) ids.push(this.vocab.special.eos);
    return ids;
  }

  /** Pronounce distinct words (results cached per phonemizer: a long text repeats most of its words). */
  async phonemizeWords(words: string[], options: PhonemizeOptions = {}): Promise<string[][]> {
    // distinct uncached words: the lexicon's straight away, the rest sorted by length so each batch pads little
    for (const w of words) {
      const known = w && !this.cache.has(w) ? this.lookup(w) : undefined;
      if (known) this.cache.set(w, known[0]);
    }
    const todo = [...new Set(words.filter((w) => w && !this.cache.has(w)))].sort((a, b) => a.length - b.length);
    const batch = options.batchSize ?? 64;
    if (!Number.isInteger(batch) || batch < 1) throw new InputError(`batchSize must be a positive integer, got ${batch}`);
    const { eos, pad } = this.vocab.special;
    for (let i = 0; i < todo.length; i += batch) {
      const chunk = todo.slice(i, i + batch);
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
        this.cache.set(chunk[j], phones);
      });
      options.onProgress?.(Math.min(i + batch, todo.length), todo.length);
    }
    return words.map((w) => (w ? this.cache.get(w)! : []));
  }

  /** Text → one entry per word (numbers spelled out; see text.ts for the rules). */
  async phonemize(text: string, options: PhonemizeOptions = {}): Promise<PhonemizedWord[]> {
    const words = textToWords(text);
    const phones = await this.phonemizeWords(words.map((w) => w.word), options);
    return words.map((w, i) => ({ text: w.text, word: w.word, phonemes: phones[i], source: this.sourceOf(w.word) }));
  }
}
