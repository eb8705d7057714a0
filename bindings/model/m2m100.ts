// M2M100 and NLLB-200 (dense): pre-LayerNorm with final layer_norms, no layernorm_embedding, no
// final_logits_bias, and fairseq's padding-aware sinusoidal positions (docs/model-spec.md §M2M100).
import type { Backend, WeightFormat } from '../backends/backend.js';
import type { BartFamilyConfig } from '../config.js';
import type { TensorStore } from '../weights/safetensors.js';
import { checkPositionTable, loadBartFamily } from './bart_family.js';
import type { ModelWeights, Positions } from './weights.js';

export function loadM2m100(b: Backend, cfg: BartFamilyConfig, store: TensorStore, format: WeightFormat): ModelWeights {
  checkPositionTable(cfg, cfg.max_position_embeddings + 2);
  let table: Positions | null = null;
  const pad = cfg.pad_token_id ?? 1;
  return loadBartFamily(b, cfg, store, {
    preNorm: true, layernormEmbedding: false, finalNorms: true,
    // the table is a non-persistent buffer in transformers: never in the file, always computed
    positions: () => (table ??= paddingAwareSinusoids(b, cfg.max_position_embeddings + 2, cfg.d_model, pad)),
  }, format);
}

/**
 * M2M100SinusoidalPositionalEmbedding.get_embedding, in float32 like the torch original:
 * freq_i = exp(i · -(ln 10000 / (half - 1))), row n = [sin(n·freq), cos(n·freq)], odd d zero-padded,
 * row `pad` all zeros. Position ids: (cumsum(token != pad) + past) · (token != pad) + pad, so the first real
 * token sits at pad + 1 and padding reads the zero row.
 */
function paddingAwareSinusoids(b: Backend, rows: number, d: number, pad: number): Positions {
  const f = Math.fround;
  const half = Math.floor(d / 2);
  const step = f(-(Math.log(10000) / (half - 1)));
  const freq = Float32Array.from({ length: half }, (_, i) => f(Math.exp(f(i * step))));
  // computed straight into the backend's memory (no JS copy of a table that may be large)
  const into = (t: Float32Array) => {
    t.fill(0);
    for (let n = 0; n < rows; n++) {
      if (n === pad) continue;
      for (let i = 0; i < half; i++) {
        const a = f(n * freq[i]);
        t[n * d + i] = Math.sin(a);
        t[n * d + half + i] = Math.cos(a);
      }
    }
  };
  return {
    table: b.loadTable({ length: rows * d, into }, rows, d, 'sinusoidal positions'), maxLength: rows - pad - 1,
    ids: (tokens, past, out) => {
      let count = 0;
      for (let i = 0; i < tokens.length; i++) {
        const real = tokens[i] !== pad;
        if (real) count++;
        out[i] = real ? count + past + pad : pad;
      }
    },
  };
}
