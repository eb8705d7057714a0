// wasm-seq2seq: the public library API.
export { loadModel, type LoadModelOptions } from './model/load.js';
export { Seq2SeqModel } from './model/model.js';
export type { ModelGenerateOptions, TokenBatch } from './model/model.js';
export type { ThreadStats } from './backends/wasm/threads/pool.js';
export type { BackendChoice } from './backends/backend.js';
export type { GpuLike } from './backends/webgpu/types.js';
export type { GenerateOptions, GenerateOutput, GenerationEvent, TokensEvent, DoneEvent, EarlyStopping } from './generation/types.js';
export type { ModelConfig, GenerationDefaults } from './config.js';
export { SUPPORTED_MODEL_TYPES } from './config.js';
export type { SourceInput, ModelSource, FileProgress, ProgressCallback } from './weights/source.js';
export { folderSource, urlSource, memorySource } from './weights/source.js';
export { cachedUrlSource, type CachedUrlSourceOptions, type CachedModelSource, type ModelCacheStorage } from './weights/cache.js';
export { hubSource, type HubOptions, type HubSourceOptions } from './weights/hub.js';
export { loadKernels, hasWasmSimd, hasRelaxedSimd, type SimdLevel, type WasmSource } from './backends/wasm/kernels.js';
export {
  Seq2SeqError, WasmLoadError, WeightsError, ConfigError, UnsupportedError, InputError, SourceError, AbortedError, MemoryError,
  HubError, LfsPointerError, NumericError, ThreadError, type ErrorCode, type HubErrorReason,
} from './errors.js';
export { loadTokenizer, SentencePiece } from './tokenizers/index.js';
export type { Tokenizer, TokenizerFamily, EncodeOptions, DecodeOptions, LoadTokenizerOptions } from './tokenizers/index.js';
export type { GenerateInput, ModelGenerateOutput } from './model/model.js';
export { Phonemizer, type PhonemizedWord, type PhonemizeOptions } from './g2p/phonemizer.js';
