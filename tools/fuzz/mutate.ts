// Seeded mutations for the fuzzer: every case is a pure function of (kind, seed), so a failure reproduces with
// `npm run fuzz -- --kinds KIND --from SEED --cases 1`. Three levels: raw bytes (any file), JSON values (the tree
// of a .json file: hostile types, huge and negative numbers, deep nesting, prototype keys), and text (tokenizer
// inputs: surrogate halves, long runs, control characters).

/** splitmix32: small, fast, and good enough to drive mutations. */
export class Rng {
  private s: number;
  constructor(seed: number) { this.s = seed >>> 0; }
  next(): number {
    let z = (this.s = (this.s + 0x9e3779b9) >>> 0);
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  }
  int(n: number): number { return Math.floor(this.next() * n); }
  pick<T>(a: readonly T[]): T { return a[this.int(a.length)]; }
  chance(p: number): boolean { return this.next() < p; }
}

/** Numbers that break naive code: limits, off-by-ones, non-integers, the float32 edges. */
const NUMBERS = [0, -1, 1, 2, 3, 4, 7, 8, 63, 64, 65, 100, 101, 127, 128, 255, 256, 1023, 1024, 4096, 65535, 65536,
  2 ** 24, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 32 + 1, 2 ** 53, 2 ** 53 + 2, 1e9, 1e15, 1e100, 1e308, -1e308, 0.5, 1.5, -0.5,
  1e-300, 5e-324, 3.4028234663852886e38, 3.5e38, -(2 ** 31), -1e9];

/** Marks where mutateJson writes deeply nested JSON into the text (JSON.stringify itself would overflow). */
const DEEP = '__fuzz_deep__';

/** JSON values of every type, some of them very large or deep. */
function hostileValue(r: Rng, like: unknown): unknown {
  switch (r.int(14)) {
    case 0: return null;
    case 1: return r.chance(0.5);
    case 2: case 3: return r.pick(NUMBERS);
    case 4: return typeof like === 'number' ? like + r.pick([-1, 1, -2, 2, 1000]) : r.pick(NUMBERS);
    case 5: return typeof like === 'number' ? like * r.pick([-1, 0.5, 2, 1000, 1e6, 1e12]) : r.int(1000);
    case 6: return r.pick(['', '5', '-1', 'NaN', 'Infinity', 'null', '__proto__', 'constructor', 'toString', '\u0000', '\ud800',
      'a'.repeat(r.pick([1, 100, 10_000, 200_000])), 'gated-', 'gated-gelu-x', 'relu', 'F32', '{', '<unk>']);
    case 7: return [];
    case 8: return {};
    case 9: return Array.from({ length: r.pick([1, 2, 3, 10, 1000]) }, () => r.pick([0, 1, -1, 'x', null, [], 1.5, 2 ** 40]));
    case 10: return { [DEEP]: r.pick([10, 1000, 100_000]), open: r.pick(['[', '{"a":']) }; // deep nesting, made in text
    case 11: return Array.isArray(like) ? [...like, ...like] : [like];
    case 12: return Array.isArray(like) && like.length > 0 ? like.slice(0, r.int(like.length)) : like;
    default: return { __proto__: { polluted: 1 }, constructor: { prototype: { polluted: 1 } } };
  }
}

/** Every [parent, key] of a JSON tree, up to `max` (breadth-first: top-level keys come first). */
function slots(root: unknown, max = 20_000): [Record<string, unknown> | unknown[], string | number][] {
  const out: [Record<string, unknown> | unknown[], string | number][] = [];
  const queue: unknown[] = [root];
  while (queue.length && out.length < max) {
    const v = queue.shift();
    if (Array.isArray(v)) v.forEach((x, i) => { out.push([v, i]); queue.push(x); });
    else if (v && typeof v === 'object') for (const k of Object.keys(v)) { out.push([v as Record<string, unknown>, k]); queue.push((v as Record<string, unknown>)[k]); }
  }
  return out;
}

/** A mutated copy of a JSON document, as text (some mutations only exist in text: duplicate keys, BOM, truncation). */
export function mutateJson(r: Rng, doc: unknown, text?: string): string {
  const copy = JSON.parse(JSON.stringify(doc));
  const n = 1 + (r.chance(0.3) ? r.int(6) : 0);
  const all = slots(copy);
  // top-level keys get most of the attention: that is where the meaning is
  const top = all.filter(([p]) => p === copy);
  for (let i = 0; i < n && all.length; i++) {
    const [parent, key] = r.chance(0.6) && top.length ? r.pick(top) : r.pick(all);
    const op = r.int(10);
    if (op === 0 && !Array.isArray(parent)) delete (parent as Record<string, unknown>)[key as string];
    else if (op === 1 && !Array.isArray(parent)) Object.defineProperty(parent, r.pick(['__proto__', 'constructor', 'prototype', 'hasOwnProperty']), { value: hostileValue(r, null), enumerable: true, configurable: true, writable: true });
    else (parent as Record<string | number, unknown>)[key] = hostileValue(r, (parent as Record<string | number, unknown>)[key]);
  }
  const out = JSON.stringify(copy);
  switch (r.int(12)) {
    case 0: return mutateText(r, text ?? deepen(out)); // bytes of the JSON text
    case 1: { // a duplicate key (JSON.parse keeps the last)
      const i = out.indexOf('{');
      return deepen(i < 0 ? out : `${out.slice(0, i + 1)}"${r.pick(top.map(([, k]) => String(k)).concat('x'))}":${JSON.stringify(hostileValue(r, null))},${out.slice(i + 1)}`);
    }
    case 2: return '\ufeff' + deepen(out);
    case 3: return deepen(out).slice(0, r.int(out.length));
    default: return deepen(out);
  }
}

/** Writes the DEEP markers out as nested arrays or objects. */
function deepen(text: string): string {
  return text.replace(/\{"__fuzz_deep__":(\d+),"open":"(\[|\{\\"a\\":)"\}/g, (_, n: string, open: string) =>
    open === '[' ? '['.repeat(Number(n)) + '0' + ']'.repeat(Number(n)) : '{"a":'.repeat(Number(n)) + '0' + '}'.repeat(Number(n)));
}

/** A few character-level edits of a text. */
export function mutateText(r: Rng, text: string): string {
  let s = text;
  for (let i = 0, n = 1 + r.int(4); i < n; i++) {
    const at = r.int(s.length + 1);
    switch (r.int(6)) {
      case 0: s = s.slice(0, at) + s.slice(at + 1 + r.int(16)); break;
      case 1: s = s.slice(0, at) + String.fromCharCode(r.int(65536)) + s.slice(at); break;
      case 2: s = s.slice(0, at) + r.pick(['"', '{', '}', '[', ']', ',', ':', '\\', '\n', '\t', ' ', '0', '-', 'e', '\ud800', '\udc00', '\u0000']) + s.slice(at); break;
      case 3: s = s.slice(0, at) + s.slice(r.int(s.length + 1)).slice(0, 64) + s.slice(at); break;
      case 4: s = s.slice(0, at); break;
      default: s = s.slice(0, at) + s.slice(at, at + 8).toUpperCase() + s.slice(at + 8);
    }
  }
  return s;
}

/** A few byte-level edits of a file (bit flips, special bytes, splices, truncation, growth). */
export function mutateBytes(r: Rng, src: Uint8Array, focus?: [number, number]): Uint8Array {
  let b: Uint8Array = src.slice();
  const [lo, hi] = focus ?? [0, b.length];
  for (let i = 0, n = 1 + r.int(r.chance(0.2) ? 16 : 3); i < n; i++) {
    const at = lo + r.int(Math.max(1, hi - lo));
    switch (r.int(8)) {
      case 0: if (at < b.length) b[at] ^= 1 << r.int(8); break;
      case 1: if (at < b.length) b[at] = r.pick([0, 0xff, 0x7f, 0x80, 0x7b, 0x22, 0x2c, 0x5d, 0x30, 0x39]); break;
      case 2: if (at < b.length) b[at] = r.int(256); break;
      case 3: b = b.slice(0, at); break;
      case 4: { const len = r.int(64); b = concat(b.slice(0, at), b.slice(at + len)); break; }
      case 5: { const from = r.int(b.length), len = r.int(256); b = concat(b.slice(0, at), b.slice(from, from + len), b.slice(at)); break; }
      case 6: b = concat(b, new Uint8Array(r.pick([1, 7, 8, 1024])).fill(r.int(256))); break;
      default: if (at + 4 <= b.length) new DataView(b.buffer).setUint32(at, r.pick(NUMBERS) >>> 0, true);
    }
  }
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** Inputs for tokenizers and the phonemizer: ordinary text, then everything that is not. */
export function hostileText(r: Rng): string {
  switch (r.int(10)) {
    case 0: return '';
    case 1: return 'The quick brown fox jumps over the lazy dog. 1984, 3.5%, 21st & co.';
    case 2: return String.fromCharCode(...Array.from({ length: r.int(64) }, () => r.int(65536)));
    case 3: return r.pick(['\ud800', '\udc00', 'a\ud800b', '\udfff\ud800', '\u0000\u0001\u001f', '\u200d\u200d', '🏳️‍🌈👨‍👩‍👧', 'e\u0301\u0301\u0301']);
    case 4: return r.pick(['a', ' ', 'é', '日', '1', '\u0301', '▁', '<unk>', '</s>', '<pad>']).repeat(r.pick([10, 1000, 20_000, 99_999, 100_001]));
    case 5: return r.pick(['</s><unk><pad>', '<s> </s> <mask>', '>>fra<< hello', '__en__ hi', 'eng_Latn x', '<0xFF><0x00>']);
    case 6: return Array.from({ length: 1 + r.int(50) }, () => r.pick(['word', 'zorblax', "don't", '12,345', '3.14', '$', '🙂', 'ß', 'Ⅻ'])).join(r.pick([' ', '', '\n', '\t', '  ']));
    case 7: return 'x'.repeat(r.pick([127, 128, 129, 500]));
    case 8: return mutateText(r, 'Hello, world! How are you today?');
    default: return String.fromCodePoint(...Array.from({ length: 1 + r.int(40) }, () => r.int(0x110000)).filter((c) => c < 0xd800 || c > 0xdfff));
  }
}
