// The part of transformers' PreTrainedTokenizer (tokenization_utils.py, v4.40) that every SentencePiece-based
// "slow" tokenizer shares: split the text on added/special tokens (honouring their lstrip/rstrip/single_word),
// tokenize the pieces in between with the family's `_tokenize`, map tokens to ids, wrap them with the family's
// special tokens; and for decoding drop special ids, join, and `clean_up_tokenization`. families.ts holds the
// per-family hooks (_tokenize, _convert_token_to_id, convert_tokens_to_string, build_inputs_with_special_tokens).

import { ConfigError, InputError, UnsupportedError } from '../errors.js';
import type { DecodeOptions, EncodeOptions, Tokenizer, TokenizerFamily } from './types.js';
import { checkText, denseArray, MAX_LIST_LENGTH, optionsObject, show, tokenIdList } from '../validate.js';

export interface AddedToken {
  readonly content: string;
  readonly id: number;
  readonly special: boolean;
  readonly lstrip: boolean;
  readonly rstrip: boolean;
  readonly singleWord: boolean;
}

// str.isspace() characters: what Python's str.strip()/lstrip()/rstrip() remove (JS trim() differs: it keeps
// U+001C..U+001F and U+0085 and strips U+FEFF).
const PY_SPACE = '[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const LEADING = new RegExp(`^${PY_SPACE}+`);
const TRAILING = new RegExp(`${PY_SPACE}+$`);
export const pyLstrip = (s: string) => s.replace(LEADING, '');
export const pyRstrip = (s: string) => s.replace(TRAILING, '');
export const pyStrip = (s: string) => pyRstrip(pyLstrip(s));

/** PreTrainedTokenizerBase.clean_up_tokenization. */
export function cleanUpTokenization(s: string): string {
  return s.replaceAll(' .', '.').replaceAll(' ?', '?').replaceAll(' !', '!').replaceAll(' ,', ',')
    .replaceAll(" ' ", "'").replaceAll(" n't", "n't").replaceAll(" 'm", "'m").replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve").replaceAll(" 're", "'re");
}

export abstract class SlowTokenizer implements Tokenizer {
  abstract readonly family: TokenizerFamily;
  abstract readonly vocabSize: number;
  readonly languages: readonly string[] = [];

  private readonly added = new Map<string, AddedToken>();
  private readonly addedById = new Map<number, AddedToken>();
  private addedByFirst = new Map<string, string[]>();
  /** all_special_tokens: bos/eos/unk/sep/pad/cls/mask that are set, plus additional_special_tokens. */
  private specialTokens = new Set<string>();
  private specialIds = new Set<number>();
  /**
   * Added tokens that are not special, and special ones past the base vocabulary (e.g. NLLB language codes):
   * decode keeps them out of convert_tokens_to_string and joins them with spaces ("legacy_added_tokens").
   */
  private legacyAdded = new Set<string>();

  constructor(private readonly specialNames: Readonly<Record<string, string | undefined>>,
    protected readonly cleanUpDefault: boolean) {}

  /**
   * Builds `_added_tokens_decoder` the way PreTrainedTokenizer.__init__ does: the family's own added tokens, then
   * tokenizer_config.json's `added_tokens_decoder` (which wins), then every special token not yet present, at its
   * vocabulary id (or appended after the vocabulary when it has none). Call once the vocabulary is ready.
   */
  protected initAddedTokens(defaults: readonly AddedToken[], cfg: TokenizerConfig, additionalSpecial: readonly string[]): void {
    const byId = new Map<number, AddedToken>();
    for (const t of [...defaults, ...cfg.addedTokensDecoder]) byId.set(t.id, t);
    const present = new Set([...byId.values()].map((t) => t.content));
    let next = Math.max(this.vocabSize - 1, [...byId.keys()].reduce((m, id) => Math.max(m, id), -1)) + 1;
    for (const [name, content] of [...Object.entries(this.specialNames), ...additionalSpecial.map((t) => ['', t])]) {
      if (content === undefined || present.has(content)) continue;
      const id = this.lookup(content) ?? next++;
      const flags = name ? cfg.tokenFlags(name) : undefined;
      byId.set(id, { content, id, special: true, lstrip: false, rstrip: false, singleWord: false, ...flags });
      present.add(content);
    }
    for (const t of byId.values()) {
      this.added.set(t.content, t);
      this.addedById.set(t.id, t);
    }
    this.addedByFirst = new Map();
    for (const content of this.added.keys()) {
      const list = this.addedByFirst.get(content[0]!) ?? [];
      list.push(content);
      this.addedByFirst.set(content[0]!, list.sort((a, b) => b.length - a.length));
    }
    const names = Object.values(this.specialNames).filter((v): v is string => v !== undefined);
    this.specialTokens = new Set([...names, ...additionalSpecial]);
    this.specialIds = new Set([...this.specialTokens].map((t) => this.convertTokenToId(t)));
    this.legacyAdded = new Set([...this.added.keys()].filter((t) => !this.specialTokens.has(t)));
    for (const t of additionalSpecial) if (this.convertTokenToId(t) >= this.vocabSize) this.legacyAdded.add(t);
  }

  protected get bosToken() { return this.specialNames.bos; }
  protected get eosToken() { return this.specialNames.eos; }
  protected get unkToken() { return this.specialNames.unk; }
  protected get padToken() { return this.specialNames.pad; }

  get padId() { return this.idOf(this.padToken); }
  get eosId() { return this.idOf(this.eosToken); }
  get unkId() { return this.idOf(this.unkToken); }
  get bosId() { return this.idOf(this.bosToken); }
  private idOf(token: string | undefined) {
    return token === undefined ? undefined : this.tokenToId(token);
  }

  isSpecialToken(token: string): boolean {
    return this.specialTokens.has(token);
  }

  /** _tokenize: the family's segmentation of text that holds no added token. */
  protected abstract tokenizePiece(text: string): string[];
  /** _convert_token_to_id (with the family's <unk> fallback). */
  protected abstract tokenIdOf(token: string): number;
  /** The vocabulary id of a token, without <unk> fallback. */
  protected abstract lookup(token: string): number | undefined;
  /** _convert_id_to_token; undefined when transformers would raise (id out of range). */
  protected abstract tokenOf(id: number): string | undefined;
  /** convert_tokens_to_string. */
  protected abstract tokensToString(tokens: string[]): string;
  /** build_inputs_with_special_tokens. */
  protected abstract withSpecialTokens(ids: number[], srcLang: string | undefined): number[];

  /** convert_tokens_to_ids: added tokens first, then the vocabulary. */
  protected convertTokenToId(token: string): number {
    return this.added.get(token)?.id ?? this.tokenIdOf(token);
  }

  tokenize(text: string): string[] {
    const parts = this.splitOnAddedTokens(checkText('tokenize() text', text));
    const out: string[] = [];
    for (const p of parts) {
      if (p.token) out.push(p.text);
      else if (p.text) for (const t of this.tokenizePiece(p.text)) out.push(t); // no spread: a piece may be 100k tokens
    }
    return out;
  }

  /** tokens_trie.split plus the AddedToken strip rules of PreTrainedTokenizer.tokenize. */
  private splitOnAddedTokens(text: string): { text: string; token: boolean }[] {
    const parts: { text: string; token: boolean }[] = [];
    let start = 0;
    for (let i = 0; i < text.length;) {
      const match = this.addedByFirst.get(text[i]!)?.find((c) => text.startsWith(c, i));
      if (!match) {
        i++;
        continue;
      }
      if (i > start) parts.push({ text: text.slice(start, i), token: false });
      parts.push({ text: match, token: true });
      i += match.length;
      start = i;
    }
    if (start < text.length) parts.push({ text: text.slice(start), token: false });
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (!p.token) continue;
      const t = this.added.get(p.text)!;
      const left = parts[i - 1];
      const right = parts[i + 1];
      if (t.rstrip && right && right.text) right.text = pyLstrip(right.text);
      if (t.lstrip && left && left.text) left.text = pyRstrip(left.text);
      if (t.singleWord && left && left.text && !left.text.endsWith(' ')) {
        left.text += p.text;
        p.text = '';
      } else if (t.singleWord && right && right.text && !right.text.startsWith(' ')) {
        right.text = p.text + right.text;
        p.text = '';
      }
    }
    return parts.filter((p) => p.text !== '');
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    checkText('encode() text', text);
    options = optionsObject('encode() options', options);
    if (options.srcLang !== undefined) this.langId(options.srcLang);
    const ids = this.tokenize(text).map((t) => this.convertTokenToId(t));
    return options.addSpecialTokens === false ? ids : this.withSpecialTokens(ids, options.srcLang);
  }

  encodeBatch(texts: readonly string[], options?: EncodeOptions): number[][] {
    return denseArray('encodeBatch() texts', texts, MAX_LIST_LENGTH).map((t) => this.encode(t as string, options));
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const skip = optionsObject('decode() options', options).skipSpecialTokens ?? true;
    const tokens: string[] = [];
    for (const id of tokenIdList('decode() ids', ids)) {
      if (skip && this.specialIds.has(id)) continue;
      const token = this.addedById.get(id)?.content ?? this.tokenOf(id);
      if (token === undefined) throw new InputError(`decode(): id ${id} is not in the ${this.family} vocabulary`);
      tokens.push(token);
    }
    const texts: string[] = [];
    let current: string[] = [];
    for (const token of tokens) {
      if (this.legacyAdded.has(token)) {
        if (current.length) {
          const s = this.tokensToString(current);
          if (s.length) texts.push(s);
          current = [];
        }
        texts.push(token);
      } else {
        current.push(token);
      }
    }
    if (current.length) texts.push(this.tokensToString(current));
    const text = texts.join(' ');
    return options.cleanUpTokenizationSpaces ?? this.cleanUpDefault ? cleanUpTokenization(text) : text;
  }

  decodeBatch(batch: readonly (readonly number[])[], options?: DecodeOptions): string[] {
    return denseArray('decodeBatch() rows', batch, MAX_LIST_LENGTH).map((ids) => this.decode(ids as number[], options));
  }

  tokenToId(token: string): number | undefined {
    if (typeof token !== 'string') throw new InputError(`tokenToId() takes a token string, got ${show(token)}`);
    return this.added.get(token)?.id ?? this.lookup(token);
  }

  idToToken(id: number): string | undefined {
    if (!Number.isInteger(id) || id < 0) return undefined;
    return this.addedById.get(id)?.content ?? this.tokenOf(id);
  }

  langId(code: string): number {
    if (typeof code !== 'string') throw new InputError(`langId() takes a language code string, got ${show(code)}`);
    if (this.languages.length === 0) {
      throw new UnsupportedError(`${this.family} tokenizers have no language tokens (langId(${show(code)}))`);
    }
    return this.checkLanguage(code);
  }

  /** The id of a language code's token; InputError naming the valid codes when it is not one. */
  protected checkLanguage(code: string): number {
    const id = this.languageTokenId(code);
    if (id === undefined) {
      const shown = this.languages.slice(0, 12).join(', ') + (this.languages.length > 12 ? ', ...' : '');
      throw new InputError(`unknown ${this.family} language code ${show(code)} (known: ${shown})`);
    }
    return id;
  }

  protected languageTokenId(_code: string): number | undefined {
    return undefined;
  }
}

/** The subset of tokenizer_config.json (+ special_tokens_map.json) the tokenizers read. */
export interface TokenizerConfig {
  readonly raw: Readonly<Record<string, unknown>>;
  /** A special token's content (`eos_token` may be a string or an AddedToken object). */
  token(name: string): string | undefined;
  /** lstrip/rstrip/single_word of a special token saved as an AddedToken object. */
  tokenFlags(name: string): Partial<Pick<AddedToken, 'lstrip' | 'rstrip' | 'singleWord'>> | undefined;
  readonly additionalSpecialTokens: string[];
  /** `added_tokens_decoder`: id → token, as saved by transformers ≥ 4.34. */
  readonly addedTokensDecoder: AddedToken[];
  readonly cleanUp: boolean;
}

function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') {
    return (v as { content: string }).content;
  }
  return undefined;
}

export function parseTokenizerConfig(config: Record<string, unknown> | undefined,
  specialMap: Record<string, unknown> | undefined, where: string): TokenizerConfig {
  // special_tokens_map.json overrides tokenizer_config.json, and its additional tokens are appended (from_pretrained).
  const raw: Record<string, unknown> = { ...config };
  const additional = ((config?.additional_special_tokens as unknown[]) ?? []).map(tokenContent)
    .filter((t): t is string => t !== undefined);
  for (const [k, v] of Object.entries(specialMap ?? {})) {
    if (k === 'additional_special_tokens' && Array.isArray(v)) {
      for (const t of v.map(tokenContent)) if (t !== undefined && !additional.includes(t)) additional.push(t);
    } else {
      // defined, not assigned: a "__proto__" key must stay a key, not replace raw's prototype
      Object.defineProperty(raw, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
  }
  const added: AddedToken[] = [];
  const decoder = raw.added_tokens_decoder;
  if (decoder !== undefined) {
    if (typeof decoder !== 'object' || decoder === null) throw new ConfigError(`${where}: added_tokens_decoder must be an object`);
    for (const [key, v] of Object.entries(decoder)) {
      const t = v as Record<string, unknown>;
      if (!/^\d+$/.test(key) || typeof t?.content !== 'string') {
        throw new ConfigError(`${where}: added_tokens_decoder entry ${show(key)} is not {id: {content, ...}}`);
      }
      added.push({ content: t.content, id: Number(key), special: t.special === true, lstrip: t.lstrip === true,
        rstrip: t.rstrip === true, singleWord: t.single_word === true });
    }
  }
  const cleanUp = raw.clean_up_tokenization_spaces;
  return {
    raw,
    token: (name) => tokenContent(raw[name]),
    tokenFlags: (name) => {
      const v = raw[name] as Record<string, unknown> | undefined;
      if (!v || typeof v !== 'object') return undefined;
      return { lstrip: v.lstrip === true, rstrip: v.rstrip === true, singleWord: v.single_word === true };
    },
    additionalSpecialTokens: additional,
    addedTokensDecoder: added,
    cleanUp: typeof cleanUp === 'boolean' ? cleanUp : true,
  };
}
