// What the forward pass reads: a model's weights as handles of the backend they were loaded on, and the few
// options in which the families differ. A family file (marian.ts, t5.ts, ...) fills one in from a checkpoint.
//
// Shapes: D = d_model, A = heads × head_dim (the attention width: D, except T5's d_kv), F = FFN width,
// V = output vocabulary.
import type { Activation } from '../config.js';
import type { EmbeddingSource, LinearWeights, NormWeights, TableWeights } from '../backends/backend.js';

export interface SelfAttention { qkv: LinearWeights; out: LinearWeights } // qkv: [3A, D] fused, out: [D, A]
export interface CrossAttention { q: LinearWeights; kv: LinearWeights; out: LinearWeights } // q: [A, D], kv: [2A, D]

/** out = down(act(up(x))), or with a gate: down(act(up(x)) · gate(x)) (T5's "gated-<act>": wi_0, wi_1, wo). */
export interface FeedForward { act: Activation; up: LinearWeights; gate: LinearWeights | null; down: LinearWeights } // up/gate: [F, D], down: [D, F]

export interface EncoderLayer { self: SelfAttention; selfNorm: NormWeights; ffn: FeedForward; ffnNorm: NormWeights }
export interface DecoderLayer extends EncoderLayer { cross: CrossAttention; crossNorm: NormWeights }

/** Maps the tokens of one sequence (after `past` earlier ones) to rows of a position table. */
export type PositionIds = (tokens: Int32Array, past: number, out: Int32Array) => void;

/** A position table [rows, D]; maxLength = the longest sequence its rows cover (rows minus any offset). */
export interface Positions { table: TableWeights; maxLength: number; ids: PositionIds }

/** T5's relative-position bias, shared by every layer of a stack. */
export interface RelativeBias {
  /** [H, S, S] for an encoder of S tokens. */
  encoder(S: number): Float32Array;
  /** [H, 1, t+1]: the decoder query at position t against keys 0..t. */
  decoderStep(t: number): Float32Array;
}

export interface ModelWeights {
  d: number;
  attnWidth: number; // A
  /** q · hd^-0.5 (BART family); T5 folds the scale into its weights. */
  scaleAttention: boolean;
  relBias: RelativeBias | null;
  /** T5's tied head: the decoder output × d^-0.5 before the projection; 1 otherwise. */
  lmScale: number;
  encHeads: number;
  decHeads: number;
  /** mBART/M2M100/T5: x + f(norm(x)); Marian/BART: norm(x + f(x)). */
  preNorm: boolean;
  embedScale: number;
  encEmbed: EmbeddingSource;
  decEmbed: EmbeddingSource;
  encPositions: Positions | null;
  decPositions: Positions | null;
  encEmbedNorm: NormWeights | null; // BART/mBART layernorm_embedding
  decEmbedNorm: NormWeights | null;
  encFinalNorm: NormWeights | null; // mBART/M2M100 layer_norm, T5 final_layer_norm
  decFinalNorm: NormWeights | null;
  encLayers: EncoderLayer[];
  decLayers: DecoderLayer[];
  lmHead: LinearWeights; // [V, D], final_logits_bias as its bias
  vocabIn: number;
  vocabOut: number;
}
