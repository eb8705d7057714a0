/// <reference types="@webgpu/types" />
// The WebGPU backend behind the model's session boundary: weights uploaded once from the wasm heap, then an
// encoder pass and GpuDecoderSession per generate() call. Device loss is recorded here; the model checks
// `lost` before each call and runs on wasm from then on.
import type { Heap } from '../../arena.js';
import type { Activation } from '../../config.js';
import type { EncDecWeights } from '../../model/encdec.js';
import type { GpuDevice } from './device.js';
import { encodeToCpu, GpuDecoderSession, type GpuModelParts } from './forward.js';
import { GpuKernels } from './kernels.js';
import type { GpuBackendHandle } from './types.js';
import type { WeightType } from './shaders.js';
import { uploadWeights } from './weights.js';

export { acquireGpu, platformGpu, type GpuAcquisition, type GpuDevice, type GpuLike } from './device.js';
export { GpuDecoderSession } from './forward.js';

export class WebGpuBackend implements GpuBackendHandle {
  /** Why the device went away (null while it works). */
  lost: string | null = null;
  /** Bytes of weights on the GPU. */
  readonly weightBytes: number;
  private readonly parts: GpuModelParts;
  private gpuError: string | null = null;

  /** How the linear layers are stored on the GPU (f16 only with the adapter's shader-f16). */
  readonly weights: WeightType;

  constructor(readonly gpu: GpuDevice, heap: Heap, w: EncDecWeights, activation: Activation, weights: WeightType = 'f32') {
    const k = new GpuKernels(gpu.device);
    gpu.device.lost.then((info) => { this.lost = `WebGPU device lost (${info.reason}): ${info.message || 'no message'}`; });
    gpu.device.addEventListener('uncapturederror', (e) => {
      this.gpuError ??= (e as GPUUncapturedErrorEvent).error.message;
    });
    this.weights = weights === 'f16' && gpu.f16 ? 'f16' : 'f32';
    const g = uploadWeights(k, heap, w, activation, gpu.maxBinding, this.weights);
    this.weightBytes = g.bytes;
    this.parts = { k, heap, w, g };
  }

  get description(): string { return this.gpu.description; }

  /** A validation or out-of-memory error the device reported since the last check (a bug or an exhausted GPU). */
  takeError(): string | null {
    const e = this.gpuError;
    this.gpuError = null;
    return e;
  }

  async encode(ids: Int32Array, mask: Uint8Array, B: number, S: number): Promise<Float32Array> {
    const out = await encodeToCpu(this.parts, ids, mask, B, S);
    const err = this.takeError(); // a validation error means these numbers cannot be trusted
    if (err) throw new Error(`WebGPU reported: ${err}`);
    return out;
  }

  /** Runs the encoder and makes a decoder session over B × beams rows (call dispose() when done). */
  session(ids: Int32Array, mask: Uint8Array, B: number, S: number, beams: number, maxLen: number): GpuDecoderSession {
    return new GpuDecoderSession(this.parts, ids, mask, B, S, beams, maxLen);
  }

  destroy(): void { this.gpu.device.destroy(); }
}
