// generate(): options resolved once (the caller's, else the model's generation_config.json, else transformers
// 4.40.2 GenerationConfig defaults), validated into one ResolvedGenerateConfig that every search reads; then
// greedy or beam search over a model's DecoderSession. Model-independent: the model supplies the factory.

import type { GenerationDefaults } from '../config.js';
import { InputError } from '../errors.js';
import { beamSearch } from './beam.js';
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

function intOption(name: string, value: number | null | undefined, min: number, fallback: number): number {
  if (!given(value)) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new InputError(`${name} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

function tokenId(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new InputError(`${name} must be a non-negative integer token id, got ${JSON.stringify(value)}`);
  }
  return value;
}

function tokenIds(name: string, value: number | readonly number[]): number[] {
  const list = typeof value === 'number' ? [value] : value;
  if (!Array.isArray(list)) throw new InputError(`${name} must be a token id or an array of token ids`);
  return list.map((t, i) => tokenId(`${name}[${i}]`, t));
}

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
 *  the bad one. Token ids are checked against the vocabulary later, when the session (and so the vocabulary size)
 *  exists. The result is what every search reads. */
export function resolveGenerateConfig(options: GenerateOptions, modelDefaults?: GenerationDefaults): ResolvedGenerateConfig {
  if (options === null || typeof options !== 'object') throw new InputError('generate options must be an object');
  const opts = modelDefaults ? withModelDefaults(options, modelDefaults) : options;
  if (!given(opts.decoderStartTokenId)) {
    throw new InputError('decoderStartTokenId is required (the model config normally provides it)');
  }
  const decoderStartTokenId = tokenId('decoderStartTokenId', opts.decoderStartTokenId);

  // max_new_tokens wins over max_length, and counts tokens after the start token (HF: max_length = 1 + n).
  let maxLength: number;
  if (given(opts.maxNewTokens)) {
    maxLength = 1 + intOption('maxNewTokens', opts.maxNewTokens, 1, 1);
  } else {
    maxLength = intOption('maxLength', opts.maxLength, 2, GENERATION_DEFAULTS.maxLength);
  }
  const minLength = given(opts.minNewTokens)
    ? 1 + intOption('minNewTokens', opts.minNewTokens, 0, 0)
    : intOption('minLength', opts.minLength, 0, GENERATION_DEFAULTS.minLength);

  const numBeams = intOption('numBeams', opts.numBeams, 1, GENERATION_DEFAULTS.numBeams);
  const numReturnSequences = intOption('numReturnSequences', opts.numReturnSequences, 1, 1);
  if (numReturnSequences > numBeams) {
    throw new InputError(
      `numReturnSequences (${numReturnSequences}) must be <= numBeams (${numBeams})` +
        (numBeams === 1 ? '; greedy search returns one sequence per input' : ''),
    );
  }

  const lengthPenalty = given(opts.lengthPenalty) ? opts.lengthPenalty : GENERATION_DEFAULTS.lengthPenalty;
  if (typeof lengthPenalty !== 'number' || !Number.isFinite(lengthPenalty)) {
    throw new InputError(`lengthPenalty must be a finite number, got ${String(lengthPenalty)}`);
  }
  const earlyStopping = given(opts.earlyStopping) ? opts.earlyStopping : GENERATION_DEFAULTS.earlyStopping;
  if (earlyStopping !== true && earlyStopping !== false && earlyStopping !== 'never') {
    throw new InputError(`earlyStopping must be true, false or "never", got ${JSON.stringify(earlyStopping)}`);
  }
  const repetitionPenalty = given(opts.repetitionPenalty) ? opts.repetitionPenalty : 1;
  if (typeof repetitionPenalty !== 'number' || !(repetitionPenalty > 0) || !Number.isFinite(repetitionPenalty)) {
    throw new InputError(`repetitionPenalty must be a positive finite number, got ${String(repetitionPenalty)}`);
  }
  const noRepeatNgramSize = intOption('noRepeatNgramSize', opts.noRepeatNgramSize, 0, 0);

  let badWordsIds: number[][] = [];
  if (given(opts.badWordsIds)) {
    if (!Array.isArray(opts.badWordsIds)) throw new InputError('badWordsIds must be an array of token id arrays');
    badWordsIds = opts.badWordsIds.map((word, i) => {
      if (!Array.isArray(word) || word.length === 0) {
        throw new InputError(`badWordsIds[${i}] must be a non-empty array of token ids`);
      }
      return word.map((t, m) => tokenId(`badWordsIds[${i}][${m}]`, t));
    });
  }

  const eosTokenIds = given(opts.eosTokenId) ? tokenIds('eosTokenId', opts.eosTokenId) : [];
  const forcedEosTokenIds = given(opts.forcedEosTokenId) ? tokenIds('forcedEosTokenId', opts.forcedEosTokenId) : null;
  const forcedBosTokenId = given(opts.forcedBosTokenId) ? tokenId('forcedBosTokenId', opts.forcedBosTokenId) : null;
  // HF sets pad = eos[0] when pad is missing. With neither, pad is never emitted (no row can finish early),
  // so any valid id works as a placeholder.
  const padTokenId = given(opts.padTokenId)
    ? tokenId('padTokenId', opts.padTokenId)
    : (eosTokenIds[0] ?? decoderStartTokenId);

  const signal = given(opts.signal) ? opts.signal : null;
  if (signal !== null && (typeof signal !== 'object' || typeof signal.aborted !== 'boolean')) {
    throw new InputError('signal must be an AbortSignal');
  }
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
    throw new InputError(`batch size must be a positive integer, got ${String(batchSize)}`);
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
