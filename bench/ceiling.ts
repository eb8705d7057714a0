// The machine's own ceiling for running the bench work on N cores: N workers, each with its own 1-thread model
// (no shared memory, no hand-off, nothing to wait for), run the same encode or generate at the same moment.
// N × (time of one run alone) / (time until all N finish) is how far this machine scales that work when nothing
// is shared but the hardware (caches, memory, and on a VM the host's scheduling): the reference for our split of
// one run over N threads, which adds hand-offs, waits and serial parts. Not a strict bound: each independent run
// reads its own copy of the weights (N times the memory traffic of one split run), so for memory-heavy work a split
// can come out a little above it. Used by threads.ts; Node only (worker_threads).
import { Worker } from 'node:worker_threads';
import { forcedOptions } from './ours_marian.js';
import { summarize, type Sample } from './stats.js';

export type CeilingWork = 'encode' | 'generate';

/** Worker side, as source text (run with `eval`): load the model, then time each requested run. */
const WORKER = `
(async () => {
  // import(), not require(): the worker inherits the parent's flags (eval'd code is an ES module under
  // --input-type=module, see bindings/threads/spawn.node.ts)
  const { parentPort, workerData } = await import('node:worker_threads');
  const { loadModel } = await import(workerData.index);
  const m = await loadModel(workerData.model, { threads: 1, tokenizer: false, ...workerData.quantize });
  const { ids, options } = workerData;
  const run = workerData.work === 'encode' ? () => m.encode([ids]) : () => m.generate([ids], options);
  for (let w = 0; w < 3; w++) await run();
  parentPort.on('message', async (reps) => {
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) await run();
    parentPort.postMessage(performance.now() - t0);
  });
  parentPort.postMessage(0);
})().catch(async (e) => { (await import('node:worker_threads')).parentPort.postMessage(String(e && e.stack || e)); });
`;

/**
 * N workers with their own 1-thread model each, loaded and warm. sample() times one worker alone, then all N
 * together (each doing `reps` runs), so the caller can interleave it with its own samples: ratio = N × alone /
 * together, per sample (both halves share the machine's state of that moment).
 */
export class CeilingRig {
  private constructor(private readonly workers: Worker[], private readonly reps: number) {}

  static async start(o: { model: string; ids: number[]; work: CeilingWork; steps: number; int8: boolean; threads: number; reps: number }): Promise<CeilingRig> {
    const workerData = {
      index: new URL('../bindings/index.js', import.meta.url).href, model: o.model, ids: o.ids, work: o.work,
      options: forcedOptions(o.steps, 4), quantize: o.int8 ? { quantize: 'int8' } : {},   // threads.ts's 4-beam generate
    };
    const rig = new CeilingRig(Array.from({ length: o.threads }, () => new Worker(WORKER, { eval: true, workerData })), o.reps);
    try {
      await Promise.all(rig.workers.map((w) => rig.next(w)));   // loaded and warm
    } catch (e) {
      await rig.close();
      throw e;
    }
    return rig;
  }

  private next(w: Worker): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const fail = (e: unknown) => { w.off('message', done); reject(e); };
      const done = (v: number | string) => {
        w.off('error', fail);
        if (typeof v === 'string') reject(new Error(`ceiling worker: ${v}`));
        else resolve(v);
      };
      w.once('message', done);
      w.once('error', fail);
    });
  }

  /** ms per run: [worker 0 alone, all workers together]; both timed here (same message latency). */
  async sample(): Promise<[number, number]> {
    let t0 = performance.now();
    const solo = this.next(this.workers[0]);
    this.workers[0].postMessage(this.reps);
    await solo;
    const alone = performance.now() - t0;
    t0 = performance.now();
    const all = this.workers.map((w) => this.next(w));
    for (const w of this.workers) w.postMessage(this.reps);
    await Promise.all(all);
    return [alone / this.reps, (performance.now() - t0) / this.reps];
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

export interface Ceiling { alone: Sample; together: Sample; ratio: Sample }

export function summarizeCeiling(threads: number, pairs: [number, number][]): Ceiling {
  return {
    alone: summarize(pairs.map((p) => p[0])), together: summarize(pairs.map((p) => p[1])),
    ratio: summarize(pairs.map(([a, t]) => (threads * a) / t)),
  };
}
