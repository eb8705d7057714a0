// A pool of threads that run kernel calls on one shared wasm memory.
//
// Every thread (this one and each worker) holds its own instance of the threaded kernels module
// (build/kernels-mt.wasm: the same kernels, compiled with an imported shared memory), all over the same
// WebAssembly.Memory. A parallel step is a list of independent kernel calls ("chunks": e.g. column ranges of
// one GEMM, or heads of an attention) writing disjoint outputs. Each chunk computes its outputs exactly as the
// single-threaded kernel would (same code, same order of operations), so results never depend on threads.
//
// Chunks are claimed from a shared counter by whichever thread is free, this one included: more chunks than
// threads, so a worker the OS has not scheduled (more busy threads than cores) delays the step by at most the
// chunk it holds, never a whole share. Hand-off is through a SharedArrayBuffer, not postMessage (~50 µs):
// workers spin a couple of ms for the next step, then sleep in Atomics.wait.
import { ThreadError, UnsupportedError } from '../../../errors.js';
import { isNodeJs } from '../../../platform.js';
import { KERNEL_FUNCTIONS, type KernelExports, type KernelName } from '../kernels.js';

/** Most chunks in one step. */
export const MAX_CHUNKS = 64;
const MAX_ARGS = 16;
const ENTRY = 4 + MAX_ARGS;   // table entry (f64): fn, argc, scratch arg index (-1: none), scratch stride, args
const ERR_BYTES = 192;
const WORKER_SPIN_MS = 2;     // workers: spin this long for the next step before sleeping
const MAIN_SPIN_MS = 1;       // this thread: spin this long for chunks still running elsewhere, then sleep
// Control words (Int32), on separate 64-byte lines by who writes them, so the workers' claims (NEXT), this
// thread's spin on DONE and the workers' spin on SEQ do not pull one cache line back and forth:
//   line 0: 0 SEQ step number (wakes workers), 1 QUIT, 2 TIMED (time every chunk into the stats);   line 1: 16 COUNT chunks, 17 NEXT = (step mod 2^20) << 10 | next;
//   line 2: 32 DONE chunks finished;   line 3: 48 FAILED, 49 error length;   bytes 256..: error text.
// runChunks (also the workers' code, as text) spells these indices out.
const SEQ = 0, QUIT = 1, TIMED = 2, COUNT = 16, NEXT = 17, DONE = 32, FAILED = 48, ERR_LEN = 49, ERR_AT = 256;

/**
 * Claims and runs chunks of step `gen` until none is left; shared by this thread and the workers (whose source
 * is this function's text, so it must not use anything outside its parameters). `thread` offsets each chunk's
 * scratch argument, so concurrent chunks never share scratch memory. While TIMED is set, each chunk's time (ms)
 * and count add to this thread's own two cells of `stats`. Returns the chunks this thread ran.
 */
function runChunks(ctl: Int32Array, table: Float64Array, fns: ((...a: number[]) => unknown)[], gen: number, thread: number, stats: Float64Array): number {
  const tag = gen & 0xfffff;
  const timed = Atomics.load(ctl, 2) !== 0;         // TIMED
  // COUNT once: a later step's count can only be seen after that step re-tagged NEXT (post writes NEXT first),
  // and then every claim below fails on the tag
  const count = Atomics.load(ctl, 16);
  let ran = 0;
  for (;;) {
    const x = Atomics.load(ctl, 17);                   // NEXT
    if (x >>> 10 !== tag) return ran;                 // a later step already: nothing of ours is left
    const i = x & 1023;
    if (i >= count) return ran;
    if (Atomics.compareExchange(ctl, 17, x, x + 1) !== x) continue;
    const e = i * 20, b = e + 4;                        // ENTRY; arguments from b (16 slots, unused ones 0)
    // this thread's scratch: the argument at slot sIdx moves by thread × stride (sIdx -1: none)
    const sIdx = table[e + 2], off = thread * table[e + 3];
    const t = table, arg = (j: number) => (j === sIdx ? t[b + j] + off : t[b + j]);
    const t0 = timed ? performance.now() : 0;
    try {
      // all 16 slots, no array per call (~1 µs a chunk with one; wasm ignores arguments past its own)
      fns[t[e]](arg(0), arg(1), arg(2), arg(3), arg(4), arg(5), arg(6), arg(7), arg(8), arg(9), arg(10), arg(11), arg(12), arg(13), arg(14), arg(15));
    } catch (err) {
      if (Atomics.compareExchange(ctl, 48, 0, 1) === 0) {    // FAILED; the text at byte 256, its length at 49
        const msg = new TextEncoder().encode(String((err as Error)?.message ?? err)).subarray(0, 192);
        new Uint8Array(ctl.buffer).set(msg, 256);
        ctl[49] = msg.length;
      }
    }
    ran++;
    if (timed) { stats[8 * thread] += performance.now() - t0; stats[8 * thread + 1]++; }
    if (Atomics.add(ctl, 32, 1) + 1 === count) Atomics.notify(ctl, 32);   // DONE
  }
}

/** The code each worker runs, as text: Web Workers run it as it is, Node's worker_threads with one more line. */
export const WORKER_SOURCE = `
'use strict';
const runChunks = ${runChunks.toString()};
function serve(d) {
  const ex = new WebAssembly.Instance(d.module, { env: { memory: d.memory } }).exports;
  const fns = d.names.map((n) => ex[n]);
  const ctl = new Int32Array(d.ctl), table = new Float64Array(d.table), stats = new Float64Array(d.stats);
  let seen = 0;
  for (;;) {
    let s = Atomics.load(ctl, ${SEQ});
    const until = performance.now() + ${WORKER_SPIN_MS};
    while (s === seen && performance.now() < until) {
      for (let i = 0; s === seen && i < 512; i++) s = Atomics.load(ctl, ${SEQ});
    }
    while (s === seen) { Atomics.wait(ctl, ${SEQ}, seen); s = Atomics.load(ctl, ${SEQ}); }
    seen = s;
    if (Atomics.load(ctl, ${QUIT})) return;
    runChunks(ctl, table, fns, s, d.thread, stats);
  }
}
// Web Workers (browsers, Deno); Node appends its own start line (spawn.node.ts)
if (typeof self !== 'undefined' && typeof self.postMessage === 'function') {
  self.onmessage = (e) => { self.onmessage = null; serve(e.data); };
}
`;

/** One kernel call: the function's name and its (numeric) arguments. */
export type KernelCall = readonly [KernelName, ...number[]];

/** A chunk whose argument `scratchArg` is a scratch pointer: thread t uses it + t × scratchStride. */
export interface Chunk { call: KernelCall; scratchArg?: number; scratchStride?: number }

interface WorkerHandle { terminate(): unknown; postMessage(m: unknown): void }

/** Per thread of the pool (this one first): time spent running chunks (ms) and how many, while timing was on. */
export interface ThreadStats { busyMs: number[]; chunks: number[] }

/** True where this JavaScript runtime can share wasm memory between threads. */
export function canShareMemory(): boolean {
  if (typeof SharedArrayBuffer === 'undefined' || typeof Atomics === 'undefined') return false;
  const g = globalThis as { crossOriginIsolated?: boolean };
  return g.crossOriginIsolated !== false;   // pages must be cross-origin isolated; Node and Deno have no such flag
}

/** Hardware threads this runtime reports (1 when it does not say). */
export async function hardwareThreads(): Promise<number> {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  if (nav?.hardwareConcurrency) return nav.hardwareConcurrency;
  try {
    const os = await import('node:os');
    return os.availableParallelism?.() ?? os.cpus().length;
  } catch {
    return 1;
  }
}

function blockingAllowed(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;   // a browser's main thread
  }
}

async function spawnWorker(): Promise<WorkerHandle> {
  // Node-only module (*.node.js): browser/edge bundles replace this import by a rejection
  if (isNodeJs()) return (await import('./spawn.node.js')).spawnNodeWorker(WORKER_SOURCE);
  if (typeof Worker === 'undefined' || typeof Blob === 'undefined' || typeof URL.createObjectURL !== 'function') {
    throw new UnsupportedError('threads need Web Workers (Worker, Blob URLs) or Node worker_threads in this runtime');
  }
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
  try {
    return new Worker(url, { type: 'module' });
  } finally {
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }
}

/**
 * A step's chunks as the pool's table entries, ready to post with one copy. A layer that runs the same step every
 * decoding step (same pointers) encodes it once and keeps it: building and encoding the chunks cost ~2-4 µs a
 * step, against ~1 µs for the hand-off itself.
 */
export class EncodedStep {
  constructor(readonly entries: Float64Array, readonly count: number) {}
}

/** Encodes chunks as table entries: kernel index, argc, scratch argument index (-1: none) and stride, 16 argument slots. */
export function encodeStep(chunks: readonly Chunk[]): EncodedStep {
  if (chunks.length > MAX_CHUNKS) throw new ThreadError(`${chunks.length} chunks in one step, at most ${MAX_CHUNKS}`);
  const entries = new Float64Array(chunks.length * ENTRY);
  for (let i = 0; i < chunks.length; i++) {
    const { call, scratchArg = -1, scratchStride = 0 } = chunks[i], argc = call.length - 1;
    if (argc > MAX_ARGS) throw new ThreadError(`${call[0]}: ${argc} arguments, at most ${MAX_ARGS}`);
    const kernel = KERNEL_INDEX.get(call[0]);
    if (kernel === undefined) throw new ThreadError(`${call[0]} is not a kernel the pool can run`);
    const e = i * ENTRY;
    entries[e] = kernel;
    entries[e + 1] = argc;
    entries[e + 2] = scratchArg;
    entries[e + 3] = scratchStride;
    for (let j = 0; j < argc; j++) entries[e + 4 + j] = call[j + 1] as number;   // unused slots stay 0
  }
  return new EncodedStep(entries, chunks.length);
}

export class ThreadPool {
  /** Threads that take part in a parallel step, this one included. */
  readonly size: number;
  private readonly ctl: Int32Array;
  private readonly table: Float64Array;
  private readonly stats: Float64Array;
  private readonly fns: ((...a: number[]) => unknown)[];
  private readonly canBlock = blockingAllowed();
  private gen = 0;
  private closed = false;

  private constructor(k: KernelExports, private readonly workers: WorkerHandle[], ctl: SharedArrayBuffer, table: SharedArrayBuffer, stats: SharedArrayBuffer) {
    this.size = workers.length + 1;
    this.ctl = new Int32Array(ctl);
    this.table = new Float64Array(table);
    this.stats = new Float64Array(stats);
    this.fns = KERNEL_FUNCTIONS.map((n) => (k[n] as (...a: number[]) => unknown).bind(k));
  }

  /** `threads - 1` workers, each instantiating `module` over `memory` (the shared memory `k` runs on). */
  static async create(k: KernelExports, module: WebAssembly.Module, memory: WebAssembly.Memory, threads: number): Promise<ThreadPool> {
    const ctl = new SharedArrayBuffer(ERR_AT + ERR_BYTES);
    const table = new SharedArrayBuffer(MAX_CHUNKS * ENTRY * 8);
    // two f64 cells per thread (busy ms, chunks), each thread's pair on a 64-byte line of its own
    const stats = new SharedArrayBuffer(threads * 64);
    const workers: WorkerHandle[] = [];
    try {
      for (let t = 1; t < threads; t++) {
        const worker = await spawnWorker();
        workers.push(worker);
        worker.postMessage({ module, memory, ctl, table, stats, thread: t, names: KERNEL_FUNCTIONS });
      }
    } catch (e) {
      for (const w of workers) w.terminate();
      throw e;
    }
    const pool = new ThreadPool(k, workers, ctl, table, stats);
    // Every worker up: a step of one chunk per worker that this thread does not take, waited for without blocking.
    pool.post(encodeStep(workers.map(() => ({ call: ['heap_base'] as const }))));
    const started = Date.now();
    while (Atomics.load(pool.ctl, DONE) < workers.length) {
      if (Date.now() - started > 30_000) { pool.terminate(); throw new ThreadError('the worker threads did not start within 30 s'); }
      await new Promise((r) => setTimeout(r, 1));
    }
    pool.check();
    return pool;
  }

  /** Runs every chunk (in any order, on any thread) and returns when all are done; outputs must not overlap. */
  run(chunks: readonly Chunk[] | EncodedStep): void {
    if (this.closed) throw new ThreadError('the thread pool was terminated (model disposed)');
    const step = chunks instanceof EncodedStep ? chunks : encodeStep(chunks);
    if (step.count === 0) return;
    this.post(step);
    runChunks(this.ctl, this.table, this.fns, this.gen, 0, this.stats);
    this.waitAll(step.count);
    this.check();
  }

  private post(step: EncodedStep): void {
    const { ctl } = this;
    const gen = (this.gen + 1) & 0xfffff || 1;   // never 0: workers start having "seen" step 0
    // Close the finished step before the table changes. A worker still in runChunks for it may hold the old NEXT
    // (index = old count) and read the new COUNT: its claim of "chunk old-count" then succeeded, ran an entry of
    // the new table early (and again later: twice) and counted into DONE past the new count, so this thread waited
    // forever (seen: a bench hung; 1 of 3 runs of 200k steps alternating 1..7 and 64 chunks). Now that claim's
    // compare-exchange fails: NEXT holds the new tag with an index no step reaches.
    Atomics.store(ctl, NEXT, (gen << 10) | 1023);
    this.table.set(step.entries);
    this.gen = gen;
    Atomics.store(ctl, COUNT, step.count);
    Atomics.store(ctl, DONE, 0);
    Atomics.store(ctl, NEXT, this.gen << 10);    // opens the chunks (published after the table and count)
    Atomics.store(ctl, SEQ, this.gen);
    Atomics.notify(ctl, SEQ);
  }

  // Spin first (a running chunk ends within µs to ms, and a sleeping thread is woken ~0.5 ms late on a busy
  // VM), then sleep where blocking is allowed (never on a browser's main thread).
  private waitAll(n: number): void {
    const { ctl } = this;
    let until = 0;
    let spins = 0;
    for (let d = Atomics.load(ctl, DONE); d !== n; d = Atomics.load(ctl, DONE)) {
      if (!this.canBlock || (++spins & 255) !== 0) continue;   // the clock every 256 spins: it cost as much as the loads
      const now = performance.now();
      if (until === 0) until = now + MAIN_SPIN_MS;
      else if (now > until) Atomics.wait(ctl, DONE, d, 50);
    }
  }

  private check(): void {
    const { ctl } = this;
    if (ctl[FAILED]) {
      const text = new TextDecoder().decode(new Uint8Array(ctl.buffer as ArrayBuffer).slice(ERR_AT, ERR_AT + ctl[ERR_LEN]));
      ctl[FAILED] = 0;
      throw new ThreadError(`a kernel failed on a thread of the pool: ${text}`);
    }
  }

  /**
   * Diagnostics: while on, every thread times each chunk it runs (two clock reads a chunk); takeStats() returns
   * the sums since the last take and clears them. Summed busy time against a 1-thread run of the same work shows
   * how fast the chunks themselves ran, apart from hand-offs and waits.
   */
  setTiming(on: boolean): void {
    Atomics.store(this.ctl, TIMED, on ? 1 : 0);
  }

  takeStats(): ThreadStats {
    const out: ThreadStats = { busyMs: [], chunks: [] };
    for (let t = 0; t < this.size; t++) {
      out.busyMs.push(this.stats[8 * t]);
      out.chunks.push(this.stats[8 * t + 1]);
      this.stats[8 * t] = 0;
      this.stats[8 * t + 1] = 0;
    }
    return out;
  }

  /** Stops the workers; later run() calls throw. */
  terminate(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ctl, QUIT, 1);
    Atomics.store(this.ctl, SEQ, -1);
    Atomics.notify(this.ctl, SEQ);
    for (const w of this.workers) w.terminate();
  }
}

const KERNEL_INDEX = new Map<string, number>(KERNEL_FUNCTIONS.map((n, i) => [n, i]));
