// The public model object: load a Hugging Face folder / URL / in-memory files, then generate.
//
//   const model = await loadModel('path/to/opus-mt-en-de');
//   const { sequences, scores } = await model.generate([[123, 456, 0]], { numBeams: 4 });
import type { Heap } from '../arena.js';
import type { ModelConfig, GenerationDefaults } from '../config.js';
import { InputError, Seq2SeqError, UnsupportedError } from '../errors.js';
import { generate as runGenerate, generateStream, resolveGenerateConfig } from '../generation/index.js';
import type { DecoderFactory, GenerateOptions, GenerateOutput, GenerationEvent } from '../generation/types.js';
import { createHeap, releaseNow, releaseWithOwner, type ThreadOptions } from '../threads/setup.js';
import type { ThreadStats } from '../threads/pool.js';
import { loadModelFiles, type LoadOptions, type SourceInput } from '../weights/source.js';
import type { TensorStore } from '../weights/safetensors.js';
import { chooseBackend } from '../backends/webgpu/select.js';
import type { BackendChoice, GpuBackendHandle, GpuLike } from '../backends/webgpu/types.js';
import { encode, EncDecSession, type EncDecWeights } from './encdec.js';
import type { WeightFormat } from './layers.js';
import { loadTokenizer, type Tokenizer } from '../tokenizers/index.js';
import { loadMarian } from './marian.js';
import { loadBart, loadMbart } from './bart.js';
import { loadM2m100 } from './m2m100.js';
import { loadT5 } from './t5.js';

/** Families this runtime can run (config.ts parses more; they fail here with a clear error). */
type FamilyLoader = (heap: Heap, cfg: any, store: TensorStore, format: WeightFormat) => EncDecWeights;
const FAMILIES: Record<ModelConfig['model_type'], FamilyLoader> = {
  marian: loadMarian,
  bart: loadBart,
  mbart: loadMbart,
  m2m_100: loadM2m100,
  t5: loadT5,
};
export const RUNNABLE_MODEL_TYPES = Object.keys(FAMILIES);

export interface LoadModelOptions extends LoadOptions, ThreadOptions {
  /** Load the repo's tokenizer when it has one (default true); false = token ids only. */
  tokenizer?: boolean;
  /** 'int8': quantise every linear layer (and the output head) per output channel at load: ~4x less memory
   *  and weight traffic per decode step; embeddings and norms stay f32. 'none': f32 kernels. Default: 'int8' for
   *  weights stored as int8 (tools/convert-weights.mjs --to int8), else 'none'. */
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
}

/** A batch of token ids: rows may differ in length (they are right-padded with pad and masked). */
export type TokenBatch = readonly (readonly number[])[];

export interface ModelGenerateOptions extends GenerateOptions {
  /** 1 = real token, 0 = padding; same shape as the input. Default: derived from row lengths and pad ids, as transformers does. */
  attentionMask?: TokenBatch;
  /** Text input, multilingual models: source language code (NLLB `eng_Latn`, M2M100 `en`, mBART `en_XX`). */
  srcLang?: string;
  /** Text input, multilingual models: target language, forced as the first generated token (NLLB, M2M100,
   *  mBART-50) or used as the decoder start token (mBART cc25), as transformers' examples do. */
  tgtLang?: string;
}

/** What generate() and stream() take: token id rows, or text (one string or a batch) when the model has a tokenizer. */
export type GenerateInput = TokenBatch | string | readonly string[];

/** With text input, `text` holds the decoded output rows (special tokens skipped). */
export interface ModelGenerateOutput extends GenerateOutput { text?: string[] }

interface Batch { ids: Int32Array; mask: Uint8Array; B: number; S: number }

export class Seq2SeqModel {
  private queue: Promise<unknown> = Promise.resolve();
  private gpu: GpuBackendHandle | null;
  private note: string;

  constructor(readonly config: ModelConfig, private readonly heap: Heap, private readonly weights: EncDecWeights,
    /** The repo's tokenizer (null when the source has none: then only token ids are accepted). */
    readonly tokenizer: Tokenizer | null = null,
    backend: { gpu: GpuBackendHandle | null; note: string } = { gpu: null, note: 'wasm SIMD (backend: wasm)' }) {
    this.gpu = backend.gpu;
    this.note = backend.note;
  }

  /** Where the next call runs: 'webgpu' or 'wasm' (also after a fallback; backendNote says why). */
  get backend(): 'wasm' | 'webgpu' {
    return this.checkGpu() ? 'webgpu' : 'wasm';
  }

  /** Why this backend: the adapter in use, or why WebGPU is not used (no adapter, int8 weights, device lost). */
  get backendNote(): string {
    this.checkGpu();
    return this.note;
  }

  /** Defaults generate() uses for options you do not pass (from generation_config.json or config.json). */
  get generationDefaults(): GenerationDefaults { return this.config.generation; }

  /** Threads the kernels run on (1 = single-threaded; see the `threads` load option). */
  get threads(): number { return this.heap.threads; }
  /** The kernel build it runs on: 'relaxed' (fused multiply-add), 'baseline' SIMD, or 'custom' (your `wasm`). See the `simd` load option. */
  get simd(): 'baseline' | 'relaxed' | 'custom' { return this.heap.simd; }

  /**
   * Thread-scaling diagnostics: with `on`, each thread of the pool times every chunk of work it runs (two clock
   * reads a chunk); takeThreadStats() then returns each thread's busy ms and chunk count since the last take.
   * Busy time summed over threads, against a 1-thread run of the same call, shows whether the chunks themselves
   * ran slower side by side (shared caches, or a VM's cores) apart from hand-offs and waits. No-op on one thread.
   */
  timeThreads(on: boolean): void { this.heap.pool?.setTiming(on); }
  /** Busy ms and chunks per thread (this one first) since the last take; null on one thread. */
  takeThreadStats(): ThreadStats | null { return this.heap.pool?.takeStats() ?? null; }

  /** Stops the model's worker threads now (they also stop when the model is garbage-collected); later calls throw. */
  dispose(): void {
    releaseNow(this.heap);
    this.gpu?.destroy(); // the GPU copy of the weights too (its device), now rather than at garbage collection
    this.gpu = null;
    this.note = 'disposed';
  }

  /** Bytes of wasm memory holding the weights and the largest working set so far. */
  get memoryBytes(): number { return this.heap.peak; }

  async generate(input: GenerateInput, options: ModelGenerateOptions = {}): Promise<ModelGenerateOutput> {
    return this.exclusive(async () => {
      const { ids, text, options: o } = this.prepare(input, options);
      const opts = this.withDefaults(o);
      const batch = this.batch(ids, o.attentionMask);
      const mark = this.heap.mark();
      const maxLength = resolveGenerateConfig(opts).maxLength;
      try {
        let out: ModelGenerateOutput;
        try {
          out = await this.withSession(batch, maxLength, (factory) => runGenerate(factory, batch.B, opts));
        } catch (e) {
          // the GPU failed under us (device lost, driver error): note it and answer on wasm
          if (!this.gpuFailed(e)) throw e;
          out = await runGenerate(this.sessionFactory(batch, maxLength), batch.B, opts);
        }
        if (text) out.text = this.tokenizer!.decodeBatch(out.sequences);
        return out;
      } finally {
        this.heap.release(mark);
      }
    });
  }

  /** Greedy: an event per step with each row's new token; beam search: one final event. */
  /** With text input, token events carry `text`: each row's newly decoded piece (may be '' mid-word). */
  async *stream(input: GenerateInput, options: ModelGenerateOptions = {}): AsyncGenerator<GenerationEvent & { text?: string[] }, ModelGenerateOutput, undefined> {
    let release!: () => void;
    const turn = new Promise<void>((r) => { release = r; });
    const prev = this.queue;
    this.queue = prev.then(() => turn);
    await prev;
    const mark = this.heap.mark();
    let cleanup = () => {};
    try {
      const { ids, text, options: o } = this.prepare(input, options);
      const opts = this.withDefaults(o);
      const batch = this.batch(ids, o.attentionMask);
      const maxLength = resolveGenerateConfig(opts).maxLength;
      const { factory, dispose } = this.factoryFor(batch, maxLength);
      cleanup = dispose;
      const events = this.streamOnWasmAfterGpuFailure(generateStream(factory, batch.B, opts), batch, maxLength, opts);
      if (!text) return yield* events;
      // Decode each row's tokens so far and yield what was added: pieces that join into the final text.
      const tok = this.tokenizer!;
      const rows: number[][] = Array.from({ length: batch.B }, () => [opts.decoderStartTokenId as number]);
      const shown = new Array<string>(batch.B).fill('');
      for (;;) {
        const r = await events.next();
        if (r.done) { const out: ModelGenerateOutput = r.value; out.text = tok.decodeBatch(out.sequences); return out; }
        const ev = r.value;
        if (ev.type !== 'tokens') { yield ev; continue; }
        const pieces = ev.tokens.map((t, b) => {
          if (!ev.emitted[b]) return '';
          rows[b].push(t);
          const now = tok.decode(rows[b]);
          const piece = now.startsWith(shown[b]) ? now.slice(shown[b].length) : now;
          shown[b] = now;
          return piece;
        });
        yield { ...ev, text: pieces };
      }
    } finally {
      cleanup(); // GPU sessions' buffers
      this.heap.release(mark);
      release();
    }
  }

  /**
   * Passes `events` through; if the GPU fails mid-stream, the search restarts on wasm (same tokens: the backends
   * agree to 1e-5 in the logits), the events already given are checked against the replay rather than repeated,
   * and the stream goes on from where it was. A replay that disagrees is an error, never silently other text.
   */
  private async *streamOnWasmAfterGpuFailure(events: AsyncGenerator<GenerationEvent, GenerateOutput, undefined>,
    batch: Batch, maxLength: number, opts: GenerateOptions): AsyncGenerator<GenerationEvent, GenerateOutput, undefined> {
    const given: string[] = [];
    try {
      for (;;) {
        const r = await events.next();
        if (r.done) return r.value;
        given.push(JSON.stringify(r.value));
        yield r.value;
      }
    } catch (e) {
      if (!this.gpuFailed(e)) throw e;
    }
    const replay = generateStream(this.sessionFactory(batch, maxLength), batch.B, opts);
    for (let i = 0; ; i++) {
      const r = await replay.next();
      if (r.done) return r.value;
      if (i >= given.length) { yield r.value; continue; }
      if (JSON.stringify(r.value) !== given[i]) {
        throw new UnsupportedError(`the GPU failed mid-stream and the wasm replay chose other tokens at event ${i}: ` +
          'the stream cannot continue consistently; call stream() again (it now runs on wasm)');
      }
    }
  }

  /** Encoder output [B, S, D] (rows at padded positions included, as transformers computes them). */
  async encode(inputIds: TokenBatch, attentionMask?: TokenBatch): Promise<{ data: Float32Array; shape: [number, number, number] }> {
    return this.exclusive(async () => {
      const b = this.batch(inputIds, attentionMask);
      if (this.checkGpu()) {
        try {
          return { data: await this.gpu!.encode(b.ids, b.mask, b.B, b.S), shape: [b.B, b.S, this.weights.d] };
        } catch (e) {
          if (!this.gpuFailed(e)) throw e;
        }
      }
      const mark = this.heap.mark();
      try {
        const h = this.runEncoder(b);
        const n = b.B * b.S * this.weights.d;
        return { data: this.heap.f32().slice(h >>> 2, (h >>> 2) + n), shape: [b.B, b.S, this.weights.d] };
      } finally {
        this.heap.release(mark);
      }
    });
  }

  /** Raw logits [B, T, V] for given decoder inputs (teacher forcing, causal): what the model's forward returns. */
  async decoderLogits(inputIds: TokenBatch, decoderInputIds: TokenBatch, attentionMask?: TokenBatch): Promise<{ data: Float32Array; shape: [number, number, number] }> {
    return this.exclusive(async () => {
      const b = this.batch(inputIds, attentionMask);
      const T = decoderInputIds[0]?.length ?? 0;
      if (decoderInputIds.length !== b.B || T === 0 || decoderInputIds.some((r) => r.length !== T)) {
        throw new InputError(`decoderInputIds must be ${b.B} non-empty rows of equal length`);
      }
      const V = this.weights.vocabOut;
      const out = new Float32Array(b.B * T * V);
      const mark = this.heap.mark();
      const run = async (factory: DecoderFactory) => {
        const session = factory(1);
        for (let t = 0; t < T; t++) {
          const logits = await session.step(Int32Array.from(decoderInputIds, (r) => r[t]));
          for (let r = 0; r < b.B; r++) out.set(logits.subarray(r * V, (r + 1) * V), (r * T + t) * V);
        }
      };
      try {
        try {
          await this.withSession(b, T, run);
        } catch (e) {
          if (!this.gpuFailed(e)) throw e;
          await run(this.sessionFactory(b, T));
        }
      } finally {
        this.heap.release(mark);
      }
      return { data: out, shape: [b.B, T, V] };
    });
  }

  // --- internals ---------------------------------------------------------------------------------------

  /** Text → ids with the model's tokenizer; language options → transformers' forced ids. */
  private prepare(input: GenerateInput, options: ModelGenerateOptions): { ids: TokenBatch; text: boolean; options: ModelGenerateOptions } {
    const isText = typeof input === 'string' || (Array.isArray(input) && input.length > 0 && input.every((x) => typeof x === 'string'));
    if (!isText) {
      if (options.srcLang !== undefined || options.tgtLang !== undefined) throw new InputError('srcLang / tgtLang apply to text input; with token ids set forcedBosTokenId / decoderStartTokenId yourself');
      return { ids: input as TokenBatch, text: false, options };
    }
    const tok = this.tokenizer;
    if (!tok) throw new InputError('this model source has no tokenizer files (tokenizer.json, *.spm, spiece.model, ...): pass token ids');
    if (options.attentionMask) throw new InputError('attentionMask applies to token ids, not text');
    const texts = typeof input === 'string' ? [input] : (input as readonly string[]);
    const ids = texts.map((t) => tok.encode(t, options.srcLang ? { srcLang: options.srcLang } : undefined));
    const o = { ...options };
    if (options.tgtLang !== undefined) {
      const id = tok.langId(options.tgtLang);
      if (tok.family === 'mbart') o.decoderStartTokenId ??= id; // cc25: generation starts with the target code
      else o.forcedBosTokenId ??= id; // NLLB, M2M100, mBART-50
    }
    return { ids, text: true, options: o };
  }

  /** One call at a time: calls share the heap's working area. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private runEncoder(b: Batch): number {
    const ids = this.heap.alloc(b.ids.length * 4), mask = this.heap.alloc(b.mask.length);
    this.heap.i32().set(b.ids, ids >>> 2);
    this.heap.u8().set(b.mask, mask);
    return encode(this.heap, this.weights, ids, mask, b.B, b.S);
  }

  /** True while the GPU backend is usable; after a device loss switches to wasm and says so in the note. */
  private checkGpu(): boolean {
    if (this.gpu?.lost) {
      this.note = `${this.gpu.lost}; running on wasm from now on`;
      this.gpu = null;
    }
    return this.gpu !== null;
  }

  /** After a failure on the GPU path: true when the call should be answered on wasm instead: a shape the WGSL
   *  kernels do not cover (UnsupportedError, e.g. a source longer than their attention limit: this call only),
   *  or the GPU is to blame (wasm from now on). False for the caller's own errors (bad input, abort). */
  private gpuFailed(e: unknown): boolean {
    if (!this.gpu) return false;
    const gpuError = this.gpu.takeError();
    if (e instanceof UnsupportedError && !this.gpu.lost && !gpuError) return true;
    if (e instanceof Seq2SeqError && !this.gpu.lost && !gpuError) return false;
    this.note = `WebGPU failed (${this.gpu.lost ?? gpuError ?? (e as Error)?.message}); running on wasm from now on`;
    this.gpu = null;
    return true;
  }

  /** The session factory of the current backend, and what frees its GPU buffers afterwards. */
  private factoryFor(b: Batch, maxLength: number): { factory: DecoderFactory; dispose: () => void } {
    if (!this.checkGpu()) return { factory: this.sessionFactory(b, maxLength), dispose: () => {} };
    this.checkDecoderLength(maxLength);
    const gpu = this.gpu!;
    const sessions: { dispose(): void }[] = [];
    const factory = (numBeams: number) => {
      const s = gpu.session(b.ids, b.mask, b.B, b.S, numBeams, maxLength);
      sessions.push(s);
      return s;
    };
    return { factory, dispose: () => { for (const s of sessions) s.dispose(); } };
  }

  private async withSession<T>(b: Batch, maxLength: number, fn: (factory: DecoderFactory) => Promise<T>): Promise<T> {
    const { factory, dispose } = this.factoryFor(b, maxLength);
    try {
      const out = await fn(factory);
      const err = this.gpu?.takeError(); // a validation error means the results cannot be trusted
      if (err) throw new Error(`WebGPU reported: ${err}`);
      return out;
    } finally {
      dispose();
    }
  }

  private checkDecoderLength(maxLength: number): void {
    const rows = this.weights.decPositions?.maxLength;
    if (rows !== undefined && maxLength > rows) {
      throw new InputError(`max length ${maxLength} (decoder tokens incl. the start token) exceeds the model's ${rows} decoder positions (max_position_embeddings); lower maxLength / maxNewTokens`);
    }
  }

  private sessionFactory(b: Batch, maxLength: number): DecoderFactory {
    this.checkDecoderLength(maxLength);
    return (numBeams: number) => {
      const mask = this.heap.alloc(b.mask.length);
      this.heap.u8().set(b.mask, mask);
      const enc = this.runEncoder(b); // the session computes its cross K/V from this once
      return new EncDecSession(this.heap, this.weights, enc, mask, b.B, b.S, numBeams, maxLength);
    };
  }

  private withDefaults(o: ModelGenerateOptions): GenerateOptions {
    const g = this.config.generation;
    const pick = <T>(v: T | null | undefined, d: T | undefined): T | undefined => (v === undefined || v === null ? d : v);
    const userLength = o.maxLength !== undefined && o.maxLength !== null;
    return {
      maxLength: pick(o.maxLength, g.max_length),
      // a max_new_tokens from the file must not override a max length the caller chose
      maxNewTokens: pick(o.maxNewTokens, userLength ? undefined : g.max_new_tokens),
      minLength: pick(o.minLength, g.min_length),
      minNewTokens: o.minNewTokens,
      numBeams: pick(o.numBeams, g.num_beams),
      numReturnSequences: pick(o.numReturnSequences, g.num_return_sequences),
      lengthPenalty: pick(o.lengthPenalty, g.length_penalty),
      earlyStopping: pick(o.earlyStopping, g.early_stopping),
      repetitionPenalty: pick(o.repetitionPenalty, g.repetition_penalty),
      noRepeatNgramSize: pick(o.noRepeatNgramSize, g.no_repeat_ngram_size),
      badWordsIds: pick(o.badWordsIds, g.bad_words_ids),
      forcedBosTokenId: pick(o.forcedBosTokenId, g.forced_bos_token_id),
      forcedEosTokenId: pick(o.forcedEosTokenId, g.forced_eos_token_id),
      eosTokenId: pick(o.eosTokenId, g.eos_token_id),
      padTokenId: pick(o.padTokenId, g.pad_token_id),
      decoderStartTokenId: pick(o.decoderStartTokenId, g.decoder_start_token_id),
      signal: o.signal,
    };
  }

  /** Validates ids and pads rows into [B, S] with a key mask. */
  private batch(inputIds: TokenBatch, attentionMask?: TokenBatch): Batch {
    if (!Array.isArray(inputIds) || inputIds.length === 0) throw new InputError('inputIds must be a non-empty array of token id rows');
    const B = inputIds.length;
    const V = this.weights.vocabIn;
    const pad = this.config.pad_token_id;
    const eos = this.config.eos_token_id;
    if (attentionMask !== undefined && (!Array.isArray(attentionMask) || attentionMask.length !== B)) {
      throw new InputError(`attentionMask must have one row per input row (${B})`);
    }
    let S = 0;
    inputIds.forEach((row, b) => {
      if (!Array.isArray(row) || row.length === 0) throw new InputError(`input row ${b} is empty or not an array`);
      if (attentionMask && attentionMask[b]?.length !== row.length) throw new InputError(`attentionMask row ${b} has ${attentionMask[b]?.length} entries for ${row.length} ids`);
      S = Math.max(S, row.length);
    });
    const ids = new Int32Array(B * S).fill(pad ?? 0);
    const mask = new Uint8Array(B * S);
    // transformers infers the mask from pad ids when none is given (and pad is not also eos)
    const inferFromPad = attentionMask === undefined && pad !== undefined && !eos.includes(pad);
    inputIds.forEach((row, b) => row.forEach((id: number, s: number) => {
      if (!Number.isInteger(id) || id < 0 || id >= V) throw new InputError(`input id ${id} at [${b}][${s}] is outside the vocabulary [0, ${V})`);
      ids[b * S + s] = id;
      const m = attentionMask ? attentionMask[b][s] : inferFromPad && id === pad ? 0 : 1;
      if (m !== 0 && m !== 1) throw new InputError(`attentionMask[${b}][${s}] must be 0 or 1, got ${m}`);
      mask[b * S + s] = m;
    }));
    return { ids, mask, B, S };
  }
}

/** Load a model from a folder path, a URL laid out like a Hugging Face repo, or in-memory files. */
export async function loadModel(source: SourceInput, options: LoadModelOptions = {}): Promise<Seq2SeqModel> {
  // a fresh heap (own memory, own worker threads) per model: its memory is the model's
  if (options.quantize !== undefined && options.quantize !== 'int8' && options.quantize !== 'none') {
    throw new InputError(`quantize must be 'int8' or 'none', got ${String(options.quantize)}`);
  }
  const files = await loadModelFiles(source, options);
  const cfg = files.config;
  let heap: Heap | undefined, weights: EncDecWeights, format: WeightFormat;
  try {
    const family = FAMILIES[cfg.model_type];
    if (!family) {
      throw new UnsupportedError(`model_type '${cfg.model_type}' is recognised but not runnable yet; runnable: ${RUNNABLE_MODEL_TYPES.join(', ')}`);
    }
    let floats = 0;
    for (const name of files.weights.names) floats += files.weights.info(name).shape.reduce((a, b) => a * b, 1);
    heap = await createHeap(options, floats);
    // Weights stored as int8 keep int8 kernels unless asked otherwise (re-quantising gives back the same integers).
    format = (options.quantize ?? (files.weights.int8Tensors ? 'int8' : 'none')) === 'int8' ? 'int8' : 'f32';
    // Weights as f32 plus packing padding and scratch: one memory.grow instead of one per tensor.
    heap.reserve(Math.ceil(floats * (format === 'int8' ? 1.6 : 4 * 1.05)) + (16 << 20));
    weights = family(heap, cfg, files.weights, format);
  } catch (e) {
    if (heap) releaseNow(heap); // a model that failed to build must not leave worker threads running
    throw e;
  } finally {
    files.weights.close?.(); // everything needed is in wasm memory now (a folder's file is read on demand until here)
  }
  const backend = await chooseBackend(options, heap, weights, cfg, format);
  const tokenizer = options.tokenizer === false ? null : await loadTokenizer(source, files.rawConfig, { signal: options.signal, onProgress: options.onProgress });
  const model = new Seq2SeqModel(cfg, heap, weights, tokenizer, backend);
  releaseWithOwner(model, heap);
  return model;
}
