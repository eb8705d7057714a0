// Public types of the WebGPU backend, kept free of @webgpu/types so the package's declarations do not need them.

/** The part of `navigator.gpu` (or Dawn's `create()`) the backend uses; pass one to loadModel({ gpu }) to pick
 *  the entry point (null = none, e.g. to test the fallback). */
export interface GpuLike {
  requestAdapter(options?: object): Promise<unknown>;
}
