// Each logits processor on small hand-checked rows (HF semantics, transformers 4.40.2 logits_process.py).

import { describe, expect, it } from 'vitest';
import { InputError } from '../../bindings/errors.js';
import { resolveGenerateConfig } from '../../bindings/generation/index.js';
import {
  ForcedBosProcessor,
  ForcedEosProcessor,
  MinLengthProcessor,
  NoBadWordsProcessor,
  NoRepeatNgramProcessor,
  RepetitionPenaltyProcessor,
  buildProcessors,
} from '../../bindings/generation/processors.js';

const ids = (...t: number[]) => Int32Array.from(t);
const row = (...v: number[]) => Float32Array.from(v);
const list = (a: Float32Array) => Array.from(a);
const X = -Infinity;

describe('RepetitionPenaltyProcessor', () => {
  it('divides positive and multiplies negative scores of tokens in the sequence, start token included', () => {
    const s = row(2, -2, 3, 4, -1);
    new RepetitionPenaltyProcessor(2, 5).apply(ids(0, 1, 4), s);
    expect(list(s)).toEqual([1, -4, 3, 4, -2]);
  });

  it('penalises a repeated token once', () => {
    const s = row(8, 8, 8);
    new RepetitionPenaltyProcessor(2, 3).apply(ids(1, 1, 1, 2, 1), s);
    expect(list(s)).toEqual([8, 4, 4]);
    // and clears its marks between calls
    const p = new RepetitionPenaltyProcessor(2, 3);
    const a = row(8, 8, 8);
    p.apply(ids(0), a);
    const b = row(8, 8, 8);
    p.apply(ids(2), b);
    expect(list(b)).toEqual([8, 8, 4]);
  });

  it('rounds like float32 torch (penalty cast to float32)', () => {
    const s = row(1, -1);
    new RepetitionPenaltyProcessor(1.1, 2).apply(ids(0, 1), s);
    expect(s[0]).toBe(Math.fround(1 / Math.fround(1.1)));
    expect(s[1]).toBe(Math.fround(-1 * Math.fround(1.1)));
  });

  it('penalty < 1 rewards repetition', () => {
    const s = row(2, -2);
    new RepetitionPenaltyProcessor(0.5, 2).apply(ids(0, 1), s);
    expect(list(s)).toEqual([4, -1]);
  });
});

describe('NoRepeatNgramProcessor', () => {
  it('bigram: bans tokens that followed earlier occurrences of the last token', () => {
    // sequence 0 5 6 5 7 5: bigrams (5,6) (5,7) → after a final 5, ban 6 and 7
    const s = row(0, 0, 0, 0, 0, 0, 0, 0);
    new NoRepeatNgramProcessor(2).apply(ids(0, 5, 6, 5, 7, 5), s);
    expect(list(s)).toEqual([0, 0, 0, 0, 0, 0, X, X]);
  });

  it('trigram: needs the last two tokens to match', () => {
    const s = row(0, 0, 0, 0, 0, 0, 0, 0);
    new NoRepeatNgramProcessor(3).apply(ids(0, 5, 6, 7, 5, 6), s); // (5,6)->7 seen: ban 7
    expect(list(s)).toEqual([0, 0, 0, 0, 0, 0, 0, X]);
    const t = row(0, 0, 0, 0, 0, 0, 0, 0);
    new NoRepeatNgramProcessor(3).apply(ids(0, 5, 6, 7, 4, 6), t); // (4,6) never seen
    expect(list(t)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('counts the start token and does nothing while the sequence is too short', () => {
    const s = row(0, 0, 0);
    new NoRepeatNgramProcessor(2).apply(ids(0, 1, 0), s); // (0,1) seen, last is 0 → ban 1
    expect(list(s)).toEqual([0, X, 0]);
    const t = row(0, 0, 0);
    new NoRepeatNgramProcessor(3).apply(ids(0), t);
    expect(list(t)).toEqual([0, 0, 0]);
  });

  it('size 1 bans every token already present', () => {
    const s = row(0, 0, 0, 0);
    new NoRepeatNgramProcessor(1).apply(ids(0, 2), s);
    expect(list(s)).toEqual([X, 0, X, 0]);
  });
});

describe('NoBadWordsProcessor', () => {
  it('bans single tokens always, and the last token of a sequence whose prefix ends the row', () => {
    const p = new NoBadWordsProcessor([[1], [3, 4], [2, 3, 5]], [9]);
    const s = row(0, 0, 0, 0, 0, 0);
    p.apply(ids(0, 2, 3), s); // ends with 3 → ban 4; ends with 2,3 → ban 5
    expect(list(s)).toEqual([0, X, 0, 0, X, X]);
    const t = row(0, 0, 0, 0, 0, 0);
    p.apply(ids(0, 3, 2), t);
    expect(list(t)).toEqual([0, X, 0, 0, 0, 0]);
  });

  it('never bans eos on its own, but keeps multi-token sequences that end in eos', () => {
    const p = new NoBadWordsProcessor([[2], [5], [4, 2]], [2, 7]);
    const s = row(0, 0, 0, 0, 0, 0);
    p.apply(ids(0, 4), s);
    expect(list(s)).toEqual([0, 0, X, 0, 0, X]);
  });

  it('skips a sequence longer than the decoder input even if its prefix is the whole input (HF quirk)', () => {
    const p = new NoBadWordsProcessor([[0, 3]], []);
    const s = row(0, 0, 0, 0);
    p.apply(ids(0), s); // len 2 > cur_len 1: skipped although the prefix [0] matches
    expect(list(s)).toEqual([0, 0, 0, 0]);
    const t = row(0, 0, 0, 0);
    p.apply(ids(1, 0), t);
    expect(list(t)).toEqual([0, 0, 0, X]);
  });
});

describe('MinLengthProcessor', () => {
  it('bans every eos id while cur_len < min_length', () => {
    const p = new MinLengthProcessor(3, [1, 2]);
    const s = row(0, 0, 0, 0);
    p.apply(ids(0, 3), s);
    expect(list(s)).toEqual([0, X, X, 0]);
    const t = row(0, 0, 0, 0);
    p.apply(ids(0, 3, 3), t);
    expect(list(t)).toEqual([0, 0, 0, 0]);
  });
});

describe('ForcedBosProcessor / ForcedEosProcessor', () => {
  it('forces the first generated token only', () => {
    const p = new ForcedBosProcessor(2);
    const s = row(5, 6, 7, 8);
    p.apply(ids(0), s);
    expect(list(s)).toEqual([X, X, 0, X]);
    const t = row(5, 6, 7, 8);
    p.apply(ids(0, 2), t);
    expect(list(t)).toEqual([5, 6, 7, 8]);
  });

  it('forces eos (any of several) at cur_len == max_length - 1', () => {
    const p = new ForcedEosProcessor(4, [1, 3]);
    const s = row(5, 6, 7, 8);
    p.apply(ids(0, 2, 2), s);
    expect(list(s)).toEqual([X, 0, X, 0]);
    const t = row(5, 6, 7, 8);
    p.apply(ids(0, 2), t);
    expect(list(t)).toEqual([5, 6, 7, 8]);
  });
});

describe('buildProcessors', () => {
  const cfg = (o: object) => resolveGenerateConfig({ decoderStartTokenId: 0, eosTokenId: 1, ...o });

  it('builds only configured processors, in HF order', () => {
    expect(buildProcessors(cfg({}), 10)).toEqual([]);
    const names = buildProcessors(
      cfg({
        forcedEosTokenId: 1,
        forcedBosTokenId: 3,
        minLength: 4,
        badWordsIds: [[5]],
        noRepeatNgramSize: 2,
        repetitionPenalty: 1.2,
      }),
      10,
    ).map((p) => p.name);
    expect(names).toEqual([
      'repetition_penalty',
      'no_repeat_ngram_size',
      'bad_words_ids',
      'min_length',
      'forced_bos_token_id',
      'forced_eos_token_id',
    ]);
  });

  it('min_length needs an eos id to do anything', () => {
    const c = resolveGenerateConfig({ decoderStartTokenId: 0, minLength: 5 });
    expect(buildProcessors(c, 10)).toEqual([]);
  });

  it('min_new_tokens becomes min_length 1 + n', () => {
    expect(cfg({ minNewTokens: 3, minLength: 9 }).minLength).toBe(4);
  });

  it('rejects token ids outside the vocabulary', () => {
    expect(() => buildProcessors(cfg({ badWordsIds: [[3, 10]] }), 10)).toThrow(InputError);
    expect(() => buildProcessors(cfg({ badWordsIds: [[3, 10]] }), 10)).toThrow(/badWordsIds\[0\] token 10/);
    expect(() => buildProcessors(cfg({ forcedBosTokenId: 12 }), 10)).toThrow(/forcedBosTokenId 12/);
    expect(() => buildProcessors(cfg({ eosTokenId: [1, 11] }), 10)).toThrow(/eosTokenId 11/);
    expect(() => buildProcessors(cfg({ padTokenId: 10 }), 10)).toThrow(/padTokenId 10/);
    expect(() => buildProcessors(cfg({ decoderStartTokenId: 10 }), 10)).toThrow(/decoderStartTokenId 10/);
  });
});
