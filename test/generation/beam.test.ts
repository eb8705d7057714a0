// Building blocks of beam search: partial top-k, log_softmax, BeamHypotheses (beam_search.py semantics).

import { describe, expect, it } from 'vitest';
import { BeamHypotheses, TopK, logSoftmaxInto, sumExpShifted } from '../../bindings/generation/beam.js';

function topkOf(values: number[], k: number): { s: number[]; i: number[] } {
  const t = new TopK(k);
  values.forEach((v, i) => t.offer(v, i));
  const s = new Float64Array(k);
  const idx = new Int32Array(k);
  const n = t.sorted(s, idx);
  return { s: Array.from(s.subarray(0, n)), i: Array.from(idx.subarray(0, n)) };
}

describe('TopK', () => {
  it('matches a full stable sort (score desc, index asc) on random data with many ties', () => {
    let seed = 12345;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + Math.floor(rand() * 300);
      const k = 1 + Math.floor(rand() * 12);
      const values = Array.from({ length: n }, () => {
        const r = rand();
        return r < 0.1 ? -Infinity : Math.floor(rand() * 20) / 4; // coarse values → ties
      });
      const want = values
        .map((v, i) => ({ v, i }))
        .sort((a, b) => (b.v === a.v ? a.i - b.i : b.v - a.v))
        .slice(0, k);
      const got = topkOf(values, k);
      expect(got.i).toEqual(want.map((x) => x.i));
      expect(got.s).toEqual(want.map((x) => x.v));
    }
  });

  it('exposes a threshold (-inf until full) and can be reused after reset', () => {
    const t = new TopK(2);
    expect(t.threshold).toBe(-Infinity);
    t.offer(1, 0);
    t.offer(3, 1);
    t.offer(2, 2);
    expect(t.threshold).toBe(2);
    t.reset();
    t.offer(-5, 7);
    const s = new Float64Array(2);
    const i = new Int32Array(2);
    expect(t.sorted(s, i)).toBe(1);
    expect([s[0], i[0]]).toEqual([-5, 7]);
  });
});

describe('sumExpShifted (table-driven exp)', () => {
  it('agrees with Math.exp to ~1e-15 relative over the whole range', () => {
    let worst = 0;
    for (let x = -49.99; x <= 0; x += 0.0137) {
      const v = Math.fround(x);
      const got = sumExpShifted(Float32Array.of(v), 0);
      worst = Math.max(worst, Math.abs(got / Math.exp(v) - 1));
    }
    expect(worst).toBeLessThan(1e-14);
  });

  it('sums a row like Math.exp, ignoring -inf and terms below e^-50', () => {
    const row = Float32Array.from({ length: 5000 }, (_, i) => (i % 7 === 0 ? -Infinity : Math.sin(i) * 40));
    let max = -Infinity;
    row.forEach((v) => (max = Math.max(max, v)));
    let want = 0;
    row.forEach((v) => (want += Math.exp(v - max)));
    expect(Math.abs(sumExpShifted(row, max) / want - 1)).toBeLessThan(1e-14);
  });
});

describe('logSoftmaxInto', () => {
  it('is stable for large logits and sums to 1 in probability', () => {
    const x = Float32Array.from([1000, 1001, 999, -Infinity]);
    const y = new Float32Array(4);
    logSoftmaxInto(x, y);
    const z = Math.log(Math.exp(-1) + 1 + Math.exp(-2));
    expect(y[1]).toBeCloseTo(-z, 6);
    expect(y[0]).toBeCloseTo(-1 - z, 6);
    expect(y[3]).toBe(-Infinity);
    expect(Array.from(y).reduce((a, v) => a + Math.exp(v), 0)).toBeCloseTo(1, 6);
  });

  it('may work in place', () => {
    const x = Float32Array.from([0, 0]);
    logSoftmaxInto(x, x);
    expect(x[0]).toBeCloseTo(-Math.LN2, 7);
  });
});

describe('BeamHypotheses', () => {
  const toks = (...t: number[]) => Int32Array.from(t);

  it('scores sum_logprobs / generated_len ** length_penalty and keeps the best num_beams', () => {
    const h = new BeamHypotheses(2, 2, false, 10);
    h.add(toks(0, 5), -4, 2); // -1
    h.add(toks(0, 6), -9, 3); // -1
    h.add(toks(0, 7), -2, 2); // -0.5: replaces the earliest of the two -1s
    expect(h.beams.map((b) => [b.score, b.tokens[1]])).toEqual([
      [-1, 6],
      [-0.5, 7],
    ]);
    h.add(toks(0, 8), -16, 4); // -1, not better than worst -1: rejected
    expect(h.length).toBe(2);
  });

  it('best(): descending, and among equal scores the one added last first (HF pops a sorted list)', () => {
    const h = new BeamHypotheses(3, 1, true, 10);
    h.add(toks(0, 1), -2, 2);
    h.add(toks(0, 2), -3, 3);
    h.add(toks(0, 3), -0.5, 1);
    expect(h.best(3).map((b) => b.tokens[1])).toEqual([3, 2, 1]);
  });

  it('isDone: true/false/"never" as in BeamHypotheses.is_done', () => {
    const make = (es: boolean | 'never', lp: number) => {
      const h = new BeamHypotheses(2, lp, es, 11);
      h.add(toks(0, 1), -2, 2);
      h.add(toks(0, 2), -3, 3);
      return h; // worst score: -1 (lp 1) / -0.5 (lp 2, -2/4)
    };
    expect(new BeamHypotheses(2, 1, true, 11).isDone(0, 1)).toBe(false); // not enough hypotheses
    expect(make(true, 1).isDone(0, 5)).toBe(true);
    // false: best candidate -4 over current length 4 → -1; worst -1 >= -1 → done; at length 3: -1.33 → done
    expect(make(false, 1).isDone(-4, 4)).toBe(true);
    expect(make(false, 1).isDone(-3.9, 4)).toBe(false);
    // never with lp > 0: bound uses max_length - 1 = 10: -8/10 = -0.8 > -1 → not done
    expect(make('never', 1).isDone(-8, 4)).toBe(false);
    expect(make('never', 1).isDone(-10, 4)).toBe(true);
    // never with lp <= 0 falls back to the current length
    const neg = new BeamHypotheses(1, -1, 'never', 11);
    neg.add(toks(0, 1), -2, 2); // -2 * 2 = -4
    expect(neg.isDone(-1, 4)).toBe(true); // -1 * 4 = -4
    expect(neg.isDone(-0.9, 4)).toBe(false);
  });
});
