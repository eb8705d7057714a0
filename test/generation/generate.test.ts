// generate(): option defaults/validation, greedy vs beam choice, streaming and abort.

import { describe, expect, it } from 'vitest';
import { AbortedError, InputError } from '../../bindings/errors.js';
import {
  argmax,
  generate,
  generateStream,
  resolveGenerateConfig,
} from '../../bindings/generation/index.js';
import type { DecoderFactory, DecoderSession, GenerateOptions, GenerationEvent } from '../../bindings/generation/types.js';
import { type FakeParams, fakeFactory, fromStep } from './fake.js';

/** generate() / generateStream() take the resolved options: resolve them as a model does. */
const gen = async (...[f, n, o]: [DecoderFactory, number, GenerateOptions]) => generate(f, n, resolveGenerateConfig(o));
const genStream = (...[f, n, o]: [DecoderFactory, number, GenerateOptions]) => generateStream(f, n, resolveGenerateConfig(o));

const params: FakeParams = { seed: 7, vocab: 32, repeat_bonus: 1, eos_boost: [[2, -5, 1]] };
const base: GenerateOptions = { decoderStartTokenId: 0, eosTokenId: 2, padTokenId: 1 };

/** A session with scripted greedy choices: row b picks script[b][step] (one-hot logits). Finished rows leave it
 *  through reorder(index, sentences), which greedy may only use to drop rows. */
function scripted(script: number[][], vocab = 8): DecoderSession & { fed: number[][] } {
  let step = 0;
  let live = script.map((_, b) => b);
  const fed: number[][] = [];
  return fromStep({
    vocabSize: vocab,
    fed,
    step(tokens: Int32Array) {
      if (tokens.length !== live.length) throw new Error(`step got ${tokens.length} tokens for ${live.length} live rows`);
      fed.push(Array.from(tokens));
      const out = new Float32Array(tokens.length * vocab);
      live.forEach((b, i) => (out[i * vocab + script[b][Math.min(step, script[b].length - 1)]] = 1));
      step++;
      return out;
    },
    reorder(index: Int32Array, sentences?: Int32Array) {
      if (!sentences || index.join() !== sentences.join()) throw new Error('greedy may only drop rows');
      live = Array.from(index, (i) => live[i]);
    },
  });
}

describe('resolveGenerateConfig', () => {
  it('applies HF defaults', () => {
    const c = resolveGenerateConfig({ decoderStartTokenId: 3 });
    expect(c).toMatchObject({
      maxLength: 20,
      minLength: 0,
      numBeams: 1,
      numReturnSequences: 1,
      lengthPenalty: 1,
      earlyStopping: false,
      repetitionPenalty: 1,
      noRepeatNgramSize: 0,
      badWordsIds: [],
      eosTokenIds: [],
      forcedBosTokenId: null,
      forcedEosTokenIds: null,
    });
  });

  it('maxNewTokens n means maxLength 1 + n and wins over maxLength', () => {
    expect(resolveGenerateConfig({ ...base, maxNewTokens: 5 }).maxLength).toBe(6);
    expect(resolveGenerateConfig({ ...base, maxNewTokens: 5, maxLength: 50 }).maxLength).toBe(6);
    expect(resolveGenerateConfig({ ...base, maxLength: 50 }).maxLength).toBe(50);
    expect(resolveGenerateConfig({ ...base, maxNewTokens: null, maxLength: 7 }).maxLength).toBe(7);
  });

  it('pad defaults to the first eos id; eos may be a list', () => {
    const c = resolveGenerateConfig({ decoderStartTokenId: 0, eosTokenId: [4, 5] });
    expect(c.eosTokenIds).toEqual([4, 5]);
    expect(c.padTokenId).toBe(4);
    expect(resolveGenerateConfig({ ...base, forcedEosTokenId: 2 }).forcedEosTokenIds).toEqual([2]);
  });

  const bad: [string, GenerateOptions, RegExp][] = [
    ['no start token', { eosTokenId: 2 }, /decoderStartTokenId is required/],
    ['numBeams 0', { ...base, numBeams: 0 }, /numBeams must be an integer >= 1/],
    ['numBeams 1.5', { ...base, numBeams: 1.5 }, /numBeams/],
    ['nret > beams', { ...base, numBeams: 2, numReturnSequences: 3 }, /numReturnSequences \(3\) must be <= numBeams \(2\)/],
    ['nret > 1 greedy', { ...base, numReturnSequences: 2 }, /greedy search returns one sequence/],
    ['maxNewTokens -1', { ...base, maxNewTokens: -1 }, /maxNewTokens must be an integer >= 1/],
    ['maxNewTokens 0', { ...base, maxNewTokens: 0 }, /maxNewTokens must be an integer >= 1/],
    ['maxLength 1', { ...base, maxLength: 1 }, /maxLength must be an integer >= 2/],
    ['minLength -1', { ...base, minLength: -1 }, /minLength/],
    ['lengthPenalty NaN', { ...base, lengthPenalty: NaN }, /lengthPenalty must be a finite number/],
    ['earlyStopping', { ...base, earlyStopping: 'always' as never }, /earlyStopping must be true, false or "never"/],
    ['repetitionPenalty 0', { ...base, repetitionPenalty: 0 }, /repetitionPenalty must be a positive/],
    ['noRepeatNgramSize', { ...base, noRepeatNgramSize: -2 }, /noRepeatNgramSize/],
    ['badWordsIds flat', { ...base, badWordsIds: [3] as never }, /badWordsIds\[0\] must be an array of token ids, got 3/],
    ['badWordsIds empty word', { ...base, badWordsIds: [[]] }, /badWordsIds\[0\] must not be empty/],
    ['badWordsIds negative', { ...base, badWordsIds: [[1, -3]] }, /badWordsIds\[0\]\[1\]/],
    ['eos not int', { ...base, eosTokenId: 2.5 }, /eosTokenId must be a token id, a non-negative integer; got 2.5/],
    ['eos list not int', { ...base, eosTokenId: [1, '2'] as never }, /eosTokenId\[1\] must be a token id, a non-negative integer; got "2" \(a string\)/],
    ['eos sparse', { ...base, eosTokenId: [1, , 2] as never }, /eosTokenId\[1\] is missing \(a sparse array\)/],
    ['options null', null as never, /generate options must be an object, got null/],
    ['numBeams string', { ...base, numBeams: '4' as never }, /numBeams must be an integer >= 1, got "4" \(a string\)/],
    ['signal', { ...base, signal: {} as never }, /signal must be an AbortSignal/],
  ];
  for (const [name, opts, message] of bad) {
    it(`rejects: ${name}`, () => {
      expect(() => resolveGenerateConfig(opts)).toThrow(InputError);
      expect(() => resolveGenerateConfig(opts)).toThrow(message);
    });
  }

  it('gen() rejects bad batch sizes and out-of-vocabulary ids with InputError', async () => {
    await expect(gen(fakeFactory(params, 1), 0, base)).rejects.toThrow(/batch size/);
    await expect(gen(fakeFactory(params, 1), 1, { ...base, eosTokenId: 99 })).rejects.toThrow(InputError);
    await expect(gen(fakeFactory(params, 1), 1, { ...base, numBeams: 2, forcedBosTokenId: 32 })).rejects.toThrow(
      /forcedBosTokenId 32 is not a token id of this model \(vocabulary size 32\)/,
    );
  });
});

describe('greedy', () => {
  it('argmax takes the first maximum (torch.argmax)', () => {
    expect(argmax(Float32Array.from([1, 3, 3, 2]))).toBe(1);
    expect(argmax(Float32Array.from([-Infinity, -Infinity]))).toBe(0);
  });

  it('feeds each row its last token, pads finished rows in the output, drops them from the session, stops when all rows are done', async () => {
    const s = scripted([
      [4, 2, 6, 6],
      [5, 5, 5, 2],
    ]);
    const out = await gen(() => s, 2, { ...base, maxLength: 10 });
    expect(out.sequences).toEqual([
      [0, 4, 2, 1, 1],
      [0, 5, 5, 5, 2],
    ]);
    expect(out.scores).toBeNull();
    expect(s.fed).toEqual([
      [0, 0],
      [4, 5],
      [5],
      [5],
    ]);
  });

  it('stops at maxLength (start token included) without eos', async () => {
    const out = await gen(() => scripted([[3]]), 1, { ...base, maxNewTokens: 4 });
    expect(out.sequences).toEqual([[0, 3, 3, 3, 3]]);
  });

  it('any of several eos ids finishes a row, and the row keeps the one it produced', async () => {
    const out = await gen(() => scripted([[3, 6], [5]]), 2, { ...base, eosTokenId: [5, 6], padTokenId: 1 });
    expect(out.sequences).toEqual([
      [0, 3, 6],
      [0, 5, 1],
    ]);
  });

  it('does not write into the logits the session returned (they may be wasm memory)', async () => {
    const logits = Float32Array.from([0, 1, 5, 0]);
    const copy = logits.slice();
    const session: DecoderSession = fromStep({ vocabSize: 4, step: () => logits, reorder() {} });
    await gen(() => session, 1, { ...base, maxLength: 3, badWordsIds: [[2]] });
    expect(logits).toEqual(copy);
  });
});

describe('streaming and abort', () => {
  it('greedy streams one event per step and ends with the same output as gen()', async () => {
    const opts = { ...base, maxNewTokens: 12 };
    const events: GenerationEvent[] = [];
    for await (const e of genStream(fakeFactory(params, 3), 3, opts)) events.push(e);
    const want = await gen(fakeFactory(params, 3), 3, opts);
    const last = events.pop()!;
    expect(last).toEqual({ type: 'done', output: want });
    // Rebuild rows from the emitted tokens only: a CLI printing as tokens come sees exactly the output.
    const rows: number[][] = [[0], [0], [0]];
    events.forEach((e, i) => {
      if (e.type !== 'tokens') throw new Error('expected tokens');
      expect(e.step).toBe(i + 1);
      e.tokens.forEach((t, b) => e.emitted[b] && rows[b].push(t));
    });
    rows.forEach((r, b) => expect(want.sequences[b].slice(0, r.length)).toEqual(r));
    rows.forEach((r, b) => expect(want.sequences[b].slice(r.length).every((t) => t === 1)).toBe(true));
  });

  it('beam search streams only the final result', async () => {
    const opts = { ...base, numBeams: 3, maxNewTokens: 8 };
    const events: GenerationEvent[] = [];
    for await (const e of genStream(fakeFactory(params, 2), 2, opts)) events.push(e);
    expect(events).toEqual([{ type: 'done', output: await gen(fakeFactory(params, 2), 2, opts) }]);
  });

  it('an already-aborted signal rejects before any decoder work', async () => {
    const ac = new AbortController();
    ac.abort(new Error('user'));
    const f = fakeFactory(params, 1);
    const err = await gen(f, 1, { ...base, signal: ac.signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortedError);
    expect((err as AbortedError).code).toBe('ABORTED');
    expect(f.sessions).toHaveLength(0);
  });

  for (const numBeams of [1, 3]) {
    it(`aborting between steps stops ${numBeams === 1 ? 'greedy' : 'beam'} search with AbortedError`, async () => {
      const ac = new AbortController();
      const f = fakeFactory({ ...params, eos_boost: [] }, 2);
      const inner = f;
      let steps = 0;
      const factory = (nb: number) => {
        const s = inner(nb);
        const step = s.step.bind(s);
        s.step = (tokens: Int32Array) => {
          // a macrotask queued before the search's own yield (setImmediate) fires while the search yields; a
          // setTimeout(0) would too, but only once its >= 1 ms has passed: on a busy machine after 10+ fast steps
          if (++steps === 3) setImmediate(() => ac.abort());
          return step(tokens);
        };
        return s;
      };
      const p = gen(factory, 2, { ...base, numBeams, maxLength: 200, signal: ac.signal });
      await expect(p).rejects.toBeInstanceOf(AbortedError);
      expect(steps).toBe(3);
    });
  }

  it('a stream stops at the next step after abort()', async () => {
    const ac = new AbortController();
    const seen: number[] = [];
    const run = async () => {
      for await (const e of genStream(fakeFactory({ ...params, eos_boost: [] }, 1), 1, {
        ...base,
        maxLength: 50,
        signal: ac.signal,
      })) {
        if (e.type === 'tokens') seen.push(e.step);
        if (seen.length === 2) ac.abort();
      }
    };
    await expect(run()).rejects.toBeInstanceOf(AbortedError);
    expect(seen).toEqual([1, 2]);
  });
});
