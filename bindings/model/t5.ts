// T5 v1.0 and v1.1 / Flan-T5 (docs/model-spec.md §T5): pre-norm RMSNorm blocks without biases, no positions,
// a relative-position bias computed by block 0 of each stack and shared by all its layers, unscaled attention,
// an FFN of any activation, gated ("gated-<act>") or not, and (tied head) the decoder output scaled by d_model^-0.5 before the projection.
import type { Backend, EmbeddingSource, WeightFormat } from '../backends/backend.js';
import type { T5Config } from '../config.js';
import { checkLayerCount, expectTensors, type TensorSpec } from '../weights/expect.js';
import type { TensorStore } from '../weights/safetensors.js';
import type { DecoderLayer, EncoderLayer, FeedForward, ModelWeights, RelativeBias } from './weights.js';

/**
 * transformers' _relative_position_bucket for n = key - query, with its float32 arithmetic:
 * exact buckets for small distances, logarithmic ones up to maxDistance.
 */
export function t5Bucket(n: number, bidirectional: boolean, numBuckets: number, maxDistance: number): number {
  const f = Math.fround;
  let ret = 0;
  let B = numBuckets;
  if (bidirectional) {
    B = Math.floor(B / 2);
    if (n > 0) ret += B;
    n = Math.abs(n);
  } else {
    n = Math.max(-n, 0);
  }
  const maxExact = Math.floor(B / 2);
  if (n < maxExact) return ret + n;
  const large = Math.trunc(f(f(f(Math.log(f(f(n) / maxExact))) / f(Math.log(maxDistance / maxExact))) * (B - maxExact)));
  return ret + Math.min(B - 1, maxExact + large);
}

function spec(cfg: T5Config): Record<string, TensorSpec> {
  const d = cfg.d_model, A = cfg.num_heads * cfg.d_kv, F = cfg.d_ff, V = cfg.vocab_size;
  const s: Record<string, TensorSpec> = {};
  const add = (name: string, shape: number[]) => { s[name] = { names: name, shape }; };
  s.shared = { names: ['shared.weight', 'encoder.embed_tokens.weight', 'decoder.embed_tokens.weight', ...(cfg.tie_word_embeddings ? ['lm_head.weight'] : [])], shape: [V, d] };
  if (!cfg.tie_word_embeddings) add('lm_head.weight', [V, d]);
  const attn = (p: string, name: string) => {
    for (const x of ['q', 'k', 'v']) add(`${p}.${name}.${x}.weight`, [A, d]);
    add(`${p}.${name}.o.weight`, [d, A]);
  };
  const ffn = (p: string) => {
    if (cfg.feed_forward_proj.gated) { add(`${p}.DenseReluDense.wi_0.weight`, [F, d]); add(`${p}.DenseReluDense.wi_1.weight`, [F, d]); }
    else add(`${p}.DenseReluDense.wi.weight`, [F, d]);
    add(`${p}.DenseReluDense.wo.weight`, [d, F]);
    add(`${p}.layer_norm.weight`, [d]);
  };
  for (const [stack, layers] of [['encoder', cfg.num_layers], ['decoder', cfg.num_decoder_layers]] as const) {
    for (let i = 0; i < layers; i++) {
      const p = `${stack}.block.${i}`;
      attn(`${p}.layer.0`, 'SelfAttention');
      add(`${p}.layer.0.layer_norm.weight`, [d]);
      if (stack === 'decoder') { attn(`${p}.layer.1`, 'EncDecAttention'); add(`${p}.layer.1.layer_norm.weight`, [d]); }
      ffn(`${p}.layer.${stack === 'decoder' ? 2 : 1}`);
    }
    add(`${stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight`, [cfg.relative_attention_num_buckets, cfg.num_heads]);
    add(`${stack}.final_layer_norm.weight`, [d]);
  }
  return s;
}

export function loadT5(b: Backend, cfg: T5Config, store: TensorStore, format: WeightFormat): ModelWeights {
  checkLayerCount(store, 'encoder.block.', 'num_layers', cfg.num_layers, 't5 weights');
  checkLayerCount(store, 'decoder.block.', 'num_decoder_layers', cfg.num_decoder_layers, 't5 weights');
  const w = expectTensors(store, spec(cfg), {
    label: 't5 weights',
    // old checkpoints carry a cross-attention bias table that transformers never uses
    ignore: ['decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight'],
  });
  const d = cfg.d_model, H = cfg.num_heads, eps = cfg.layer_norm_epsilon, A = H * cfg.d_kv;
  const lin = (names: string[], inF = d) => b.loadLinear(inF, names.map((n) => ({ w: w.reader(`${n}.weight`), b: null })), format, names.join('|'));
  const rms = (name: string) => b.loadNorm(w.f32(`${name}.weight`), null, eps, name);
  // "gated-<act>": wo(act(wi_0 x) · wi_1 x); otherwise wo(act(wi x))
  const { activation: act, gated } = cfg.feed_forward_proj;
  const ffn = (p: string): FeedForward => {
    const r = `${p}.DenseReluDense`;
    return gated
      ? { act, up: lin([`${r}.wi_0`]), gate: lin([`${r}.wi_1`]), down: lin([`${r}.wo`], cfg.d_ff) }
      : { act, up: lin([`${r}.wi`]), gate: null, down: lin([`${r}.wo`], cfg.d_ff) };
  };
  const selfAttn = (p: string) => ({ qkv: lin([`${p}.SelfAttention.q`, `${p}.SelfAttention.k`, `${p}.SelfAttention.v`]), out: lin([`${p}.SelfAttention.o`], A) });

  // loaded first: its unpacked copy (the largest tensor) is then scratch the layers' packed weights reuse
  const lmHead = b.loadLinear(d, [{ w: w.reader(cfg.tie_word_embeddings ? 'shared' : 'lm_head.weight'), b: null }], format, 'lm_head');
  const encLayers: EncoderLayer[] = [];
  for (let i = 0; i < cfg.num_layers; i++) {
    const p = `encoder.block.${i}.layer`;
    encLayers.push({ self: selfAttn(`${p}.0`), selfNorm: rms(`${p}.0.layer_norm`), ffn: ffn(`${p}.1`), ffnNorm: rms(`${p}.1.layer_norm`) });
  }
  const decLayers: DecoderLayer[] = [];
  for (let i = 0; i < cfg.num_decoder_layers; i++) {
    const p = `decoder.block.${i}.layer`;
    decLayers.push({
      self: selfAttn(`${p}.0`), selfNorm: rms(`${p}.0.layer_norm`),
      cross: { q: lin([`${p}.1.EncDecAttention.q`]), kv: lin([`${p}.1.EncDecAttention.k`, `${p}.1.EncDecAttention.v`]), out: lin([`${p}.1.EncDecAttention.o`], A) },
      crossNorm: rms(`${p}.1.layer_norm`), ffn: ffn(`${p}.2`), ffnNorm: rms(`${p}.2.layer_norm`),
    });
  }

  // Embeddings stay f32: with an int8 head, a tied model keeps its own f32 table.
  const embed: EmbeddingSource = cfg.tie_word_embeddings && format === 'f32'
    ? { head: lmHead }
    : { table: b.loadTable(w.reader('shared'), cfg.vocab_size, d, 'shared') };
  const biasTable = (stack: string) => w.f32(`${stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight`);

  return {
    d, attnWidth: A, scaleAttention: false, relBias: relativeBias(cfg, biasTable('encoder'), biasTable('decoder')),
    lmScale: cfg.tie_word_embeddings ? d ** -0.5 : 1,
    encHeads: H, decHeads: H, preNorm: true, embedScale: 1,
    encEmbed: embed, decEmbed: embed, encPositions: null, decPositions: null,
    encEmbedNorm: null, decEmbedNorm: null,
    encFinalNorm: rms('encoder.final_layer_norm'), decFinalNorm: rms('decoder.final_layer_norm'),
    encLayers, decLayers, lmHead,
    vocabIn: cfg.vocab_size, vocabOut: cfg.vocab_size,
  };
}

/** Bias tables [buckets, H] → the per-call [H, tq, tk] arrays. */
function relativeBias(cfg: T5Config, encTable: Float32Array, decTable: Float32Array): RelativeBias {
  const H = cfg.num_heads, NB = cfg.relative_attention_num_buckets, MD = cfg.relative_attention_max_distance;
  return {
    encoder(S) {
      const out = new Float32Array(H * S * S);
      for (let i = 0; i < S; i++) {
        for (let j = 0; j < S; j++) {
          const bucket = t5Bucket(j - i, true, NB, MD);
          for (let h = 0; h < H; h++) out[(h * S + i) * S + j] = encTable[bucket * H + h];
        }
      }
      return out;
    },
    decoderStep(t) {
      const tk = t + 1, out = new Float32Array(H * tk);
      for (let j = 0; j < tk; j++) {
        const bucket = t5Bucket(j - t, false, NB, MD);
        for (let h = 0; h < H; h++) out[h * tk + j] = decTable[bucket * H + h];
      }
      return out;
    },
  };
}
