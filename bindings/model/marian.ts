// Marian (opus-mt): post-LayerNorm, static sinusoidal positions (sines then cosines, no offset, not
// padding-aware), no embedding or final norms. docs/model-spec.md §Marian.
import type { Backend, WeightFormat } from '../backends/backend.js';
import type { BartFamilyConfig } from '../config.js';
import type { TensorStore } from '../weights/safetensors.js';
import { checkPositionTable, loadBartFamily } from './bart_family.js';
import type { ModelWeights, Positions } from './weights.js';

export function loadMarian(b: Backend, cfg: BartFamilyConfig, store: TensorStore, format: WeightFormat): ModelWeights {
  checkPositionTable(cfg, cfg.max_position_embeddings);
  // One table serves both sides: row p is position p (decoder: past length + t).
  let table: Positions | null = null;
  return loadBartFamily(b, cfg, store, {
    preNorm: false,
    layernormEmbedding: false,
    finalNorms: false,
    // transformers never loads saved sinusoids (it recomputes them): accept and ignore them
    ignore: ['model.encoder.embed_positions.weight', 'model.decoder.embed_positions.weight'],
    positions: () => (table ??= {
      // computed straight into the backend's memory (no JS copy of a table that may be large)
      table: b.loadTable({ length: cfg.max_position_embeddings * cfg.d_model, into: (dst) => sinusoidsInto(dst, cfg.max_position_embeddings, cfg.d_model) },
        cfg.max_position_embeddings, cfg.d_model, 'sinusoidal positions'),
      maxLength: cfg.max_position_embeddings,
      ids: (tokens, past, out) => { for (let i = 0; i < tokens.length; i++) out[i] = past + i; },
    }),
  }, format);
}

/**
 * MarianSinusoidalPositionalEmbedding._init_weight, in float64 then rounded to float32 as numpy does it:
 * angle(p, j) = p / 10000^(2·floor(j/2) / d); sin of even j fills columns [0, ceil(d/2)), cos of odd j the rest.
 */
export function sinusoids(rows: number, d: number): Float32Array {
  return sinusoidsInto(new Float32Array(rows * d), rows, d);
}

function sinusoidsInto(out: Float32Array, rows: number, d: number): Float32Array {
  const half = Math.ceil(d / 2);
  for (let j = 0; j < d; j++) {
    const denom = Math.pow(10000, (2 * Math.floor(j / 2)) / d), col = j % 2 === 0 ? j >> 1 : half + (j >> 1);
    for (let p = 0; p < rows; p++) out[p * d + col] = j % 2 === 0 ? Math.sin(p / denom) : Math.cos(p / denom);
  }
  return out;
}
