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
export function timeIt(fn: () => void, opts: { samples?: number; minMs?: number; warmupMs?: number } = {}): Sample {
  return summarize(timeSamples(fn, opts));
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

// --- additions for bench/compare.ts (raw samples, async timing, CPU taken by other processes) ----------

/** Like timeIt, but returns the raw ms-per-call samples (for interleaving two runtimes' samples). */
export function timeSamples(fn: () => void, { samples = 15, minMs = 40, warmupMs = 300 } = {}): number[] {
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
  return per;
}

/** timeSamples for an async fn (e.g. onnxruntime's session.run): each call is awaited before the next. */
export async function timeSamplesAsync(fn: () => Promise<unknown>, { samples = 15, minMs = 40, warmupMs = 300 } = {}): Promise<number[]> {
  const w0 = performance.now();
  do await fn(); while (performance.now() - w0 < warmupMs);
  const per: number[] = [];
  for (let s = 0; s < samples; s++) {
    let reps = 0;
    const t0 = performance.now();
    let t = t0;
    do { await fn(); reps++; t = performance.now(); } while (t - t0 < minMs);
    per.push((t - t0) / reps);
  }
  return per;
}

/** Busy CPU time of the whole machine and of this process (seconds), to tell how much others used. */
export interface CpuSnapshot { wall: number; machineBusy: number; self: number }

export function cpuSnapshot(): CpuSnapshot | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (USER_HZ = 100 on Linux)
    const busy = (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / 100;
    const u = process.cpuUsage();
    return { wall: performance.now() / 1000, machineBusy: busy, self: (u.user + u.system) / 1e6 };
  } catch {
    return null;
  }
}

/** Cores' worth of CPU other processes used between two snapshots (this machine's noise during a measurement). */
export function otherCores(a: CpuSnapshot | null, b: CpuSnapshot | null): number | null {
  if (!a || !b || b.wall <= a.wall) return null;
  return Math.max(0, (b.machineBusy - a.machineBusy - (b.self - a.self)) / (b.wall - a.wall));
}
