// The TS search against tools/gen_reference.py (an independent NumPy transcription of transformers 4.40.2
// greedy/beam search) on a fake decoder that both sides define identically (fake.ts / fake_logits).

import { describe, expect, it } from 'vitest';
import { beamSearch, generate, resolveGenerateConfig } from '../../bindings/generation/index.js';
import type { GenerateOutput } from '../../bindings/generation/types.js';
import { FakeSession, type FakeParams, fakeFactory, readJson, toOptions } from './fake.js';

interface Case {
  name: string;
  engine: 'greedy' | 'beam';
  batch: number;
  fake: FakeParams;
  kwargs: Record<string, unknown>;
  expected: GenerateOutput;
}

const reference = readJson<{ cases: Case[] }>(new URL('./reference.json', import.meta.url));
const cases = reference.cases;

async function run(c: Case, ignoreReorder = false): Promise<GenerateOutput> {
  const opts = toOptions(c.kwargs);
  if (c.engine === 'beam' && (opts.numBeams ?? 1) === 1) {
    // generate() takes greedy for one beam (like HF); the beam algorithm itself is checked directly.
    const session = new FakeSession(c.fake, c.batch, 1, ignoreReorder);
    return beamSearch(session, c.batch, resolveGenerateConfig(opts));
  }
  return generate(fakeFactory(c.fake, c.batch, ignoreReorder), c.batch, resolveGenerateConfig(opts));
}

describe('reference.json (NumPy transcription of transformers generate)', () => {
  it('covers what it should', () => {
    const names = cases.map((c) => c.name);
    expect(names.length).toBeGreaterThanOrEqual(40);
    for (const n of [1, 2, 3, 4, 5]) expect(names).toContain(`beam${n}`);
    for (const lp of ['0.5', '1.0', '2.0']) {
      for (const es of ['true', 'false', 'never']) expect(names).toContain(`beam4_lp${lp}_es_${es}`);
    }
  });

  for (const c of cases) {
    it(c.name, async () => {
      const got = await run(c);
      expect(got.sequences).toEqual(c.expected.sequences);
      if (c.expected.scores === null) {
        expect(got.scores).toBeNull();
      } else {
        expect(got.scores).not.toBeNull();
        got.scores!.forEach((s, i) => expect(s).toBeCloseTo(c.expected.scores![i], 5));
      }
    });
  }

  it('early_stopping and length_penalty change the outputs of these cases (so they are really tested)', () => {
    for (const lp of ['0.5', '1.0', '2.0']) {
      const [t, f] = ['true', 'false'].map((es) => cases.find((c) => c.name === `beam4_lp${lp}_es_${es}`)!);
      expect(t.expected).not.toEqual(f.expected);
    }
    const f = cases.find((c) => c.name === 'beam4_lp1.0_es_false')!;
    const nv = cases.find((c) => c.name === 'beam4_lp1.0_es_never')!;
    expect(f.expected).not.toEqual(nv.expected);
  });

  it('beam search depends on reorder(): ignoring it changes the results', async () => {
    const beamCases = cases.filter((c) => c.engine === 'beam' && (c.kwargs.num_beams as number) > 1);
    let differ = 0;
    for (const c of beamCases) {
      const got = await run(c, true);
      if (JSON.stringify(got) !== JSON.stringify(c.expected)) differ++;
    }
    expect(differ).toBeGreaterThan(beamCases.length * 0.8);
  });

  it('beam search calls step once per decoder step for all rows, and reorder between steps', async () => {
    const c = cases.find((x) => x.name === 'beam4_batch3')!;
    const factory = fakeFactory(c.fake, c.batch);
    const out = await generate(factory, c.batch, resolveGenerateConfig(toOptions(c.kwargs)));
    expect(factory.sessions).toHaveLength(1);
    const s = factory.sessions[0];
    expect(s.numBeams).toBe(4);
    expect(s.reorderCalls).toHaveLength(s.stepCalls - 1);
    // The longest returned row needed at most stepCalls tokens after the start token.
    expect(Math.max(...out.sequences.map((r) => r.length))).toBeLessThanOrEqual(s.stepCalls + 2);
  });
});

describe('finished rows leave the session', () => {
  it('in the batched cases, later steps feed fewer rows than the batch has, with the reference results above', async () => {
    let shrank = 0;
    for (const c of cases.filter((x) => x.batch > 1)) {
      const f = fakeFactory(c.fake, c.batch);
      await generate(f, c.batch, resolveGenerateConfig(toOptions(c.kwargs)));
      const s = f.sessions[0];
      expect(s.rowSteps).toBeLessThanOrEqual(s.stepCalls * c.batch * s.numBeams);
      if (s.rowSteps < s.stepCalls * c.batch * s.numBeams) shrank++;
    }
    expect(shrank).toBeGreaterThan(3); // sentences ending at different steps do leave early
  });
});
