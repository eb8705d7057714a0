// Greedy search as transformers 4.40.2 `_greedy_search` (generation/utils.py): processors on the raw
// logits, argmax, rows that already produced eos get pad, stop when every row is finished or the decoder
// length reaches maxLength. Written as an async generator so a caller can print tokens as they come;
// greedySearch() just drains it.

import { AbortedError, InputError, UnsupportedError } from '../errors.js';
import { applyProcessors, buildProcessors } from './processors.js';
import type {
  DecoderSession,
  GenerateOutput,
  GenerationEvent,
  ResolvedGenerateConfig,
} from './types.js';

/** Index of the largest value; the first one on ties, like torch.argmax. NaN never wins here (torch would
 *  pick it), which only matters for a broken model. An all -inf row gives 0, like torch. */
export function argmax(row: Float32Array): number {
  let best = 0;
  let bestValue = row[0];
  for (let i = 1; i < row.length; i++) {
    const v = row[i];
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

/** Throws AbortedError if `signal` fired. */
export function throwIfAborted(signal: AbortSignal | null): void {
  if (signal?.aborted) throw new AbortedError('generation was aborted', { cause: signal.reason });
}

/** Lets timers and I/O run (so an abort() from a timer or a signal handler can land between steps).
 *  setImmediate where it exists (Node), else a MessageChannel (browsers, workers; setTimeout would be
 *  clamped to 4 ms), else setTimeout. */
export function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (cb: () => void) => unknown };
  if (typeof g.setImmediate === 'function') {
    const setImmediateFn = g.setImmediate;
    return new Promise((resolve) => void setImmediateFn(resolve));
  }
  if (typeof MessageChannel === 'function') {
    return new Promise((resolve) => {
      const ch = new MessageChannel();
      ch.port1.onmessage = () => {
        ch.port1.close();
        resolve();
      };
      ch.port2.postMessage(null);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Checks a step's logits have one row per decoder row. */
export function checkLogits(logits: Float32Array, rows: number, vocabSize: number): void {
  if (logits.length < rows * vocabSize) {
    throw new UnsupportedError(
      `DecoderSession.step returned ${logits.length} logits, expected rows × vocabSize = ${rows} × ${vocabSize}`,
    );
  }
}

/**
 * Greedy search over `batchSize` rows of `session` (made for numBeams = 1). Yields one `tokens` event per
 * decoder step and finally a `done` event; the generator's return value is the same output. With a signal
 * it checks for abort and yields to the event loop before every step.
 */
export async function* greedyStream(
  session: DecoderSession,
  batchSize: number,
  cfg: ResolvedGenerateConfig,
): AsyncGenerator<GenerationEvent, GenerateOutput, undefined> {
  const V = session.vocabSize;
  const maxLen = cfg.maxLength;
  const processors = buildProcessors(cfg, V);
  const eos = new Set(cfg.eosTokenIds);
  const signal = cfg.signal;

  const history = new Int32Array(batchSize * maxLen); // row b: tokens [b*maxLen, b*maxLen + curLen)
  for (let b = 0; b < batchSize; b++) history[b * maxLen] = cfg.decoderStartTokenId;
  const last = new Int32Array(batchSize).fill(cfg.decoderStartTokenId); // every row's latest token (pad once finished)
  const finished = new Array<boolean>(batchSize).fill(false);
  // Rows still generating, in order: the session holds only these (a finished row leaves it, where transformers
  // keeps computing it and replaces its choice by pad, which cannot change any other row).
  let live = Int32Array.from({ length: batchSize }, (_, b) => b);
  const scratch = new Float32Array(V); // processors must not write into the session's (wasm) buffer
  let curLen = 1;

  for (;;) {
    if (signal) {
      throwIfAborted(signal);
      if (!session.yieldsToEventLoop) {
        await yieldToEventLoop(); // an abort event can only arrive while the loop turns
        throwIfAborted(signal);
      }
    }
    const input = Int32Array.from(live, (b) => last[b]);
    // Without processors the session picks the ids where the logits are; otherwise the logits come back
    let logits: Float32Array | null = null;
    let chosen: Int32Array | null = null;
    if (processors.length === 0 && session.stepArgmax) {
      const out = session.stepArgmax(input);
      chosen = out instanceof Int32Array ? out : await out; // no await (microtask) on the wasm path
    } else {
      const out = session.step(input);
      logits = out instanceof Float32Array ? out : await out;
      checkLogits(logits, live.length, V);
    }
    const emitted = new Array<boolean>(batchSize).fill(false);
    last.fill(cfg.padTokenId);
    live.forEach((b, i) => {
      let token: number;
      if (chosen) {
        token = chosen[i];
      } else {
        const row = logits!.subarray(i * V, (i + 1) * V);
        if (processors.length > 0) {
          scratch.set(row);
          applyProcessors(processors, history.subarray(b * maxLen, b * maxLen + curLen), scratch);
          token = argmax(scratch);
          if (scratch[token] === -Infinity) {
            throw new InputError(`at step ${curLen} every token of row ${b} has score -Infinity: the logits processors ` +
              '(badWordsIds, minLength, forced ids, noRepeatNgramSize, repetitionPenalty) ban every token, so any output would be arbitrary');
          }
        } else {
          token = argmax(row);
        }
      }
      emitted[b] = true;
      if (eos.has(token)) finished[b] = true;
      last[b] = token;
    });
    for (let b = 0; b < batchSize; b++) history[b * maxLen + curLen] = last[b];
    curLen++;
    yield { type: 'tokens', step: curLen - 1, tokens: Array.from(last), emitted, finished: [...finished] };
    if (curLen >= maxLen || finished.every(Boolean)) break;
    if (live.some((b) => finished[b])) {
      const keep = Int32Array.from(live.keys()).filter((i) => !finished[live[i]]);
      session.reorder(keep, keep);
      live = Int32Array.from(keep, (i) => live[i]);
    }
  }

  // Every row has curLen tokens (finished rows were filled with pad), which is HF's right-padding.
  const sequences: number[][] = [];
  for (let b = 0; b < batchSize; b++) sequences.push(Array.from(history.subarray(b * maxLen, b * maxLen + curLen)));
  const output: GenerateOutput = { sequences, scores: null };
  yield { type: 'done', output };
  return output;
}

/** Greedy search to completion; see greedyStream. */
export async function greedySearch(
  session: DecoderSession,
  batchSize: number,
  cfg: ResolvedGenerateConfig,
): Promise<GenerateOutput> {
  const it = greedyStream(session, batchSize, cfg);
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
  }
}
