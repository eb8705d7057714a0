// The wasm backend's runtime: the kernels instance, its memory (Heap) and, with threads, the worker pool over it.
// Choosing single- or multi-threaded kernels for a model.
//
// threads: 'auto' (default) uses min(hardware threads, 4) for models of 8M+ parameters where wasm memory can
// be shared and workers exist (Node, cross-origin isolated pages), and one thread elsewhere (smaller models,
// Cloudflare Workers, ordinary pages, and Deno, whose workers would keep a script alive until model.dispose()),
// silently. A number asks for exactly that many; an impossible request is an UnsupportedError. Results do not
// depend on the thread count (see pool.ts).
import { InputError, UnsupportedError } from '../../errors.js';
import { isDeno, isNodeJs } from '../../platform.js';
import { Heap } from './heap.js';
import { checkSimdLevel, defaultKernelsUrl, loadKernels, loadThreadedKernels, resolveSimd, type KernelExports, type SimdLevel, type WasmSource } from './kernels.js';
import { canShareMemory, hardwareThreads, ThreadPool } from './threads/pool.js';
import { show } from '../../validate.js';

/** One instance of the kernels over one memory, and the threads sharing it. */
export interface WasmRuntime {
  readonly k: KernelExports;
  readonly heap: Heap;
  /** Worker threads sharing this memory (threaded kernels only), or null: single-threaded. */
  readonly pool: ThreadPool | null;
  /** Threads a parallel step uses (1 without a pool): per-thread scratch is sized by it. */
  readonly threads: number;
  /** Which kernel build runs: the shipped 'baseline' or 'relaxed' SIMD one, or a 'custom' wasm the caller passed. */
  readonly simd: 'baseline' | 'relaxed' | 'custom';
}

function runtime(k: KernelExports, pool: ThreadPool | null, simd: WasmRuntime['simd']): WasmRuntime {
  return { k, heap: new Heap(k), pool, threads: pool?.size ?? 1, simd };
}

export interface ThreadOptions {
  /** Threads for GEMM/GEMV and attention: 'auto' (default) or a count (1 = single-threaded). */
  threads?: number | 'auto';
  /** Where the kernels .wasm comes from (a WebAssembly.Module on Workers); default: the file shipped beside this module. */
  wasm?: WasmSource;
  /** The threaded build (kernels-mt.wasm); default: the file shipped beside this module. With a custom `wasm`
   *  and no `wasmThreads`, 'auto' stays single-threaded rather than fetch a file you did not name. */
  wasmThreads?: WasmSource;
  /** Which shipped kernel build: 'auto' (default: relaxed SIMD where the engine has it, else baseline),
   *  'relaxed' (fused multiply-add; an UnsupportedError where missing) or 'baseline'. A `wasm`/`wasmThreads`
   *  you pass is used as given. */
  simd?: SimdLevel;
}

export const MAX_AUTO_THREADS = 4;

/** Why threads cannot run here, or null when they can. */
export function threadsUnavailable(): string | null {
  if (!canShareMemory()) {
    return typeof SharedArrayBuffer === 'undefined'
      ? 'this runtime has no SharedArrayBuffer'
      : 'the page is not cross-origin isolated (serve it with COOP: same-origin and COEP: require-corp)';
  }
  if (!isNodeJs() && typeof Worker === 'undefined') return 'this runtime has no Worker (e.g. Cloudflare Workers)';
  return null;
}

/**
 * 'auto' keeps models under this many parameters on one thread: their matrix products are too small for a
 * worker's share to pay for the hand-off (the shipped G2P model has 1.9M), and no worker is started at all.
 */
export const AUTO_THREADS_MIN_PARAMS = 8_000_000;

async function threadCount(o: ThreadOptions, params: number): Promise<number> {
  const t = o.threads ?? 'auto';
  if (t === 'auto') {
    if (params < AUTO_THREADS_MIN_PARAMS) return 1;
    if (threadsUnavailable() || (o.wasm !== undefined && o.wasmThreads === undefined)) return 1;
    // Deno cannot unref a Web Worker: a script would never exit without model.dispose(), so threads are opt-in there
    if (isDeno()) return 1;
    return Math.max(1, Math.min(MAX_AUTO_THREADS, await hardwareThreads()));
  }
  if (!Number.isInteger(t) || t < 1 || t > 64) throw new InputError(`threads must be 'auto' or an integer 1..64, got ${show(t)}`);
  if (t > 1) {
    const why = threadsUnavailable();
    if (why) throw new UnsupportedError(`threads: ${t} needs shared wasm memory and workers, but ${why}; use threads: 'auto' or 1`);
  }
  return t;
}

const pools = typeof FinalizationRegistry === 'function' ? new FinalizationRegistry<ThreadPool>((p) => p.terminate()) : null;

/** A fresh runtime (its own memory) on the kernels the options ask for, for a model of `params` weights. */
export async function createRuntime(o: ThreadOptions = {}, params = Infinity): Promise<WasmRuntime> {
  // The build is resolved (and 'relaxed' checked against the engine) only where shipped kernels load: with your
  // own `wasm` / `wasmThreads` the option has nothing to choose. A value that is no option is refused either way.
  checkSimdLevel(o.simd);
  let resolved: 'relaxed' | 'baseline' | undefined;
  const simd = () => (resolved ??= resolveSimd(o.simd));
  const threads = await threadCount(o, params);
  const single = async () => o.wasm !== undefined
    ? runtime(await loadKernels(o.wasm), null, 'custom')
    : runtime(await loadKernels(defaultKernelsUrl(simd(), false)), null, simd());
  if (threads === 1) return single();
  const { k, module, memory } = await loadThreadedKernels(o.wasmThreads ?? defaultKernelsUrl(simd(), true));
  let pool: ThreadPool;
  try {
    pool = await ThreadPool.create(k, module, memory, threads);
  } catch (e) {
    if (o.threads === undefined || o.threads === 'auto') return single();   // auto: fall back
    throw e;
  }
  return runtime(k, pool, o.wasmThreads !== undefined ? 'custom' : simd());
}

/** Stop `rt`'s workers once `owner` is garbage-collected (a dropped model never leaks threads). */
export function releaseWithOwner(owner: object, rt: WasmRuntime): void {
  if (rt.pool) pools?.register(owner, rt.pool, rt);
}

/** Stop `rt`'s workers now. */
export function releaseNow(rt: WasmRuntime): void {
  if (!rt.pool) return;
  pools?.unregister(rt);
  rt.pool.terminate();
}
