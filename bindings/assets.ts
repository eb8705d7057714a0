// Files shipped beside the library, located from this module: in dist/bindings/ and in the bundles of dist/node/,
// dist/deno/ (the web bundle's build rewrites these to files beside it: tools/runtimes/rollup-plugins.mjs).

/** The kernels, SIMD128 only (every SIMD engine). */
export const DEFAULT_WASM_URL = new URL('../build/kernels.wasm', import.meta.url);
/** The same kernels built for threads: memory imported (env.memory) and shared (build target release-mt). */
export const DEFAULT_THREADED_WASM_URL = new URL('../build/kernels-mt.wasm', import.meta.url);
/** Both again, built with relaxed SIMD (fused multiply-add in the matrix products and attention); chosen by
 *  default where the engine validates relaxed SIMD (Chrome 114+, Edge, Node 22+, Deno), see the `simd` option. */
export const DEFAULT_RELAXED_WASM_URL = new URL('../build/kernels-relaxed.wasm', import.meta.url);
export const DEFAULT_THREADED_RELAXED_WASM_URL = new URL('../build/kernels-mt-relaxed.wasm', import.meta.url);
