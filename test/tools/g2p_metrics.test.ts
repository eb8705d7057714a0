// The G2P scoring the goal is read on (tools/g2p_metrics.ts): every expected value follows from the definitions
// (any-pronunciation WER, closest-pronunciation PER summed over words, stress digits stripped or not).
import { describe, expect, it } from 'vitest';
import { editDistance, scoreSplit, scoreWord, withoutStress } from '../../tools/g2p_metrics.js';

const p = (s: string) => (s ? s.split(' ') : []);

describe('editDistance', () => {
  it('counts substitutions, insertions and deletions at unit cost', () => {
    expect(editDistance(p('K AE1 T'), p('K AE1 T'))).toBe(0);
    expect(editDistance(p('K AE1 T'), p('K AH0 T'))).toBe(1);
    expect(editDistance(p('A B C D'), p('A C D'))).toBe(1);
    expect(editDistance(p('A C D'), p('A B C D'))).toBe(1);
    expect(editDistance(p(''), p('K AE1 T'))).toBe(3);
    expect(editDistance([...'kitten'], [...'sitting'])).toBe(3);
    expect(editDistance(p('A B'), p('B A'))).toBe(2); // no transpositions
  });
});

describe('scoreWord', () => {
  const refs = [p('R IY1 D'), p('R EH1 D')];
  it('is right when the prediction equals any pronunciation', () => {
    expect(scoreWord(p('R EH1 D'), refs)).toEqual({ correct: true, edits: 0, refLen: 3 });
    expect(scoreWord(p('R IY1 D'), refs)).toEqual({ correct: true, edits: 0, refLen: 3 });
  });
  it('is wrong for a prefix or an extension; PER takes the closest pronunciation, the first on ties', () => {
    expect(scoreWord(p('R EH1'), refs)).toEqual({ correct: false, edits: 1, refLen: 3 });
    expect(scoreWord(p('R EH1 D Z'), refs)).toEqual({ correct: false, edits: 1, refLen: 3 });
    expect(scoreWord(p('R AY1 D'), [p('R IY1 D'), p('R AY1 D IY0')])).toEqual({ correct: false, edits: 1, refLen: 3 });
    expect(scoreWord(p('R AY1 D IY0 Z'), [p('R IY1 D'), p('R AY1 D IY0')])).toEqual({ correct: false, edits: 1, refLen: 4 });
  });
  it('refuses a word with no pronunciation', () => {
    expect(() => scoreWord(p('A'), [])).toThrow(/at least one reference/);
  });
});

describe('withoutStress / scoreSplit', () => {
  it('strips only the stress digit', () => {
    expect(['AH0', 'AH1', 'ER2', 'K', 'NG', 'ZH'].map(withoutStress)).toEqual(['AH', 'AH', 'ER', 'K', 'NG', 'ZH']);
  });
  it('a stress-only error counts with stress digits and not without', () => {
    const preds = [p('AH1 B AW1 T'), p('K AE1 T')];
    const refs = [[p('AH0 B AW1 T')], [p('K AE1 T')]];
    expect(scoreSplit(preds, refs)).toEqual({ WER: 0.5, PER: 1 / 7 });
    expect(scoreSplit(preds, refs, withoutStress)).toEqual({ WER: 0, PER: 0 });
  });
  it('PER is summed edits over summed reference lengths, not a mean of per-word rates', () => {
    const preds = [p('B IY1'), p('IH2 N T ER0 N AE1 SH AH0 N AH0 L')];
    const refs = [[p('B AY1')], [p('IH2 N T ER0 N AE1 SH AH0 N AH0 L')]];
    expect(scoreSplit(preds, refs).PER).toBeCloseTo(1 / 13, 12); // a mean of rates would be (1/2 + 0) / 2
  });
  it('refuses mismatched or empty input', () => {
    expect(() => scoreSplit([p('A')], [])).toThrow(/1 predictions for 0 words/);
    expect(() => scoreSplit([], [])).toThrow(/no words/);
  });
});
