// The `wasm-seq2seq` command as a user runs it (the built dist/, through bin/): output format, defaults from
// generation_config.json, exit codes and messages for bad input.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { fixtureDir, golden, maxAbsDiff } from './helpers/fixtures.js';
import { textModelDir } from './helpers/textmodel.js';
import { loadModel } from '../bindings/model/load.js';

const run = promisify(execFile);
const BIN = new URL('../bin/wasm-seq2seq.js', import.meta.url).pathname;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (e: any) {
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('wasm-seq2seq generate', () => {
  const name = 'marian_swish_scaled';
  const g = golden(name);
  const ids = JSON.stringify(g.inputs.input_ids), mask = JSON.stringify(g.inputs.attention_mask);

  it('--json prints sequences and transformers-compatible beam scores', async () => {
    const r = await cli(['generate', '--model', fixtureDir(name), '--input-ids', ids, '--attention-mask', mask,
      '--num-beams', '4', '--num-return-sequences', '2', '--max-new-tokens', '12', '--early-stopping', 'true', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.sequences).toEqual(g.generate.beam4_nbest2.sequences);
    expect(maxAbsDiff(out.scores, g.generate.beam4_nbest2.sequences_scores)).toBeLessThan(1e-4);
  });

  it('greedy gives null scores; length-penalty / early-stopping flags reach beam search', async () => {
    const r = await cli(['generate', '--model', fixtureDir(name), '--input-ids', ids, '--attention-mask', mask, '--max-new-tokens', '12', '--json']);
    expect(JSON.parse(r.stdout)).toEqual({ sequences: g.generate.greedy.sequences, scores: null });
    const r2 = await cli(['generate', '--model', fixtureDir(name), '--input-ids', ids, '--attention-mask', mask, '--num-beams', '4',
      '--num-return-sequences', '2', '--length-penalty', '2', '--early-stopping', 'false', '--max-new-tokens', '12', '--json']);
    expect(JSON.parse(r2.stdout).sequences).toEqual(g.generate.beam4_es_false_lp2.sequences);
  });

  it('bad input: exit 1 or 2 with a one-line typed message, no stack trace', async () => {
    const cases: [string[], RegExp][] = [
      [['generate', '--model', fixtureDir(name), '--input-ids', '[[1,2,999]]'], /InputError: input id 999/],
      [['generate', '--model', fixtureDir(name), '--input-ids', 'nope'], /--input-ids must be JSON/],
      [['generate', '--model', '/nonexistent', '--input-ids', '[[1]]'], /SourceError/],
      [['generate', '--model', fixtureDir(name), '--input-ids', '[[1]]', '--num-beams', 'x'], /--num-beams must be an integer/],
      [['generate', '--input-ids', '[[1]]'], /--model is required/],
      [['generate', '--model', fixtureDir(name), '--input-ids', '[[1]]', '--bogus'], /Unknown option '--bogus'/],
      [['frobnicate'], /unknown command 'frobnicate'/],
    ];
    for (const [args, re] of cases) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBeGreaterThan(0);
      expect(r.stderr).toMatch(re);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
  });

  it('text in, text out with the repo tokenizer (args, --json, stdin)', async () => {
    const dir = textModelDir();
    const model = await loadModel(dir);
    const want = await model.generate(['the history of the', 'of the'], { numBeams: 2, maxNewTokens: 6 });
    const r = await cli(['generate', '--model', dir, '--num-beams', '2', '--max-new-tokens', '6', '--json', 'the history of the', 'of the']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).text).toEqual(want.text);
    const plain = await cli(['generate', '--model', dir, '--num-beams', '1', '--max-new-tokens', '6', 'of the']);
    expect(plain.stdout.trim()).toBe((await model.generate('of the', { maxNewTokens: 6 })).text![0].trim());
  });
});
