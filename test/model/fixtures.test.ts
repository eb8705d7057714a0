// Parity with transformers 4.40.2 on every fixture (test/fixtures/*, made by the real transformers code),
// through the public API: encoder states and logits within 1e-4, greedy and beam token ids identical,
// beam scores within 1e-4. Families not runnable yet must fail with a clear UnsupportedError.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../bindings/model/load.js';
import { UnsupportedError } from '../../bindings/errors.js';
import { FIXTURES, fixtureDir, golden, maxAbsDiff } from '../helpers/fixtures.js';
import { TEST_SIMD } from '../helpers/kernels.js';

const TOL = 1e-4;
// the transformers-made fixtures: folders with a golden.json (test/fixtures/random/ holds other references)
const names = readdirSync(FIXTURES).filter((n) => existsSync(new URL(`${n}/golden.json`, FIXTURES))).sort();

// generate() kwargs in golden.json use transformers' names
const camel: Record<string, string> = {
  num_beams: 'numBeams', max_new_tokens: 'maxNewTokens', length_penalty: 'lengthPenalty', early_stopping: 'earlyStopping',
  num_return_sequences: 'numReturnSequences', do_sample: '',
};

for (const name of names) {
  const modelType = JSON.parse(readFileSync(new URL(`${name}/config.json`, FIXTURES), 'utf8')).model_type as string;
  const g = golden(name);
  const ids: number[][] = g.inputs.input_ids, mask: number[][] = g.inputs.attention_mask;

  describe(`${name} (${modelType}) matches transformers (${TEST_SIMD} SIMD kernels)`, async () => {
    const model = await loadModel(fixtureDir(name), { simd: TEST_SIMD });

    it('runs the kernel build under test', () => {
      expect(model.simd).toBe(TEST_SIMD);
    });

    it('encoder_last_hidden_state', async () => {
      const { data, shape } = await model.encode(ids, mask);
      expect(shape).toEqual(g.encoder_last_hidden_state.shape);
      expect(maxAbsDiff(data, g.encoder_last_hidden_state.data)).toBeLessThan(TOL);
    });

    for (const key of ['decoder_first_step', 'decoder_teacher_forced']) {
      it(`${key} logits`, async () => {
        const { data, shape } = await model.decoderLogits(ids, g[key].decoder_input_ids, mask);
        expect(shape).toEqual(g[key].logits.shape);
        expect(maxAbsDiff(data, g[key].logits.data)).toBeLessThan(TOL);
      });
    }

    for (const [run, want] of Object.entries<any>(g.generate)) {
      it(`generate ${run}`, async () => {
        const opts: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(want.kwargs)) {
          if (camel[k] === undefined) throw new Error(`unmapped kwarg ${k}`);
          if (camel[k]) opts[camel[k]] = v;
        }
        const out = await model.generate(ids, { ...opts, attentionMask: mask });
        expect(out.sequences).toEqual(want.sequences);
        if (want.scores || want.sequences_scores) {
          const scores = want.scores ?? want.sequences_scores;
          expect(out.scores).not.toBeNull();
          expect(maxAbsDiff(out.scores!, scores)).toBeLessThan(TOL);
        } else {
          expect(out.scores).toBeNull();
        }
      });
    }
  });
}
