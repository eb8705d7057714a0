// Lexicon lookups (binary search over a sorted file, a Map for any other) against a plain Map of the same lines.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Lexicon } from '../../bindings/g2p/lexicon.js';
import { ConfigError } from '../../bindings/errors.js';

// a small seeded generator: words over ASCII, apostrophes, accents and one astral character
function words(n: number, seed: number): string[] {
  const alphabet = ["a", "b", "c", "e", "z", "'", "-", "é", "ß", "ø", "😀", "A"];
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const out = new Set<string>();
  while (out.size < n) {
    let w = '';
    const len = 1 + Math.floor(rnd() * 6);
    for (let i = 0; i < len; i++) w += alphabet[Math.floor(rnd() * alphabet.length)];
    out.add(w);
  }
  return [...out];
}

describe('Lexicon', () => {
  const all = words(600, 7);
  const present = all.slice(0, 400);
  const absent = all.slice(400);
  const lines = present.map((w, i) => `${w}\tP${i} X|Q${i}`);
  const reference = new Map(present.map((w, i) => [w, `P${i} X|Q${i}`]));

  for (const order of ['sorted', 'shuffled'] as const) {
    it(`${order} lines: every word found with its line, absent words not (binary search = ${order === 'sorted'})`, () => {
      const ordered = order === 'sorted' ? [...lines].sort() : lines;
      const lex = Lexicon.parse(`${ordered.join('\n')}\n`);
      expect(lex.sorted).toBe(order === 'sorted');
      expect(lex.size).toBe(present.length);
      for (const w of present) expect(lex.get(w), w).toBe(reference.get(w));
      for (const w of [...absent, '', '\uffff', 'a\t', present[0] + 'x', present[0].slice(0, -1)]) {
        expect(lex.get(w), w).toBe(reference.get(w));
        expect(lex.has(w)).toBe(reference.has(w));
      }
    });
  }

  it('blank lines and no final newline are fine; a repeated word falls back to a Map where the last line wins', () => {
    const lex = Lexicon.parse('\napple\tAE1 P AH0 L\n\nbanana\tB AH0 N AE1 N AH0');
    expect([lex.sorted, lex.get('apple'), lex.get('banana'), lex.get('cherry')]).toEqual([true, 'AE1 P AH0 L', 'B AH0 N AE1 N AH0', undefined]);
    const dup = Lexicon.parse('a\tX\na\tY\nb\tZ\n');
    expect([dup.sorted, dup.get('a'), dup.get('b')]).toEqual([false, 'Y', 'Z']);
  });

  it('a line without a word, a tab or pronunciations is a ConfigError naming it', () => {
    for (const [text, line] of [['cat\tK AE1 T\ndog D AO1 G\n', 2], ['\tK\n', 1], ['a\tX\nb\t\n', 2]] as const) {
      expect(() => Lexicon.parse(text)).toThrow(ConfigError);
      expect(() => Lexicon.parse(text)).toThrow(new RegExp(`line ${line} is not "word<TAB>`));
    }
  });

  it('the shipped lexicon is sorted (so the CLI never builds a Map of it) and agrees with a Map of its lines', () => {
    const text = gunzipSync(readFileSync(new URL('../../weights/g2p-en/lexicon.tsv.gz', import.meta.url))).toString('utf8');
    const lex = Lexicon.parse(text);
    expect(lex.sorted).toBe(true);
    const ref = new Map(text.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('\t')), l.slice(l.indexOf('\t') + 1)]));
    expect(lex.size).toBe(ref.size);
    let i = 0;
    for (const [w, v] of ref) if (i++ % 97 === 0) expect(lex.get(w)).toBe(v);
    for (const w of ['zorblax', 'aaaaa', 'zzzzzz', '']) expect(lex.get(w)).toBeUndefined();
  });
});
