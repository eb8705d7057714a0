// Logits processors of transformers 4.40.2 (generation/logits_process.py), in the order
// GenerationMixin._get_logits_processor builds them. Each works in place on one row of scores: raw logits
// for greedy search, log-probs (+ nothing else yet) for beam search. `tokens` is the row's decoder input so
// far, start token included, so `tokens.length` is HF's `cur_len` (input_ids.shape[-1]).

import { InputError } from '../errors.js';
import type { ResolvedGenerateConfig } from './types.js';

export interface LogitsProcessor {
  readonly name: string;
  apply(tokens: Int32Array, scores: Float32Array): void;
}

/** CTRL-style penalty on every token already in the decoder sequence (the start token too), applied once
 *  per distinct token: negative scores are multiplied, positive ones divided (torch.where(s<0, s*p, s/p)). */
export class RepetitionPenaltyProcessor implements LogitsProcessor {
  readonly name = 'repetition_penalty';
  private readonly penalty: number;
  private readonly seen: Uint8Array;

  constructor(penalty: number, vocabSize: number) {
    this.penalty = Math.fround(penalty); // torch multiplies float32 tensors by the float32-cast scalar
    this.seen = new Uint8Array(vocabSize);
  }

  apply(tokens: Int32Array, scores: Float32Array): void {
    const p = this.penalty;
    // HF gathers all values before scattering, so a repeated token is penalised once: mark, then clear.
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      if (this.seen[t]) continue;
      this.seen[t] = 1;
      const s = scores[t];
      scores[t] = s < 0 ? s * p : s / p;
    }
    for (let i = 0; i < tokens.length; i++) this.seen[tokens[i]] = 0;
  }
}

/** Bans every token that would complete an n-gram already present in the decoder sequence. */
export class NoRepeatNgramProcessor implements LogitsProcessor {
  readonly name = 'no_repeat_ngram_size';
  constructor(private readonly n: number) {}

  apply(tokens: Int32Array, scores: Float32Array): void {
    const n = this.n;
    const len = tokens.length;
    if (len + 1 < n) return; // HF: no complete n-gram can be formed yet
    // The last n-1 tokens are the prefix; every earlier occurrence of it bans the token that followed.
    const prefixStart = len - n + 1;
    for (let i = 0; i + n - 1 < len; i++) {
      let match = true;
      for (let m = 0; m < n - 1; m++) {
        if (tokens[i + m] !== tokens[prefixStart + m]) {
          match = false;
          break;
        }
      }
      if (match) scores[tokens[i + n - 1]] = -Infinity;
    }
  }
}

/** NoBadWordsLogitsProcessor (a SequenceBiasLogitsProcessor with -inf bias). Single tokens are always
 *  banned; a longer sequence bans its last token when the row ends with the rest of it. Two HF details kept
 *  on purpose: a sequence that is exactly [eos] is dropped from the list (eos must stay reachable), and a
 *  sequence longer than cur_len is skipped even when its prefix would fit (`len(seq) > input_ids.shape[1]`). */
export class NoBadWordsProcessor implements LogitsProcessor {
  readonly name = 'bad_words_ids';
  private readonly single: number[] = [];
  private readonly multi: number[][] = [];

  constructor(badWordsIds: readonly (readonly number[])[], eosTokenIds: readonly number[]) {
    for (const word of badWordsIds) {
      if (word.length === 1 && eosTokenIds.includes(word[0])) continue;
      if (word.length === 1) this.single.push(word[0]);
      else this.multi.push([...word]);
    }
  }

  apply(tokens: Int32Array, scores: Float32Array): void {
    for (const t of this.single) scores[t] = -Infinity;
    const len = tokens.length;
    for (const word of this.multi) {
      const k = word.length;
      if (k > len) continue;
      const start = len - (k - 1);
      let match = true;
      for (let m = 0; m < k - 1; m++) {
        if (tokens[start + m] !== word[m]) {
          match = false;
          break;
        }
      }
      if (match) scores[word[k - 1]] = -Infinity;
    }
  }
}

/** eos ids get -inf while cur_len < minLength (min_new_tokens is folded into minLength = 1 + n). */
export class MinLengthProcessor implements LogitsProcessor {
  readonly name = 'min_length';
  constructor(
    private readonly minLength: number,
    private readonly eosTokenIds: readonly number[],
  ) {}

  apply(tokens: Int32Array, scores: Float32Array): void {
    if (tokens.length >= this.minLength) return;
    for (const e of this.eosTokenIds) scores[e] = -Infinity;
  }
}

/** First generated token (cur_len == 1) is forced: everything -inf, the forced id 0. */
export class ForcedBosProcessor implements LogitsProcessor {
  readonly name = 'forced_bos_token_id';
  constructor(private readonly bosTokenId: number) {}

  apply(tokens: Int32Array, scores: Float32Array): void {
    if (tokens.length !== 1) return;
    scores.fill(-Infinity);
    scores[this.bosTokenId] = 0;
  }
}

/** Last possible token (cur_len == maxLength - 1) must be one of the forced eos ids (all get 0). */
export class ForcedEosProcessor implements LogitsProcessor {
  readonly name = 'forced_eos_token_id';
  constructor(
    private readonly maxLength: number,
    private readonly eosTokenIds: readonly number[],
  ) {}

  apply(tokens: Int32Array, scores: Float32Array): void {
    if (tokens.length !== this.maxLength - 1) return;
    scores.fill(-Infinity);
    for (const e of this.eosTokenIds) scores[e] = 0;
  }
}

function checkId(what: string, id: number, vocabSize: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
    throw new InputError(`${what} ${id} is not a token id of this model (vocabulary size ${vocabSize})`);
  }
}

/** Checks every configured token id against the model's vocabulary (HF raises for out-of-range bad words;
 *  an out-of-range eos/pad/start id would index past the logits). */
export function checkTokenIds(cfg: ResolvedGenerateConfig, vocabSize: number): void {
  checkId('decoderStartTokenId', cfg.decoderStartTokenId, vocabSize);
  checkId('padTokenId', cfg.padTokenId, vocabSize);
  for (const e of cfg.eosTokenIds) checkId('eosTokenId', e, vocabSize);
  if (cfg.forcedBosTokenId !== null) checkId('forcedBosTokenId', cfg.forcedBosTokenId, vocabSize);
  for (const e of cfg.forcedEosTokenIds ?? []) checkId('forcedEosTokenId', e, vocabSize);
  cfg.badWordsIds.forEach((word, i) => word.forEach((t) => checkId(`badWordsIds[${i}] token`, t, vocabSize)));
}

/** The processors `cfg` asks for, in HF order (repetition, no-repeat-ngram, bad words, min length,
 *  forced BOS, forced EOS). Only configured ones are built, like HF, so an empty list means raw scores. */
export function buildProcessors(cfg: ResolvedGenerateConfig, vocabSize: number): LogitsProcessor[] {
  checkTokenIds(cfg, vocabSize);
  const list: LogitsProcessor[] = [];
  if (cfg.repetitionPenalty !== 1) list.push(new RepetitionPenaltyProcessor(cfg.repetitionPenalty, vocabSize));
  if (cfg.noRepeatNgramSize > 0) list.push(new NoRepeatNgramProcessor(cfg.noRepeatNgramSize));
  if (cfg.badWordsIds.length > 0) list.push(new NoBadWordsProcessor(cfg.badWordsIds, cfg.eosTokenIds));
  if (cfg.minLength > 0 && cfg.eosTokenIds.length > 0) list.push(new MinLengthProcessor(cfg.minLength, cfg.eosTokenIds));
  if (cfg.forcedBosTokenId !== null) list.push(new ForcedBosProcessor(cfg.forcedBosTokenId));
  if (cfg.forcedEosTokenIds !== null && cfg.forcedEosTokenIds.length > 0) list.push(new ForcedEosProcessor(cfg.maxLength, cfg.forcedEosTokenIds));
  return list;
}

export function applyProcessors(list: readonly LogitsProcessor[], tokens: Int32Array, scores: Float32Array): void {
  for (const p of list) p.apply(tokens, scores);
}
