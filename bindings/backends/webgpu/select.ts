// loadModel's backend choice: 'wasm' as before; 'webgpu' = a device and the weights uploaded, or an
// UnsupportedError naming what is missing; 'auto' = the same attempt, falling back to wasm with the reason as
// the model's backendNote (never an exception).
import type { Heap } from '../../arena.js';
import type { Activation, ModelConfig } from '../../config.js';
import { InputError, Seq2SeqError, UnsupportedError } from '../../errors.js';
import type { EncDecWeights } from '../../model/encdec.js';
import type { WeightFormat } from '../../model/layers.js';
import { acquireGpu } from './device.js';
import { WebGpuBackend } from './index.js';
import type { BackendChoice, GpuLike } from './types.js';

export async function chooseBackend(options: { backend?: BackendChoice; gpu?: GpuLike | null; gpuWeights?: 'f32' | 'f16' }, heap: Heap, weights: EncDecWeights,
  cfg: ModelConfig, format: WeightFormat): Promise<{ gpu: WebGpuBackend | null; note: string }> {
  const choice = options.backend ?? 'wasm';
  if (choice !== 'wasm' && choice !== 'webgpu' && choice !== 'auto') throw new InputError(`backend must be 'wasm', 'webgpu' or 'auto', got ${JSON.stringify(choice)}`);
  if (choice === 'wasm') return { gpu: null, note: 'wasm SIMD (backend: wasm)' };
  const refuse = (why: string) => {
    if (choice === 'webgpu') throw new UnsupportedError(`backend 'webgpu' is not available: ${why}`);
    return { gpu: null, note: `wasm SIMD: WebGPU not used (${why})` };
  };
  const gpuWeights = options.gpuWeights ?? 'f32';
  if (gpuWeights !== 'f32' && gpuWeights !== 'f16') throw new InputError(`gpuWeights must be 'f32' or 'f16', got ${JSON.stringify(gpuWeights)}`);
  if (format !== 'f32') return refuse("int8 weights have no WebGPU kernels yet; load with quantize: 'none'");
  const got = await acquireGpu(options.gpu, { f16: gpuWeights === 'f16' });
  if (!got.ok) return refuse(got.reason);
  const activation: Activation = cfg.model_type === 't5' ? cfg.feed_forward_proj.activation : cfg.activation_function;
  try {
    const gpu = new WebGpuBackend(got.gpu, heap, weights, activation, gpuWeights);
    const f16 = gpuWeights !== 'f16' ? '' : gpu.weights === 'f16' ? ', linear layers as f16' : '; f16 weights asked for, but the adapter has no shader-f16: f32';
    return { gpu, note: `WebGPU on ${gpu.description} (${(gpu.weightBytes / 2 ** 20).toFixed(1)} MiB of weights uploaded${f16})` };
  } catch (e) {
    got.gpu.device.destroy();
    if (choice === 'webgpu' && e instanceof Seq2SeqError) throw e;
    return refuse((e as Error).message);
  }
}
