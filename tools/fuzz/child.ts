// One fuzz worker: runs the cases [from, to) of one kind in this process and reports counts by outcome to the
// parent (run.ts). Before each case it writes the case's seed to a progress file with a synchronous write, so
// that when this process dies (a crash: a wasm trap that escapes, V8 out of memory) or stops answering (a hang:
// a synchronous loop, or a promise that never settles) the parent knows exactly which seed did it.
import { closeSync, openSync, writeSync } from 'node:fs';
import { Seq2SeqError } from '../../bindings/errors.js';
import { KINDS } from './kinds.js';
import { Rng } from './mutate.js';

export interface Report {
  /** outcome → count: 'answer', a typed error's class name, or 'raw <Name>' */
  counts: Record<string, number>;
  /** the first seeds of each raw error message */
  raw: { seed: number; outcome: string; message: string; stack: string }[];
  done: number;
  /** the first seed not yet reported */
  next: number;
  final: boolean;
}

/** What a case's result or error counts as. */
export function classify(e: unknown): string {
  if (e === undefined) return 'answer';
  if (e instanceof Seq2SeqError) return e.constructor.name;
  return `raw ${e instanceof Error ? e.constructor.name : typeof e}`;
}

/** Runs one case to its outcome (also used by `--from SEED --cases 1` to reproduce one). */
export async function runCase(kind: string, seed: number): Promise<{ outcome: string; error?: unknown }> {
  const k = KINDS.find((x) => x.name === kind);
  if (!k) throw new Error(`no fuzz kind ${kind}`);
  try {
    await k.run(new Rng(seed * 2654435761 + kind.length));
    return { outcome: 'answer' };
  } catch (e) {
    return { outcome: classify(e), error: e };
  }
}

async function main(): Promise<void> {
  const [kind, fromS, toS, progress, skipS] = process.argv.slice(2);
  const from = Number(fromS), to = Number(toS);
  const skip = new Set((skipS ?? '').split(',').filter(Boolean).map(Number)); // seeds that crashed or hung: counted already
  const fd = openSync(progress, 'w');
  const seedBuf = Buffer.alloc(16);
  let report: Report = { counts: {}, raw: [], done: 0, next: from, final: false };
  const seen = new Set<string>();
  const flush = (final: boolean) => { process.send!({ ...report, final }); report = { counts: {}, raw: [], done: 0, next: report.next, final }; };
  let last = Date.now();
  for (let seed = from; seed < to; seed++) {
    if (skip.has(seed)) continue;
    seedBuf.write(`${seed}`.padEnd(16), 'ascii');
    writeSync(fd, seedBuf, 0, 16, 0);
    const { outcome, error } = await runCase(kind, seed);
    report.counts[outcome] = (report.counts[outcome] ?? 0) + 1;
    report.done++;
    report.next = seed + 1;
    if (outcome.startsWith('raw ')) {
      const message = String((error as Error)?.message ?? error).slice(0, 300);
      const key = `${outcome} ${message.replace(/\d+/g, 'N')}`;
      if (!seen.has(key) && seen.size < 50) {
        seen.add(key);
        report.raw.push({ seed, outcome, message, stack: String((error as Error)?.stack ?? '').split('\n').slice(1, 6).join('\n') });
      }
    }
    if (Date.now() - last > 500) { flush(false); last = Date.now(); }
  }
  closeSync(fd);
  flush(true);
  process.disconnect();
}

if (process.send) void main();
