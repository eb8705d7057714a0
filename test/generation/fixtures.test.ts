// The search against real transformers 4.40.2 generate() output (test/fixtures/*/golden.json), replaying
// the decoder logits that tools/gen_reference.py recorded for every prefix the search visits. Checks the
// fixtures' generation_config handling too (forced BOS/EOS, bad_words_ids [[pad]], eos/pad ids).

import { describe, expect, it } from 'vitest';
import { generate, resolveGenerateConfig } from '../../bindings/generation/index.js';
import { ReplaySession, decodeFloat32, readJson, toOptions } from './fake.js';

interface Fixture {
  generation_config: Record<string, unknown>;
  vocab_size: number;
  batch: number;
  cases: Record<string, { kwargs: Record<string, unknown>; sequences: number[][]; scores: number[] | null }>;
  logits: Record<string, string>[];
}

const replay = readJson<{ fixtures: Record<string, Fixture> }>(new URL('./fixture_replay.json', import.meta.url));

describe('golden generate() outputs of transformers (replayed logits)', () => {
  for (const [name, fx] of Object.entries(replay.fixtures)) {
    const table = fx.logits.map((m) => new Map(Object.entries(m).map(([k, v]) => [k, decodeFloat32(v)])));
    for (const [caseName, c] of Object.entries(fx.cases)) {
      it(`${name} ${caseName}`, async () => {
        const { transformers_version: _v, bos_token_id: _b, ...gen } = fx.generation_config;
        const opts = toOptions({ ...gen, ...c.kwargs });
        // The golden sequences must also agree with the golden file itself (guards the replay file).
        const golden = readJson<{ generate: Record<string, { sequences: number[][] }> }>(
          new URL(`../fixtures/${name}/golden.json`, import.meta.url),
        );
        expect(golden.generate[caseName].sequences).toEqual(c.sequences);

        const sessions: ReplaySession[] = [];
        const out = await generate(
          (numBeams) => {
            const s = new ReplaySession(table, fx.vocab_size, fx.batch, numBeams);
            sessions.push(s);
            return s;
          },
          fx.batch,
          resolveGenerateConfig(opts),
        );
        expect(out.sequences).toEqual(c.sequences);
        if (c.scores) out.scores!.forEach((s, i) => expect(Math.abs(s - c.scores![i])).toBeLessThan(1e-4));
        else expect(out.scores).toBeNull();
      });
    }
  }
});
