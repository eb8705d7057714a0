// BART and mBART: learned positions with transformers' offset of 2, layernorm_embedding after the embeddings.
// BART is post-LayerNorm like Marian (docs/model-spec.md §BART); mBART is pre-LayerNorm with a final layer_norm on
// the encoder and the decoder (§mBART).
import type { Backend, WeightFormat } from '../backends/backend.js';
import type { BartFamilyConfig } from '../config.js';
import type { CheckedWeights } from '../weights/expect.js';
import type { TensorStore } from '../weights/safetensors.js';
import { loadBartFamily } from './bart_family.js';
import type { ModelWeights, Positions } from './weights.js';

const OFFSET = 2; // BartLearnedPositionalEmbedding: position p reads row p + 2

function learnedPositions(b: Backend, w: CheckedWeights<string>, side: 'encoder' | 'decoder'): Positions {
  const name = `model.${side}.embed_positions.weight`;
  const [rows, cols] = w.shape(name);
  return {
    table: b.loadTable(w.f32(name), rows, cols, name), maxLength: rows - OFFSET,
    ids: (tokens, past, out) => { for (let i = 0; i < tokens.length; i++) out[i] = past + i + OFFSET; },
  };
}

function positionSpec(cfg: BartFamilyConfig) {
  const shape = [cfg.max_position_embeddings + OFFSET, cfg.d_model];
  return {
    'model.encoder.embed_positions.weight': { names: 'model.encoder.embed_positions.weight', shape },
    'model.decoder.embed_positions.weight': { names: 'model.decoder.embed_positions.weight', shape },
  };
}

export function loadBart(b: Backend, cfg: BartFamilyConfig, store: TensorStore, format: WeightFormat): ModelWeights {
  return loadBartFamily(b, cfg, store, {
    preNorm: false, layernormEmbedding: true, finalNorms: false,
    extraSpec: positionSpec(cfg), positions: learnedPositions,
  }, format);
}

export function loadMbart(b: Backend, cfg: BartFamilyConfig, store: TensorStore, format: WeightFormat): ModelWeights {
  return loadBartFamily(b, cfg, store, {
    preNorm: true, layernormEmbedding: true, finalNorms: true,
    extraSpec: positionSpec(cfg), positions: learnedPositions,
  }, format);
}
