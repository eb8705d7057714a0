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

async function cli(args: string[], env?: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { timeout: 60_000, env: env && { ...process.env, ...env } });
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
      [['generate', '--model', fixtureDir(name), '--input-ids', '[[1,2,999]]'], /InputError: inputIds\[0\]\[2\] must be a token id, an integer in \[0, 101\) \(the vocabulary\); got 999/],
      [['generate', '--model', fixtureDir(name), '--input-ids', 'nope'], /--input-ids must be JSON/],
      [['generate', '--model', '/nonexistent', '--input-ids', '[[1]]'], /SourceError/],
      [['generate', '--model', fixtureDir(name), '--input-ids', '[[1]]', '--num-beams', 'x'], /--num-beams must be an integer/],
      [['generate', '--input-ids', '[[1]]'], /--model is required/],
      [['generate', '--model', fixtureDir(name), '--input-ids', '[[1]]', '--bogus'], /Unknown option '--bogus'/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['generate', '--model', fixtureDir(name), '--input-ids', '[[1]]', '--quantize', 'int4'], /quantize must be 'int8' or 'none'/],
      [['generate', '--model', fixtureDir(name), '--input-ids', '[[1]]', '--backend', 'cuda'], /backend must be 'wasm', 'webgpu' or 'auto'/],
      [['generate', '--model', fixtureDir(name), '--input-ids', '[[1]]', '--threads', 'many'], /--threads must be an integer/],
      [['convert', '--to', 'f8', fixtureDir(name), '/tmp/never'], /--to must be f32, f16 or int8/],
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

describe('wasm-seq2seq generate: --quantize, --threads, --backend as the API takes them', () => {
  const name = 'marian_tiny';
  const g = golden(name);
  const args = ['generate', '--model', fixtureDir(name), '--input-ids', JSON.stringify(g.inputs.input_ids),
    '--attention-mask', JSON.stringify(g.inputs.attention_mask), '--num-beams', '4', '--max-new-tokens', '12', '--json'];

  it('the same output as loadModel with the same options', async () => {
    for (const [flags, options] of [
      [['--quantize', 'int8'], { quantize: 'int8' }], [['--threads', '2'], { threads: 2 }], [['--backend', 'auto', '--threads', '1'], { backend: 'auto', threads: 1 }],
    ] as const) {
      const r = await cli([...args, ...flags]);
      expect(r.code, `${flags.join(' ')}: ${r.stderr}`).toBe(0); // (Dawn may log to stderr while it looks for an adapter)
      const model = await loadModel(fixtureDir(name), { ...options, tokenizer: false });
      const want = await model.generate(g.inputs.input_ids, { attentionMask: g.inputs.attention_mask, numBeams: 4, maxNewTokens: 12 });
      model.dispose();
      expect(JSON.parse(r.stdout), flags.join(' ')).toEqual({ sequences: want.sequences, scores: want.scores });
    }
  });
});

describe('wasm-seq2seq convert', () => {
  it('--to int8 and --to f16 write a folder that loads and generates as the original does (quantised / rounded)', async () => {
    const { mkdtempSync, readdirSync, statSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const src = fixtureDir('bart_tiny'), g = golden('bart_tiny');
    const o = { attentionMask: g.inputs.attention_mask, numBeams: 4, maxNewTokens: 12 };
    for (const to of ['int8', 'f16'] as const) {
      const out = join(mkdtempSync(join(tmpdir(), 'convert-')), to);
      const r = await cli(['convert', '--to', to, src, out]);
      expect(r.code, r.stderr).toBe(0);
      expect(readdirSync(out).sort()).toEqual(readdirSync(src).sort());
      expect(statSync(join(out, 'model.safetensors')).size).toBeLessThan(statSync(join(src, 'model.safetensors')).size * (to === 'int8' ? 0.5 : 0.6));
      const converted = await loadModel(out, { tokenizer: false });
      const reference = await loadModel(src, { tokenizer: false, quantize: to === 'int8' ? 'int8' : 'none' });
      const [a, b] = [await converted.generate(g.inputs.input_ids, o), await reference.generate(g.inputs.input_ids, o)];
      expect(a.sequences).toEqual(b.sequences);
      expect(maxAbsDiff(a.scores!, b.scores!)).toBeLessThan(to === 'int8' ? 1e-5 : 1e-2);
    }
  });
});

describe('wasm-seq2seq generate --model HUB_ID', () => {
  it('downloads by Hub id (--revision, --token, HF_ENDPOINT, HF_HUB_CACHE), then runs offline from the cache', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { startMockHub } = await import('./helpers/mock_hub.js');
    const { textModelFiles } = await import('./helpers/textmodel.js');
    const files = textModelFiles();
    const hub = await startMockHub({ 'acme/opus-tiny': { files, access: 'gated', granted: ['hf_cli'] } }, ['hf_cli']);
    const env = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: mkdtempSync(join(tmpdir(), 'cli-hub-')), HF_TOKEN: '', HF_HUB_OFFLINE: '' };
    const want = (await (await loadModel(files)).generate('the history of the', { maxNewTokens: 6 })).text![0]!.trim();
    try {
      const args = ['generate', '--model', 'acme/opus-tiny', '--revision', 'main', '--max-new-tokens', '6', 'the history of the'];
      const denied = await cli(args, env);
      expect(denied.code).toBe(1);
      expect(denied.stderr).toMatch(/^wasm-seq2seq generate: HubError: acme\/opus-tiny is a gated model: downloading config\.json needs a token/);
      expect(denied.stderr).toContain('--token on the command line');
      const r = await cli([...args, '--token', 'hf_cli'], env);
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe(want);
      const missing = await cli(['generate', '--model', 'acme/nope', '--input-ids', '[[1]]'], env);
      expect(missing.stderr).toMatch(/HubError: "acme\/nope" is not a folder here \(.*\), so it was tried as a Hub id: no model acme\/nope on /);
    } finally {
      await hub.close();
    }
    const offline = await cli(['generate', '--model', 'acme/opus-tiny', '--max-new-tokens', '6', 'the history of the'], { ...env, HF_HUB_OFFLINE: '1' });
    expect(offline.stdout.trim()).toBe(want);
  });
});

describe('wasm-seq2seq convert from pytorch_model.bin', async () => {
  const { mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { readRaw } = await import('./helpers/safetensors.js');
  const { safetensorsToF16, safetensorsToInt8 } = await import('../bindings/weights/convert.js');
  const tmp = mkdtempSync(join(tmpdir(), 'convert-bin-'));

  for (const [model, format] of [['marian_tiny', 'zip'], ['bart_tiny', 'legacy']] as const) {
    it(`${model}_bin_${format}: --to f32 gives the original model.safetensors' tensors; f16/int8 the same as converting that`, async () => {
      const src = fixtureDir(`${model}_bin_${format}`), original = readFileSync(join(fixtureDir(model), 'model.safetensors'));
      const outs: Record<string, Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }>> = {};
      for (const to of ['f32', 'f16', 'int8']) {
        const out = join(tmp, `${model}_${format}_${to}`);
        const r = await cli(['convert', '--to', to, src, out]);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toMatch(/tensors from pytorch_model\.bin, \d+ → \d+ bytes/);
        expect(r.stdout).toContain('tied, written once as model.shared.weight: model.encoder.embed_tokens.weight, model.decoder.embed_tokens.weight, lm_head.weight');
        expect(readdirSync(out).sort()).toEqual(readdirSync(src).filter((f) => f !== 'pytorch_model.bin').concat('model.safetensors').sort());
        outs[to] = readRaw(readFileSync(join(out, 'model.safetensors')));
      }
      const same = (a: Map<string, any>, b: Map<string, any>) => {
        expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
        for (const [n, t] of a) expect({ ...t, bytes: Buffer.from(t.bytes).toString('hex') }, n).toEqual({ ...b.get(n), bytes: Buffer.from(b.get(n).bytes).toString('hex') });
      };
      same(outs.f32, readRaw(original));
      same(outs.f16, readRaw(safetensorsToF16(original)));
      same(outs.int8, readRaw(safetensorsToInt8(original)));
      const g = golden(model);
      const m = await loadModel(join(tmp, `${model}_${format}_f32`), { tokenizer: false });
      const want = g.generate.beam4_nbest2;
      const got = await m.generate(g.inputs.input_ids, { attentionMask: g.inputs.attention_mask, numBeams: 4, numReturnSequences: 2, maxNewTokens: 12 });
      expect(got.sequences).toEqual(want.sequences);
      expect(maxAbsDiff(got.scores!, want.sequences_scores)).toBeLessThan(1e-4);
    });
  }

  it('errors: no weights, a hostile pytorch_model.bin (exit 1, one line, no stack trace)', async () => {
    const empty = join(tmp, 'empty'), hostile = join(tmp, 'hostile');
    mkdirSync(empty);
    mkdirSync(hostile);
    // a legacy-format pickle whose first opcode names os.system
    writeFileSync(join(hostile, 'pytorch_model.bin'), Buffer.from('\x80\x02cos\nsystem\nq\x00.', 'latin1'));
    for (const [dir, re] of [
      [empty, /InputError: \S+empty has no weights: none of model\.safetensors, model\.safetensors\.index\.json, pytorch_model\.bin, pytorch_model\.bin\.index\.json$/m],
      [hostile, /WeightsError: pytorch_model\.bin \(legacy format, pickle 1 of 5: the magic number\), byte 2 \(opcode 0x63\): refusing the global 'os\.system'/],
    ] as const) {
      const r = await cli(['convert', '--to', 'f32', dir, join(tmp, 'never')]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(re);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect(readdirSync(tmp)).not.toContain('never');
  });
});
