// A G2P model's optional lexicon.tsv.gz: `word<TAB>PRON[|ALT...]` lines, looked up by word.
// The shipped file (all of CMUdict, tools/g2p/make_lexicon.py) is sorted by word, so lookups are a binary search
// over the decompressed text and two Int32Arrays of line offsets: building a 126k-entry Map at every start cost
// the CLI ~60 ms (allocation and GC) of its ~350. An unsorted file (someone else's lexicon) gets a Map instead.
import { ConfigError } from '../errors.js';
import { toModelSource, type SourceInput } from '../weights/source.js';

export class Lexicon {
  private constructor(
    private readonly text: string,
    /** line i: the word is text[starts[i], tabs[i]), its pronunciations text(tabs[i], ends[i]) */
    private readonly starts: Int32Array, private readonly tabs: Int32Array, private readonly ends: Int32Array,
    private readonly map: Map<string, string> | null,
  ) {}

  get size(): number { return this.map ? this.map.size : this.starts.length; }
  /** Whether lookups are a binary search over the text (words strictly increasing) rather than a Map. */
  get sorted(): boolean { return this.map === null; }

  /** Parse lexicon text; a malformed line is a ConfigError naming it. */
  static parse(text: string): Lexicon {
    let cap = 1024, n = 0, line = 0, sorted = true;
    let starts: Int32Array = new Int32Array(cap), tabs: Int32Array = new Int32Array(cap), ends: Int32Array = new Int32Array(cap);
    for (let start = 0; start < text.length;) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      line++;
      if (end > start) {
        const tab = text.indexOf('\t', start);
        if (tab <= start || tab >= end - 1) {
          throw new ConfigError(`lexicon.tsv.gz line ${line} is not "word<TAB>PH ON ES[|...]": ${JSON.stringify(text.slice(start, Math.min(end, start + 80)))}`);
        }
        if (n === cap) {
          cap *= 2;
          starts = grow(starts, cap); tabs = grow(tabs, cap); ends = grow(ends, cap);
        }
        starts[n] = start; tabs[n] = tab; ends[n] = end;
        // strictly increasing words (UTF-16 order, as `<` on strings) make binary search exact
        if (sorted && n > 0 && compareRanges(text, starts[n - 1], tabs[n - 1], start, tab) >= 0) sorted = false;
        n++;
      }
      start = end + 1;
    }
    starts = starts.subarray(0, n); tabs = tabs.subarray(0, n); ends = ends.subarray(0, n);
    if (sorted) return new Lexicon(text, starts, tabs, ends, null);
    const map = new Map<string, string>();
    for (let i = 0; i < n; i++) map.set(text.slice(starts[i], tabs[i]), text.slice(tabs[i] + 1, ends[i]));
    return new Lexicon(text, starts, tabs, ends, map);
  }

  /** The word's line after the tab ("PH ON ES|ALT ..."), or undefined. */
  get(word: string): string | undefined {
    if (this.map) return this.map.get(word);
    let lo = 0, hi = this.starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareWord(word, this.text, this.starts[mid], this.tabs[mid]);
      if (c === 0) return this.text.slice(this.tabs[mid] + 1, this.ends[mid]);
      if (c < 0) hi = mid - 1;
      else lo = mid + 1;
    }
    return undefined;
  }

  has(word: string): boolean {
    return this.get(word) !== undefined;
  }
}

function grow(a: Int32Array, cap: number): Int32Array {
  const b = new Int32Array(cap);
  b.set(a);
  return b;
}

/** text[a0, a1) vs text[b0, b1) in UTF-16 code unit order (what `<` does), without slicing. */
function compareRanges(text: string, a0: number, a1: number, b0: number, b1: number): number {
  const n = Math.min(a1 - a0, b1 - b0);
  for (let i = 0; i < n; i++) {
    const d = text.charCodeAt(a0 + i) - text.charCodeAt(b0 + i);
    if (d !== 0) return d;
  }
  return (a1 - a0) - (b1 - b0);
}

/** word vs text[s0, s1), the same order. */
function compareWord(word: string, text: string, s0: number, s1: number): number {
  const n = Math.min(word.length, s1 - s0);
  for (let i = 0; i < n; i++) {
    const d = word.charCodeAt(i) - text.charCodeAt(s0 + i);
    if (d !== 0) return d;
  }
  return word.length - (s1 - s0);
}

/** lexicon.tsv.gz of a model folder/URL, or null when it has none. */
export async function loadLexicon(src: SourceInput, signal?: AbortSignal): Promise<Lexicon | null> {
  const gz = await toModelSource(src).read('lexicon.tsv.gz', { optional: true, signal });
  if (!gz) return null;
  let text: string;
  try {
    // DecompressionStream: every target runtime has it (browsers, Node >= 18, Deno, workerd); read by hand, not
    // with `new Response(body).text()`: reading the global Response costs Node ~50 ms to load its fetch
    const reader = new Blob([gz as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip')).getReader();
    const decoder = new TextDecoder();
    const parts: string[] = [];
    for (let r = await reader.read(); !r.done; r = await reader.read()) parts.push(decoder.decode(r.value, { stream: true }));
    parts.push(decoder.decode());
    text = parts.join('');
  } catch (e) {
    throw new ConfigError(`lexicon.tsv.gz of the G2P model is not a readable gzip file: ${(e as Error).message}`);
  }
  return Lexicon.parse(text);
}
