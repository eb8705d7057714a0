// The encoder-decoder Transformer, written once for every family (Marian, BART, mBART, M2M100/NLLB, T5) and every
// backend (wasm, WebGPU), read top to bottom. The families differ only in the options of ModelWeights (weights.ts):
// pre- or post-norm, positions, embedding scale and norms, T5's relative bias, the activation, a gated FFN.
//
// Shapes (B sentences, S padded source length, R = B × beams decoder rows, D = d_model, A = attention width,
// F = FFN width, V = output vocabulary, T = the session's longest decoder sequence):
//   encoder hidden [B·S, D]     cross K|V per layer [B·S, 2A] (K in columns 0..A-1, V in A..2A-1)
//   decoder hidden [R, D]       self K|V cache per layer [R, T, 2A]      logits [R, V]
import type { Backend, Buf, EmbeddingSource, NormWeights } from '../backends/backend.js';
import { InputError, NumericError, UnsupportedError } from '../errors.js';
import type { DecoderSession, RankedCandidates as Ranked } from '../generation/types.js';
import type { FeedForward, ModelWeights, Positions } from './weights.js';

/** A padded batch of source sentences: ids [B, S] and their key mask [B, S] (1 = token, 0 = padding). */
export interface Batch { ids: Int32Array; mask: Uint8Array; B: number; S: number }

/** Floats of FFN scratch per row: the widest FFN's up (+ gate) outputs. */
function ffnWidth(w: ModelWeights): number {
  let f = 0;
  for (const L of [...w.encLayers, ...w.decLayers]) f = Math.max(f, L.ffn.up.outF * (L.ffn.gate ? 2 : 1));
  return f;
}

/**
 * Floats of backend memory a call allocates (an upper bound: the encoder's scratch is counted although the decoder
 * reuses it): the encoder over B × S tokens (encode()), and with `beams` > 0 a DecoderSessionImpl of B × beams rows
 * sized for maxLen tokens (beam search: topK candidates per sentence). What inputs.ts checks against the memory left before a call starts.
 */
export function workingFloats(w: ModelWeights, B: number, S: number, beams = 0, maxLen = 0, topK = 0): number {
  const D = w.d, A = w.attnWidth, F = ffnWidth(w), n = B * S;
  let f = n * (2 * D + 4 * A + F + 2) + (w.relBias ? w.encHeads * S * S : 0);
  if (beams > 0) {
    const R = B * beams, L = w.decLayers.length;
    f += L * n * 2 * A + (L + 1) * R * maxLen * 2 * A + R * (2 * D + 6 * A + F + w.vocabOut + 2) +
      (w.relBias ? w.decHeads * maxLen : 0) + 2 * B * topK + 64;
  }
  return f;
}

/** Embeddings × scale (+ positions) (+ layernorm_embedding) of `rows` sequences of `len` tokens, row r after
 *  past(r) earlier tokens. */
function embedTokens(b: Backend, w: ModelWeights, embed: EmbeddingSource, pos: Positions | null, norm: NormWeights | null,
  tokens: Int32Array, rows: number, len: number, past: (row: number) => number, out: Buf): void {
  const n = rows * len;
  b.embed(embed, b.upload(tokens, 'token ids [n]'), n, w.embedScale, out, false); // out [n, D]
  if (pos) {
    const ids = new Int32Array(n);
    for (let r = 0; r < rows; r++) pos.ids(tokens.subarray(r * len, (r + 1) * len), past(r), ids.subarray(r * len, (r + 1) * len));
    for (const p of ids) {
      if (p < 0 || p >= pos.table.rows) throw new InputError(`position ${p} is outside the model's position table (${pos.table.rows} rows): the sequence is too long for this model`);
    }
    b.embed({ table: pos.table }, b.upload(ids, 'position ids [n]'), n, 1, out, true); // out += positions
  }
  if (norm) b.norm(norm, out, n, out);
}

/** out[rows, D] (+)= FFN(src[rows, D]), with hidden [rows, F] (or [rows, 2F] gated) as scratch. */
function feedForward(b: Backend, f: FeedForward, src: Buf, rows: number, out: Buf, hidden: Buf): void {
  const n = rows * f.up.outF;
  b.linear(f.up, src, 0, rows, hidden, 0, false); // hidden[0, n) = up(x)           [rows, F]
  if (f.gate) {
    b.linear(f.gate, src, 0, rows, hidden, n, false); // hidden[n, 2n) = gate(x)      [rows, F]
    b.activation(f.act, hidden, 0, n, n); // hidden[0, n) = act(up) · gate
  } else {
    b.activation(f.act, hidden, 0, n);
  }
  b.linear(f.down, hidden, 0, rows, out, 0, true); // out += down(hidden)              [rows, D]
}

/** A residual block: h += f(norm(h)) (pre-norm) or h = norm(h + f(h)) (post-norm); x [rows, D] is scratch. */
function residual(b: Backend, preNorm: boolean, norm: NormWeights, h: Buf, x: Buf, rows: number, f: (src: Buf) => void): void {
  if (preNorm) {
    b.norm(norm, h, rows, x);
    f(x);
  } else {
    f(h);
    b.norm(norm, h, rows, h);
  }
}

/**
 * The encoder over a batch: returns hidden [B·S, D] and the key mask as uploaded,
 * both allocated at the caller's level of the backend's memory (scratch is released).
 */
export function encode(b: Backend, w: ModelWeights, { ids, mask, B, S }: Batch): { hidden: Buf; mask: Buf } {
  const D = w.d, A = w.attnWidth, H = w.encHeads, hd = A / H, n = B * S;
  const h = b.alloc(n * D, 'encoder hidden [B·S, D]');
  const maskBuf = b.upload(mask, 'key mask [B, S]');
  const mark = b.mark();
  const x = b.alloc(n * D, 'normed [B·S, D]');
  const qkv = b.alloc(n * 3 * A, 'q|k|v [B·S, 3A]');
  const ctx = b.alloc(n * A, 'attention context [B·S, A]');
  const hidden = b.alloc(n * ffnWidth(w), 'ffn hidden [B·S, F]');
  const bias = w.relBias ? b.upload(w.relBias.encoder(S), 'relative bias [H, S, S]') : null;
  embedTokens(b, w, w.encEmbed, w.encPositions, w.encEmbedNorm, ids, B, S, () => 0, h);
  for (const L of w.encLayers) {
    residual(b, w.preNorm, L.selfNorm, h, x, n, (src) => {
      b.linear(L.self.qkv, src, 0, n, qkv, 0, false); // qkv [B·S, 3A]
      b.attention({ // each sentence's queries against its own keys, padding masked
        q: qkv, qOff: 0, qStride: 3 * A, qGroup: S * 3 * A,
        kv: qkv, kOff: A, vOff: 2 * A, kvStride: 3 * A, kvGroup: S * 3 * A, kvDiv: 1,
        out: ctx, outOff: 0, outStride: A, outGroup: S * A,
        groups: B, tq: S, tk: S, heads: H, hd, scale: w.scaleAttention ? hd ** -0.5 : 1,
        mask: maskBuf, maskOff: 0, maskGroup: S, causal: -1, bias,
      }); // ctx [B·S, A]
      b.linear(L.self.out, ctx, 0, n, h, 0, true); // h += attention [B·S, D]
    });
    residual(b, w.preNorm, L.ffnNorm, h, x, n, (src) => feedForward(b, L.ffn, src, n, h, hidden)); // h += ffn
  }
  if (w.encFinalNorm) b.norm(w.encFinalNorm, h, n, h);
  b.release(mark);
  return { hidden: h, mask: maskBuf };
}

/**
 * One call's decoder memory: the encoder runs and each decoder layer's cross-attention K|V is computed once, here,
 * for its B sentences; then rows = B × beams self-attention caches grow one token per step. Rows and sentences
 * leave as they finish (reorder with fewer of them): the caches keep their first `rows` rows live, and the cross
 * K|V stays where it is, read through `sentences`. Allocated at the caller's level of the backend's memory.
 */
export class DecoderState {
  /** Tokens fed so far (= self-attention cache length). */
  t = 0;
  /** Live rows: sentence s (live order) owns rows [s·beams, (s+1)·beams). */
  rows: number;
  /** Live sentence s → its place in the encoded batch (its cross K|V and key mask). */
  private sentences: Int32Array;
  /** The live sentences as runs [first live sentence, first encoded sentence, count] of consecutive encoded ones:
   *  one cross-attention call per run. */
  runs: [number, number, number][];
  readonly S: number;
  readonly encMask: Buf;
  readonly crossKV: Buf[] = [];
  readonly cache: Buf[] = [];

  constructor(private readonly b: Backend, private readonly w: ModelWeights, batch: Batch, readonly beams: number, readonly maxLen: number) {
    const { B, S } = batch, A = w.attnWidth, R = B * beams;
    this.S = S;
    this.rows = R;
    this.sentences = Int32Array.from({ length: B }, (_, s) => s);
    this.runs = [[0, 0, B]];
    const enc = encode(b, w, batch);
    this.encMask = enc.mask;
    for (const L of w.decLayers) { // cross-attention K|V once per input sentence (not per beam)
      const kv = b.alloc(B * S * 2 * A, 'cross K|V [B·S, 2A]');
      b.linear(L.cross.kv, enc.hidden, 0, B * S, kv, 0, false);
      this.crossKV.push(kv);
    }
    for (let l = 0; l < w.decLayers.length; l++) this.cache.push(b.alloc(R * maxLen * 2 * A, 'self K|V cache [R, T, 2A]'));
  }

  /** Row r of every self-attention cache becomes old row index[r] (transformers' _reorder_cache); with
   *  `sentences`, live sentence s becomes old live sentence sentences[s] and rows of the others leave (index then
   *  covers the remaining sentences' rows only). */
  reorder(index: Int32Array, sentences?: Int32Array): void {
    const A = this.w.attnWidth, B = this.rows / this.beams;
    if (sentences) {
      if (sentences.length === 0 || sentences.length > B || sentences.some((s, i) => !Number.isInteger(s) || s < 0 || s >= B || (i > 0 && s <= sentences[i - 1]))) {
        throw new InputError(`reorder() sentences must be increasing live sentence indices in [0, ${B}), got [${sentences.join(', ')}]`);
      }
      this.sentences = Int32Array.from(sentences, (s) => this.sentences[s]);
      this.runs = [];
      this.sentences.forEach((e, s) => {
        const last = this.runs[this.runs.length - 1];
        if (last && last[1] + last[2] === e) last[2]++;
        else this.runs.push([s, e, 1]);
      });
    }
    const R = (sentences ? sentences.length : B) * this.beams;
    if (index.length !== R || index.some((s) => !Number.isInteger(s) || s < 0 || s >= this.rows)) {
      throw new InputError(`reorder() takes ${R} row indices in [0, ${this.rows}), got ${index.length}`);
    }
    // staging for rows moved over each other: on top of the memory stack for this call only (reorder runs between
    // steps, so nothing else allocates meanwhile)
    const mark = this.b.mark();
    try {
      const saved = this.b.alloc(this.rows * this.maxLen * 2 * A, 'reorder staging [R, T, 2A]');
      for (const cache of this.cache) this.b.reorderRows(cache, this.maxLen * 2 * A, this.t * 2 * A, index, saved);
    } finally {
      this.b.release(mark);
    }
    this.rows = R;
  }
}

/** Floats of a StepScratch for R rows. */
export function stepScratchFloats(w: ModelWeights, R: number): number {
  return R * (2 * w.d + 5 * w.attnWidth + ffnWidth(w) + w.vocabOut) + 7 * 16; // + each buffer's alignment
}

/** A decoder step's working buffers for up to `capacity` rows. */
export class StepScratch {
  readonly h: Buf; readonly x: Buf; readonly qkv: Buf; readonly q: Buf; readonly ctx: Buf; readonly hidden: Buf;
  readonly logits: Buf;
  constructor(b: Backend, w: ModelWeights, readonly capacity: number) {
    const R = capacity, D = w.d, A = w.attnWidth;
    this.h = b.alloc(R * D, 'decoder hidden [R, D]');
    this.x = b.alloc(R * D, 'normed [R, D]');
    this.qkv = b.alloc(R * 3 * A, 'q|k|v [R, 3A]');
    this.q = b.alloc(R * A, 'cross q [R, A]');
    this.ctx = b.alloc(R * A, 'attention context [R, A]');
    this.hidden = b.alloc(R * ffnWidth(w), 'ffn hidden [R, F]');
    this.logits = b.alloc(R * w.vocabOut, 'logits [R, V]');
  }
}

/**
 * One decoder step of every member's live rows together, one token per row: member m's rows are rows
 * [o_m, o_m + rows_m) of the step, in order. The linear layers run once over all R rows (each weight is read once
 * a step, whoever the rows belong to); attention runs per member, against its own caches and sentences. Leaves
 * the logits [R, V] in s.logits; each member's t advances.
 */
export function decodeStep(b: Backend, w: ModelWeights, members: readonly DecoderState[], tokens: Int32Array, s: StepScratch): void {
  const D = w.d, A = w.attnWidth, H = w.decHeads, hd = A / H, scale = w.scaleAttention ? hd ** -0.5 : 1;
  const offsets: number[] = [];
  let R = 0;
  for (const m of members) {
    if (m.t >= m.maxLen) throw new InputError(`decoder length ${m.t + 1} exceeds the ${m.maxLen} this session was sized for`);
    offsets.push(R);
    R += m.rows;
  }
  if (tokens.length !== R) throw new InputError(`step() got ${tokens.length} tokens for ${R} decoder rows`);
  if (R > s.capacity) throw new InputError(`a decoder step of ${R} rows exceeds the ${s.capacity} its scratch holds`);
  for (const id of tokens) {
    if (!Number.isInteger(id) || id < 0 || id >= w.vocabOut) throw new InputError(`decoder token id ${id} is outside the vocabulary [0, ${w.vocabOut})`);
  }
  const { h, x, qkv, q, ctx } = s;
  const pastOf = new Int32Array(R); // row → its member's t
  members.forEach((m, i) => pastOf.fill(m.t, offsets[i], offsets[i] + m.rows));
  embedTokens(b, w, w.decEmbed, w.decPositions, w.decEmbedNorm, tokens, R, 1, (r) => pastOf[r], h); // h [R, D]
  const bias = members.map((m) => (w.relBias ? b.upload(w.relBias.decoderStep(m.t), 'relative bias [H, 1, t+1]') : null));
  for (let l = 0; l < w.decLayers.length; l++) {
    const L = w.decLayers[l];
    // self-attention: each row's K|V appended to its cache, the query attends over its positions 0..t
    residual(b, w.preNorm, L.selfNorm, h, x, R, (src) => {
      b.linear(L.self.qkv, src, 0, R, qkv, 0, false); // qkv [R, 3A]
      members.forEach((m, i) => {
        const o = offsets[i], T = m.maxLen, cache = m.cache[l];
        b.copyRows({ src: qkv, srcOff: o * 3 * A + A, srcStride: 3 * A, dst: cache, dstOff: m.t * 2 * A, dstStride: T * 2 * A, rows: m.rows, width: 2 * A }); // cache[r, t] = K|V of row r
        b.attention({
          q: qkv, qOff: o * 3 * A, qStride: 3 * A, qGroup: 3 * A,
          kv: cache, kOff: 0, vOff: A, kvStride: 2 * A, kvGroup: T * 2 * A, kvDiv: 1,
          out: ctx, outOff: o * A, outStride: A, outGroup: A,
          groups: m.rows, tq: 1, tk: m.t + 1, heads: H, hd, scale, mask: null, maskOff: 0, maskGroup: 0, causal: -1, bias: bias[i],
        }); // ctx [rows, A]
      });
      b.linear(L.self.out, ctx, 0, R, h, 0, true); // h += self-attention
    });
    // cross-attention: the rows of each live sentence read that sentence's K|V, with its padding mask
    residual(b, w.preNorm, L.crossNorm, h, x, R, (src) => {
      b.linear(L.cross.q, src, 0, R, q, 0, false); // q [R, A]
      members.forEach((m, i) => {
        const S = m.S;
        for (const [first, e, count] of m.runs) {
          const o = offsets[i] + first * m.beams;
          b.attention({
            q, qOff: o * A, qStride: A, qGroup: A,
            kv: m.crossKV[l], kOff: e * S * 2 * A, vOff: e * S * 2 * A + A, kvStride: 2 * A, kvGroup: S * 2 * A, kvDiv: m.beams,
            out: ctx, outOff: o * A, outStride: A, outGroup: A,
            groups: count * m.beams, tq: 1, tk: S, heads: H, hd, scale, mask: m.encMask, maskOff: e * S, maskGroup: S, causal: -1, bias: null,
          }); // ctx [count·beams, A]
        }
      });
      b.linear(L.cross.out, ctx, 0, R, h, 0, true); // h += cross-attention
    });
    residual(b, w.preNorm, L.ffnNorm, h, x, R, (src) => feedForward(b, L.ffn, src, R, h, s.hidden)); // h += ffn
  }
  if (w.decFinalNorm) b.norm(w.decFinalNorm, h, R, h);
  if (w.lmScale !== 1) b.scale(h, R * D, w.lmScale);
  b.linear(w.lmHead, h, 0, R, s.logits, 0, false); // logits [R, V]
  for (const m of members) m.t++;
}

/**
 * A DecoderSession over one DecoderState: greedy and beam search's step operations on the logits of each step.
 * This class owns its step's scratch and runs each step at once; a batched member (batcher.ts) overrides
 * stepThen to run its rows inside a step shared with other calls.
 */
export class DecoderSessionImpl implements DecoderSession {
  readonly vocabSize: number;
  /** Where the current step's logits [rows, V] are: a buffer and the element offset of this session's first row. */
  protected logits: Buf | null = null;
  protected logitsOff = 0;
  private scratch: StepScratch | null = null;
  /** The chosen ids [R] of stepArgmax, then the non-finite flag. */
  private chosenBuf: Buf | null = null;

  constructor(protected readonly b: Backend, protected readonly w: ModelWeights, readonly state: DecoderState) {
    this.vocabSize = w.vocabOut;
  }

  /** A session with its own scratch, for `beams` rows per sentence of `batch`, up to maxLen tokens. */
  static create(b: Backend, w: ModelWeights, batch: Batch, beams: number, maxLen: number): DecoderSessionImpl {
    const s = new DecoderSessionImpl(b, w, new DecoderState(b, w, batch, beams, maxLen));
    s.scratch = new StepScratch(b, w, batch.B * beams);
    s.chosenBuf = b.alloc(batch.B * beams + 1, 'argmax ids [R] | non-finite row');
    return s;
  }

  get length(): number { return this.state.t; }
  get rows(): number { return this.state.rows; }
  /** True when step() and stepLogProbs() return views of backend memory (valid until the next call). */
  protected get inPlace(): boolean { return this.b.sharedMemory; }

  /** Runs one step for `tokens`, then `fn` inside a mark of the backend's memory (the step's uploads and fn's
   *  buffers are freed with it), with this.logits set. */
  protected stepThen<T>(tokens: Int32Array, fn: () => T): T {
    const mark = this.b.mark();
    try {
      this.forward(tokens);
      return fn();
    } finally {
      this.b.release(mark);
    }
  }

  /** One decoder step of this session's rows alone (what the bench times as the forward pass). */
  private forward(tokens: Int32Array): void {
    decodeStep(this.b, this.w, [this.state], tokens, this.scratch!);
    this.logits = this.scratch!.logits;
    this.logitsOff = 0;
  }

  step(tokens: Int32Array): Float32Array | Promise<Float32Array> {
    const t = this.state.t;
    return this.stepThen(tokens, () => then(this.b.read(this.logits!, this.logitsOff, this.rows * this.vocabSize), (l) => this.own(this.checked(l, t))));
  }

  stepArgmax(tokens: Int32Array): Int32Array | Promise<Int32Array> {
    const t = this.state.t;
    return this.stepThen(tokens, () => {
      const R = this.rows, V = this.vocabSize, chosen = this.chosenBuf ?? this.b.alloc(R + 1, 'argmax ids [R] | non-finite row');
      this.b.nonFinite(this.logits!, this.logitsOff, R, V, chosen, R);
      this.b.argmax(this.logits!, this.logitsOff, R, V, chosen);
      return then(this.b.readInts(chosen, 0, R + 1), (ids) => {
        this.fail(ids[R], t);
        return ids.slice(0, R);
      });
    });
  }

  stepLogProbs(tokens: Int32Array): Float32Array | Promise<Float32Array> {
    const t = this.state.t;
    return this.stepThen(tokens, () => {
      // log-softmax turns a row holding NaN or +Inf into NaN and keeps an all -Inf row: checked after it
      this.b.logSoftmax(this.logits!, this.logitsOff, this.rows, this.vocabSize);
      return then(this.b.read(this.logits!, this.logitsOff, this.rows * this.vocabSize), (l) => this.own(this.checked(l, t)));
    });
  }

  /** In place, `logProbs` is stepLogProbs' view of the logits buffer, ranked where it is; otherwise the rows, as
   *  the processors left them, go back to the backend first. */
  rank(logProbs: Float32Array, beamScores: Float32Array, k: number): Ranked | Promise<Ranked> {
    const mark = this.b.mark();
    try {
      const inPlace = this.inPlace && this.logits !== null;
      return this.rankRows(inPlace ? this.logits! : this.b.upload(logProbs, 'log-probs [R, V]'), inPlace ? this.logitsOff : 0, beamScores, k, null, null);
    } finally {
      this.b.release(mark);
    }
  }

  stepTopK(tokens: Int32Array, beamScores: Float32Array, k: number): Ranked | Promise<Ranked> {
    const t = this.state.t, n = (this.rows / this.state.beams) * k;
    return this.stepThen(tokens, () => {
      // the raw logits' check goes behind the candidates (one read back for both), before log-softmax
      const top = this.b.alloc(2 * n + 1, 'top-k scores [B, k] | ids [B, k] | non-finite row');
      this.b.nonFinite(this.logits!, this.logitsOff, this.rows, this.vocabSize, top, 2 * n);
      this.b.logSoftmax(this.logits!, this.logitsOff, this.rows, this.vocabSize);
      return this.rankRows(this.logits!, this.logitsOff, beamScores, k, top, t);
    });
  }

  reorder(index: Int32Array, sentences?: Int32Array): void {
    this.state.reorder(index, sentences);
  }

  /** Each live sentence's k best of fround(rows[row] + beamScores[row]) over its beams' rows: [B, k] each, into
   *  `top` (fresh when null); with `step`, top's last element is step's non-finite flag, read back with them. */
  private rankRows(rows: Buf, off: number, beamScores: Float32Array, k: number, top: Buf | null, step: number | null): Ranked | Promise<Ranked> {
    const { b } = this, beams = this.state.beams, B = this.rows / beams, n = B * k;
    if (k > b.limits.maxTopK) throw new UnsupportedError(`beam search keeps ${k} candidates per sentence, over this backend's ${b.limits.maxTopK}`);
    const out = top ?? b.alloc(2 * n, 'top-k scores [B, k] | ids [B, k]');
    b.topK(rows, off, b.upload(beamScores, 'beam scores [R]'), B, beams, this.vocabSize, k, out);
    const split = (f: Float32Array): Ranked => {
      const ints = new Int32Array(f.buffer, f.byteOffset, f.length);
      if (step !== null) this.fail(ints[2 * n], step);
      return { scores: f.slice(0, n), indices: ints.slice(n, 2 * n) };
    };
    return then(b.read(out, 0, 2 * n + (step !== null ? 1 : 0)), split);
  }

  /** A view handed back as it is where the caller may keep it until the next call; copied otherwise. */
  private own(l: Float32Array): Float32Array {
    return this.inPlace ? l : l.slice();
  }

  /** The logits of decoder step `t` as read, after the check that every row is usable. */
  private checked(l: Float32Array, t: number): Float32Array {
    this.fail(brokenRow(l, this.rows, this.vocabSize), t);
    return l;
  }

  /** NumericError for a broken row (index >= 0) of step t's logits. */
  private fail(row: number, t: number): void {
    if (row < 0) return;
    throw new NumericError(`the logits of decoder step ${t + 1} went non-finite (row ${row} holds NaN or +Infinity, or only ` +
      '-Infinity): the weights hold NaN/Inf values (a model loaded with checkFinite: false?) or an activation overflowed ' +
      'float32; the output would be meaningless');
  }
}

/** `f(v)` now, or when the promise resolves: the wasm path stays synchronous. */
function then<T, U>(v: T | Promise<T>, f: (x: T) => U): U | Promise<U> {
  return v instanceof Promise ? v.then(f) : f(v);
}

/** The first of `rows` rows of n that holds a NaN or +Inf, or only -Inf (what Backend.nonFinite flags), or -1. */
export function brokenRow(a: Float32Array, rows: number, n: number): number {
  for (let r = 0; r < rows; r++) {
    let alive = false, bad = false;
    for (let i = r * n, end = i + n; i < end; i++) {
      const v = a[i];
      if (v !== -Infinity) {
        alive = true;
        if (!(v < Infinity)) bad = true; // NaN or +Inf
      }
    }
    if (bad || !alive) return r;
  }
  return -1;
}
