// Continuous batching: generate() calls that overlap in time on one model share decoder steps. A call is admitted
// between steps (its encoder runs at once and its rows join the next step) and leaves when its search ends; each
// keeps its own search and options (greedy or beam, lengths, processors, stopping, abort signal). A step runs the
// linear layers once over every call's rows (decodeStep), so the weights, read once a step, serve them all — at
// batch 1 a decoder step is memory-bound, which makes the extra rows nearly free. Results are each call's own:
// attention, ranking and the search run per call, and a row's GEMM outputs do not depend on the other rows.
//
// Memory is the backend's stack: each call's decoder memory (caches, cross K|V) goes on top as it joins, and a
// step's scratch above that for the step alone. A call that ends releases its memory once every call above it has
// ended too. Admission is bounded by rows and by bytes (maxRows, maxMemory); calls over the bound wait, in order.
// Everything that takes or gives back backend memory for longer than one synchronous stretch — a join (its
// encoder), a step, a release — runs as a turn of the model's call queue, so other calls (encode, decoderLogits,
// calls on a model without batching) run between the batch's turns and find the stack as they left it.
import type { Backend, Buf } from '../backends/backend.js';
import { AbortedError, InputError } from '../errors.js';
import { generate as runGenerate, generateStream } from '../generation/index.js';
import { yieldToEventLoop } from '../generation/greedy.js';
import type { GenerateOutput, GenerationEvent, ResolvedGenerateConfig } from '../generation/types.js';
import { show } from '../validate.js';
import { decodeStep, DecoderSessionImpl, DecoderState, StepScratch, stepScratchFloats, type Batch } from './forward.js';
import type { ModelWeights } from './weights.js';

/** The `batching` load option: bounds of one shared batch. */
export interface BatchingOptions {
  /** Most decoder rows (sentences × beams, summed over calls) in one step; default 64. */
  maxRows?: number;
  /** Most bytes of working memory (decoder caches, encoder outputs, a step's scratch) the batch holds above the
   *  weights; default 512 MiB. A call alone may exceed both bounds (it then runs by itself). */
  maxMemory?: number;
}

export const BATCHING_DEFAULTS = { maxRows: 64, maxMemory: 512 * 2 ** 20 } as const;

/** Checks the `batching` load option; false disables batching (calls then run one after another). */
export function batchingOption(v: unknown): Required<BatchingOptions> | null {
  if (v === false) return null;
  if (v === undefined || v === true) return { ...BATCHING_DEFAULTS };
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new InputError(`batching must be false or { maxRows, maxMemory }, got ${show(v)}`);
  const o = v as BatchingOptions;
  const int = (name: string, x: unknown, min: number, fallback: number): number => {
    if (x === undefined) return fallback;
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < min) throw new InputError(`batching.${name} must be an integer ≥ ${min}, got ${show(x)}`);
    return x;
  };
  for (const k of Object.keys(o)) if (k !== 'maxRows' && k !== 'maxMemory') throw new InputError(`batching has no option ${show(k)} (maxRows, maxMemory)`);
  return { maxRows: int('maxRows', o.maxRows, 1, BATCHING_DEFAULTS.maxRows), maxMemory: int('maxMemory', o.maxMemory, 1, BATCHING_DEFAULTS.maxMemory) };
}

/** What a call asks of the batch: its decoder rows and an upper bound of its memory in bytes. */
export interface CallNeed { rows: number; bytes: number }

interface PendingStep { tokens: Int32Array; run: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }

/** One call's session in the shared batch: its steps wait for the batch's next step, and return copies (the
 *  step's memory is gone when the call goes on). */
class BatchMember extends DecoderSessionImpl {
  pending: PendingStep | null = null;
  constructor(b: Backend, w: ModelWeights, state: DecoderState, private readonly batcher: Batcher) {
    super(b, w, state);
  }

  protected override get inPlace(): boolean { return false; }
  /** The batch lets the event loop turn between steps: the search need not (abort events still arrive). */
  readonly yieldsToEventLoop = true;

  /** The step's operation `fn` runs inside the batch's next step, on this call's rows of its logits. The result
   *  is a promise of fn's value (the search loops await any promise they get). */
  protected override stepThen<T>(tokens: Int32Array, fn: () => T): T {
    if (this.pending) throw new InputError('a batched decoder session takes one step at a time');
    const p = new Promise((resolve, reject) => { this.pending = { tokens: tokens.slice(), run: fn, resolve, reject }; });
    this.batcher.stepRequested();
    return p as T;
  }

  /** Called by the batch step: this call's logits are rows [off, off + rows) of `logits`. */
  at(logits: Buf, off: number): void {
    this.logits = logits;
    this.logitsOff = off * this.vocabSize;
  }
}

/** Longest run of steps without letting the event loop turn (new calls, timers, aborts wait at most this). */
const SLICE_MS = 4;

interface Region { mark: number; live: boolean; member: BatchMember }
/** A call in the batch: what it asked for, and its memory once it has joined. */
export interface Call { need: CallNeed; region: Region | null; left?: boolean }
interface Waiter { need: CallNeed; admit: () => void; fail: (e: unknown) => void }

/** What the shared batch did since the model was loaded (serving diagnostics). */
export interface BatchStats {
  /** Decoder steps run, and the rows they carried in all (rows / steps = mean rows per step). */
  steps: number; rows: number;
  /** Most rows, and most calls, in one step. */
  maxRows: number; maxCalls: number;
  /** Calls that had to wait for room (maxRows / maxMemory). */
  queued: number;
}

export class Batcher {
  readonly stats: BatchStats = { steps: 0, rows: 0, maxRows: 0, maxCalls: 0, queued: 0 };
  private readonly members: BatchMember[] = [];
  private readonly regions: Region[] = [];
  private readonly waiting: Waiter[] = [];
  private rows = 0;
  private reserved = 0;
  private stepQueued = false;
  /** When the event loop last turned between steps. */
  private lastTurn = 0;

  constructor(private readonly b: Backend, private readonly w: ModelWeights, private readonly bounds: Required<BatchingOptions>,
    /** Runs fn as the model's next turn (its call queue), after the calls queued before it. */
    private readonly turn: <T>(fn: () => Promise<T>) => Promise<T>,
    /** Throws when the model can no longer be used (disposed). */
    private readonly checkUsable: () => void) {}

  /** Generates for `batch` in the shared batch, once it has room for `need`. */
  async generate(batch: Batch, cfg: ResolvedGenerateConfig, need: CallNeed): Promise<GenerateOutput> {
    const call: Call = { need, region: null };
    await this.admit(call, cfg.signal);
    try {
      const member = await this.join(call, batch, cfg);
      return await runGenerate(() => member, batch.B, cfg);
    } finally {
      this.leave(call);
    }
  }

  /** generateStream in the shared batch: greedy yields an event per step as that step ends for this call. The call
   *  leaves when the stream ends or is closed; `onCall` gets it at once, so a stream dropped without return()
   *  can be ended by its owner (leave()). */
  async *stream(batch: Batch, cfg: ResolvedGenerateConfig, need: CallNeed, onCall: (call: Call) => void): AsyncGenerator<GenerationEvent, GenerateOutput, undefined> {
    const call: Call = { need, region: null };
    onCall(call);
    await this.admit(call, cfg.signal);
    try {
      const member = await this.join(call, batch, cfg);
      return yield* generateStream(() => member, batch.B, cfg);
    } finally {
      this.leave(call);
    }
  }

  /** The call's session, made in a turn: its decoder memory on top of the stack (its encoder runs now), its rows
   *  in the next step. */
  private join(call: Call, batch: Batch, cfg: ResolvedGenerateConfig): Promise<BatchMember> {
    return this.turn(async () => {
      this.checkUsable();
      if (cfg.signal?.aborted) throw new AbortedError('generation was aborted', { cause: cfg.signal.reason });
      const mark = this.b.mark();
      let state: DecoderState;
      try {
        state = new DecoderState(this.b, this.w, batch, cfg.numBeams, cfg.maxLength);
      } catch (e) {
        this.b.release(mark);
        throw e;
      }
      const member = new BatchMember(this.b, this.w, state, this);
      call.region = { mark, live: true, member };
      this.regions.push(call.region);
      this.members.push(member);
      return member;
    });
  }

  /** Bytes the batch holds: what is on its part of the stack (live calls, and ended ones below live ones), or what
   *  the admitted calls may take, whichever is more (a call admitted takes its memory when its encoder runs). */
  private get heldBytes(): number {
    const stacked = this.regions.length > 0 ? this.b.mark() - this.regions[0].mark : 0; // wasm marks are byte offsets
    return Math.max(stacked, this.reserved);
  }

  private fits(need: CallNeed): boolean {
    if (this.rows === 0) return true; // a call alone always runs
    const rows = this.rows + need.rows;
    return rows <= this.bounds.maxRows &&
      this.heldBytes + need.bytes + stepScratchFloats(this.w, rows) * 4 <= this.bounds.maxMemory;
  }

  /** Resolves when the call may join (the batch has room); waiters are admitted in order. The call's rows and bytes
   *  count from the moment it is admitted (leave() gives them back). */
  private async admit(call: Call, signal: AbortSignal | null): Promise<void> {
    const { need } = call;
    if (signal?.aborted) throw new AbortedError('generation was aborted', { cause: signal.reason });
    if (this.waiting.length > 0 || !this.fits(need)) {
      this.stats.queued++;
      await new Promise<void>((admit, fail) => {
        const waiter: Waiter = { need, admit, fail };
        this.waiting.push(waiter);
        signal?.addEventListener('abort', () => {
          const i = this.waiting.indexOf(waiter);
          if (i < 0) return;
          this.waiting.splice(i, 1);
          fail(new AbortedError('generation was aborted while waiting for room in the batch', { cause: signal.reason }));
          this.admitWaiting();
        }, { once: true });
      });
    } else {
      this.take(need);
    }
  }

  private take(need: CallNeed): void {
    this.rows += need.rows;
    this.reserved += need.bytes;
  }

  private admitWaiting(): void {
    while (this.waiting.length > 0 && this.fits(this.waiting[0].need)) {
      const w = this.waiting.shift()!;
      this.take(w.need);
      w.admit();
    }
  }

  /** A call ended: its rows leave, its memory goes back (in a turn) once nothing above it is live. Once per call
   *  (a second leave does nothing). */
  leave(call: Call): void {
    if (call.left) return;
    call.left = true;
    this.rows -= call.need.rows;
    this.reserved -= call.need.bytes;
    const region = call.region;
    if (region) {
      region.live = false;
      this.members.splice(this.members.indexOf(region.member), 1);
    }
    if (region) {
      void this.turn(async () => {
        while (this.regions.length > 0 && !this.regions[this.regions.length - 1].live) this.b.release(this.regions.pop()!.mark);
        this.admitWaiting(); // the memory bound may have room now
      });
    }
    this.admitWaiting();
    this.stepRequested(); // the others may all be waiting for this one
  }

  /**
   * A member asked for a step. With every member asking, the step runs at once (the model's next turn) — unless the batch
   * has run for SLICE_MS since it last let the event loop turn: then it runs after one turn, so requests arriving
   * meanwhile (I/O, timers, abort events) are admitted between steps. With some member not asking yet (a slow
   * stream reader), the step waits up to two turns for it, then runs without it (it joins the step after).
   */
  stepRequested(): void {
    if (this.stepQueued || !this.members.some((m) => m.pending)) return;
    this.stepQueued = true;
    const all = this.members.every((m) => m.pending);
    if (all && performance.now() - this.lastTurn < SLICE_MS) {
      this.stepTurn(false);
    } else {
      void yieldToEventLoop().then(() => this.runStep(all ? 2 : 1));
    }
  }

  /** Runs the step after `turns` event-loop turns at most (fewer if every member is asking by then). */
  private runStep(turns: number): void {
    if (turns < 2 && !this.members.every((m) => m.pending)) {
      void yieldToEventLoop().then(() => this.runStep(turns + 1));
      return;
    }
    this.stepTurn(true);
  }

  /** The step, as the model's next turn (after the event loop turned, with `turned`). */
  private stepTurn(turned: boolean): void {
    void this.turn(async () => {
      this.stepQueued = false;
      if (turned) this.lastTurn = performance.now();
      this.step();
    });
  }

  /** One decoder step of every member that asked for one; each member's operation then runs on its rows. */
  private step(): void {
    const ready = this.members.filter((m) => m.pending);
    if (ready.length === 0) return;
    const pending = ready.map((m) => m.pending!);
    for (const m of ready) m.pending = null;
    const mark = this.b.mark();
    try {
      this.checkUsable();
      const rows = ready.map((m) => m.rows), R = rows.reduce((a, r) => a + r, 0);
      const tokens = new Int32Array(R);
      let off = 0;
      pending.forEach((p, i) => { tokens.set(p.tokens, off); off += rows[i]; });
      const scratch = new StepScratch(this.b, this.w, R);
      decodeStep(this.b, this.w, ready.map((m) => m.state), tokens, scratch);
      const st = this.stats;
      st.steps++;
      st.rows += R;
      st.maxRows = Math.max(st.maxRows, R);
      st.maxCalls = Math.max(st.maxCalls, ready.length);
      off = 0;
      ready.forEach((m, i) => {
        m.at(scratch.logits, off);
        off += rows[i];
        try {
          pending[i].resolve(pending[i].run());
        } catch (e) {
          pending[i].reject(e);
        }
      });
    } catch (e) {
      for (const p of pending) p.reject(e);
    } finally {
      this.b.release(mark);
    }
  }
}
