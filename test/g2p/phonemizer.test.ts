// Phonemizer's lexicon: lookup before the model, and clear errors for a lexicon that cannot be used.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../bindings/errors.js';
import { Phonemizer } from '../../bindings/g2p/phonemizer.js';

const MODEL = new URL('../../weights/g2p-en/', import.meta.url);
const files = Object.fromEntries(['config.json', 'generation_config.json', 'vocab.json', 'model.safetensors']
  .map((f) => [f, new Uint8Array(readFileSync(new URL(f, MODEL)))]));
const withLexicon = (text: string | Uint8Array) => ({ ...files, 'lexicon.tsv.gz': typeof text === 'string' ? gzipSync(text) : text });

async function rejection(p: Promise<unknown>): Promise<Error> {
  try { await p; } catch (e) { return e as Error; }
  throw new Error('expected a rejection');
}

describe('Phonemizer lexicon', () => {
  it('answers lexicon words from it (primary pronunciation), the rest from the model', async () => {
    const g2p = await Phonemizer.load(withLexicon('tomato\tT AH0 M EY1 T OW2|T AH0 M AA1 T OW2\ncat\tZ Z\n'), { threads: 1 });
    expect(g2p.lookup('tomato')).toEqual([['T', 'AH0', 'M', 'EY1', 'T', 'OW2'], ['T', 'AH0', 'M', 'AA1', 'T', 'OW2']]);
    const words = await g2p.phonemize('Tomato, cat and dog!');
    expect(words.map((w) => [w.word, w.source])).toEqual([['tomato', 'lexicon'], ['cat', 'lexicon'], ['and', 'model'], ['dog', 'model']]);
    expect(words[0].phonemes).toEqual(['T', 'AH0', 'M', 'EY1', 'T', 'OW2']);
    expect(words[1].phonemes).toEqual(['Z', 'Z']);   // the lexicon wins even where the model would differ
    const plain = await Phonemizer.load(withLexicon('cat\tZ Z\n'), { threads: 1, lexicon: false });
    expect((await plain.phonemize('cat'))[0]).toMatchObject({ source: 'model' });
    expect((await plain.phonemize('cat'))[0].phonemes).not.toEqual(['Z', 'Z']);
    expect(plain.lookup('cat')).toBeUndefined();
  });

  it('a model folder without a lexicon runs the model alone', async () => {
    const g2p = await Phonemizer.load(files, { threads: 1 });
    expect((await g2p.phonemize('cat'))[0].source).toBe('model');
  });

  it('rejects a lexicon that is not gzip, has a malformed line, or a phoneme the model does not have', async () => {
    const notGzip = await rejection(Phonemizer.load(withLexicon(new TextEncoder().encode('cat\tK AE1 T\n')), { threads: 1 }));
    expect(notGzip).toBeInstanceOf(ConfigError);
    expect(notGzip.message).toMatch(/not a readable gzip file/);
    const malformed = await rejection(Phonemizer.load(withLexicon('cat\tK AE1 T\ndog D AO1 G\n'), { threads: 1 }));
    expect(malformed).toBeInstanceOf(ConfigError);
    expect(malformed.message).toMatch(/line 2 is not "word<TAB>/);
    const g2p = await Phonemizer.load(withLexicon('cat\tK AE9 T\n'), { threads: 1 });
    const bad = await rejection(g2p.phonemize('cat'));
    expect(bad).toBeInstanceOf(ConfigError);
    expect(bad.message).toMatch(/"cat" has "AE9", which is not a phoneme/);
  });
});
