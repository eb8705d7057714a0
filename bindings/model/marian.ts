// Marian (opus-mt): post-LayerNorm, static sinusoidal positions (sines then cosines, no offset, not
// padding-aware), no embedding or final norms. ARCHITECTURES.md §1.
import type { Heap } from '../arena.js';
import type { BartFamilyConfig } from '../config.js';
import type { TensorStore } from '../weights/safetensors.js';
import { loadBartFamily } from './bart_family.js';
import type { WeightFormat } from './layers.js';
import type { EncDecWeights, Positions } from './encdec.js';

export function loadMarian(heap: Heap, cfg: BartFamilyConfig, store: TensorStore, format: WeightFormat = 'f32'): EncDecWeights {
  // One table serves both sides: row p is position p (decoder: past length + t).
  let table: Positions | null = null;
  return loadBartFamily(heap, cfg, store, {
    preNorm: false,
    layernormEmbedding: false,
    finalNorms: false,
    // transformers never loads saved sinusoids (it recomputes them): accept and ignore them
    ignore: ['model.encoder.embed_positions.weight', 'model.decoder.embed_positions.weight'],
    positions: () => (table ??= sinusoids(heap, cfg.max_position_embeddings, cfg.d_model)),
  }, format);
}

function sinusoids(heap: Heap, rows: number, d: number): Positions {
  const ptr = heap.alloc(rows * d * 4);
  heap.k.sinusoidal_positions_f32(ptr, rows, d);
  return {
    table: ptr, rows, maxLength: rows,
    ids: (tokens, past, out) => { for (let i = 0; i < tokens.length; i++) out[i] = past + i; },
  };
}
