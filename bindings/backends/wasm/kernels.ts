// Loading the kernels .wasm in every runtime we promise.
//
// The module has no imports and exchanges only numbers (byte offsets and sizes), so no loader library is
// needed: @assemblyscript/loader is deprecated and exists for managed objects (strings, arrays) we never
// pass, and asc's generated `--bindings esm` glue uses top-level await with fs/fetch, which Workers reject.
//
// Sources, by runtime:
//   WebAssembly.Module      Cloudflare Workers (import the .wasm; compiling bytes at run time is refused)
//   URL / http(s) string    browsers, Deno: streaming compile
//   Response                anything that already fetched it
//   bytes                   anywhere that allows compiling bytes
//   file path / file: URL   Node, Deno
//   (nothing)               the kernels.wasm shipped beside this file
import { DEFAULT_RELAXED_WASM_URL, DEFAULT_THREADED_RELAXED_WASM_URL, DEFAULT_THREADED_WASM_URL, DEFAULT_WASM_URL } from '../../assets.js';
import { InputError, UnsupportedError, WasmLoadError } from '../../errors.js';
import { hasNodeApis } from '../../platform.js';
import { show } from '../../validate.js';

// Every kernel the library calls, with its signature: the one list (the wasm is checked against it at load, and
// the thread pool numbers kernels by their place in it). Pointers are byte offsets into the module's memory.
type P = number;
const fn = <F extends (...a: number[]) => number | void>(): F => null as unknown as F;
const KERNELS = {
  heap_base: fn<() => P>(),
  copy_bytes: fn<(dst: P, src: P, n: number) => void>(),
  // gemm.ts: f32 weights packed once into 8-column panels
  packed_size_f32: fn<(n: number, k: number) => number>(),
  pack_f32_n8: fn<(w: P, bias: P, n: number, k: number, dst: P) => void>(),
  linear_f32: fn<(a: P, lda: number, packed: P, c: P, ldc: number, m: number, k: number, n: number, accumulate: number) => void>(),
  // gemm_i8.ts: int8 per output channel
  packed_size_i8: fn<(n: number, k: number) => number>(),
  quantize_pack_i8_n8: fn<(w: P, bias: P, n: number, k: number, dst: P) => void>(),
  quantize_rows_i16: fn<(x: P, lda: number, m: number, k: number, xq: P, xs: P) => void>(),
  linear_i8: fn<(a: P, lda: number, packed: P, c: P, ldc: number, m: number, k: number, n: number, accumulate: number, scratch: P) => void>(),
  linear_i8_rows: fn<(xq: P, xs: P, m: number, packed: P, y: P, ldy: number, k: number, n: number, accumulate: number, partial: P) => void>(),
  embed_packed_i8: fn<(packed: P, ids: P, n: number, k: number, scale: number, out: P) => void>(),
  // topk.ts
  topk_rows_f32: fn<(x: P, rows: number, n: number, addend: P, k: number, outScore: P, outIndex: P) => number>(),
  // finite.ts
  find_broken_row_f32: fn<(x: P, rows: number, n: number) => number>(),
  first_nonfinite_f32: fn<(x: P, n: number) => number>(),
  // norm.ts
  layer_norm_f32: fn<(x: P, gamma: P, beta: P, y: P, rows: number, n: number, eps: number) => void>(),
  rms_norm_f32: fn<(x: P, weight: P, y: P, rows: number, n: number, eps: number) => void>(),
  // softmax.ts
  log_softmax_f32: fn<(x: P, rows: number, n: number) => void>(),
  // activations.ts (kind: ACTIVATION_KIND in ../activations.ts)
  activation_f32: fn<(x: P, out: P, n: number, kind: number) => void>(),
  gated_activation_f32: fn<(a: P, b: P, out: P, n: number, kind: number) => void>(),
  scale_f32: fn<(x: P, s: number, out: P, n: number) => void>(),
  // embed.ts
  embed_f32: fn<(table: P, ids: P, n: number, dim: number, scale: number, out: P) => void>(),
  embed_packed_f32: fn<(packed: P, ids: P, n: number, k: number, scale: number, out: P) => void>(),
  gather_add_f32: fn<(table: P, ids: P, n: number, dim: number, out: P) => void>(),
  // attention.ts
  attention_f32: fn<(q: P, qStride: number, k: P, v: P, kvStride: number, out: P, outStride: number, heads: number, hd: number,
    tq: number, tk: number, scale: number, keyMask: P, causalOffset: number, bias: P, scratch: P) => void>(),
};

export type KernelName = keyof typeof KERNELS;
export type KernelExports = { readonly memory: WebAssembly.Memory } & { readonly [K in KernelName]: (typeof KERNELS)[K] };
/** The kernels' names in the order of KERNELS. */
export const KERNEL_FUNCTIONS = Object.keys(KERNELS) as KernelName[];

export type WasmSource = WebAssembly.Module | URL | string | ArrayBuffer | ArrayBufferView | Response | Promise<Response>;

// A 1-function module using one v128 instruction: validates only where WebAssembly SIMD exists.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

export function hasWasmSimd(): boolean {
  return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
}

// The same with one f32x4.relaxed_madd: validates only where relaxed SIMD is on (Node 20 needs
// --experimental-wasm-relaxed-simd; Safari and Firefox do not have it by default).
const RELAXED_SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 61, 1, 59, 0,
  253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 253, 133, 2, 11,
]);

export function hasRelaxedSimd(): boolean {
  return hasWasmSimd() && WebAssembly.validate(RELAXED_SIMD_PROBE);
}

/** Which kernel build: 'relaxed' (fused multiply-add; results differ from baseline in the last bits),
 *  'baseline' (SIMD128 only, every SIMD engine), or 'auto' (relaxed where the engine has it). */
export type SimdLevel = 'auto' | 'relaxed' | 'baseline';

/** The `simd` option itself (an InputError unless 'auto', 'relaxed' or 'baseline'), before any engine check. */
export function checkSimdLevel(simd: SimdLevel = 'auto'): SimdLevel {
  if (simd !== 'auto' && simd !== 'relaxed' && simd !== 'baseline') throw new InputError(`simd must be 'auto', 'relaxed' or 'baseline', got ${show(simd)}`);
  return simd;
}

/** Resolve a `simd` option to the build this engine will run; 'relaxed' where it is missing is an error. */
export function resolveSimd(simd: SimdLevel = 'auto'): 'relaxed' | 'baseline' {
  if (checkSimdLevel(simd) === 'baseline') return 'baseline';
  if (simd === 'auto') return hasRelaxedSimd() ? 'relaxed' : 'baseline';
  if (!hasRelaxedSimd()) {
    throw new UnsupportedError("simd: 'relaxed' but this engine has no WebAssembly relaxed SIMD (Chrome/Edge 114+, Node 22+, Deno; Node 20 with --experimental-wasm-relaxed-simd); use simd: 'auto' or 'baseline'");
  }
  return 'relaxed';
}

/** The shipped kernels for a build and thread mode. */
export function defaultKernelsUrl(simd: 'relaxed' | 'baseline', threaded: boolean): URL {
  if (simd === 'relaxed') return threaded ? DEFAULT_THREADED_RELAXED_WASM_URL : DEFAULT_RELAXED_WASM_URL;
  return threaded ? DEFAULT_THREADED_WASM_URL : DEFAULT_WASM_URL;
}

function isUrlString(s: string): boolean {
  return /^(https?|file|blob|data):/i.test(s);
}

async function readFileBytes(path: string | URL): Promise<Uint8Array> {
  const fs = await import('node:fs/promises');
  return fs.readFile(path);
}

// (WebAssembly.Module is structurally `{}`, so it cannot be Exclude<>d from the union: name the rest.)
type FetchableSource = URL | string | ArrayBuffer | ArrayBufferView | Response | Promise<Response>;

async function compileFrom(source: FetchableSource): Promise<WebAssembly.Module> {
  if (source instanceof URL || (typeof source === 'string' && isUrlString(source))) {
    const url = source instanceof URL ? source : new URL(source);
    if (url.protocol === 'file:' && hasNodeApis()) {
      return WebAssembly.compile((await readFileBytes(url)) as Uint8Array<ArrayBuffer>);
    }
    return compileFrom(fetch(url));
  }
  if (typeof source === 'string') return WebAssembly.compile((await readFileBytes(source)) as Uint8Array<ArrayBuffer>);
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    const bytes = ArrayBuffer.isView(source) ? new Uint8Array(source.buffer, source.byteOffset, source.byteLength) : new Uint8Array(source);
    return WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  }
  // What is left is a Response or a promise of one. Tested last, and by shape: merely reading the global
  // `Response` makes Node load its fetch implementation (undici), ~50 ms of every cold start.
  const res = await source;
  if (typeof res !== 'object' || res === null || typeof (res as Response).arrayBuffer !== 'function') {
    throw new WasmLoadError(`kernels wasm source must be a WebAssembly.Module, URL, path, bytes or Response; got ${Object.prototype.toString.call(res)}`);
  }
  if (!res.ok) throw new WasmLoadError(`fetching kernels wasm failed: HTTP ${res.status} ${res.statusText} (${res.url})`);
  // Streaming compile needs the application/wasm content type; fall back to bytes otherwise.
  if (typeof WebAssembly.compileStreaming === 'function' && res.headers.get('content-type')?.startsWith('application/wasm')) {
    return WebAssembly.compileStreaming(res);
  }
  return WebAssembly.compile(await res.arrayBuffer());
}

function checkSimd(): void {
  if (!hasWasmSimd()) {
    throw new WasmLoadError('this JavaScript runtime has no WebAssembly SIMD (v128); wasm-seq2seq needs it (Chrome 91+, Firefox 89+, Safari 16.4+, Node 16.4+, Deno 1.9+)');
  }
}

async function compileKernels(source: WasmSource): Promise<WebAssembly.Module> {
  try {
    return source instanceof WebAssembly.Module ? source : await compileFrom(source as FetchableSource);
  } catch (e) {
    if (e instanceof WasmLoadError) throw e;
    const msg = String((e as Error)?.message ?? e);
    const hint = /code generation|disallowed/i.test(msg)
      ? ' — this runtime refuses to compile wasm at run time (e.g. Cloudflare Workers): import the .wasm file as a module and pass the WebAssembly.Module'
      : '';
    throw new WasmLoadError(`could not compile the kernels wasm from ${describe(source)}: ${msg}${hint}`, { cause: e });
  }
}

async function instantiateKernels(module: WebAssembly.Module, imports: WebAssembly.Imports): Promise<KernelExports> {
  let instance: WebAssembly.Instance;
  try {
    instance = await WebAssembly.instantiate(module, imports);
  } catch (e) {
    throw new WasmLoadError(`could not instantiate the kernels wasm: ${(e as Error)?.message ?? e}`, { cause: e });
  }
  const ex = instance.exports as Record<string, unknown>;
  const missing = KERNEL_FUNCTIONS.filter((name) => typeof ex[name] !== 'function');
  if (!(ex.memory instanceof WebAssembly.Memory)) missing.push('memory' as never);
  if (missing.length) {
    throw new WasmLoadError(`the kernels wasm lacks exports ${missing.join(', ')}: it was built from another version; rebuild with \`npm run build:wasm\``);
  }
  if (typeof ex._initialize === 'function') (ex._initialize as () => void)();
  return ex as unknown as KernelExports;
}

/** Compile (unless given a Module) and instantiate the kernels; checks SIMD support and the export list. */
export async function loadKernels(source: WasmSource = DEFAULT_WASM_URL): Promise<KernelExports> {
  checkSimd();
  const module = await compileKernels(source);
  if (WebAssembly.Module.imports(module).some((i) => i.kind === 'memory')) {
    throw new WasmLoadError('this kernels wasm imports its memory (the threaded build, kernels-mt.wasm): pass it as `wasmThreads`, and the single-threaded kernels.wasm as `wasm`');
  }
  return instantiateKernels(module, {});
}

export interface ThreadedKernels {
  /** This thread's instance. */
  readonly k: KernelExports;
  /** What each worker instantiates over the same memory. */
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
}

/** The threaded kernels over a fresh shared memory (needs SharedArrayBuffer: Node, Deno, cross-origin isolated pages). */
export async function loadThreadedKernels(source: WasmSource = DEFAULT_THREADED_WASM_URL): Promise<ThreadedKernels> {
  checkSimd();
  const module = await compileKernels(source);
  const wanted = WebAssembly.Module.imports(module).find((i) => i.kind === 'memory');
  if (!wanted) throw new WasmLoadError('this kernels wasm does not import a shared memory: pass the threaded build (kernels-mt.wasm) as `wasmThreads`');
  let memory: WebAssembly.Memory;
  try {
    // wasm32's whole 4 GiB as the maximum: a shared memory cannot grow past what it declared
    memory = new WebAssembly.Memory({ initial: 2, maximum: 65536, shared: true });
  } catch (e) {
    throw new WasmLoadError(`could not create a shared wasm memory: ${(e as Error)?.message ?? e}`, { cause: e });
  }
  return { k: await instantiateKernels(module, { env: { memory } }), module, memory };
}

function describe(source: WasmSource): string {
  if (source instanceof URL) return source.href;
  if (typeof source === 'string') return source;
  if (ArrayBuffer.isView(source) || source instanceof ArrayBuffer) return `${source.byteLength} bytes`;
  return 'a Response';
}
