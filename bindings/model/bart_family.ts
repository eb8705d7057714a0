// Weight names and loading shared by the BART-family checkpoints (Marian, BART, mBART, M2M100/NLLB): they all
// use transformers' BartAttention/BartEncoderLayer naming. A family passes the few options that differ.
import type { Backend, EmbeddingSource, WeightFormat } from '../backends/backend.js';
import type { BartFamilyConfig } from '../config.js';
import { ConfigError } from '../errors.js';
import { checkLayerCount, expectTensors, type CheckedWeights, type TensorSpec } from '../weights/expect.js';
import type { TensorStore } from '../weights/safetensors.js';
import type { DecoderLayer, EncoderLayer, FeedForward, ModelWeights, Positions } from './weights.js';

export interface FamilyOptions {
  preNorm: boolean;
  layernormEmbedding: boolean; // BART/mBART
  finalNorms: boolean; // mBART/M2M100: encoder.layer_norm, decoder.layer_norm
  /** Positions for each side, given the loaded weights (learned tables live in the weights). */
  positions: (b: Backend, w: CheckedWeights<string>, side: 'encoder' | 'decoder') => Positions | null;
  /** Extra tensors the spec expects (e.g. learned embed_positions), keyed by our own names. */
  extraSpec?: Record<string, TensorSpec>;
  /** Stored tensors transformers ignores on load (Marian's saved sinusoids in old checkpoints). */
  ignore?: (string | RegExp)[];
}

const LN_EPS = 1e-5; // nn.LayerNorm default: fixed for the whole family (not in config)

/** Floats wasm32 memory can address (4 GiB): what any table the model computes itself must fit in. */
export const MAX_MEMORY_FLOATS = 2 ** 30;

/** A computed (not stored) position table of `rows` × d_model must fit wasm32 memory: refused before it is made. */
export function checkPositionTable(cfg: BartFamilyConfig, rows: number): void {
  if (rows * cfg.d_model <= MAX_MEMORY_FLOATS) return;
  throw new ConfigError(`config.json: "max_position_embeddings" ${cfg.max_position_embeddings} needs a sinusoidal position ` +
    `table of ${rows} × d_model ${cfg.d_model} floats (${(rows * cfg.d_model * 4 / 2 ** 30).toFixed(1)} GiB), over the 4 GiB ` +
    `wasm32 memory holds: at most ${Math.floor(MAX_MEMORY_FLOATS / cfg.d_model) - (rows - cfg.max_position_embeddings)} for this d_model`);
}

function layerSpec(prefix: string, d: number, f: number, cross: boolean): Record<string, TensorSpec> {
  const s: Record<string, TensorSpec> = {};
  const lin = (name: string, out: number, inp: number) => {
    s[`${prefix}.${name}.weight`] = { names: `${prefix}.${name}.weight`, shape: [out, inp] };
    s[`${prefix}.${name}.bias`] = { names: `${prefix}.${name}.bias`, shape: [out] };
  };
  const ln = (name: string) => {
    for (const t of ['weight', 'bias']) s[`${prefix}.${name}.${t}`] = { names: `${prefix}.${name}.${t}`, shape: [d] };
  };
  for (const a of cross ? ['self_attn', 'encoder_attn'] : ['self_attn']) {
    for (const p of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) lin(`${a}.${p}`, d, d);
  }
  lin('fc1', f, d);
  lin('fc2', d, f);
  for (const n of cross ? ['self_attn_layer_norm', 'encoder_attn_layer_norm', 'final_layer_norm'] : ['self_attn_layer_norm', 'final_layer_norm']) ln(n);
  return s;
}

/** Every tensor a BART-family model of this config must have, with the tied-embedding aliases. */
export function bartFamilySpec(cfg: BartFamilyConfig, opts: FamilyOptions): Record<string, TensorSpec> {
  const d = cfg.d_model, V = cfg.vocab_size, Vout = cfg.decoder_vocab_size;
  const spec: Record<string, TensorSpec> = {};
  if (cfg.share_encoder_decoder_embeddings) {
    spec.shared = { names: ['model.shared.weight', 'model.encoder.embed_tokens.weight', 'model.decoder.embed_tokens.weight', ...(cfg.tie_word_embeddings ? ['lm_head.weight'] : [])], shape: [V, d] };
  } else {
    spec.encEmbed = { names: 'model.encoder.embed_tokens.weight', shape: [V, d] };
    spec.decEmbed = { names: ['model.decoder.embed_tokens.weight', ...(cfg.tie_word_embeddings ? ['lm_head.weight'] : [])], shape: [Vout, d] };
  }
  if (!cfg.tie_word_embeddings) spec.lmHead = { names: 'lm_head.weight', shape: [Vout, d] };
  if (cfg.model_type !== 'm2m_100') spec.finalLogitsBias = { names: 'final_logits_bias', shape: [1, Vout], optional: 'zeros' };
  for (let i = 0; i < cfg.encoder_layers; i++) Object.assign(spec, layerSpec(`model.encoder.layers.${i}`, d, cfg.encoder_ffn_dim, false));
  for (let i = 0; i < cfg.decoder_layers; i++) Object.assign(spec, layerSpec(`model.decoder.layers.${i}`, d, cfg.decoder_ffn_dim, true));
  const norm = (name: string) => {
    spec[`${name}.weight`] = { names: `${name}.weight`, shape: [d] };
    spec[`${name}.bias`] = { names: `${name}.bias`, shape: [d] };
  };
  if (opts.layernormEmbedding) { norm('model.encoder.layernorm_embedding'); norm('model.decoder.layernorm_embedding'); }
  if (opts.finalNorms) { norm('model.encoder.layer_norm'); norm('model.decoder.layer_norm'); }
  Object.assign(spec, opts.extraSpec ?? {});
  return spec;
}

/** Validates the whole weight file against the config, then loads it onto the backend. */
export function loadBartFamily(b: Backend, cfg: BartFamilyConfig, store: TensorStore, opts: FamilyOptions, format: WeightFormat): ModelWeights {
  const label = `${cfg.model_type} weights`;
  checkLayerCount(store, 'model.encoder.layers.', 'encoder_layers', cfg.encoder_layers, label);
  checkLayerCount(store, 'model.decoder.layers.', 'decoder_layers', cfg.decoder_layers, label);
  const w = expectTensors(store, bartFamilySpec(cfg, opts), { ignore: opts.ignore, label }) as CheckedWeights<string>;
  const d = cfg.d_model;
  const f32 = (name: string) => w.f32(name);
  const big = (name: string) => w.reader(name); // matrices go from the file straight into the backend's memory
  const lin = (prefix: string, names: string[], inF = d) =>
    b.loadLinear(inF, names.map((n) => ({ w: big(`${prefix}.${n}.weight`), b: f32(`${prefix}.${n}.bias`) })), format, `${prefix}.${names.join('|')}`);
  const ln = (name: string) => b.loadNorm(f32(`${name}.weight`), f32(`${name}.bias`), LN_EPS, name);
  const ffn = (p: string, f: number): FeedForward => ({ act: cfg.activation_function, up: lin(p, ['fc1']), gate: null, down: lin(p, ['fc2'], f) });

  // Output head [Vout, D] with final_logits_bias folded in as the GEMM bias. When tied to the (decoder)
  // embedding, the embedding rows are gathered from this packed copy: the matrix is stored once.
  // Loaded first: its unpacked copy (the largest tensor, 119 MB for Marian-size) is scratch that the layers'
  // packed weights then reuse, instead of fresh memory on top of them (page faults, and a higher peak).
  const bias = w.has('finalLogitsBias') ? f32('finalLogitsBias') : null;
  const decName = cfg.share_encoder_decoder_embeddings ? 'shared' : 'decEmbed';
  const lmHead = b.loadLinear(d, [{ w: big(cfg.tie_word_embeddings ? decName : 'lmHead'), b: bias }], format, 'lm_head');

  const encLayers: EncoderLayer[] = [];
  for (let i = 0; i < cfg.encoder_layers; i++) {
    const p = `model.encoder.layers.${i}`;
    encLayers.push({
      self: { qkv: lin(`${p}.self_attn`, ['q_proj', 'k_proj', 'v_proj']), out: lin(`${p}.self_attn`, ['out_proj']) },
      selfNorm: ln(`${p}.self_attn_layer_norm`), ffn: ffn(p, cfg.encoder_ffn_dim), ffnNorm: ln(`${p}.final_layer_norm`),
    });
  }
  const decLayers: DecoderLayer[] = [];
  for (let i = 0; i < cfg.decoder_layers; i++) {
    const p = `model.decoder.layers.${i}`;
    decLayers.push({
      self: { qkv: lin(`${p}.self_attn`, ['q_proj', 'k_proj', 'v_proj']), out: lin(`${p}.self_attn`, ['out_proj']) },
      selfNorm: ln(`${p}.self_attn_layer_norm`),
      cross: { q: lin(`${p}.encoder_attn`, ['q_proj']), kv: lin(`${p}.encoder_attn`, ['k_proj', 'v_proj']), out: lin(`${p}.encoder_attn`, ['out_proj']) },
      crossNorm: ln(`${p}.encoder_attn_layer_norm`),
      ffn: ffn(p, cfg.decoder_ffn_dim), ffnNorm: ln(`${p}.final_layer_norm`),
    });
  }

  const table = (name: string): EmbeddingSource => ({ table: b.loadTable(big(name), w.shape(name)[0], d, name) });
  // Embeddings stay f32: with an int8 head, a tied model keeps its own f32 table.
  const decEmbed: EmbeddingSource = cfg.tie_word_embeddings && format === 'f32' ? { head: lmHead } : table(decName);
  const encEmbed: EmbeddingSource = cfg.share_encoder_decoder_embeddings ? decEmbed : table('encEmbed');

  return {
    d, attnWidth: d, scaleAttention: true, relBias: null, lmScale: 1,
    encHeads: cfg.encoder_attention_heads, decHeads: cfg.decoder_attention_heads, preNorm: opts.preNorm,
    embedScale: cfg.scale_embedding ? Math.sqrt(d) : 1,
    encEmbed, decEmbed,
    encPositions: opts.positions(b, w, 'encoder'), decPositions: opts.positions(b, w, 'decoder'),
    encEmbedNorm: opts.layernormEmbedding ? ln('model.encoder.layernorm_embedding') : null,
    decEmbedNorm: opts.layernormEmbedding ? ln('model.decoder.layernorm_embedding') : null,
    encFinalNorm: opts.finalNorms ? ln('model.encoder.layer_norm') : null,
    decFinalNorm: opts.finalNorms ? ln('model.decoder.layer_norm') : null,
    encLayers, decLayers, lmHead,
    vocabIn: cfg.vocab_size, vocabOut: cfg.decoder_vocab_size,
  };
}
