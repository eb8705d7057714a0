// BeamHypotheses (beam_search.py semantics). The ranking itself is the backends' topK (test/kernels/topk.test.ts,
// test/backends/webgpu_kernels.test.ts).

import { describe, expect, it } from 'vitest';
import { BeamHypotheses } from '../../bindings/generation/beam.js';

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
