// The README's main command, as a user runs it: `wasm-seq2seq phonemize ...` on held-out CMUdict words
// (tools/g2p/runs/g2p-en/test.tsv, never trained on), checked against the dictionary's pronunciations: the model alone
// (--no-lexicon), and with the shipped lexicon (which has every CMUdict word) in front of it.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { editDistance as edits } from '../../tools/g2p_metrics.js';

const run = promisify(execFile);
const BIN = new URL('../../bin/wasm-seq2seq.js', import.meta.url).pathname;
const MODEL = new URL('../../weights/g2p-en/', import.meta.url);
const vocab = JSON.parse(readFileSync(new URL('vocab.json', MODEL), 'utf8'));
const phonemes = new Set(Object.keys(vocab.target.tokens));
// every 150th held-out word (plain a-z spellings): ~40 words spread over the alphabet
const dict = readFileSync(new URL('../../tools/g2p/runs/g2p-en/test.tsv', import.meta.url), 'utf8').trim().split('\n')
  .map((l) => l.split('\t')).filter(([w]) => /^[a-z]+$/.test(w))
  .filter((_, i) => i % 150 === 0)
  .map(([w, p]) => ({ word: w, prons: p.split(' | ').map((x) => x.split(' ')) }));

describe('wasm-seq2seq phonemize', () => {
  it('held-out dictionary words: valid ARPAbet, close to the dictionary', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'phonemize', '--json', '--no-lexicon', ...dict.map((d) => d.word)], { timeout: 120_000 });
    const out = JSON.parse(stdout);
    expect(out.words.map((w: any) => w.word)).toEqual(dict.map((d) => d.word));
    expect(new Set(out.words.map((w: any) => w.source))).toEqual(new Set(['model']));
    let wrong = 0, dist = 0, len = 0;
    out.words.forEach((w: any, i: number) => {
      for (const p of w.phonemes) expect(phonemes.has(p), `${p} is ARPAbet`).toBe(true);
      const best = Math.min(...dict[i].prons.map((r) => edits(w.phonemes, r)));
      const ref = dict[i].prons.find((r) => edits(w.phonemes, r) === best)!;
      if (best > 0) wrong++;
      dist += best; len += ref.length;
    });
    // A working model: the shipped one is far better (see weights/README.md); a broken pipeline is far worse.
    expect(dist / len, 'phoneme error rate').toBeLessThan(0.3);
    expect(wrong / dict.length, 'word error rate').toBeLessThan(0.75);
  });

  it('with the lexicon: dictionary words get their primary pronunciation, other words the model', async () => {
    const unknown = 'zorblaxian';
    const { stdout } = await run(process.execPath, [BIN, 'phonemize', '--json', ...dict.map((d) => d.word), unknown], { timeout: 120_000 });
    const out = JSON.parse(stdout).words;
    dict.forEach((d, i) => {
      expect(out[i].source).toBe('lexicon');
      expect(out[i].phonemes, d.word).toEqual(d.prons[0]); // test.tsv lists the primary pronunciation first
    });
    expect(out.at(-1).source).toBe('model');
    expect(out.at(-1).phonemes.length).toBeGreaterThan(3);
  });

  it('text handling, stdin, --line; unpronounceable tokens do not crash it', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'phonemize', 'In 1984, Zoë paid $3.50 — 日本 🙂'], { timeout: 60_000 });
    const lines = stdout.trim().split('\n');
    expect(lines.map((l) => l.split(/\s+/)[0])).toEqual(['in', 'nineteen', 'eighty', 'four', 'zoe', 'paid', '$', 'three', 'point', 'five', 'zero', '日本', '🙂']);
    expect(lines.at(-1)!.trim().endsWith('?')).toBe(true);
    const child = execFile(process.execPath, [BIN, 'phonemize', '--line'], { timeout: 60_000 });
    let text = '';
    child.stdout!.on('data', (d) => { text += d; });
    child.stdin!.end('hello world\nsecond line\n');
    await new Promise((r) => child.on('close', r));
    const rows = text.trim().split('\n');
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/^hello\/[A-Z0-9-]+ world\/[A-Z0-9-]+$/);
  });
});
