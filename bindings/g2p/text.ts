// English text → the words a G2P model can spell out.
//
// Rules (documented in the README):
//   - words are runs of letters with inner apostrophes ("don't", "o'clock"); case is folded by the model vocab;
//   - accents are stripped (NFKD, combining marks dropped: "café" → "cafe");
//   - numbers are spelled out: cardinals with optional thousands commas ("1,024"), decimals ("3.14" → "three
//     point one four"), ordinals ("21st"), years for 4-digit numbers 1100–1999 and 2010–2099 ("1984" →
//     "nineteen eighty four"), "%" → percent, "&" → and;
//   - hyphens and other punctuation separate words and are not pronounced;
//   - anything else (other scripts, symbols such as "$", emoji) is kept as a token with no letters: the phonemizer
//     reports it as unpronounceable instead of guessing.

export interface WordToken {
  /** The text as written (a number keeps its digits; its spelled-out words follow as separate tokens). */
  text: string;
  /** Lower-case letters/apostrophes to pronounce; empty when the token has nothing pronounceable. */
  word: string;
}

const ONES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven',
  'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen'];
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];
const SCALES = ['', 'thousand', 'million', 'billion', 'trillion', 'quadrillion'];
const ORDINAL: Record<string, string> = {
  one: 'first', two: 'second', three: 'third', five: 'fifth', eight: 'eighth', nine: 'ninth', twelve: 'twelfth',
};

function below1000(n: number): string[] {
  const out: string[] = [];
  if (n >= 100) { out.push(ONES[Math.floor(n / 100)], 'hundred'); n %= 100; }
  if (n >= 20) { out.push(TENS[Math.floor(n / 10)]); n %= 10; if (n) out.push(ONES[n]); }
  else if (n > 0 || out.length === 0) out.push(ONES[n]);
  return out;
}

/** Cardinal words for a non-negative integer given as digits (any length up to quadrillions; longer → digit by digit). */
export function cardinal(digits: string): string[] {
  digits = digits.replace(/^0+(?=\d)/, '');
  if (digits.length > 18) return [...digits].map((d) => ONES[+d]);
  if (/^0+$/.test(digits)) return ['zero'];
  const groups: number[] = [];
  for (let end = digits.length; end > 0; end -= 3) groups.unshift(+digits.slice(Math.max(0, end - 3), end));
  const out: string[] = [];
  groups.forEach((g, i) => {
    if (g === 0) return;
    for (const w of below1000(g)) out.push(w);
    const scale = SCALES[groups.length - 1 - i];
    if (scale) out.push(scale);
  });
  return out;
}

function year(n: number): string[] | null {
  if (n >= 1100 && n <= 1999) {
    const hi = Math.floor(n / 100), lo = n % 100;
    if (lo === 0) return [...below1000(hi), 'hundred'];
    return [...below1000(hi), ...(lo < 10 ? ['oh', ONES[lo]] : below1000(lo))];
  }
  if (n >= 2010 && n <= 2099) return [...below1000(Math.floor(n / 100)), ...below1000(n % 100)];
  return null;
}

function ordinal(words: string[]): string[] {
  const last = words[words.length - 1];
  const ord = ORDINAL[last] ?? (last.endsWith('y') ? `${last.slice(0, -1)}ieth` : `${last}th`);
  return [...words.slice(0, -1), ord];
}

/** Spelled-out words for one numeric token ("1,024", "3.14", "21st", "1984", "50%"). */
export function numberWords(tok: string): string[] {
  const m = /^(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(st|nd|rd|th)?(%)?$/i.exec(tok);
  if (!m) return [...tok].filter((c) => /\d/.test(c)).map((d) => ONES[+d]);
  const [, intPart, frac, ord, pct] = m;
  const plain = intPart.replace(/,/g, '');
  let words = !frac && !ord && !intPart.includes(',') && plain.length === 4 ? year(+plain) ?? cardinal(plain) : cardinal(plain);
  if (ord && !frac) words = ordinal(words);
  if (frac) words = [...words, 'point', ...[...frac].map((d) => ONES[+d])];
  if (pct) words.push('percent');
  return words;
}

// Latin letters NFKD does not decompose
const FOLD: Record<string, string> = { 'ß': 'ss', 'æ': 'ae', 'œ': 'oe', 'ø': 'o', 'ð': 'd', 'þ': 'th', 'ł': 'l', 'đ': 'd', 'ı': 'i' };

const TOKEN = /\d[\d,]*(?:\.\d+)?(?:st|nd|rd|th)?%?|[\p{L}\p{M}]+(?:['’][\p{L}\p{M}]+)*|&|[^\s\p{P}\p{L}\p{M}\d]+/gu;

/** Split text into pronounceable words (numbers expanded), in order. */
export function textToWords(text: string): WordToken[] {
  const out: WordToken[] = [];
  for (const m of text.matchAll(TOKEN)) {
    const t = m[0];
    if (/^\d/.test(t)) {
      for (const w of numberWords(t.replace(/,$/, ''))) out.push({ text: t, word: w });
    } else if (t === '&') {
      out.push({ text: t, word: 'and' });
    } else {
      const word = t.toLowerCase().normalize('NFKD').replace(/\p{M}/gu, '').replace(/’/g, "'").replace(/[ßæœøðþłđı]/g, (c) => FOLD[c]);
      out.push({ text: t, word: /^[a-z]+(?:'[a-z]+)*$/.test(word) ? word : '' });
    }
  }
  return out;
}
