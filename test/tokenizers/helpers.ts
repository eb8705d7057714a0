// Fixture access for the tokenizer tests (test/fixtures/tokenizers/, made by tools/tokenizers/make_spm_fixtures.py).
import { readFileSync } from 'node:fs';

export const TOK_FIXTURES = new URL('../fixtures/tokenizers/', import.meta.url);

export function fixtureBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(name, TOK_FIXTURES)));
}

export function fixtureJson<T = any>(name: string): T {
  return JSON.parse(readFileSync(new URL(name, TOK_FIXTURES), 'utf8')) as T;
}

export function fixturePath(name: string): string {
  return new URL(name, TOK_FIXTURES).pathname;
}

export interface SpmCase {
  readonly text: string;
  readonly ids: number[];
  readonly pieces: string[];
  readonly decoded: string;
}

/** Compares every case and returns the mismatching ones (empty means 100% agreement), logging the rate. */
export function agreement<C>(label: string, cases: readonly C[], same: (c: C) => boolean): C[] {
  const bad = cases.filter((c) => !same(c));
  const rate = (100 * (cases.length - bad.length)) / cases.length;
  console.log(`${label}: ${cases.length - bad.length}/${cases.length} agree (${rate.toFixed(2)}%)`);
  return bad;
}
