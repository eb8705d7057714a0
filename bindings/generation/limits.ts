// Limits of the search itself (beam candidates), shared by option resolution and the beam search.
import { InputError } from '../errors.js';

/** Beam search keeps max(2, 1 + #eos) × numBeams candidates per step (HF's rule), chosen from numBeams × V. */
export function checkBeamCandidates(numBeams: number, eosTokenIds: readonly number[], vocabSize: number): void {
  const k = Math.max(2, 1 + eosTokenIds.length) * numBeams;
  if (k > numBeams * vocabSize) {
    throw new InputError(`beam search keeps max(2, 1 + ${eosTokenIds.length} eos ids) × ${numBeams} beams = ${k} candidates per step, ` +
      `more than the ${numBeams * vocabSize} that ${numBeams} beams × ${vocabSize} tokens offer: use fewer eos ids`);
  }
}
