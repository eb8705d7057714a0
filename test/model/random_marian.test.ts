// Marian at other sizes and settings than the transformers-made fixtures: randomly-configured checkpoints in
// test/fixtures/random/<name>/ (made by tools/marian_random_ref.py with an independent NumPy reference of
// transformers 4.40.2). Through the public API: encoder states and raw logits within 1e-4, greedy and beam
// token ids identical, beam scores within 1e-4. Then batch independence: each input row generated alone gives
// the same hypotheses (and scores) as its rows of the batched run, which exercises padding/masking and the
// per-sentence beam bookkeeping.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../bindings/model/load.js';
import { fixtureDir, golden, maxAbsDiff } from '../helpers/fixtures.js';

const TOL = 1e-4;
const RANDOM = new URL('../fixtures/random/', import.meta.url);
const names = readdirSync(RANDOM).filter((n) => statSync(new URL(n, RANDOM)).isDirectory()).sort();

// generate() kwargs in golden.json use transformers' names
const camel: Record<string, string> = {
  num_beams: 'numBeams', max_new_tokens: 'maxNewTokens', length_penalty: 'lengthPenalty', early_stopping: 'earlyStopping',
  num_return_sequences: 'numReturnSequences', repetition_penalty: 'repetitionPenalty',
  no_repeat_ngram_size: 'noRepeatNgramSize', do_sample: '',
};

function options(kwargs: Record<string, unknown>): Record<string, unknown> {
  const opts: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(kwargs)) {
    if (camel[k] === undefined) throw new Error(`unmapped kwarg ${k}`);
    if (camel[k]) opts[camel[k]] = v;
  }
  return opts;
}

/** A hypothesis row without the pad that right-fills it to the batch width (pad is never generated: bad_words_ids). */
function trimPad(row: readonly number[], pad: number): number[] {
  let end = row.length;
  while (end > 1 && row[end - 1] === pad) end--;
  return row.slice(0, end);
}

it('test/fixtures/random holds the generated configurations', () => {
  expect(names.length).toBeGreaterThanOrEqual(5);
});

for (const name of names) {
  const fixture = `random/${name}`;
  const cfg = JSON.parse(readFileSync(new URL(`${name}/config.json`, RANDOM), 'utf8'));
  const g = golden(fixture);
  const ids: number[][] = g.inputs.input_ids, mask: number[][] = g.inputs.attention_mask;
  const pad: number = cfg.pad_token_id;
  const label = `d${cfg.d_model} h${cfg.encoder_attention_heads}/${cfg.decoder_attention_heads} ` +
    `L${cfg.encoder_layers}/${cfg.decoder_layers} ${cfg.activation_function} ${g.weights.dtype}`;

  describe(`${name} (${label}) matches the NumPy reference`, async () => {
    const model = await loadModel(fixtureDir(fixture));

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
        const out = await model.generate(ids, { ...options(want.kwargs), attentionMask: mask });
        expect(out.sequences).toEqual(want.sequences);
        if (want.sequences_scores) {
          expect(out.scores).not.toBeNull();
          expect(maxAbsDiff(out.scores!, want.sequences_scores)).toBeLessThan(TOL);
        } else {
          expect(out.scores).toBeNull();
        }
      });

      it(`generate ${run}: each row alone equals its rows of the batch`, async () => {
        const opts = options(want.kwargs);
        const batched = await model.generate(ids, { ...opts, attentionMask: mask });
        const perRow = batched.sequences.length / ids.length; // num_return_sequences
        for (let b = 0; b < ids.length; b++) {
          const len = mask[b].reduce((a, m) => a + m, 0);
          const row = ids[b].slice(0, len); // unpadded: a different encoder length than in the batch
          const alone = await model.generate([row], { ...opts, attentionMask: [mask[b].slice(0, len)] });
          const rows = batched.sequences.slice(b * perRow, (b + 1) * perRow);
          expect(alone.sequences.map((r) => trimPad(r, pad)), `row ${b}`).toEqual(rows.map((r) => trimPad(r, pad)));
          if (batched.scores) {
            expect(maxAbsDiff(alone.scores!, batched.scores.slice(b * perRow, (b + 1) * perRow)), `row ${b} scores`).toBeLessThan(TOL);
          }
        }
      });
    }
  });
}
