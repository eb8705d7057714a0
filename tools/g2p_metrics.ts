// G2P scoring, the same definitions as tools/g2p/metrics.py (the PyTorch side), so both print the same numbers:
// a word is right if its prediction equals ANY of its pronunciations (WER = wrong words / words); PER takes, per
// word, the pronunciation closest to the prediction (the first on ties) and divides the summed edit distances by
// the summed lengths of those pronunciations.

export type Pron = readonly string[];
export interface ScoredWord { correct: boolean; edits: number; refLen: number }

/** Levenshtein distance between two phoneme sequences (unit costs). */
export function editDistance(a: Pron, b: Pron): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

export function scoreWord(pred: Pron, refs: readonly Pron[]): ScoredWord {
  if (refs.length === 0) throw new Error('scoreWord: a word needs at least one reference pronunciation');
  let best = { edits: Infinity, refLen: 0 };
  for (const r of refs) {
    const d = editDistance(pred, r);
    if (d < best.edits) best = { edits: d, refLen: r.length };
  }
  return { correct: best.edits === 0, ...best };   // distance 0 to some pronunciation = equal to it
}

/** ARPAbet without its stress digit (AH0/AH1/AH2 -> AH): the 39-phoneme scoring of the published CMUdict results. */
export const withoutStress = (p: string): string => p.replace(/[012]$/, '');

/** WER and PER over a split; `strip` maps every phoneme of predictions and references first (e.g. withoutStress). */
export function scoreSplit(preds: readonly Pron[], refs: readonly (readonly Pron[])[], strip: (p: string) => string = (p) => p): { WER: number; PER: number } {
  if (preds.length !== refs.length) throw new Error(`scoreSplit: ${preds.length} predictions for ${refs.length} words`);
  if (preds.length === 0) throw new Error('scoreSplit: no words to score');
  let wrong = 0, edits = 0, len = 0;
  preds.forEach((p, i) => {
    const s = scoreWord(p.map(strip), refs[i].map((r) => r.map(strip)));
    wrong += s.correct ? 0 : 1; edits += s.edits; len += s.refLen;
  });
  return { WER: wrong / preds.length, PER: edits / len };
}
