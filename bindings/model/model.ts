// The public model object: generate / stream / encode / decoderLogits over the forward pass (forward.ts) on the
// backend chosen at load (load.ts).
//
//   const { sequences, scores } = await model.generate([[123, 456, 0]], { numBeams: 4 });
import type { Backend } from '../backends/backend.js';
import type { WasmRuntime } from '../backends/wasm/runtime.js';
import type { ThreadStats } from '../backends/wasm/threads/pool.js';
import type { GenerationDefaults, ModelConfig } from '../config.js';
import { InputError, UnsupportedError } from '../errors.js';
import { generate as runGenerate, generateStream, resolveGenerateConfig } from '../generation/index.js';
import type { DecoderFactory, GenerateOptions, GenerateOutput, GenerationEvent, ResolvedGenerateConfig } from '../generation/types.js';
import type { Tokenizer } from '../tokenizers/index.js';
import { DecoderSessionImpl, encode, type Batch } from './forward.js';
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

export class Seq2SeqModel {
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;

  constructor(readonly config: ModelConfig, private readonly rt: WasmRuntime,
    /** Where calls run; `fallback` (wasm, when the primary is WebGPU) takes over if the primary fails. */
    private primary: Runner, private fallback: Runner | null,
    /** The repo's tokenizer (null when the source has none: then only token ids are accepted). */
    readonly tokenizer: Tokenizer | null = null,
    private note = 'wasm SIMD (backend: wasm)') {}

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
  timeThreads(on: boolean): void { this.rt.pool?.setTiming(on); }
  /** Busy ms and chunks per thread (this one first) since the last take; null on one thread. */
  takeThreadStats(): ThreadStats | null { return this.rt.pool?.takeStats() ?? null; }

  /** Stops the model's worker threads and frees its GPU device now (they also go when the model is
   *  garbage-collected); later calls throw. */
  dispose(): void {
    this.disposed = true;
    this.primary.backend.destroy();
    this.fallback?.backend.destroy();
    this.fallback = null;
    this.note = 'disposed';
  }

  /** Bytes of wasm memory holding the weights and the largest working set so far. */
  get memoryBytes(): number { return this.rt.heap.peak; }

  async generate(input: GenerateInput, options: ModelGenerateOptions = {}): Promise<ModelGenerateOutput> {
    return this.exclusive(async () => {
      const { ids, text, options: o } = this.prepare(input, options);
      const cfg = resolveGenerateConfig(o, this.config.generation);
      const batch = this.batch(ids, o.attentionMask);
      const out: ModelGenerateOutput = await this.run(this.shape(batch, cfg), (r) => runGenerate(this.sessions(r, batch, cfg.maxLength), batch.B, cfg));
      if (text) out.text = this.tokenizer!.decodeBatch(out.sequences);
      return out;
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
    let r: Runner | null = null, mark = 0;
    try {
      this.checkUsable();
      const { ids, text, options: o } = this.prepare(input, options);
      const cfg = resolveGenerateConfig(o, this.config.generation);
      const batch = this.batch(ids, o.attentionMask);
      r = this.runnerFor(this.shape(batch, cfg));
      mark = r.backend.mark();
      const events = this.streamWithFallback(r, batch, cfg);
      if (!text) return yield* events;
      // Decode each row's tokens so far and yield what was added: pieces that join into the final text.
      const tok = this.tokenizer!;
      const rows: number[][] = Array.from({ length: batch.B }, () => [cfg.decoderStartTokenId]);
      const shown = new Array<string>(batch.B).fill('');
      for (;;) {
        const next = await events.next();
        if (next.done) { const out: ModelGenerateOutput = next.value; out.text = tok.decodeBatch(out.sequences); return out; }
        const ev = next.value;
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
      r?.backend.release(mark);
      release();
    }
  }

  /** Encoder output [B, S, D] (rows at padded positions included, as transformers computes them). */
  async encode(inputIds: TokenBatch, attentionMask?: TokenBatch): Promise<{ data: Float32Array; shape: [number, number, number] }> {
    return this.exclusive(async () => {
      const b = this.batch(inputIds, attentionMask), D = this.primary.weights.d;
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
      const T = decoderInputIds[0]?.length ?? 0;
      if (!Array.isArray(decoderInputIds) || decoderInputIds.length !== b.B || T === 0 || decoderInputIds.some((r) => r.length !== T)) {
        throw new InputError(`decoderInputIds must be ${b.B} non-empty rows of equal length`);
      }
      const V = this.primary.weights.vocabOut;
      const out = new Float32Array(b.B * T * V);
      await this.run({ keys: Math.max(b.S, T), rows: b.B * b.S }, async (r) => {
        const session = this.sessions(r, b, T)(1);
        for (let t = 0; t < T; t++) {
          const logits = await session.step(Int32Array.from(decoderInputIds, (row) => row[t]));
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
  private async *streamWithFallback(r: Runner, batch: Batch, cfg: ResolvedGenerateConfig): AsyncGenerator<GenerationEvent, GenerateOutput, undefined> {
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
    const w = this.primary, mark = w.backend.mark();
    try {
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
    } finally {
      w.backend.release(mark);
    }
  }

  private shape(b: Batch, cfg: ResolvedGenerateConfig): CallShape {
    // beam search keeps max(2, 1 + #eos) candidates per beam (transformers' rule)
    const topK = cfg.numBeams > 1 ? Math.max(2, 1 + cfg.eosTokenIds.length) * cfg.numBeams : 0;
    return { keys: Math.max(b.S, cfg.maxLength), rows: Math.max(b.B * b.S, b.B * cfg.numBeams), topK };
  }

  /** Sessions over `r` for this batch: each runs the encoder, then decodes up to maxLength tokens. */
  private sessions(r: Runner, b: Batch, maxLength: number): DecoderFactory {
    const rows = r.weights.decPositions?.maxLength;
    if (rows !== undefined && maxLength > rows) {
      throw new InputError(`max length ${maxLength} (decoder tokens incl. the start token) exceeds the model's ${rows} decoder positions (max_position_embeddings); lower maxLength / maxNewTokens`);
    }
    return (numBeams: number) => new DecoderSessionImpl(r.backend, r.weights, b, numBeams, maxLength);
  }

  // --- inputs ------------------------------------------------------------------------------------------

  /** Text → ids with the model's tokenizer; language options → transformers' forced ids. */
  private prepare(input: GenerateInput, options: ModelGenerateOptions): { ids: TokenBatch; text: boolean; options: ModelGenerateOptions } {
    if (options === null || typeof options !== 'object') throw new InputError('generate options must be an object');
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

  private checkUsable(): void {
    if (this.disposed) throw new InputError('this model was disposed: load it again to use it');
  }

  /** One call at a time: calls share the backend's working memory. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const guarded = () => { this.checkUsable(); return fn(); };
    const run = this.queue.then(guarded, guarded);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Validates ids and pads rows into [B, S] with a key mask. */
  private batch(inputIds: TokenBatch, attentionMask?: TokenBatch): Batch {
    if (!Array.isArray(inputIds) || inputIds.length === 0) throw new InputError('inputIds must be a non-empty array of token id rows');
    const B = inputIds.length;
    const V = this.primary.weights.vocabIn;
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
