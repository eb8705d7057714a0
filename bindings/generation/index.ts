// generate(): options resolved once (the caller's, else the model's generation_config.json, else transformers
// 4.40.2 GenerationConfig defaults), validated into one ResolvedGenerateConfig that every search reads; then
// greedy or beam search over a model's DecoderSession. Model-independent: the model supplies the factory.

import type { GenerationDefaults } from '../config.js';
import { InputError } from '../errors.js';
import { denseArray, intOption, MAX_LIST_LENGTH, optionsObject, show, signalOption, tokenId, tokenIdList } from '../validate.js';
import { beamSearch } from './beam.js';
import { checkBeamCandidates } from './limits.js';
import { greedySearch, greedyStream, throwIfAborted } from './greedy.js';
import type {
  DecoderFactory,
  GenerateOptions,
  GenerateOutput,
  GenerationEvent,
  ResolvedGenerateConfig,
} from './types.js';

export type * from './types.js';
export { argmax, greedySearch, greedyStream } from './greedy.js';
export { BeamHypotheses, beamSearch } from './beam.js';
export { buildProcessors, applyProcessors, checkTokenIds } from './processors.js';
export type { LogitsProcessor } from './processors.js';

/** GenerationConfig defaults (configuration_utils.py): max_length 20, one beam, length_penalty 1. */
export const GENERATION_DEFAULTS = {
  maxLength: 20,
  minLength: 0,
  numBeams: 1,
  numReturnSequences: 1,
  lengthPenalty: 1,
  earlyStopping: false,
  repetitionPenalty: 1,
  noRepeatNgramSize: 0,
} as const;

const given = <T>(v: T | null | undefined): v is T => v !== undefined && v !== null;

const NO_LIMIT = Number.MAX_SAFE_INTEGER;

/** The caller's options over the model's defaults (generation_config.json or config.json): an option not given
 *  (undefined or null) takes the model's value. */
function withModelDefaults(o: GenerateOptions, g: GenerationDefaults): GenerateOptions {
  const pick = <T>(v: T | null | undefined, d: T | undefined): T | undefined => (v === undefined || v === null ? d : v);
  const userLength = o.maxLength !== undefined && o.maxLength !== null;
  return {
    ...o,
    maxLength: pick(o.maxLength, g.max_length),
    // a max_new_tokens from the file must not override a max length the caller chose
    maxNewTokens: pick(o.maxNewTokens, userLength ? undefined : g.max_new_tokens),
    minLength: pick(o.minLength, g.min_length),
    numBeams: pick(o.numBeams, g.num_beams),
    numReturnSequences: pick(o.numReturnSequences, g.num_return_sequences),
    lengthPenalty: pick(o.lengthPenalty, g.length_penalty),
    earlyStopping: pick(o.earlyStopping, g.early_stopping),
    repetitionPenalty: pick(o.repetitionPenalty, g.repetition_penalty),
    noRepeatNgramSize: pick(o.noRepeatNgramSize, g.no_repeat_ngram_size),
    badWordsIds: pick(o.badWordsIds, g.bad_words_ids),
    forcedBosTokenId: pick(o.forcedBosTokenId, g.forced_bos_token_id),
    forcedEosTokenId: pick(o.forcedEosTokenId, g.forced_eos_token_id),
    eosTokenId: pick(o.eosTokenId, g.eos_token_id),
    padTokenId: pick(o.padTokenId, g.pad_token_id),
    decoderStartTokenId: pick(o.decoderStartTokenId, g.decoder_start_token_id),
  };
}

/** Applies the model's defaults (if given) and transformers' own, and checks every option; throws InputError naming
 *  the bad one. With `vocabSize` (what a model passes) token ids are checked against the vocabulary here and
 *  numBeams is limited by it; without, ids are checked when the session (and so the vocabulary size) exists. The
 *  result is what every search reads. */
export function resolveGenerateConfig(options: GenerateOptions, modelDefaults?: GenerationDefaults, vocabSize?: number): ResolvedGenerateConfig {
  options = optionsObject('generate options', options);
  const opts = modelDefaults ? withModelDefaults(options, modelDefaults) : options;
  const V = vocabSize;
  if (!given(opts.decoderStartTokenId)) {
    throw new InputError('decoderStartTokenId is required (the model config normally provides it)');
  }
  const decoderStartTokenId = tokenId('decoderStartTokenId', opts.decoderStartTokenId, V);

  // max_new_tokens wins over max_length, and counts tokens after the start token (HF: max_length = 1 + n).
  // Their upper limit is the model's (positions, memory), checked where the model is known.
  let maxLength: number;
  if (given(opts.maxNewTokens)) {
    maxLength = 1 + intOption('maxNewTokens', opts.maxNewTokens, 1, NO_LIMIT - 1, 1);
  } else {
    maxLength = intOption('maxLength', opts.maxLength, 2, NO_LIMIT, GENERATION_DEFAULTS.maxLength);
  }
  const minLength = given(opts.minNewTokens)
    ? 1 + intOption('minNewTokens', opts.minNewTokens, 0, NO_LIMIT - 1, 0)
    : intOption('minLength', opts.minLength, 0, NO_LIMIT, GENERATION_DEFAULTS.minLength);

  // More beams than tokens cannot all be distinct continuations of the one live beam at the first step (the rest
  // would continue beams scored -1e9): the vocabulary is the limit; the model also checks memory.
  const numBeams = intOption('numBeams', opts.numBeams, 1, V ?? NO_LIMIT, GENERATION_DEFAULTS.numBeams,
    `at most one beam per vocabulary entry (${V} tokens)`);
  const numReturnSequences = intOption('numReturnSequences', opts.numReturnSequences, 1, NO_LIMIT, 1);
  if (numReturnSequences > numBeams) {
    throw new InputError(
      `numReturnSequences (${numReturnSequences}) must be <= numBeams (${numBeams})` +
        (numBeams === 1 ? '; greedy search returns one sequence per input' : ''),
    );
  }

  const lengthPenalty = given(opts.lengthPenalty) ? opts.lengthPenalty : GENERATION_DEFAULTS.lengthPenalty;
  if (typeof lengthPenalty !== 'number' || !Number.isFinite(lengthPenalty)) {
    throw new InputError(`lengthPenalty must be a finite number, got ${show(lengthPenalty)}`);
  }
  const earlyStopping = given(opts.earlyStopping) ? opts.earlyStopping : GENERATION_DEFAULTS.earlyStopping;
  if (earlyStopping !== true && earlyStopping !== false && earlyStopping !== 'never') {
    throw new InputError(`earlyStopping must be true, false or "never", got ${show(earlyStopping)}`);
  }
  const repetitionPenalty = given(opts.repetitionPenalty) ? opts.repetitionPenalty : 1;
  if (typeof repetitionPenalty !== 'number' || !(repetitionPenalty > 0) || !Number.isFinite(repetitionPenalty)) {
    throw new InputError(`repetitionPenalty must be a positive finite number, got ${show(repetitionPenalty)}`);
  }
  const noRepeatNgramSize = intOption('noRepeatNgramSize', opts.noRepeatNgramSize, 0, NO_LIMIT, 0);

  let badWordsIds: number[][] = [];
  if (given(opts.badWordsIds)) {
    badWordsIds = denseArray('badWordsIds', opts.badWordsIds, MAX_LIST_LENGTH)
      .map((word, i) => tokenIdList(`badWordsIds[${i}]`, word, { vocab: V, allowEmpty: false }));
  }

  // An id list longer than the vocabulary must repeat ids: the vocabulary bounds it.
  const idList = (name: string, v: unknown) => tokenIdList(name, v, { vocab: V, max: V }, true);
  const eosTokenIds = given(opts.eosTokenId) ? idList('eosTokenId', opts.eosTokenId) : [];
  const forcedEosTokenIds = given(opts.forcedEosTokenId) ? idList('forcedEosTokenId', opts.forcedEosTokenId) : null;
  const forcedBosTokenId = given(opts.forcedBosTokenId) ? tokenId('forcedBosTokenId', opts.forcedBosTokenId, V) : null;
  // HF sets pad = eos[0] when pad is missing. With neither, pad is never emitted (no row can finish early),
  // so any valid id works as a placeholder.
  const padTokenId = given(opts.padTokenId)
    ? tokenId('padTokenId', opts.padTokenId, V)
    : (eosTokenIds[0] ?? decoderStartTokenId);
  if (V !== undefined && numBeams > 1) checkBeamCandidates(numBeams, eosTokenIds, V);

  const signal = signalOption('signal', opts.signal);
  return {
    maxLength,
    minLength,
    numBeams,
    numReturnSequences,
    lengthPenalty,
    earlyStopping,
    repetitionPenalty,
    noRepeatNgramSize,
    badWordsIds,
    forcedBosTokenId,
    forcedEosTokenIds,
    eosTokenIds,
    padTokenId,
    decoderStartTokenId,
    signal,
  };
}

function checkBatch(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new InputError(`batch size must be a positive integer, got ${show(batchSize)}`);
  }
}

/**
 * Generates for a batch of `batchSize` sentences. numBeams 1 → greedy search (as HF with do_sample=false),
 * otherwise beam search. `factory(numBeams)` must return a session over batchSize × numBeams rows.
 */
export async function generate(
  factory: DecoderFactory,
  batchSize: number,
  cfg: ResolvedGenerateConfig,
): Promise<GenerateOutput> {
  checkBatch(batchSize);
  throwIfAborted(cfg.signal); // before paying for a session
  const session = factory(cfg.numBeams);
  return cfg.numBeams === 1 ? greedySearch(session, batchSize, cfg) : beamSearch(session, batchSize, cfg);
}

/**
 * Like generate(), as a stream: greedy search yields a `tokens` event per step (print `tokens[b]` where
 * `emitted[b]`), beam search yields nothing until it ends (beams are reordered, so no token is final
 * before then); both end with a `done` event carrying the output, which is also the return value.
 */
export async function* generateStream(
  factory: DecoderFactory,
  batchSize: number,
  cfg: ResolvedGenerateConfig,
): AsyncGenerator<GenerationEvent, GenerateOutput, undefined> {
  checkBatch(batchSize);
  throwIfAborted(cfg.signal);
  const session = factory(cfg.numBeams);
  if (cfg.numBeams === 1) return yield* greedyStream(session, batchSize, cfg);
  const output = await beamSearch(session, batchSize, cfg);
  yield { type: 'done', output };
  return output;
}
