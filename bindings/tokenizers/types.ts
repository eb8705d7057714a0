// The public tokenizer interface: text in, token ids out, and back. Every implementation (SentencePiece-based
// "slow" tokenizers of slow.ts/families.ts and tokenizer.json ones of hf_json.ts) reproduces what transformers'
// tokenizer of the same files returns for `tokenizer(text).input_ids` and `tokenizer.decode(ids, ...)`.

export type TokenizerFamily = 'marian' | 't5' | 'nllb' | 'm2m_100' | 'mbart' | 'mbart50' | 'bart' | 'tokenizer.json';

export interface EncodeOptions {
  /** Add the model's special tokens (`</s>`, language codes, `<s>`): true by default, as in transformers. */
  readonly addSpecialTokens?: boolean;
  /**
   * Source language for NLLB (`eng_Latn`), M2M100 (`en`) and mBART (`en_XX`): the language token the input is
   * wrapped with. Defaults to tokenizer_config.json's `src_lang`, else the family default (as transformers does).
   */
  readonly srcLang?: string;
}

export interface DecodeOptions {
  /** Drop special tokens (`</s>`, `<pad>`, `<unk>`, language codes): true by default here. */
  readonly skipSpecialTokens?: boolean;
  /**
   * transformers' `clean_up_tokenization` (" ." → "." etc.). Defaults to tokenizer_config.json's
   * `clean_up_tokenization_spaces`, which transformers 4.40 treats as true when absent.
   */
  readonly cleanUpTokenizationSpaces?: boolean;
}

export interface Tokenizer {
  /** Which transformers tokenizer this reproduces. */
  readonly family: TokenizerFamily;
  /** transformers' `tokenizer.vocab_size` (the base vocabulary, without added tokens). */
  readonly vocabSize: number;
  readonly padId: number | undefined;
  readonly eosId: number | undefined;
  readonly unkId: number | undefined;
  readonly bosId: number | undefined;
  /** Codes accepted by langId() and `srcLang` (empty for families without language tokens). */
  readonly languages: readonly string[];

  encode(text: string, options?: EncodeOptions): number[];
  encodeBatch(texts: readonly string[], options?: EncodeOptions): number[][];
  decode(ids: readonly number[], options?: DecodeOptions): string;
  decodeBatch(batch: readonly (readonly number[])[], options?: DecodeOptions): string[];
  /** The tokens `encode` would map to ids, without special tokens added around them. */
  tokenize(text: string): string[];
  /** Id of a vocabulary or added token; undefined when it has none (no <unk> fallback). */
  tokenToId(token: string): number | undefined;
  /** Token of an id (Marian: of the target vocabulary, which decoding uses); undefined when out of range. */
  idToToken(id: number): string | undefined;
  /**
   * Id of a language token: the target language to force as first generated token (`forced_bos_token_id`) for
   * NLLB (`fra_Latn`), M2M100 (`fr`) and mBART-50 (`fr_XX`), or a Marian `>>fra<<` target-language token.
   * Throws InputError for an unknown code and UnsupportedError for families without language tokens.
   */
  langId(code: string): number;
}
