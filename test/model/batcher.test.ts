// Continuous batching (bindings/model/batcher.ts): generate() calls that overlap in time share decoder steps, and
// each gets exactly what it gets alone (a model loaded with batching: false runs every call by itself). Checked on
// every family (T5's relative bias and M2M100's token-dependent positions are per call), with mixed searches,
// lengths and processors, calls joining mid-batch, the bounds, abort and dispose.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortedError, InputError } from '../../bindings/errors.js';
import { loadModel } from '../../bindings/model/load.js';
import type { ModelGenerateOptions, ModelGenerateOutput, Seq2SeqModel } from '../../bindings/model/model.js';
import { fixtureDir } from '../helpers/fixtures.js';

/** Deterministic ids: a small LCG, so a failure reproduces. */
function randomIds(seed: number, n: number, lo: number, hi: number, eos: number): number[] {
  let s = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push(lo + (s % (hi - lo)));
  }
  out.push(eos);
  return out;
}

interface Call { input: number[][]; options: ModelGenerateOptions }

/** Calls of different lengths, searches and processors. */
function calls(V: number, eos: number): Call[] {
  const ids = (seed: number, n: number) => randomIds(seed, n, 4, V - 1, eos);
  return [
    { input: [ids(1, 5)], options: { maxNewTokens: 9 } },
    { input: [ids(2, 11)], options: { maxNewTokens: 4 } },
    { input: [ids(3, 3), ids(4, 8)], options: { maxNewTokens: 12 } },
    { input: [ids(5, 7)], options: { numBeams: 4, maxNewTokens: 8 } },
    { input: [ids(6, 2)], options: { numBeams: 2, maxNewTokens: 6, numReturnSequences: 2 } },
    { input: [ids(7, 9)], options: { maxNewTokens: 10, repetitionPenalty: 1.5, noRepeatNgramSize: 2 } },
    { input: [ids(8, 4), ids(9, 6)], options: { numBeams: 3, maxNewTokens: 7, lengthPenalty: 0.6 } },
    { input: [ids(10, 6)], options: { maxNewTokens: 11, minNewTokens: 6 } },
  ];
}

const FAMILIES: [string, { threads?: number; quantize?: 'int8' }][] = [
  ['marian_tiny', {}], ['bart_tiny', {}], ['mbart_tiny', {}], ['m2m100_tiny', {}], ['t5_v1_1_tiny', {}], ['t5_gated_silu_tiny', {}],
  ['marian_tiny', { threads: 2 }], ['bart_tiny', { quantize: 'int8' }],
];

describe.each(FAMILIES)('%s %j: overlapping calls get what they get alone', (name, load) => {
  const dir = fixtureDir(name);
  const config = JSON.parse(readFileSync(`${dir}config.json`, 'utf8'));
  const V: number = config.vocab_size, eos: number = config.eos_token_id;
  let batched: Seq2SeqModel, alone: Seq2SeqModel;
  beforeAll(async () => {
    batched = await loadModel(dir, { tokenizer: false, ...load });
    alone = await loadModel(dir, { tokenizer: false, batching: false, ...load });
  });
  afterAll(() => { batched.dispose(); alone.dispose(); });

  it('all at once, and joining mid-batch', async () => {
    const list = calls(V, eos);
    const expected: ModelGenerateOutput[] = [];
    for (const c of list) expected.push(await alone.generate(c.input, c.options));
    // half start together; the rest join while they run
    const first = list.slice(0, 4).map((c) => batched.generate(c.input, c.options));
    await new Promise((r) => setTimeout(r, 0));
    const later = list.slice(4).map((c) => batched.generate(c.input, c.options));
    const got = await Promise.all([...first, ...later]);
    got.forEach((out, i) => {
      expect(out.sequences, `call ${i}`).toEqual(expected[i].sequences);
      if (expected[i].scores) {
        out.scores!.forEach((s, j) => expect(Math.abs(s - expected[i].scores![j]), `call ${i} score ${j}`).toBeLessThan(1e-4));
      } else {
        expect(out.scores).toBeNull();
      }
    });
    const st = batched.batchStats!;
    expect(st.maxCalls).toBeGreaterThan(1); // steps were shared
    expect(alone.batchStats).toBeNull();
  });
});

describe('the shared batch', () => {
  const dir = fixtureDir('marian_tiny');
  const config = JSON.parse(readFileSync(`${dir}config.json`, 'utf8'));
  const V: number = config.vocab_size, eos: number = config.eos_token_id;
  const list = calls(V, eos);
  const heapUsed = (m: Seq2SeqModel) => (m as unknown as { rt: { heap: { used: number } } }).rt.heap.used;

  it('finished rows leave: a step carries only rows still generating', async () => {
    const m = await loadModel(dir, { tokenizer: false });
    const short = { input: [randomIds(11, 4, 4, V - 1, eos)], options: { maxNewTokens: 2 } };
    const long = { input: [randomIds(12, 4, 4, V - 1, eos)], options: { maxNewTokens: 12, minNewTokens: 12 } };
    await Promise.all([m.generate(short.input, short.options), m.generate(long.input, long.options)]);
    const st = m.batchStats!;
    expect(st.maxRows).toBe(2);
    expect(st.rows).toBe(2 + 12); // the short call's 2 steps carried both rows, the long one's last 10 itself
    expect(st.steps).toBe(12);
    m.dispose();
  });

  it('maxRows bounds a step; calls over it wait and still get their results', async () => {
    const m = await loadModel(dir, { tokenizer: false, batching: { maxRows: 4 } });
    const ref = await loadModel(dir, { tokenizer: false, batching: false });
    const got = await Promise.all(list.map((c) => m.generate(c.input, c.options)));
    for (let i = 0; i < list.length; i++) expect(got[i].sequences).toEqual((await ref.generate(list[i].input, list[i].options)).sequences);
    const st = m.batchStats!;
    expect(st.maxRows).toBeLessThanOrEqual(6); // 4, or a call alone that is larger (two sentences × 3 beams)
    expect(st.queued).toBeGreaterThan(0);
    m.dispose();
    ref.dispose();
  });

  it('maxMemory bounds the batch: with room for one call at a time, calls run one after another', async () => {
    const m = await loadModel(dir, { tokenizer: false, batching: { maxMemory: 1 } });
    const got = await Promise.all(list.slice(0, 3).map((c) => m.generate(c.input, c.options)));
    expect(got.length).toBe(3);
    expect(m.batchStats!.maxCalls).toBe(1);
    m.dispose();
  });

  it('memory goes back when the batch ends', async () => {
    const m = await loadModel(dir, { tokenizer: false });
    const before = heapUsed(m);
    await Promise.all(list.map((c) => m.generate(c.input, c.options)));
    expect(heapUsed(m)).toBe(before);
    m.dispose();
  });

  it('an abort ends only its own call, waiting or running', async () => {
    const m = await loadModel(dir, { tokenizer: false, batching: { maxRows: 1 } });
    const ref = await loadModel(dir, { tokenizer: false, batching: false });
    const waiting = new AbortController(), running = new AbortController();
    const a = m.generate(list[0].input, { maxNewTokens: 40, minNewTokens: 40, signal: running.signal });
    const b = m.generate(list[1].input, { ...list[1].options, signal: waiting.signal }); // waits: maxRows 1
    const c = m.generate(list[2].input.slice(0, 1), list[2].options);
    waiting.abort();
    for (let i = 0; i < 10_000 && m.batchStats!.steps === 0; i++) await Promise.resolve();
    running.abort(); // after its first step
    await expect(b).rejects.toThrow(AbortedError);
    await expect(a).rejects.toThrow(AbortedError);
    expect((await c).sequences).toEqual((await ref.generate(list[2].input.slice(0, 1), list[2].options)).sequences);
    const before = heapUsed(m);
    expect((await m.generate(list[3].input, list[3].options)).sequences).toEqual((await ref.generate(list[3].input, list[3].options)).sequences);
    expect(heapUsed(m)).toBe(before);
    m.dispose();
    ref.dispose();
  });

  it('dispose during a batch: its calls and later ones reject with a typed error', async () => {
    const m = await loadModel(dir, { tokenizer: false });
    // disposed once the first shared step has run (or before any, if the calls are that quick: then at admission)
    const running = list.slice(0, 3).map((c) => m.generate(c.input, { ...c.options, maxNewTokens: 40, minNewTokens: 40 }));
    for (let i = 0; i < 10_000 && m.batchStats!.steps === 0; i++) await Promise.resolve();
    m.dispose();
    for (const p of running) await expect(p).rejects.toThrow(/this model was disposed/);
    await expect(m.generate(list[0].input, list[0].options)).rejects.toThrow(InputError);
  });

  it('other kinds of call run between the batch\'s steps, also while a stream in it stays open', async () => {
    const m = await loadModel(dir, { tokenizer: false });
    const ref = await loadModel(dir, { tokenizer: false, batching: false });
    const before = heapUsed(m);
    const gens = list.slice(0, 3).map((c) => m.generate(c.input, c.options));
    const open = m.stream(list[1].input, { maxNewTokens: 30, minNewTokens: 30 });
    await open.next();
    // encode and decoderLogits while the batch runs and the stream is open (and not read): answered, not blocked
    const [enc, refEnc] = [await m.encode(list[0].input), await ref.encode(list[0].input)];
    expect(enc.data).toEqual(refEnc.data);
    const logits = await m.decoderLogits(list[0].input, [[config.decoder_start_token_id, 5, 6]]);
    expect(logits.data).toEqual((await ref.decoderLogits(list[0].input, [[config.decoder_start_token_id, 5, 6]])).data);
    const got = await Promise.all(gens);
    for (let i = 0; i < 3; i++) expect(got[i].sequences).toEqual((await ref.generate(list[i].input, list[i].options)).sequences);
    await open.return(undefined as never);
    await m.encode(list[0].input); // a turn after the stream's release
    expect(heapUsed(m)).toBe(before);
    m.dispose();
    ref.dispose();
  });

  it('rejects a bad batching option by name', async () => {
    await expect(loadModel(dir, { batching: { maxRows: 0 } })).rejects.toThrow(/batching\.maxRows must be an integer ≥ 1, got 0/);
    await expect(loadModel(dir, { batching: { rows: 4 } as never })).rejects.toThrow(/batching has no option "rows"/);
    await expect(loadModel(dir, { batching: 'yes' as never })).rejects.toThrow(InputError);
  });
});
