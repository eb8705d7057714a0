// SentencePiece text normalization, ported from sentencepiece/src/normalizer.cc, and the `Precompiled`
// normalizer of Hugging Face tokenizer.json files (spm_precompiled), which reads the same charsmap differently.
//
// A precompiled charsmap (nmt_nfkc, nfkc, nfkc_cf, ...) is `<u32 trie size><darts-clone double array><NUL-separated
// replacement strings>`: the double array maps UTF-8 byte strings to offsets of their replacements. It is not
// Unicode NFKC: it also drops control characters, maps many spaces to U+0020, and has SentencePiece's own exceptions,
// so `String.prototype.normalize('NFKC')` would be wrong for some inputs (and is what other JS ports use).
// Everything here works on UTF-8 bytes because the trie and the C++ both do.

import { ConfigError } from '../errors.js';
import type { NormalizerSpec } from './protobuf.js';

const encoder = new TextEncoder();
// ignoreBOM: a leading U+FEFF is text here, not a byte order mark to drop.
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Length of the UTF-8 sequence starting with `lead` (string_util::OneCharLen). */
export function oneCharLen(lead: number): number {
  return lead < 0xc0 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
}

export class CharsMap {
  private readonly units: Uint32Array;
  private readonly pool: Uint8Array;

  constructor(blob: Uint8Array, where: string) {
    const size = blob.length > 4 ? new DataView(blob.buffer, blob.byteOffset, 4).getUint32(0, true) : 0;
    if (size === 0 || size % 4 !== 0 || 4 + size > blob.length) {
      throw new ConfigError(`${where}: the precompiled_charsmap is broken (trie size ${size} of ${blob.length} bytes)`);
    }
    // Copied rather than viewed: the blob sits at an arbitrary (unaligned) offset inside the model file.
    this.units = new Uint32Array(size / 4);
    const view = new DataView(blob.buffer, blob.byteOffset + 4, size);
    for (let i = 0; i < this.units.length; i++) this.units[i] = view.getUint32(i * 4, true);
    this.pool = blob.subarray(4 + size);
  }

  /**
   * darts-clone commonPrefixSearch over key[pos, end): calls `hit(length, value)` for every rule whose key is a
   * prefix, shortest first, until `hit` returns false.
   */
  private search(key: Uint8Array, pos: number, end: number, hit: (len: number, value: number) => boolean): void {
    const u = this.units;
    let node = offset(u[0]!);
    for (let i = pos; i < end; i++) {
      const c = key[i]!;
      node = (node ^ c) >>> 0;
      const unit = u[node];
      // label() keeps bit 31 so that a leaf unit never equals a byte; a corrupt trie just stops matching.
      if (unit === undefined || (unit & 0x800000ff) >>> 0 !== c) return;
      node = (node ^ offset(unit)) >>> 0;
      if ((unit >>> 8) & 1) {
        const leaf = u[node];
        if (leaf === undefined || !hit(i + 1 - pos, leaf & 0x7fffffff)) return;
      }
    }
  }

  /** The longest rule matching at `pos` (Normalizer::NormalizePrefix). */
  longest(key: Uint8Array, pos: number, end: number): { len: number; out: Uint8Array } | undefined {
    let len = 0;
    let value = 0;
    this.search(key, pos, end, (l, v) => ((len = l), (value = v), true));
    return len === 0 ? undefined : { len, out: this.replacement(value) };
  }

  /** The shortest rule matching a prefix of key[pos, end) (spm_precompiled's `transform`). */
  shortest(key: Uint8Array, pos: number, end: number): Uint8Array | undefined {
    let out: Uint8Array | undefined;
    this.search(key, pos, end, (_l, v) => ((out = this.replacement(v)), false));
    return out;
  }

  private replacement(value: number): Uint8Array {
    const pool = this.pool;
    let e = value;
    while (e < pool.length && pool[e] !== 0) e++;
    return pool.subarray(Math.min(value, pool.length), e);
  }
}

function offset(unit: number): number {
  return ((unit >>> 10) << ((unit & 0x200) >>> 6)) >>> 0;
}

/** Growable byte buffer. */
class Bytes {
  buf = new Uint8Array(64);
  length = 0;
  push(b: number): void {
    if (this.length === this.buf.length) this.grow(1);
    this.buf[this.length++] = b;
  }
  append(src: Uint8Array): void {
    if (this.length + src.length > this.buf.length) this.grow(src.length);
    this.buf.set(src, this.length);
    this.length += src.length;
  }
  endsWith(tail: Uint8Array): boolean {
    if (this.length < tail.length) return false;
    for (let i = 0; i < tail.length; i++) if (this.buf[this.length - tail.length + i] !== tail[i]) return false;
    return true;
  }
  text(): string {
    return decoder.decode(this.buf.subarray(0, this.length));
  }
  private grow(n: number): void {
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
}

const SPACE_SYMBOL = encoder.encode('\u2581');
const SPACE = Uint8Array.of(0x20);

/**
 * Longest match over the user-defined symbols (PrefixMatcher), which must come out of normalization and
 * segmentation untouched. The normalizer asks on UTF-8 bytes, the segmenters on the normalized string.
 */
export class PrefixMatcher {
  private readonly byByte = new Map<number, Uint8Array[]>();
  private readonly byUnit = new Map<number, string[]>();
  constructor(symbols: Iterable<string>) {
    for (const s of symbols) {
      const b = encoder.encode(s);
      this.byByte.set(b[0]!, [...(this.byByte.get(b[0]!) ?? []), b]);
      this.byUnit.set(s.charCodeAt(0), [...(this.byUnit.get(s.charCodeAt(0)) ?? []), s]);
    }
    for (const list of this.byByte.values()) list.sort((a, b) => b.length - a.length);
    for (const list of this.byUnit.values()) list.sort((a, b) => b.length - a.length);
  }
  get empty(): boolean {
    return this.byByte.size === 0;
  }
  /** Byte length of the longest symbol at key[pos..end), or 0. */
  matchBytes(key: Uint8Array, pos: number, end: number): number {
    outer: for (const s of this.byByte.get(key[pos]!) ?? []) {
      if (s.length > end - pos) continue;
      for (let i = 1; i < s.length; i++) if (key[pos + i] !== s[i]) continue outer;
      return s.length;
    }
    return 0;
  }
  /** UTF-16 length of the longest symbol at text[pos..], or 0. */
  matchString(text: string, pos: number): number {
    for (const s of this.byUnit.get(text.charCodeAt(pos)) ?? []) if (text.startsWith(s, pos)) return s.length;
    return 0;
  }
}

/** normalizer::Normalizer::Normalize without the alignment vector (the encoders do not need offsets). */
export class SpmNormalizer {
  private readonly charsmap: CharsMap | undefined;

  constructor(private readonly spec: NormalizerSpec, private readonly treatWhitespaceAsSuffix: boolean,
    private readonly userDefined: PrefixMatcher | undefined, where: string) {
    this.charsmap = spec.precompiledCharsmap.length ? new CharsMap(spec.precompiledCharsmap, where) : undefined;
  }

  normalize(input: string): string {
    if (input === '') return '';
    const key = encoder.encode(input);
    const end = key.length;
    const { removeExtraWhitespaces, escapeWhitespaces, addDummyPrefix } = this.spec;
    let pos = 0;
    if (removeExtraWhitespaces) {
      for (;;) {
        if (pos >= end) return '';
        const p = this.prefix(key, pos, end);
        if (!(p.out.length === 1 && p.out[0] === 0x20)) break;
        pos += p.len;
      }
    }
    const out = new Bytes();
    const addWs = () => out.append(escapeWhitespaces ? SPACE_SYMBOL : SPACE);
    if (!this.treatWhitespaceAsSuffix && addDummyPrefix) addWs();
    let isPrevSpace = removeExtraWhitespaces;
    while (pos < end) {
      const { out: sp, len } = this.prefix(key, pos, end);
      let s = 0;
      // Spaces at the start of a piece are dropped when the previous piece ended with one.
      while (isPrevSpace && s < sp.length && sp[s] === 0x20) s++;
      if (s < sp.length) {
        for (let k = s; k < sp.length; k++) {
          if (escapeWhitespaces && sp[k] === 0x20) out.append(SPACE_SYMBOL);
          else out.push(sp[k]!);
        }
        isPrevSpace = sp[sp.length - 1] === 0x20;
      }
      pos += len;
      if (!removeExtraWhitespaces) isPrevSpace = false;
    }
    if (removeExtraWhitespaces) {
      const space = escapeWhitespaces ? SPACE_SYMBOL : SPACE;
      while (out.endsWith(space)) out.length -= space.length;
    }
    if (this.treatWhitespaceAsSuffix && addDummyPrefix) addWs();
    return out.text();
  }

  /** NormalizePrefix: user-defined symbols pass untouched, then the longest charsmap rule, else one character. */
  private prefix(key: Uint8Array, pos: number, end: number): { out: Uint8Array; len: number } {
    const ud = this.userDefined?.matchBytes(key, pos, end) ?? 0;
    if (ud > 0) return { out: key.subarray(pos, pos + ud), len: ud };
    const rule = this.charsmap?.longest(key, pos, end);
    if (rule) return rule;
    // TextEncoder output is well-formed UTF-8, so the malformed-byte branch of the C++ (U+FFFD) cannot occur.
    const len = Math.min(oneCharLen(key[pos]!), end - pos);
    return { out: key.subarray(pos, pos + len), len };
  }
}

let segmenter: { segment(s: string): Iterable<{ segment: string; index: number }> } | null | undefined;

/** Grapheme clusters are found in windows of this many UTF-16 units (+ GRAPHEME_LOOKAHEAD): V8's Intl.Segmenter
 *  takes time quadratic in the length of the string it is given (120k characters: 3 s), so a long text is never
 *  handed to it whole. */
const GRAPHEME_WINDOW = 1024;
const GRAPHEME_LOOKAHEAD = 64;

/**
 * The extended grapheme clusters of `text`, exactly as one Intl.Segmenter pass would give them. Each window starts
 * at a cluster boundary, and whether a boundary falls at a position depends only on the cluster it ends (which
 * starts in the window) and the character after it, so the clusters that end inside a window — before its
 * look-ahead margin — are final. A single cluster longer than a window (thousands of combining marks) is cut
 * inside; both parts are then far longer than the 6 bytes below which precompiledNormalize treats a cluster
 * whole, so the normalised text is the same.
 */
export function* graphemes(text: string): Iterable<{ segment: string }> {
  if (segmenter === undefined) {
    const Seg = (Intl as { Segmenter?: new (l?: string, o?: object) => NonNullable<typeof segmenter> }).Segmenter;
    segmenter = Seg ? new Seg(undefined, { granularity: 'grapheme' }) : null;
  }
  // Without Intl.Segmenter (very old engines) every code point is its own cluster: only multi-character
  // rules such as decomposed accents are then missed.
  if (!segmenter) {
    for (const segment of text) yield { segment };
    return;
  }
  for (let start = 0; start < text.length;) {
    const end = start + GRAPHEME_WINDOW + GRAPHEME_LOOKAHEAD;
    const last = end >= text.length;
    const window = text.slice(start, end);
    let next = start;
    for (const { segment, index } of segmenter.segment(window)) {
      const stop = index + segment.length;
      if (!last && stop > GRAPHEME_WINDOW) break;
      yield { segment };
      next = start + stop;
    }
    if (next === start) {
      // one cluster longer than the window: cut it (see above), never between a surrogate pair
      let cut = GRAPHEME_WINDOW - 16;
      if (/[\ud800-\udbff]/.test(window[cut - 1]!)) cut--;
      yield { segment: window.slice(0, cut) };
      next = start + cut;
    }
    start = next;
  }
}

/**
 * tokenizer.json `Precompiled` normalizer (Rust spm_precompiled::normalize_string): for each extended grapheme
 * cluster shorter than 6 UTF-8 bytes, the *shortest* rule matching a prefix of the cluster replaces the whole
 * cluster; otherwise each character is replaced by its own rule. Whitespace is left to the other tokenizer.json
 * components (Replace / Metaspace / WhitespaceSplit).
 */
export function precompiledNormalize(map: CharsMap, text: string): string {
  let out = '';
  for (const { segment } of graphemes(text)) {
    const bytes = encoder.encode(segment);
    if (bytes.length < 6) {
      const whole = map.shortest(bytes, 0, bytes.length);
      if (whole) {
        out += decoder.decode(whole);
        continue;
      }
    }
    for (let i = 0; i < bytes.length;) {
      const len = oneCharLen(bytes[i]!);
      const rule = map.shortest(bytes, i, i + len);
      out += decoder.decode(rule ?? bytes.subarray(i, i + len));
      i += len;
    }
  }
  return out;
}
