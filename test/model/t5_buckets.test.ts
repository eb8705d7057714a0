// T5 relative-position buckets against transformers' own _relative_position_bucket outputs.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { t5Bucket } from '../../bindings/model/t5.js';

const ref = JSON.parse(readFileSync(new URL('../fixtures/t5_buckets.json', import.meta.url), 'utf8'));

describe('t5Bucket', () => {
  for (const t of ref.tables) {
    it(`bidirectional=${t.bidirectional} buckets=${t.num_buckets} max_distance=${t.max_distance}`, () => {
      const got = t.buckets.map((_: number, i: number) => t5Bucket(t.relative_position_from + i, t.bidirectional, t.num_buckets, t.max_distance));
      expect(got).toEqual(t.buckets);
    });
  }
});
