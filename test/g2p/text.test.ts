// Text normalisation for the G2P front end: what gets pronounced, and that nothing crashes it.
import { describe, expect, it } from 'vitest';
import { cardinal, numberWords, textToWords } from '../../bindings/g2p/text.js';

const words = (t: string) => textToWords(t).map((w) => w.word);

describe('numbers are spelled out', () => {
  it.each([
    ['0', 'zero'], ['7', 'seven'], ['13', 'thirteen'], ['40', 'forty'], ['42', 'forty two'], ['100', 'one hundred'],
    ['101', 'one hundred one'], ['999', 'nine hundred ninety nine'], ['1000', 'one thousand'],
    ['1,024', 'one thousand twenty four'], ['2000', 'two thousand'], ['2005', 'two thousand five'],
    ['1984', 'nineteen eighty four'], ['1900', 'nineteen hundred'], ['1905', 'nineteen oh five'], ['2024', 'twenty twenty four'],
    ['1000000', 'one million'], ['3.14', 'three point one four'], ['21st', 'twenty first'], ['2nd', 'second'],
    ['3rd', 'third'], ['12th', 'twelfth'], ['20th', 'twentieth'], ['50%', 'fifty percent'], ['007', 'seven'],
  ])('%s → %s', (n, w) => expect(numberWords(n).join(' ')).toBe(w));

  it('very long digit strings are read digit by digit', () => {
    expect(cardinal('1234567890123456789012')).toHaveLength(22);
  });
});

describe('textToWords', () => {
  it('splits words, keeps inner apostrophes, folds case and accents, drops punctuation', () => {
    expect(words("The quick, brown fox's café — don't!")).toEqual(['the', 'quick', 'brown', "fox's", 'cafe', "don't"]);
    expect(words('Straße Æsop naïve')).toEqual(['strasse', 'aesop', 'naive']);
    expect(words('well-known re-enter')).toEqual(['well', 'known', 're', 'enter']);
    expect(words('Tom & Jerry, 2 cats')).toEqual(['tom', 'and', 'jerry', 'two', 'cats']);
    expect(words('it’s')).toEqual(["it's"]);
  });

  it('unpronounceable tokens stay visible with an empty word, and nothing throws', () => {
    const t = textToWords('hello 日本 🙂 ☃ world');
    expect(t.map((w) => w.text)).toEqual(['hello', '日本', '🙂', '☃', 'world']);
    expect(t.map((w) => w.word)).toEqual(['hello', '', '', '', 'world']);
    for (const s of ['', '   ', '!!!', '\u0000\uffff', 'a'.repeat(10000), '1'.repeat(500), '\ud800']) {
      expect(() => textToWords(s)).not.toThrow();
    }
  });

  it('a number keeps its written form beside its spelled-out words', () => {
    expect(textToWords('in 1984.')).toEqual([
      { text: 'in', word: 'in' }, { text: '1984', word: 'nineteen' }, { text: '1984', word: 'eighty' }, { text: '1984', word: 'four' },
    ]);
  });
});
