// transformers' SentencePiece-based tokenizers, one class per family, each a port of the family's
// tokenization_*.py (v4.40): which SentencePiece model and vocabulary map pieces to ids, how ids map back, and
// which special tokens wrap the input. slow.ts holds what they share.

import { ConfigError } from '../errors.js';
import { M2M100_CODES, MBART50_CODES, MBART_CODES, NLLB_CODES, WMT21_CODES } from './languages.js';
import { SentencePiece } from './sentencepiece.js';
import { pyStrip, SlowTokenizer, type AddedToken, type TokenizerConfig } from './slow.js';

const UNDERLINE = '\u2581';

const special = (content: string, id: number, flags: Partial<AddedToken> = {}): AddedToken =>
  ({ content, id, special: true, lstrip: false, rstrip: false, singleWord: false, ...flags });

/**
 * convert_tokens_to_string of T5/mBART-50/M2M100 style tokenizers: special tokens are not passed to SentencePiece
 * but appended as they are (with a space before the first of a run when `spaceBefore`).
 */
function spmTokensToString(sp: SentencePiece, tokens: string[], isSpecial: (t: string) => boolean,
  spaceBefore: boolean, trailingSpace = false): string {
  let out = '';
  let current: string[] = [];
  let prevSpecial = false;
  for (const t of tokens) {
    if (isSpecial(t)) {
      if (spaceBefore && !prevSpecial) out += ' ';
      out += sp.decodePieces(current) + t + (trailingSpace ? ' ' : '');
      current = [];
      prevSpecial = true;
    } else {
      current.push(t);
      prevSpecial = false;
    }
  }
  return out + sp.decodePieces(current);
}

const srcLangOf = (cfg: TokenizerConfig, fallback: string) =>
  typeof cfg.raw.src_lang === 'string' ? cfg.raw.src_lang : fallback;

/** MarianTokenizer: source.spm segments, vocab.json maps pieces to ids, target.spm turns output pieces to text. */
export class MarianTokenizer extends SlowTokenizer {
  readonly family = 'marian';
  readonly vocabSize: number;
  override readonly languages: readonly string[];
  private readonly decoder = new Map<number, string>();

  constructor(private readonly source: SentencePiece, private readonly target: SentencePiece,
    private readonly encoder: ReadonlyMap<string, number>, targetEncoder: ReadonlyMap<string, number> | undefined,
    cfg: TokenizerConfig) {
    super({ eos: cfg.token('eos_token') ?? '</s>', unk: cfg.token('unk_token') ?? '<unk>',
      pad: cfg.token('pad_token') ?? '<pad>' }, cfg.cleanUp);
    if (!encoder.has(this.unkToken!)) throw new ConfigError(`vocab.json has no ${this.unkToken} token`);
    this.vocabSize = encoder.size;
    for (const [token, id] of targetEncoder ?? encoder) this.decoder.set(id, token);
    // Multilingual-target models select the output language with a >>xxx<< token at the start of the input.
    this.languages = targetEncoder ? [] : [...encoder.keys()].filter((k) => /^>>.+<<$/.test(k)).map((k) => k.slice(2, -2));
    this.initAddedTokens([], cfg, cfg.additionalSpecialTokens);
  }

  protected tokenizePiece(text: string): string[] {
    // remove_language_code: a leading >>xx<< stays one token; any >>..<< elsewhere is deleted (language_code_re,
    // Python `.` = anything but \n, greedy).
    const code = /^>>[^\n]+<</.exec(text)?.[0];
    const rest = text.replace(/>>[^\n]+<</g, '');
    const pieces = this.source.encode(rest).pieces;
    return code ? [code, ...pieces] : pieces;
  }

  protected tokenIdOf(token: string): number {
    return this.encoder.get(token) ?? this.encoder.get(this.unkToken!)!;
  }

  protected lookup(token: string): number | undefined {
    return this.encoder.get(token);
  }

  protected tokenOf(id: number): string | undefined {
    return this.decoder.get(id) ?? this.unkToken;
  }

  protected tokensToString(tokens: string[]): string {
    // Decoding uses the target model; pieces it does not know come back verbatim, so "▁" is replaced afterwards
    // (as transformers ≥ 4.41 does; 4.40 left such a piece's "▁" in place).
    const text = spmTokensToString(this.target, tokens, (t) => this.isSpecialToken(t), false, true);
    return pyStrip(text.replaceAll(UNDERLINE, ' '));
  }

  protected withSpecialTokens(ids: number[]): number[] {
    return [...ids, this.eosId!];
  }

  protected override languageTokenId(code: string): number | undefined {
    const token = /^>>.+<<$/.test(code) ? code : `>>${code}<<`;
    return this.languages.includes(token.slice(2, -2)) ? this.encoder.get(token) : undefined;
  }
}

/** T5Tokenizer: spiece.model ids directly, `<extra_id_N>` sentinels appended from the top, `</s>` appended. */
export class T5Tokenizer extends SlowTokenizer {
  readonly family = 't5';
  readonly vocabSize: number;
  private readonly legacy: boolean;
  private readonly addPrefixSpace: boolean;
  private readonly unkLength: number;

  constructor(private sp: SentencePiece, cfg: TokenizerConfig) {
    super({ eos: cfg.token('eos_token') ?? '</s>', unk: cfg.token('unk_token') ?? '<unk>',
      pad: cfg.token('pad_token') ?? '<pad>' }, cfg.cleanUp);
    const extraIds = typeof cfg.raw.extra_ids === 'number' ? cfg.raw.extra_ids : 100;
    this.vocabSize = sp.size + extraIds;
    // transformers 4.40 defaults to legacy=True (with a warning) unless the config says otherwise.
    this.legacy = cfg.raw.legacy !== false;
    this.addPrefixSpace = cfg.raw.add_prefix_space !== false;
    if (!this.legacy) {
      // get_spm_processor: the non-legacy tokenizer turns SentencePiece's own dummy prefix off and adds "▁" itself.
      const proto = { ...sp.proto, normalizerSpec: { ...sp.proto.normalizerSpec, addDummyPrefix: false } };
      this.sp = new SentencePiece(proto, sp.file);
    }
    this.unkLength = this.sp.encode(this.unkToken!).pieces.length;
    let additional = cfg.additionalSpecialTokens;
    const sentinels = Array.from({ length: extraIds }, (_, i) => `<extra_id_${i}>`);
    if (!additional.some((t) => t.includes('<extra_id_'))) additional = [...additional, ...sentinels];
    const defaults = sentinels.map((t, i) => special(t, sp.size - 1 + extraIds - i, { lstrip: true, rstrip: true }));
    this.initAddedTokens(defaults, cfg, additional);
  }

  override tokenize(text: string): string[] {
    if (this.legacy || text === '') return super.tokenize(text);
    let t = text.replaceAll(UNDERLINE, ' ');
    if (this.addPrefixSpace) t = UNDERLINE + t;
    const tokens = super.tokenize(t);
    return tokens.length > 1 && tokens[0] === UNDERLINE && this.isSpecialToken(tokens[1]!) ? tokens.slice(1) : tokens;
  }

  protected tokenizePiece(text: string): string[] {
    const tokens = this.sp.encode(text).pieces;
    if (this.legacy || !(text.startsWith(UNDERLINE) || text.startsWith(' '))) return tokens;
    // Without the dummy prefix SentencePiece would drop a leading "▁": encode "<unk>text" and cut the <unk> off.
    const withUnk = this.sp.encode(this.unkToken! + text).pieces;
    return withUnk.length >= this.unkLength ? withUnk.slice(this.unkLength) : withUnk;
  }

  protected tokenIdOf(token: string): number {
    return this.sp.pieceToId(token);
  }

  protected lookup(token: string): number | undefined {
    return this.sp.hasPiece(token) ? this.sp.pieceToId(token) : undefined;
  }

  protected tokenOf(id: number): string | undefined {
    return id < this.sp.size ? this.sp.idToPiece(id) : undefined;
  }

  protected tokensToString(tokens: string[]): string {
    const t = [tokens[0]!.replace(/^\u2581+/, ''), ...tokens.slice(1)];
    return pyStrip(spmTokensToString(this.sp, t, (x) => this.isSpecialToken(x), true));
  }

  protected withSpecialTokens(ids: number[]): number[] {
    // _add_eos_if_not_present
    return ids.length > 0 && ids[ids.length - 1] === this.eosId ? ids : [...ids, this.eosId!];
  }
}

/**
 * The fairseq-vocabulary families (NLLB, mBART, mBART-50): SentencePiece id + 1, with <s> <pad> </s> <unk> at
 * 0..3 and the language codes appended after the SentencePiece vocabulary.
 */
export class FairseqTokenizer extends SlowTokenizer {
  readonly vocabSize: number;
  override readonly languages: readonly string[];
  private readonly srcLang: string;
  /** NLLB `legacy_behaviour`: the pre-2023 layout `X </s> <src_lang>`. */
  private readonly legacyBehaviour: boolean;

  constructor(readonly family: 'nllb' | 'mbart' | 'mbart50', private readonly sp: SentencePiece,
    cfg: TokenizerConfig) {
    super({ bos: cfg.token('bos_token') ?? '<s>', eos: cfg.token('eos_token') ?? '</s>',
      unk: cfg.token('unk_token') ?? '<unk>', sep: cfg.token('sep_token') ?? '</s>',
      pad: cfg.token('pad_token') ?? '<pad>', cls: cfg.token('cls_token') ?? '<s>',
      mask: cfg.token('mask_token') ?? '<mask>' }, cfg.cleanUp);
    const codes = family === 'nllb' ? NLLB_CODES : family === 'mbart50' ? MBART50_CODES : MBART_CODES;
    const additional = family === 'nllb' && cfg.additionalSpecialTokens.length ? cfg.additionalSpecialTokens
      : [...cfg.additionalSpecialTokens, ...codes.filter((c) => !cfg.additionalSpecialTokens.includes(c))];
    this.languages = codes.filter((c) => additional.includes(c));
    this.vocabSize = family === 'nllb' ? sp.size + 1 : sp.size + codes.length + 2;
    this.srcLang = srcLangOf(cfg, family === 'nllb' ? 'eng_Latn' : 'en_XX');
    this.legacyBehaviour = family === 'nllb' && cfg.raw.legacy_behaviour === true;
    const defaults = [special(this.bosToken!, 0), special(this.padToken!, 1), special(this.eosToken!, 2),
      special(this.unkToken!, 3), ...codes.map((c, i) => special(c, sp.size + 1 + i)),
      special(cfg.token('mask_token') ?? '<mask>', sp.size + 1 + codes.length, { lstrip: true })];
    this.initAddedTokens(defaults, cfg, additional);
    this.checkLanguage(this.srcLang);
  }

  protected tokenizePiece(text: string): string[] {
    return this.sp.encode(text).pieces;
  }

  protected tokenIdOf(token: string): number {
    return this.lookup(token) ?? this.unkId!;
  }

  protected lookup(token: string): number | undefined {
    // SentencePiece id 0 is its <unk>: such a token has no id of its own here.
    const id = this.sp.pieceToId(token);
    return id > 0 ? id + 1 : undefined;
  }

  protected tokenOf(id: number): string | undefined {
    return id >= 1 && id <= this.sp.size ? this.sp.idToPiece(id - 1) : undefined;
  }

  protected tokensToString(tokens: string[]): string {
    if (this.family === 'mbart50') return pyStrip(spmTokensToString(this.sp, tokens, (t) => this.isSpecialToken(t), true));
    return pyStrip(tokens.join('').replaceAll(UNDERLINE, ' '));
  }

  protected withSpecialTokens(ids: number[], srcLang?: string): number[] {
    const lang = this.checkLanguage(srcLang ?? this.srcLang);
    // mBART-cc25 and NLLB's legacy_behaviour put the language last: X </s> <lang>; the others: <lang> X </s>.
    const langLast = this.family === 'mbart' || (this.family === 'nllb' && this.legacyBehaviour);
    return langLast ? [...ids, this.eosId!, lang] : [lang, ...ids, this.eosId!];
  }

  protected override languageTokenId(code: string): number | undefined {
    return this.languages.includes(code) ? this.tokenToId(code) : undefined;
  }
}

/** M2M100Tokenizer: vocab.json maps SentencePiece pieces; `__xx__` language tokens follow the vocabulary. */
export class M2M100Tokenizer extends SlowTokenizer {
  readonly family = 'm2m_100';
  readonly vocabSize: number;
  override readonly languages: readonly string[];
  private readonly decoder = new Map<number, string>();
  private readonly srcLang: string;

  constructor(private readonly sp: SentencePiece, private readonly encoder: ReadonlyMap<string, number>,
    cfg: TokenizerConfig) {
    super({ bos: cfg.token('bos_token') ?? '<s>', eos: cfg.token('eos_token') ?? '</s>',
      sep: cfg.token('sep_token') ?? '</s>', unk: cfg.token('unk_token') ?? '<unk>',
      pad: cfg.token('pad_token') ?? '<pad>' }, cfg.cleanUp);
    if (!encoder.has(this.unkToken!)) throw new ConfigError(`vocab.json has no ${this.unkToken} token`);
    this.vocabSize = encoder.size;
    for (const [token, id] of encoder) this.decoder.set(id, token);
    this.languages = cfg.raw.language_codes === 'wmt21' ? WMT21_CODES : M2M100_CODES;
    const langTokens = this.languages.map((c) => `__${c}__`);
    const additional = [...cfg.additionalSpecialTokens, ...langTokens.filter((t) => !cfg.additionalSpecialTokens.includes(t))];
    this.srcLang = srcLangOf(cfg, 'en');
    this.initAddedTokens(langTokens.map((t, i) => special(t, encoder.size + i)), cfg, additional);
    this.checkLanguage(this.srcLang);
  }

  protected tokenizePiece(text: string): string[] {
    return this.sp.encode(text).pieces;
  }

  protected tokenIdOf(token: string): number {
    return this.encoder.get(token) ?? this.encoder.get(this.unkToken!)!;
  }

  protected lookup(token: string): number | undefined {
    return this.encoder.get(token);
  }

  protected tokenOf(id: number): string | undefined {
    return this.decoder.get(id) ?? this.unkToken;
  }

  protected tokensToString(tokens: string[]): string {
    return pyStrip(spmTokensToString(this.sp, tokens, (t) => this.isSpecialToken(t), false));
  }

  protected withSpecialTokens(ids: number[], srcLang?: string): number[] {
    return [this.checkLanguage(srcLang ?? this.srcLang), ...ids, this.eosId!];
  }

  protected override languageTokenId(code: string): number | undefined {
    const bare = /^__.+__$/.test(code) ? code.slice(2, -2) : code;
    return this.languages.includes(bare) ? this.tokenToId(`__${bare}__`) : undefined;
  }
}
