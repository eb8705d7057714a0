// Reading the transformers-made fixtures in test/fixtures/ (their provenance: each golden.json's made_with / notes).
import { readFileSync } from 'node:fs';

export const FIXTURES = new URL('../fixtures/', import.meta.url);

export function fixtureDir(name: string): string {
  return new URL(`${name}/`, FIXTURES).pathname;
}

/** golden.json is written by Python's json module: -Infinity is not JSON, so map it before parsing. */
export function golden(name: string): any {
  const text = readFileSync(new URL(`${name}/golden.json`, FIXTURES), 'utf8');
  return JSON.parse(text.replace(/-Infinity/g, '-1e999').replace(/\bNaN\b/g, 'null'));
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
