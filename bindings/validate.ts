// Checks of values that come from outside — public API arguments and parsed files — shared by every entry point,
// so that a token-id list, a text or an integer option is judged (and reported) the same way wherever it arrives.
// Every check names the field, shows the value (never throwing itself: BigInt, cycles, symbols, huge strings) and
// states the limit. The limits are documented in docs/api.md §Limits.
import { InputError, type Seq2SeqError } from './errors.js';

/** Longest text (UTF-16 code units) a tokenizer or generate() takes. The models read at most 512-1024 positions
 *  (T5: what it was trained on), a few thousand characters; 100,000 is ~100 times that, and keeps the slowest
 *  tokenizer path (byte-level BPE over one 100k-character run of a single character) near a second. Every path
 *  is stack-safe well beyond it (tested to 1,000,000); split longer texts. */
export const MAX_TEXT_LENGTH = 100_000;

/** Most elements a token-id list may have before it is read at all (a sparse `length = 1e9` array must not be
 *  walked): 2^24 ids, 64 MiB as int32, beyond what any model's working memory takes. Calls then apply the model's
 *  own, smaller limits (positions, memory). */
export const MAX_LIST_LENGTH = 1 << 24;

type ErrorClass = new (message: string) => Seq2SeqError;

/** A value as error messages show it: JSON where possible, else a description; cut to `max` characters. */
export function show(v: unknown, max = 60): string {
  let s: string;
  if (typeof v === 'bigint') s = `${v}n (a BigInt)`;
  else if (typeof v === 'symbol' || typeof v === 'function') s = `a ${typeof v}`;
  else if (v === undefined) s = 'nothing';
  else if (typeof v === 'number') s = String(v); // NaN, Infinity, -0 as JS writes them
  else if (Array.isArray(v) && v.length > 8) s = `an array of ${v.length}`;
  else {
    try {
      s = JSON.stringify(v) ?? String(v);
    } catch {
      s = Array.isArray(v) ? 'an array' : `a ${typeof v} that is not JSON (cyclic, or holds a BigInt)`;
    }
  }
  return s.length > max ? `${s.slice(0, max)}… (${s.length} characters)` : s;
}

/** The element at i, or a description of why there is none (a hole of a sparse array). */
function hole(list: readonly unknown[], i: number): boolean {
  return !Object.prototype.hasOwnProperty.call(list, i);
}

/** A dense array of at most `max` elements: the length is checked before any element is read. */
export function denseArray(name: string, v: unknown, max: number, Err: ErrorClass = InputError): readonly unknown[] {
  if (!Array.isArray(v)) throw new Err(`${name} must be an array, got ${show(v)}`);
  if (v.length > max) throw new Err(`${name} has ${v.length} elements, over the limit of ${max}`);
  for (let i = 0; i < v.length; i++) {
    if (hole(v, i)) throw new Err(`${name}[${i}] is missing (a sparse array)`);
  }
  return v;
}

/** An integer token id in [0, vocab) (`vocab` undefined: any non-negative safe integer). */
export function tokenId(name: string, v: unknown, vocab?: number, Err: ErrorClass = InputError): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || (vocab !== undefined && v >= vocab)) {
    const range = vocab === undefined ? 'a non-negative integer' : `an integer in [0, ${vocab}) (the vocabulary)`;
    throw new Err(`${name} must be a token id, ${range}; got ${show(v)}${typeof v === 'string' ? ' (a string)' : ''}`);
  }
  return v;
}

export interface IdListOptions {
  /** Ids must be below it (undefined: any non-negative integer). */
  readonly vocab?: number;
  /** Most ids (default MAX_LIST_LENGTH). */
  readonly max?: number;
  /** An empty list is allowed (default true). */
  readonly allowEmpty?: boolean;
  readonly Err?: ErrorClass;
}

/** A list of token ids: a dense array of integers in range (a single id also counts as a list of one when
 *  `single` is true — transformers' `eos_token_id: int | list`). */
export function tokenIdList(name: string, v: unknown, o: IdListOptions = {}, single = false): number[] {
  const Err = o.Err ?? InputError;
  if (single && typeof v === 'number') return [tokenId(name, v, o.vocab, Err)];
  if (!Array.isArray(v)) {
    throw new Err(`${name} must be ${single ? 'a token id or ' : ''}an array of token ids, got ${show(v)}`);
  }
  const list = denseArray(name, v, o.max ?? MAX_LIST_LENGTH, Err);
  if (list.length === 0 && o.allowEmpty === false) throw new Err(`${name} must not be empty`);
  return list.map((t, i) => tokenId(`${name}[${i}]`, t, o.vocab, Err));
}

/** Rows of token ids (a batch): dense, each row non-empty, at most `maxRows` rows of at most `maxLength` ids. */
export function tokenIdRows(name: string, v: unknown, vocab: number | undefined, maxRows: number, maxLength: number,
  Err: ErrorClass = InputError): number[][] {
  if (!Array.isArray(v) || v.length === 0) throw new Err(`${name} must be a non-empty array of token id rows, got ${show(v)}`);
  const rows = denseArray(name, v, maxRows, Err);
  return rows.map((row, b) => tokenIdList(`${name}[${b}]`, row, { vocab, max: maxLength, allowEmpty: false, Err }));
}

/** An integer in [min, max] (undefined / null → `fallback`). */
export function intOption(name: string, v: unknown, min: number, max: number, fallback: number, why = ''): number {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new InputError(`${name} must be an integer >= ${min}, got ${show(v)}${typeof v === 'string' ? ' (a string)' : ''}`);
  }
  if (v > max) throw new InputError(`${name} ${v} is over the limit of ${max}${why ? `: ${why}` : ''}`);
  return v;
}

/** A plain options object (undefined → {}); anything else (null, a string, an array) is an InputError. */
export function optionsObject<T extends object>(name: string, v: T | null | undefined): T {
  if (v === undefined) return {} as T;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new InputError(`${name} must be an object, got ${show(v)}`);
  return v;
}

/** A text a tokenizer may encode: a string of at most MAX_TEXT_LENGTH code units. */
export function checkText(name: string, v: unknown): string {
  if (typeof v !== 'string') throw new InputError(`${name} must be a string, got ${show(v)}`);
  if (v.length > MAX_TEXT_LENGTH) {
    throw new InputError(`${name} has ${v.length} characters, over the limit of ${MAX_TEXT_LENGTH} ` +
      '(no supported model reads more than a few thousand characters at once: split the text)');
  }
  return v;
}

/** An AbortSignal, or null when absent. */
export function signalOption(name: string, v: unknown): AbortSignal | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || typeof (v as AbortSignal).aborted !== 'boolean') throw new InputError(`${name} must be an AbortSignal, got ${show(v)}`);
  return v as AbortSignal;
}
