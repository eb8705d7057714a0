// int8 weights (quantize: 'int8') on every transformers fixture: logits stay close to transformers' f32 ones, the
// tokens mostly still match (printed per fixture: the issue asks for the report), and memory shrinks.
import { existsSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../bindings/model/load.js';
import { FIXTURES, fixtureDir, golden, maxAbsDiff } from '../helpers/fixtures.js';

const names = readdirSync(FIXTURES).filter((n) => existsSync(new URL(`${n}/golden.json`, FIXTURES))).sort();

describe('int8 weights on the fixtures', () => {
  for (const name of names) {
    it(name, async () => {
      const g = golden(name);
      const ids = g.inputs.input_ids, mask = g.inputs.attention_mask;
      const [f32, i8] = await Promise.all([loadModel(fixtureDir(name)), loadModel(fixtureDir(name), { quantize: 'int8' })]);
      const tf = g.decoder_teacher_forced;
      const { data } = await i8.decoderLogits(ids, tf.decoder_input_ids, mask);
      const err = maxAbsDiff(data, tf.logits.data);
      const scale = Math.max(...tf.logits.data.map(Math.abs));
      // 8-bit weights: errors of a few percent of the logit range, never more
      expect(err).toBeGreaterThan(0);
      expect(err / scale).toBeLessThan(0.05);
      const greedy = await i8.generate(ids, { attentionMask: mask, maxNewTokens: 12 });
      const beam = await i8.generate(ids, { attentionMask: mask, numBeams: 4, maxNewTokens: 12, earlyStopping: true });
      const same = (a: number[][], b: number[][]) => a.every((r, i) => r.join() === b[i].join());
      console.log(`int8 ${name}: max |logit err| ${err.toFixed(4)} (logit range ${scale.toFixed(2)}), greedy tokens ${same(greedy.sequences, g.generate.greedy.sequences) ? 'match' : 'differ'}, beam4 ${same(beam.sequences, g.generate.beam4.sequences) ? 'match' : 'differ'}, memory ${(i8.memoryBytes / 1024).toFixed(0)} KiB vs f32 ${(f32.memoryBytes / 1024).toFixed(0)} KiB`);
      expect(i8.memoryBytes).toBeLessThan(f32.memoryBytes);
    });
  }
  it('refuses an unknown quantize option', async () => {
    await expect(loadModel(fixtureDir('marian_tiny'), { quantize: 'int4' as never })).rejects.toThrow(/quantize must be/);
  });
});
