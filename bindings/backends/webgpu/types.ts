// Public types of the WebGPU backend, kept free of @webgpu/types so the package's declarations do not need them.
import type { DecoderSession } from '../../generation/types.js';

/** The part of `navigator.gpu` (or Dawn's `create()`) the backend uses; pass one to loadModel({ gpu }) to pick
 *  the entry point (null = none, e.g. to test the fallback). */
export interface GpuLike {
  requestAdapter(options?: object): Promise<unknown>;
}

/** What loadModel's `backend` option accepts: 'auto' = WebGPU when an adapter exists, else wasm (with a note). */
export type BackendChoice = 'wasm' | 'webgpu' | 'auto';

/** What the model needs of the WebGPU backend (WebGpuBackend implements it; declared here without GPU types). */
export interface GpuBackendHandle {
  /** Why the device went away; null while it works. */
  readonly lost: string | null;
  /** A validation / out-of-memory error the device reported since the last call, or null. */
  takeError(): string | null;
  /** Encoder states [B*S*D] for ids / mask [B, S]. */
  encode(ids: Int32Array, mask: Uint8Array, B: number, S: number): Promise<Float32Array>;
  /** Runs the encoder and returns a decoder session over B × beams rows; dispose() frees its GPU buffers. */
  session(ids: Int32Array, mask: Uint8Array, B: number, S: number, beams: number, maxLen: number): DecoderSession & { dispose(): void };
  /** Frees the device and everything on it. */
  destroy(): void;
}
