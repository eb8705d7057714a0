// Types shared by the model-independent generation layer (greedy and beam search as in transformers 4.40.2).

/** Top-k candidates per sentence: scores and indices beam·vocabSize + token, [batch, k] row-major, best first
 *  (ties: lower index); index -1 marks a slot that could not be filled (rows holding NaN). */
export interface RankedCandidates { scores: Float32Array; indices: Int32Array }

/** One decoder pass over `rows` rows (rows = batch × beams, row r of sentence b, beam j is r = b*numBeams + j, like
 *  transformers). Methods return a value (wasm) or a promise (WebGPU, whose results are read back); the search
 *  loops only await promises. An array returned may be a view that is only valid until the next call. */
export interface DecoderSession {
  readonly vocabSize: number;
  /** Feed one token per row (the last generated token; the first call gets decoder_start ids) and return the
   *  raw logits, row-major [rows, vocabSize]. */
  step(tokens: Int32Array): Float32Array | Promise<Float32Array>;
  /** Beam search: one step, returning the row-wise log-softmax of the logits [rows, vocabSize] (float32). The
   *  caller may change rows in place (logits processors) and then passes the same array to rank(). */
  stepLogProbs(tokens: Int32Array): Float32Array | Promise<Float32Array>;
  /** Per sentence the k best float32(logProbs[row][v] + beamScores[row]) over its beams × vocabSize entries. */
  rank(logProbs: Float32Array, beamScores: Float32Array, k: number): RankedCandidates | Promise<RankedCandidates>;
  /** Row r of the cache becomes old row index[r] (transformers' _reorder_cache / index_select). With `sentences`,
   *  finished sentences leave: live sentence s becomes old live sentence sentences[s] (increasing), `index` covers
   *  the remaining rows only, and later steps take and return only those rows (finished rows cost nothing). */
  reorder(index: Int32Array, sentences?: Int32Array): void;
  /** True when the session's steps already let the event loop turn (a batched session): a search with an abort
   *  signal then need not yield on its own. */
  readonly yieldsToEventLoop?: boolean;
  // Optional fast paths, taken where no logits processor has to see the rows: the same results without bringing
  // the logits back from where they are.
  /** One step, then each row's argmax (first on ties). */
  stepArgmax?(tokens: Int32Array): Int32Array | Promise<Int32Array>;
  /** stepLogProbs then rank, in one. */
  stepTopK?(tokens: Int32Array, beamScores: Float32Array, k: number): RankedCandidates | Promise<RankedCandidates>;
}

/** Makes a session for the current batch with every sentence repeated `numBeams` times (1 for greedy). */
export type DecoderFactory = (numBeams: number) => DecoderSession;

/** transformers' `early_stopping`: true stops a sentence as soon as num_beams hypotheses are finished; false
 *  stops when no running beam can beat the worst finished one (heuristic on the current length); "never"
 *  uses the longest possible length for that bound (with a positive length penalty). */
export type EarlyStopping = boolean | 'never';

/** Options of generate(), named after transformers' GenerationConfig fields (camelCase). `null` and
 *  `undefined` both mean "not set". */
export interface GenerateOptions {
  /** Decoder length limit counting the decoder start token (HF max_length; default 20). */
  maxLength?: number | null;
  /** Number of tokens to generate after the start token; wins over maxLength (max_length = 1 + n). */
  maxNewTokens?: number | null;
  /** eos is forbidden while the decoder length (incl. start token) is below this. */
  minLength?: number | null;
  /** Same as minLength = 1 + n; wins over minLength like in HF. */
  minNewTokens?: number | null;
  numBeams?: number | null;
  numReturnSequences?: number | null;
  lengthPenalty?: number | null;
  earlyStopping?: EarlyStopping | null;
  repetitionPenalty?: number | null;
  noRepeatNgramSize?: number | null;
  /** Token sequences that may not be generated; [eos] alone is ignored (HF filters it out). */
  badWordsIds?: readonly (readonly number[])[] | null;
  forcedBosTokenId?: number | null;
  /** Forced at the last step (max length). `[]` disables a default from generation_config.json. */
  forcedEosTokenId?: number | readonly number[] | null;
  eosTokenId?: number | readonly number[] | null;
  /** Fills finished rows; defaults to the first eos id (HF does the same, with a warning). */
  padTokenId?: number | null;
  /** Required: the first decoder input of every row. */
  decoderStartTokenId?: number | null;
  /** Checked between decoder steps; aborting rejects with AbortedError. */
  signal?: AbortSignal | null;
}

/** `sequences`: one row per returned hypothesis (batch × numReturnSequences, sentence-major), each starting
 *  with the decoder start token and right-padded to a common width. `scores`: beam search's
 *  `sequences_scores` (length-penalised sum of processed log-probs, float32-rounded); null for greedy. */
export interface GenerateOutput {
  sequences: number[][];
  scores: number[] | null;
}

/** Options after defaults and validation; what greedy.ts / beam.ts / processors.ts consume. */
export interface ResolvedGenerateConfig {
  maxLength: number;
  minLength: number;
  numBeams: number;
  numReturnSequences: number;
  lengthPenalty: number;
  earlyStopping: EarlyStopping;
  repetitionPenalty: number;
  noRepeatNgramSize: number;
  badWordsIds: number[][];
  forcedBosTokenId: number | null;
  forcedEosTokenIds: number[] | null;
  /** Empty when no eos is configured: rows then only stop at maxLength. */
  eosTokenIds: number[];
  padTokenId: number;
  decoderStartTokenId: number;
  signal: AbortSignal | null;
}

/** One greedy step, for printing tokens as they come. Index b is sentence b of the batch. */
export interface TokensEvent {
  type: 'tokens';
  /** Position of these tokens in the output rows (1 = first token after the start token). */
  step: number;
  /** The token appended to each row (pad for rows that had already finished). */
  tokens: number[];
  /** True where the row generated tokens[b] this step; false where it was already finished (pad fill). */
  emitted: boolean[];
  /** True where the row has produced an eos (this step or earlier). */
  finished: boolean[];
}

/** Last event of a stream: the same result generate() returns. */
export interface DoneEvent {
  type: 'done';
  output: GenerateOutput;
}

export type GenerationEvent = TokensEvent | DoneEvent;
