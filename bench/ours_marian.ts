// The wasm-seq2seq side of the comparison: the public API only (loadModel, encode, generate), plus a timing
// wrapper around the decoder session's forward step (DecoderSessionImpl.prototype.forward) so a run can be split
// into decoder forward passes and the rest (log-softmax, ranking, search, cache reorder) without touching bindings/.
import type { Seq2SeqModel } from '../bindings/model/model.js';
import type { Meta } from './models.js';
import { paths } from './models.js';
import type { StepTiming } from './ort_marian.js';

type ForwardModule = typeof import('../bindings/model/forward.js');

/**
 * Options that make generate() run exactly `steps` decoder steps: no eos, no bad words. The model's
 * generation_config sets forced_eos_token_id 0 and `null` falls back to it, so `forcedEosTokenId: []` is the only
 * way to override it; with transformers' semantics an empty list makes every score -inf at the last step (the
 * 64th token is then argmax of all -inf = 0). The number and cost of steps are unchanged; the ORT loops do the same.
 */
export function forcedOptions(steps: number, numBeams: number) {
  return { maxNewTokens: steps, eosTokenId: [], forcedEosTokenId: [], badWordsIds: [], numBeams };
}

export interface OursGenerateResult {
  tokens: number[];
  totalMs: number;
  timing: StepTiming;
}

/** `WASM_SEQ2SEQ_BENCH_QUANTIZE=int8` (set by `compare.js --int8`) loads our model with int8 weights. */
/** `WASM_SEQ2SEQ_BENCH_THREADS=N` (`compare.js --threads N`): our threads, and onnxruntime-web's (default 1 each). */
export const benchThreads = () => Number(process.env.WASM_SEQ2SEQ_BENCH_THREADS ?? 1);
/** `WASM_SEQ2SEQ_BENCH_SIMD=relaxed` (`compare.js --relaxed-simd`): our relaxed-SIMD kernels (default baseline). */
export const benchSimd = () => (process.env.WASM_SEQ2SEQ_BENCH_SIMD === 'relaxed' ? 'relaxed' as const : 'baseline' as const);
export const benchLoadOptions = () => ({
  ...(process.env.WASM_SEQ2SEQ_BENCH_QUANTIZE === 'int8' ? { quantize: 'int8' as const } : {}),
  threads: benchThreads(),
  simd: benchSimd(),
});

export class OursMarian {
  private timing: StepTiming = { runMs: 0, loopMs: 0, steps: 0 };
  private loopStart = 0;

  private constructor(readonly model: Seq2SeqModel, readonly meta: Meta) {}

  /** `forward` must be the module instance the model uses (same URL, so the same class). */
  static async load(meta: Meta, forward: ForwardModule, loadModel: typeof import('../bindings/model/load.js').loadModel): Promise<OursMarian> {
    const m = new OursMarian(await loadModel(paths.hf, benchLoadOptions()), meta);
    // the private per-step forward pass (one decoder step over all rows), wrapped by name
    const proto = forward.DecoderSessionImpl.prototype as unknown as { forward(tokens: Int32Array): void; __benchTimed?: boolean };
    const step = proto.forward;
    if (!proto.__benchTimed) {
      proto.__benchTimed = true;
      const self = m;
      proto.forward = function (this: unknown, tokens: Int32Array): void {
        const t0 = performance.now();
        const r = step.call(this, tokens);
        const t1 = performance.now();
        const tm = self.timing;
        if (tm.steps === 0) self.loopStart = t0;
        tm.runMs += t1 - t0;
        tm.steps++;
        tm.loopMs = t1 - self.loopStart;
        return r;
      };
    }
    return m;
  }

  async encode(ids: readonly number[]): Promise<Float32Array> {
    return (await this.model.encode([ids])).data;
  }

  async generate(ids: readonly number[], steps: number, numBeams: number): Promise<OursGenerateResult> {
    this.timing = { runMs: 0, loopMs: 0, steps: 0 };
    const t0 = performance.now();
    const out = await this.model.generate([ids], forcedOptions(steps, numBeams));
    const totalMs = performance.now() - t0;
    return { tokens: out.sequences[0].slice(1), totalMs, timing: { ...this.timing } };
  }

  /** Raw logits [T, V] of the decoder fed `decoderIds` (teacher forcing through the same incremental session). */
  async logits(ids: readonly number[], decoderIds: number[]): Promise<Float32Array> {
    return (await this.model.decoderLogits([ids], [decoderIds])).data;
  }
}
