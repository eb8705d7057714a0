// Timing helpers shared by the benchmarks: medians over repeated samples, spread shown, machine load noted.
import { readFileSync } from 'node:fs';

export interface Sample { median: number; p10: number; p90: number; n: number }

export function summarize(xs: number[]): Sample {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.round(p * (s.length - 1))))];
  return { median: q(0.5), p10: q(0.1), p90: q(0.9), n: s.length };
}

/**
 * Time `fn` as `samples` samples; each sample repeats fn until it has run >= minMs, and records ms per call.
 * Warm-up calls run first (for warmupMs) and are not recorded.
 */
export function timeIt(fn: () => void, { samples = 15, minMs = 40, warmupMs = 300 } = {}): Sample {
  // Warm up by time, not count: V8 runs new wasm in its baseline tier (Liftoff) and swaps in optimised
  // code only after a function has run for a while.
  const w0 = performance.now();
  do fn(); while (performance.now() - w0 < warmupMs);
  const per: number[] = [];
  for (let s = 0; s < samples; s++) {
    let reps = 0;
    const t0 = performance.now();
    let t = t0;
    do { fn(); reps++; t = performance.now(); } while (t - t0 < minMs);
    per.push((t - t0) / reps);
  }
  return summarize(per);
}

/** 1-minute load average (Linux), or null elsewhere: a busy machine makes a run visibly noisy. */
export function loadAverage(): number | null {
  try { return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]); } catch { return null; }
}

/** Wait (bounded) until the 1-minute load average drops below `below`; returns the load seen. */
export async function waitForIdle(below = 1.0, maxMs = 20_000): Promise<number | null> {
  const t0 = Date.now();
  let l = loadAverage();
  while (l !== null && l >= below && Date.now() - t0 < maxMs) {
    await new Promise((r) => setTimeout(r, 1000));
    l = loadAverage();
  }
  return l;
}
