// The public model object: generate / stream / encode / decoderLogits over the forward pass (forward.ts) on the
// backend chosen at load (load.ts).
//
//   const { sequences, scores } = await model.generate([[123, 456, 0]], { numBeams: 4 });
import type { Backend } from '../backends/backend.js';
import type { WasmRuntime } from '../backends/wasm/runtime.js';
import type { ThreadStats } from '../backends/wasm/threads/pool.js';
import type { GenerationDefaults, ModelConfig } from '../config.js';
import { InputError, UnsupportedError } from '../errors.js';
import { generate as runGenerate, generateStream } from '../generation/index.js';
import type { DecoderFactory, GenerateOptions, GenerateOutput, GenerationEvent, ResolvedGenerateConfig } from '../generation/types.js';
import type { Tokenizer } from '../tokenizers/index.js';
import { Batcher, type BatchingOptions, type BatchStats, type Call, type CallNeed } from './batcher.js';
import { DecoderSessionImpl, encode, workingFloats, type Batch } from './forward.js';
import { checkDecoderLength, checkWorkingMemory, decoderRows, padBatch, prepareGenerate, WASM_MEMORY_BYTES, type PreparedCall } from './inputs.js';
import type { ModelWeights } from './weights.js';

/** A model's weights on one backend. */
export interface Runner { backend: Backend; weights: ModelWeights }

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


/** What a call needs of a backend: its longest key sequence, most rows in one op, beam search's candidates. */
interface CallShape { keys: number; rows: number; topK?: number }

/** A stream's working memory: regions of backend memory (from a mark up) that live from its first event to its end.
 *  Streams release the model between events, so several may be open: a region is released only when no open
 *  stream's region lies above it (backend memory is a stack). */
interface StreamEntry { live: boolean; regions: { backend: Backend; mark: number }[]; call?: { batcher: Batcher; call: Call } }

/** Streams dropped without return(): their memory is given back when the iterator is garbage-collected. */
const abandoned = typeof FinalizationRegistry === 'function'
  ? new FinalizationRegistry<{ model: Seq2SeqModel; entry: StreamEntry }>(({ model, entry }) => model.endStream(entry))
  : null;

export class Seq2SeqModel {
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;
  private batch_: Batcher | null = null;
  /** Open streams, oldest first (see StreamEntry). */
  private readonly streams: StreamEntry[] = [];

  constructor(readonly config: ModelConfig, private readonly rt: WasmRuntime,
    /** Where calls run; `fallback` (wasm, when the primary is WebGPU) takes over if the primary fails. */
    private primary: Runner, private fallback: Runner | null,
    /** The repo's tokenizer (null when the source has none: then only token ids are accepted). */
    readonly tokenizer: Tokenizer | null = null,
    private note = 'wasm SIMD (backend: wasm)',
    /** Bounds of the shared batch of overlapping generate() calls (batcher.ts); null = calls run one by one. */
    private readonly batching: Required<BatchingOptions> | null = null) {}

  /** Where the next call runs: 'webgpu' or 'wasm' (also after a fallback; backendNote says why). */
  get backend(): 'wasm' | 'webgpu' {
    this.checkPrimary();
    return this.primary.backend.kind;
  }

  /** Why this backend: the adapter in use, or why WebGPU is not used (no adapter, int8 weights, device lost). */
  get backendNote(): string {
    this.checkPrimary();
    return this.note;
  }

  /** Defaults generate() uses for options you do not pass (from generation_config.json or config.json). */
  get generationDefaults(): GenerationDefaults { return this.config.generation; }

  /** Threads the kernels run on (1 = single-threaded; see the `threads` load option). */
  get threads(): number { return this.rt.threads; }
  /** The kernel build it runs on: 'relaxed' (fused multiply-add), 'baseline' SIMD, or 'custom' (your `wasm`). See the `simd` load option. */
  get simd(): 'baseline' | 'relaxed' | 'custom' { return this.rt.simd; }

  /**
   * Thread-scaling diagnostics: with `on`, each thread of the pool times every chunk of work it runs (two clock
   * reads a chunk); takeThreadStats() then returns each thread's busy ms and chunk count since the last take.
   * Busy time summed over threads, against a 1-thread run of the same call, shows whether the chunks themselves
   * ran slower side by side (shared caches, or a VM's cores) apart from hand-offs and waits. No-op on one thread.
   */
  timeThreads(on: boolean): void { this.checkUsable(); this.rt.pool?.setTiming(on === true); }
  /** Busy ms and chunks per thread (this one first) since the last take; null on one thread. */
  takeThreadStats(): ThreadStats | null { this.checkUsable(); return this.rt.pool?.takeStats() ?? null; }

  /** Stops the model's worker threads and frees its GPU device now (they also go when the model is
   *  garbage-collected); later calls throw. */
  dispose(): void {
    this.disposed = true;
    this.primary.backend.destroy();
    this.fallback?.backend.destroy();
    this.fallback = null;
    this.note = 'disposed';
  }

  /** What the shared batch of overlapping generate() calls did so far (steps, rows per step, calls per step,
   *  calls that waited); null when batching is off or the model runs on WebGPU. */
  get batchStats(): BatchStats | null { return this.batcher() ? { ...this.batch_!.stats } : null; }

  /** Bytes of wasm memory holding the weights and the largest working set so far. */
  get memoryBytes(): number { return this.rt.heap.peak; }

  /**
   * Calls that overlap in time share decoder steps on the wasm backend (continuous batching: see the `batching`
   * load option); each gets exactly what it would get alone.
   */
  async generate(input: GenerateInput, options: ModelGenerateOptions = {}): Promise<ModelGenerateOutput> {
    const batcher = this.batcher();
    if (batcher) {
      this.checkUsable();
      const { batch, cfg, text } = this.prepare(input, options);
      const out: ModelGenerateOutput = await batcher.generate(batch, cfg, this.need({ batch, cfg }));
      if (text) out.text = this.tokenizer!.decodeBatch(out.sequences);
      return out;
    }
    return this.exclusive(async () => {
      const { batch, cfg, text } = this.prepare(input, options);
      const out: ModelGenerateOutput = await this.run(this.shape(batch, cfg), (r) => runGenerate(this.sessions(r, batch, cfg.maxLength), batch.B, cfg));
      if (text) out.text = this.tokenizer!.decodeBatch(out.sequences);
      return out;
    });
  }

  /**
   * Greedy: an event per step with each row's new token; beam search: one final event. With text input, token
   * events carry `text`: each row's newly decoded piece (may be '' mid-word).
   *
   * The model is held only while an event is computed: other calls (and other streams) run between events, so a
   * stream that is read slowly, or read once and dropped, never blocks the model. Its working memory stays
   * reserved until it ends, is closed with return() (`break` in for-await does that), or — dropped without
   * return() — its iterator is garbage-collected.
   */
  stream(input: GenerateInput, options: ModelGenerateOptions = {}): AsyncGenerator<GenerationEvent & { text?: string[] }, ModelGenerateOutput, undefined> {
    const entry: StreamEntry = { live: true, regions: [] };
    const it = this.streamEvents(input, options, entry);
    abandoned?.register(it, { model: this, entry }, entry);
    return it;
  }

  private async *streamEvents(input: GenerateInput, options: ModelGenerateOptions, entry: StreamEntry): AsyncGenerator<GenerationEvent & { text?: string[] }, ModelGenerateOutput, undefined> {
    let events: AsyncGenerator<GenerationEvent, GenerateOutput, undefined> | null = null;
    const batcher = this.batcher();
    try {
      let next: () => Promise<IteratorResult<GenerationEvent, GenerateOutput>>;
      let prepared: PreparedCall;
      if (batcher) { // a call in the shared batch (its memory is the batch's)
        this.checkUsable();
        prepared = this.prepare(input, options);
        const it = batcher.stream(prepared.batch, prepared.cfg, this.need(prepared), (call) => { entry.call = { batcher, call }; });
        events = it;
        next = () => it.next();
      } else {
        prepared = await this.exclusive(async () => {
          const call = this.prepare(input, options);
          const r = this.runnerFor(this.shape(call.batch, call.cfg));
          this.streams.push(entry);
          entry.regions.push({ backend: r.backend, mark: r.backend.mark() });
          events = this.streamWithFallback(r, call.batch, call.cfg, entry);
          return call;
        });
        next = () => this.exclusive(() => events!.next()); // one event per turn
      }
      const { batch, cfg, text } = prepared;
      if (!text) {
        for (;;) {
          const n = await next();
          if (n.done) return n.value;
          yield n.value;
        }
      }
      // Decode each row's tokens so far and yield what was added: pieces that join into the final text.
      const tok = this.tokenizer!;
      const rows: number[][] = Array.from({ length: batch.B }, () => [cfg.decoderStartTokenId]);
      const shown = new Array<string>(batch.B).fill('');
      for (;;) {
        const n = await next();
        if (n.done) { const out: ModelGenerateOutput = n.value; out.text = tok.decodeBatch(out.sequences); return out; }
        const ev = n.value;
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
      abandoned?.unregister(entry);
      const open = events as AsyncGenerator<GenerationEvent, GenerateOutput, undefined> | null;
      // closing the search runs its own finally blocks (a batched call leaves the batch there)
      if (batcher) await open?.return(undefined as never).catch(() => undefined);
      else {
        await this.afterCalls(async () => {
          await open?.return(undefined as never).catch(() => undefined);
          this.endStreamNow(entry);
        });
      }
    }
  }

  /** @internal A stream is over (its iterator was collected): its memory goes back when nothing above is open. */
  endStream(entry: StreamEntry): void {
    if (entry.call) { entry.call.batcher.leave(entry.call.call); return; }
    void this.afterCalls(async () => this.endStreamNow(entry));
  }

  private endStreamNow(entry: StreamEntry): void {
    entry.live = false;
    while (this.streams.length > 0 && !this.streams[this.streams.length - 1].live) {
      const e = this.streams.pop()!;
      for (const r of e.regions.reverse()) r.backend.release(r.mark);
    }
  }

  /** Encoder output [B, S, D] (rows at padded positions included, as transformers computes them). */
  async encode(inputIds: TokenBatch, attentionMask?: TokenBatch): Promise<{ data: Float32Array; shape: [number, number, number] }> {
    return this.exclusive(async () => {
      const b = this.batch(inputIds, attentionMask), D = this.primary.weights.d;
      checkWorkingMemory(this.primary.weights, b.B, b.S, 0, 0, this.freeBytes(), 0, b.B * b.S * D * 4);
      const data = await this.run({ keys: b.S, rows: b.B * b.S }, async (r) => {
        const { hidden } = encode(r.backend, r.weights, b);
        return (await r.backend.read(hidden, 0, b.B * b.S * D)).slice();
      });
      return { data, shape: [b.B, b.S, D] };
    });
  }

  /** Raw logits [B, T, V] for given decoder inputs (teacher forcing, causal): what the model's forward returns. */
  async decoderLogits(inputIds: TokenBatch, decoderInputIds: TokenBatch, attentionMask?: TokenBatch): Promise<{ data: Float32Array; shape: [number, number, number] }> {
    return this.exclusive(async () => {
      const b = this.batch(inputIds, attentionMask);
      const dec = decoderRows(this.primary.weights, decoderInputIds, b.B);
      const T = dec[0].length, V = this.primary.weights.vocabOut;
      // the result [B, T, V] is made in JS: counted against the same budget
      checkWorkingMemory(this.primary.weights, b.B, b.S, 1, T, this.freeBytes(), 0, b.B * T * V * 4);
      const out = new Float32Array(b.B * T * V);
      await this.run({ keys: Math.max(b.S, T), rows: b.B * b.S }, async (r) => {
        const session = this.sessions(r, b, T)(1);
        for (let t = 0; t < T; t++) {
          const logits = await session.step(Int32Array.from(dec, (row) => row[t]));
          for (let i = 0; i < b.B; i++) out.set(logits.subarray(i * V, (i + 1) * V), (i * T + t) * V);
        }
      });
      return { data: out, shape: [b.B, T, V] };
    });
  }

  // --- where a call runs: the one place that falls back from WebGPU to wasm ------------------------------

  /** The runner for a call of this shape: the primary, unless the call is beyond its limits (then wasm, this
   *  call only). */
  private runnerFor(need: CallShape): Runner {
    this.checkPrimary();
    const { limits } = this.primary.backend;
    if (this.fallback && (need.keys > limits.maxKeys || need.rows > limits.maxRows || (need.topK ?? 0) > limits.maxTopK)) return this.fallback;
    return this.primary;
  }

  /** After the primary's device was lost: wasm from now on, said in the note. */
  private checkPrimary(): void {
    if (!this.fallback || this.disposed) return;
    const lost = this.primary.backend.failure();
    if (lost) this.useFallback(lost);
  }

  private useFallback(why: string): void {
    if (!this.fallback) return;
    this.primary.backend.destroy();
    this.primary = this.fallback;
    this.fallback = null;
    this.note = `${why}; running on wasm from now on`;
  }

  /**
   * Runs `fn` on the runner for `need` inside a mark of its memory. If the primary (WebGPU) fails under it, or
   * reports an error afterwards (its results cannot be trusted), later calls move to wasm and this one is answered
   * there. The caller's own errors (bad input, abort) pass through.
   */
  private async run<T>(need: CallShape, fn: (r: Runner) => Promise<T>): Promise<T> {
    const r = this.runnerFor(need);
    const mark = r.backend.mark();
    let out: T;
    try {
      out = await fn(r);
    } catch (e) {
      const why = r === this.primary && this.fallback ? r.backend.failure() : null;
      if (!why) throw e;
      this.useFallback(why);
      return this.run(need, fn);
    } finally {
      r.backend.release(mark);
    }
    const why = r === this.primary && this.fallback ? r.backend.failure() : null;
    if (!why) return out;
    this.useFallback(why);
    return this.run(need, fn);
  }

  /**
   * generateStream on `r`, passed through; if the primary fails mid-stream, the search restarts on wasm (same
   * tokens: the backends agree to 1e-5 in the logits), the events already given are checked against the replay
   * rather than repeated, and the stream goes on from where it was. A replay that disagrees is an error, never
   * silently other text.
   */
  private async *streamWithFallback(r: Runner, batch: Batch, cfg: ResolvedGenerateConfig, entry: StreamEntry): AsyncGenerator<GenerationEvent, GenerateOutput, undefined> {
    const given: string[] = [];
    try {
      const events = generateStream(this.sessions(r, batch, cfg.maxLength), batch.B, cfg);
      for (;;) {
        const next = await events.next();
        if (next.done) return next.value;
        given.push(JSON.stringify(next.value));
        yield next.value;
      }
    } catch (e) {
      const why = r === this.primary && this.fallback ? r.backend.failure() : null;
      if (!why) throw e;
      this.useFallback(why);
    }
    // the replay's memory is the stream's too: released with it
    const w = this.primary;
    entry.regions.push({ backend: w.backend, mark: w.backend.mark() });
    const replay = generateStream(this.sessions(w, batch, cfg.maxLength), batch.B, cfg);
    for (let i = 0; ; i++) {
      const next = await replay.next();
      if (next.done) return next.value;
      if (i >= given.length) { yield next.value; continue; }
      if (JSON.stringify(next.value) !== given[i]) {
        throw new UnsupportedError(`the GPU failed mid-stream and the wasm replay chose other tokens at event ${i}: ` +
          'the stream cannot continue consistently; call stream() again (it now runs on wasm)');
      }
    }
  }

  private shape(b: Batch, cfg: ResolvedGenerateConfig): CallShape {
    // beam search keeps max(2, 1 + #eos) candidates per beam (transformers' rule)
    const topK = cfg.numBeams > 1 ? Math.max(2, 1 + cfg.eosTokenIds.length) * cfg.numBeams : 0;
    return { keys: Math.max(b.S, cfg.maxLength), rows: Math.max(b.B * b.S, b.B * cfg.numBeams), topK };
  }

  /** The shared batch of generate() calls, where batching is on and the model runs on wasm. */
  private batcher(): Batcher | null {
    this.checkPrimary();
    if (!this.batching || this.primary.backend.kind !== 'wasm') return null;
    const { backend, weights } = this.primary;
    this.batch_ ??= new Batcher(backend, weights, this.batching, (fn) => this.afterCalls(fn), () => this.checkUsable());
    return this.batch_;
  }

  /** What a call asks of the shared batch: its rows, and its memory (an upper bound). */
  private need({ batch, cfg }: { batch: Batch; cfg: ResolvedGenerateConfig }): CallNeed {
    const w = this.primary.weights;
    checkDecoderLength(w, cfg.maxLength);
    return { rows: batch.B * cfg.numBeams, bytes: workingFloats(w, batch.B, batch.S, cfg.numBeams, cfg.maxLength, this.shape(batch, cfg).topK) * 4 };
  }

  /** Sessions over `r` for this batch: each runs the encoder, then decodes up to maxLength tokens. */
  private sessions(r: Runner, b: Batch, maxLength: number): DecoderFactory {
    checkDecoderLength(r.weights, maxLength);
    return (numBeams: number) => DecoderSessionImpl.create(r.backend, r.weights, b, numBeams, maxLength);
  }

  // --- inputs ------------------------------------------------------------------------------------------

  /** The input and options of generate()/stream(), checked and resolved (inputs.ts). */
  private prepare(input: GenerateInput, options: ModelGenerateOptions): PreparedCall {
    const c = this.config;
    return prepareGenerate(input, options, this.primary.weights, this.tokenizer, c.generation, c.pad_token_id, c.eos_token_id, this.freeBytes());
  }

  /** Bytes of wasm memory a call may still allocate (4 GiB less the weights and any open stream). */
  private freeBytes(): number {
    return WASM_MEMORY_BYTES - this.rt.heap.used;
  }

  private checkUsable(): void {
    if (this.disposed) throw new InputError('this model was disposed: load it again to use it');
  }

  /** One call at a time: calls share the backend's working memory. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.afterCalls(() => { this.checkUsable(); return fn(); });
  }

  /** `fn` after every call queued so far (also after dispose: what a closing stream needs). */
  private afterCalls<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Validates ids and pads rows into [B, S] with a key mask. */
  private batch(inputIds: TokenBatch, attentionMask?: TokenBatch): Batch {
    return padBatch(this.primary.weights, inputIds, attentionMask, this.config.pad_token_id, this.config.eos_token_id);
  }
}
