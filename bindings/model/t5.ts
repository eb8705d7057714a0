// T5 v1.0 and v1.1 / Flan-T5 (ARCHITECTURES.md §5): pre-norm RMSNorm blocks without biases, no positions,
// a relative-position bias computed by block 0 of each stack and shared by all its layers, unscaled attention,
// relu or gated-gelu FFN, and (tied head) the decoder output scaled by d_model^-0.5 before the projection.
import type { Heap } from '../arena.js';
import type { T5Config } from '../config.js';
import { expectTensors, type TensorSpec } from '../weights/expect.js';
import type { TensorStore } from '../weights/safetensors.js';
import { activationKernel, FeedForward, GatedFeedForward, Linear, Norm, putFloats, type FFN, type WeightFormat } from './layers.js';
import type { DecoderLayer, EncDecWeights, EncoderLayer, RelativeBias } from './encdec.js';

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

export function loadT5(heap: Heap, cfg: T5Config, store: TensorStore, format: WeightFormat = 'f32'): EncDecWeights {
  const w = expectTensors(store, spec(cfg), {
    label: 't5 weights',
    // old checkpoints carry a cross-attention bias table that transformers never uses
    ignore: ['decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight'],
  });
  const d = cfg.d_model, H = cfg.num_heads, eps = cfg.layer_norm_epsilon;
  const lin = (names: string[], inF = d) => Linear.pack(heap, inF, names.map((n) => ({ w: w.reader(`${n}.weight`), b: null })), format);
  const rms = (name: string) => Norm.rms(heap, w.f32(`${name}.weight`), eps);
  const act = activationKernel(heap, cfg.feed_forward_proj.activation);
  const ffn = (p: string): FFN => {
    const r = `${p}.DenseReluDense`;
    return cfg.feed_forward_proj.gated
      ? new GatedFeedForward(heap, lin([`${r}.wi_0`]), lin([`${r}.wi_1`]), lin([`${r}.wo`], cfg.d_ff))
      : new FeedForward(lin([`${r}.wi`]), lin([`${r}.wo`], cfg.d_ff), act);
  };
  const A = H * cfg.d_kv;
  const selfAttn = (p: string) => ({ qkv: lin([`${p}.SelfAttention.q`, `${p}.SelfAttention.k`, `${p}.SelfAttention.v`]), out: lin([`${p}.SelfAttention.o`], A) });

  // packed first: its unpacked copy (the largest tensor) is then scratch the layers' packed weights reuse
  const lmHead = Linear.pack(heap, d, [{ w: w.reader(cfg.tie_word_embeddings ? 'shared' : 'lm_head.weight'), b: null }], format);
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

  const embed = cfg.tie_word_embeddings && format === 'f32'
    ? { kind: 'packed' as const, linear: lmHead }
    : { kind: 'table' as const, ptr: putFloats(heap, w.reader('shared')), rows: cfg.vocab_size };

  return {
    d, attnWidth: A, scaleAttention: false, relBias: relativeBias(heap, cfg, w.f32('encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight'), w.f32('decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight')),
    lmScale: cfg.tie_word_embeddings ? d ** -0.5 : 1,
    encHeads: H, decHeads: H, preNorm: true, embedScale: 1,
    encEmbed: embed, decEmbed: embed, encPositions: null, decPositions: null,
    encEmbedNorm: null, decEmbedNorm: null,
    encFinalNorm: rms('encoder.final_layer_norm'), decFinalNorm: rms('decoder.final_layer_norm'),
    encLayers, decLayers, lmHead,
    ffnHidden: (cfg.feed_forward_proj.gated ? 2 : 1) * cfg.d_ff,
    vocabIn: cfg.vocab_size, vocabOut: cfg.vocab_size,
  };
}

/** Bias tables [buckets, H] → per-call [H, tq, tk] arrays written into wasm memory. */
function relativeBias(heap: Heap, cfg: T5Config, encTable: Float32Array, decTable: Float32Array): RelativeBias {
  const H = cfg.num_heads, NB = cfg.relative_attention_num_buckets, MD = cfg.relative_attention_max_distance;
  return {
    encoder(S, out) {
      const f = heap.f32(), o = out >>> 2;
      for (let i = 0; i < S; i++) {
        for (let j = 0; j < S; j++) {
          const bucket = t5Bucket(j - i, true, NB, MD);
          for (let h = 0; h < H; h++) f[o + (h * S + i) * S + j] = encTable[bucket * H + h];
        }
      }
    },
    decoderStep(t, out) {
      const f = heap.f32(), o = out >>> 2, tk = t + 1;
      for (let j = 0; j < tk; j++) {
        const bucket = t5Bucket(j - t, false, NB, MD);
        for (let h = 0; h < H; h++) f[o + h * tk + j] = decTable[bucket * H + h];
      }
    },
  };
}
