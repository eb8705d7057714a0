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
import { InputError, UnsupportedError, WasmLoadError } from './errors.js';

export interface KernelExports {
  readonly memory: WebAssembly.Memory;
  heap_base(): number;
  copy_bytes(dst: number, src: number, n: number): void;
  // gemm.ts
  packed_size_f32(n: number, k: number): number;
  pack_f32_n8(w: number, bias: number, n: number, k: number, dst: number): void;
  gemm_f32_4x8(a: number, lda: number, packed: number, c: number, ldc: number, m: number, k: number, n: number, accumulate: number): void;
  gemv_f32_1x24(a: number, packed: number, c: number, k: number, n: number, accumulate: number): void;
  linear_f32(a: number, lda: number, packed: number, c: number, ldc: number, m: number, k: number, n: number, accumulate: number): void;
  gemm_f32_ref(a: number, lda: number, w: number, bias: number, c: number, ldc: number, m: number, k: number, n: number, accumulate: number): void;
  // gemm_i8.ts
  packed_size_i8(n: number, k: number): number;
  quantize_pack_i8_n8(w: number, bias: number, n: number, k: number, dst: number): void;
  quantize_rows_i16(x: number, lda: number, m: number, k: number, xq: number, xs: number): void;
  gemv_i8_dot_1x8(xq: number, xs: number, packed: number, y: number, k: number, n: number, accumulate: number): void;
  gemm_i8_dot_4x8(xq: number, xs: number, m: number, packed: number, y: number, ldy: number, k: number, n: number, accumulate: number, partial: number): void;
  linear_i8(a: number, lda: number, packed: number, c: number, ldc: number, m: number, k: number, n: number, accumulate: number, scratch: number): void;
  linear_i8_rows(xq: number, xs: number, m: number, packed: number, y: number, ldy: number, k: number, n: number, accumulate: number, partial: number): void;
  embed_packed_i8(packed: number, ids: number, n: number, k: number, scale: number, out: number): void;
  gemm_i8_ref(a: number, lda: number, packed: number, c: number, ldc: number, m: number, k: number, n: number, accumulate: number): void;
  // topk.ts
  topk_rows_f32(x: number, rows: number, n: number, addend: number, k: number, outScore: number, outIndex: number): number;
  topk_rows_f32_ref(x: number, rows: number, n: number, addend: number, k: number, outScore: number, outIndex: number): number;
  // norm.ts
  layer_norm_f32(x: number, gamma: number, beta: number, y: number, rows: number, n: number, eps: number): void;
  rms_norm_f32(x: number, weight: number, y: number, rows: number, n: number, eps: number): void;
  layer_norm_f32_ref(x: number, gamma: number, beta: number, y: number, rows: number, n: number, eps: number): void;
  rms_norm_f32_ref(x: number, weight: number, y: number, rows: number, n: number, eps: number): void;
  // softmax.ts
  softmax_f32(x: number, rows: number, n: number, mask: number, maskStride: number): void;
  log_softmax_f32(x: number, rows: number, n: number): void;
  softmax_f32_ref(x: number, rows: number, n: number, mask: number, maskStride: number): void;
  // activations.ts
  relu_f32(x: number, out: number, n: number): void;
  gelu_f32(x: number, out: number, n: number): void;
  gelu_tanh_f32(x: number, out: number, n: number): void;
  silu_f32(x: number, out: number, n: number): void;
  gated_gelu_f32(a: number, b: number, out: number, n: number): void;
  add_f32(a: number, b: number, out: number, n: number): void;
  scale_f32(x: number, s: number, out: number, n: number): void;
  exp_f32(x: number, out: number, n: number): void;
  activation_f32_ref(x: number, out: number, n: number, kind: number): void;
  // embed.ts
  embed_f32(table: number, ids: number, n: number, dim: number, scale: number, out: number): void;
  embed_packed_f32(packed: number, ids: number, n: number, k: number, scale: number, out: number): void;
  gather_add_f32(table: number, ids: number, n: number, dim: number, out: number): void;
  sinusoidal_positions_f32(out: number, rows: number, dim: number): void;
  // probe.ts (benchmarks only)
  simd_peak_probe(iters: number): number;
  // attention.ts
  attention_f32(q: number, qStride: number, k: number, v: number, kvStride: number, out: number, outStride: number,
    heads: number, hd: number, tq: number, tk: number, scale: number,
    keyMask: number, causalOffset: number, bias: number, scratch: number): void;
  attention_f32_ref(q: number, qStride: number, k: number, v: number, kvStride: number, out: number, outStride: number,
    heads: number, hd: number, tq: number, tk: number, scale: number,
    keyMask: number, causalOffset: number, bias: number, scratch: number): void;
}

/** Every function name the TypeScript side relies on; checked at load so a stale .wasm fails loudly. */
export const KERNEL_FUNCTIONS = [
  'heap_base', 'copy_bytes', 'packed_size_f32', 'pack_f32_n8', 'gemm_f32_4x8', 'gemv_f32_1x24', 'linear_f32',
  'gemm_f32_ref', 'layer_norm_f32', 'rms_norm_f32', 'layer_norm_f32_ref', 'rms_norm_f32_ref', 'softmax_f32',
  'log_softmax_f32', 'softmax_f32_ref', 'relu_f32', 'gelu_f32', 'gelu_tanh_f32', 'silu_f32', 'gated_gelu_f32',
  'add_f32', 'scale_f32', 'exp_f32', 'activation_f32_ref', 'embed_f32', 'embed_packed_f32', 'gather_add_f32',
  'sinusoidal_positions_f32', 'attention_f32', 'attention_f32_ref', 'simd_peak_probe',
  'packed_size_i8', 'quantize_pack_i8_n8', 'quantize_rows_i16', 'gemv_i8_dot_1x8', 'gemm_i8_dot_4x8', 'linear_i8', 'linear_i8_rows', 'embed_packed_i8', 'gemm_i8_ref',
  'topk_rows_f32', 'topk_rows_f32_ref',
] as const;

export type KernelName = (typeof KERNEL_FUNCTIONS)[number];

export type WasmSource = WebAssembly.Module | URL | string | ArrayBuffer | ArrayBufferView | Response | Promise<Response>;

/** Where the shipped kernels.wasm lives relative to this module (source tree and dist/ alike). */
export const DEFAULT_WASM_URL = new URL('../build/kernels.wasm', import.meta.url);
/** The same kernels built for threads: memory imported (env.memory) and shared (build target release-mt). */
export const DEFAULT_THREADED_WASM_URL = new URL('../build/kernels-mt.wasm', import.meta.url);
/** Both again, built with relaxed SIMD (fused multiply-add in the matrix products and attention); chosen by
 *  default where the engine validates relaxed SIMD (Chrome 114+, Edge, Node 22+, Deno), see `simd` option. */
export const DEFAULT_RELAXED_WASM_URL = new URL('../build/kernels-relaxed.wasm', import.meta.url);
export const DEFAULT_THREADED_RELAXED_WASM_URL = new URL('../build/kernels-mt-relaxed.wasm', import.meta.url);

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
  if (simd !== 'auto' && simd !== 'relaxed' && simd !== 'baseline') throw new InputError(`simd must be 'auto', 'relaxed' or 'baseline', got ${JSON.stringify(simd)}`);
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
    if (url.protocol === 'file:' && typeof process !== 'undefined' && process.versions?.node) {
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
