// Typed errors. Every failure a user can cause (bad files, bad options, bad ids) surfaces as one of these,
// with a `code` that programs can switch on and a message that names what is wrong and where.

export type ErrorCode =
  | 'WASM_LOAD' // the kernels .wasm could not be fetched, compiled or instantiated
  | 'WEIGHTS' // a safetensors file is malformed or does not match the model
  | 'CONFIG' // config.json / generation_config.json is malformed or inconsistent
  | 'UNSUPPORTED' // a valid input that this runtime does not implement (names what is missing)
  | 'INPUT' // bad arguments to a public function (ids out of range, wrong shapes, bad options)
  | 'SOURCE' // a model source (folder, URL, buffers) could not be read
  | 'ABORTED' // cancelled through an AbortSignal
  | 'MEMORY' // wasm linear memory could not grow to what the model needs
  | 'NUMERIC' // the model's numbers turned non-finite (NaN/Inf logits): broken weights or float32 overflow
  | 'THREADS'; // the worker threads could not start, or a kernel failed on one

type ErrorOptions = { cause?: unknown };

export class Seq2SeqError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

// One class per code, so `e instanceof InputError` works as well as switching on `e.code`.
export class WasmLoadError extends Seq2SeqError { constructor(message: string, options?: ErrorOptions) { super('WASM_LOAD', message, options); } }
export class WeightsError extends Seq2SeqError { constructor(message: string, options?: ErrorOptions) { super('WEIGHTS', message, options); } }
export class ConfigError extends Seq2SeqError { constructor(message: string, options?: ErrorOptions) { super('CONFIG', message, options); } }
export class UnsupportedError extends Seq2SeqError { constructor(message: string, options?: ErrorOptions) { super('UNSUPPORTED', message, options); } }
export class InputError extends Seq2SeqError { constructor(message: string, options?: ErrorOptions) { super('INPUT', message, options); } }
export class SourceError extends Seq2SeqError { constructor(message: string, options?: ErrorOptions) { super('SOURCE', message, options); } }
export class AbortedError extends Seq2SeqError { constructor(message = 'generation was aborted', options?: ErrorOptions) { super('ABORTED', message, options); } }
export class MemoryError extends Seq2SeqError { constructor(message: string, options?: ErrorOptions) { super('MEMORY', message, options); } }
export class NumericError extends Seq2SeqError { constructor(message: string, options?: ErrorOptions) { super('NUMERIC', message, options); } }
export class ThreadError extends Seq2SeqError { constructor(message: string, options?: ErrorOptions) { super('THREADS', message, options); } }

// Source failures that programs may want to tell apart (both are SourceErrors, code 'SOURCE').

/** A file is a Git LFS pointer (a repository cloned without Git LFS), not the file it stands for. */
export class LfsPointerError extends SourceError {
  readonly file: string;
  /** The real file's size from the pointer. */
  readonly size: number | undefined;
  readonly oid: string;
  constructor(message: string, info: { file: string; size: number | undefined; oid: string }, options?: ErrorOptions) {
    super(message, options);
    this.file = info.file;
    this.size = info.size;
    this.oid = info.oid;
  }
}

/**
 * Why a Hugging Face Hub download failed: the Hub's own X-Error-Code (RepoNotFound, EntryNotFound,
 * RevisionNotFound, GatedRepo), else 'Unauthorized' (401), 'Forbidden' (403), 'HttpError' (another status),
 * 'Offline' (no connection and no cached copy), 'NotCached' (offline mode and no cached copy).
 */
export type HubErrorReason = 'RepoNotFound' | 'EntryNotFound' | 'RevisionNotFound' | 'GatedRepo' | 'Unauthorized' |
  'Forbidden' | 'HttpError' | 'Offline' | 'NotCached';

export class HubError extends SourceError {
  readonly reason: HubErrorReason;
  /** The HTTP status, when the Hub answered. */
  readonly status: number | undefined;
  readonly repo: string;
  readonly file: string | undefined;
  constructor(message: string, info: { reason: HubErrorReason; status?: number; repo: string; file?: string }, options?: ErrorOptions) {
    super(message, options);
    this.reason = info.reason;
    this.status = info.status;
    this.repo = info.repo;
    this.file = info.file;
  }
}
