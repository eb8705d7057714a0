// loadModel(): read a Hugging Face folder / URL / in-memory files, choose the backend once, load the weights onto
// it (and onto wasm too when the primary is WebGPU: what later calls fall back to if the device is lost), and
// load the tokenizer.
//
//   const model = await loadModel('path/to/opus-mt-en-de');   // or a Hub id: 'Helsinki-NLP/opus-mt-en-de'
import type { Backend, BackendChoice, WeightFormat } from '../backends/backend.js';
import { WasmBackend } from '../backends/wasm/index.js';
import { batchingOption, type BatchingOptions } from './batcher.js';
import { createRuntime, releaseNow, releaseWithOwner, type ThreadOptions, type WasmRuntime } from '../backends/wasm/runtime.js';
import { acquireGpu, WebGpuBackend } from '../backends/webgpu/index.js';
import type { GpuLike } from '../backends/webgpu/types.js';
import type { ModelConfig } from '../config.js';
import { InputError, Seq2SeqError, UnsupportedError } from '../errors.js';
import { loadTokenizer } from '../tokenizers/index.js';
import type { TensorStore } from '../weights/safetensors.js';
import { finiteCheckingStore, firstNonFinite, type FiniteScan } from '../weights/finite.js';
import { loadModelFiles, toModelSource, type LoadOptions, type SourceInput } from '../weights/source.js';
import { show, signalOption } from '../validate.js';
import { loadBart, loadMbart } from './bart.js';
import { loadM2m100 } from './m2m100.js';
import { loadMarian } from './marian.js';
import { Seq2SeqModel, type Runner } from './model.js';
import { loadT5 } from './t5.js';
import type { ModelWeights } from './weights.js';

type FamilyLoader = (b: Backend, cfg: any, store: TensorStore, format: WeightFormat) => ModelWeights;
const FAMILIES: Record<ModelConfig['model_type'], FamilyLoader> = {
  marian: loadMarian,
  bart: loadBart,
  mbart: loadMbart,
  m2m_100: loadM2m100,
  t5: loadT5,
};

export interface LoadModelOptions extends LoadOptions, ThreadOptions {
  /** Load the repo's tokenizer when it has one (default true); false = token ids only. */
  tokenizer?: boolean;
  /** 'int8': quantise every linear layer (and the output head) per output channel at load: ~4x less memory
   *  and weight traffic per decode step; embeddings and norms stay f32. 'none': f32 kernels. Default: 'int8' for
   *  weights stored as int8 (`wasm-seq2seq convert --to int8`), else 'none'. */
  quantize?: 'int8' | 'none';
  /** 'wasm' (default): the SIMD kernels. 'webgpu': the WGSL kernels; UnsupportedError naming what is missing when
   *  there is no adapter (or the weights are int8). 'auto': WebGPU when an adapter exists, else wasm, never an
   *  error; `model.backend` / `model.backendNote` say which and why. A lost GPU device moves later calls to wasm. */
  backend?: BackendChoice;
  /** The WebGPU entry point; default `navigator.gpu`, else Node's npm `webgpu` package (Dawn). null = none. */
  gpu?: GpuLike | null;
  /** WebGPU only: 'f16' stores the linear layers as f16 on the GPU (half the weight bytes per decode step) where
   *  the adapter has `shader-f16`, else f32 (backendNote says which); products, sums and norms stay f32. */
  gpuWeights?: 'f32' | 'f16';
  /** Check that every weight is a finite number as it is loaded (default true): a NaN or ±Inf is a WeightsError
   *  naming the tensor and the element. It reads each float once more (~1.3 ns per weight in JS, less where the
   *  wasm kernel scans wasm memory; docs/api.md gives the measured cost); false skips it. Decoding refuses
   *  non-finite logits either way (NumericError). */
  checkFinite?: boolean;
  /** generate() calls that overlap in time share decoder steps (continuous batching, wasm backend): rows of up to
   *  `maxRows` (default 64) sentence × beam rows and `maxMemory` bytes of working memory (default 512 MiB) run in
   *  one step; calls beyond wait. false: calls run one after another. */
  batching?: false | BatchingOptions;
}

function checkOptions(o: LoadModelOptions): void {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new InputError(`loadModel options must be an object, got ${show(o)}`);
  for (const k of ['tokenizer', 'checkFinite'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') throw new InputError(`${k} must be true or false, got ${show(o[k])}`);
  }
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new InputError(`onProgress must be a function, got ${show(o.onProgress)}`);
  signalOption('signal', o.signal);
  if (o.quantize !== undefined && o.quantize !== 'int8' && o.quantize !== 'none') {
    throw new InputError(`quantize must be 'int8' or 'none', got ${show(o.quantize)}`);
  }
  const choice = o.backend ?? 'wasm';
  if (choice !== 'wasm' && choice !== 'webgpu' && choice !== 'auto') throw new InputError(`backend must be 'wasm', 'webgpu' or 'auto', got ${show(choice)}`);
  batchingOption(o.batching);
  const gw = o.gpuWeights ?? 'f32';
  if (gw !== 'f32' && gw !== 'f16') throw new InputError(`gpuWeights must be 'f32' or 'f16', got ${show(gw)}`);
}

/**
 * The WebGPU runner the options ask for, or why not: 'webgpu' throws UnsupportedError naming what is missing,
 * 'auto' returns the reason (the model's note) and the model runs on wasm.
 */
async function openWebGpu(o: LoadModelOptions, format: WeightFormat, load: (b: Backend) => ModelWeights): Promise<{ runner: Runner | null; note: string }> {
  const refuse = (why: string) => {
    if (o.backend === 'webgpu') throw new UnsupportedError(`backend 'webgpu' is not available: ${why}`);
    return { runner: null, note: `wasm SIMD: WebGPU not used (${why})` };
  };
  if (!WebGpuBackend.formats.includes(format)) return refuse(`${format} weights have no WebGPU kernels yet; load with quantize: 'none'`);
  const f16 = o.gpuWeights === 'f16';
  const got = await acquireGpu(o.gpu, { f16 });
  if (!got.ok) return refuse(got.reason);
  const backend = new WebGpuBackend(got.gpu, o.gpuWeights);
  try {
    const runner = { backend, weights: load(backend) };
    const lost = backend.failure();
    if (lost) throw new Error(lost);
    const note = f16 && backend.weights !== 'f16' ? '; f16 weights asked for, but the adapter has no shader-f16: f32' : '';
    return { runner, note: `${backend.description}${note}` };
  } catch (e) {
    backend.destroy();
    if (o.backend === 'webgpu' && e instanceof Seq2SeqError) throw e;
    return refuse((e as Error).message);
  }
}

/** The finite check's scanner: the SIMD kernel for floats already in the runtime's memory (the big matrices are
 *  read straight into it), the portable loop otherwise. */
function scanIn(rt: WasmRuntime): FiniteScan {
  return (a) => a.buffer === rt.k.memory.buffer ? rt.k.first_nonfinite_f32(a.byteOffset, a.length) : firstNonFinite(a);
}

/** Load a model from a folder path, a Hugging Face Hub id, a URL laid out like a Hugging Face repo, or in-memory files. */
export async function loadModel(source: SourceInput, options: LoadModelOptions = {}): Promise<Seq2SeqModel> {
  checkOptions(options);
  const src = toModelSource(source, options); // once: a Hub id is resolved (and its commit pinned) for both reads
  const files = await loadModelFiles(src, options);
  const cfg = files.config;
  const family = FAMILIES[cfg.model_type];
  let rt: WasmRuntime | undefined, wasm: Runner, gpu: { runner: Runner | null; note: string } = { runner: null, note: 'wasm SIMD (backend: wasm)' };
  try {
    try {
      let floats = 0;
      for (const name of files.weights.names) floats += files.weights.info(name).shape.reduce((a, b) => a * b, 1);
      // a fresh runtime (own memory, own worker threads) per model: its memory is the model's
      rt = await createRuntime(options, floats);
      // Weights stored as int8 keep int8 kernels unless asked otherwise (re-quantising gives back the same integers).
      const format: WeightFormat = (options.quantize ?? (files.weights.int8Tensors ? 'int8' : 'none')) === 'int8' ? 'int8' : 'f32';
      // Weights as f32 plus packing padding and scratch: one memory.grow instead of one per tensor.
      rt.heap.reserve(Math.ceil(floats * (format === 'int8' ? 1.6 : 4 * 1.05)) + (16 << 20));
      const wasmBackend = new WasmBackend(rt);
      const store = options.checkFinite === false ? files.weights : finiteCheckingStore(files.weights, scanIn(rt));
      wasm = { backend: wasmBackend, weights: family(wasmBackend, cfg, store, format) };
      // the GPU copy reads the same, already checked, floats
      if ((options.backend ?? 'wasm') !== 'wasm') gpu = await openWebGpu(options, format, (b) => family(b, cfg, files.weights, format));
    } finally {
      files.weights.close?.(); // everything needed is loaded now (a folder's file is read on demand until here)
    }
    const tokenizer = options.tokenizer === false ? null : await loadTokenizer(src, files.rawConfig, { signal: options.signal, onProgress: options.onProgress });
    const model = new Seq2SeqModel(cfg, rt, gpu.runner ?? wasm, gpu.runner ? wasm : null, tokenizer, gpu.note, batchingOption(options.batching));
    releaseWithOwner(model, rt);
    return model;
  } catch (e) {
    // a model that failed to build must not leave worker threads or a GPU device behind
    if (rt) releaseNow(rt);
    gpu.runner?.backend.destroy();
    throw e;
  }
}
