import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  parseConfig, SUPPORTED_MODEL_TYPES, type BartFamilyConfig, type ModelConfig, type T5Config,
} from '../bindings/config.js';
import { ConfigError, UnsupportedError } from '../bindings/errors.js';

const readJson = (path: string) => JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8'));
const fixture = (model: string): ModelConfig =>
  parseConfig(readJson(`./fixtures/${model}/config.json`), readJson(`./fixtures/${model}/generation_config.json`));
const bart = (c: ModelConfig) => c as BartFamilyConfig;
const t5 = (c: ModelConfig) => c as T5Config;

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error, nothing was thrown');
}
const configError = (f: () => unknown, pattern: RegExp) => {
  const e = thrown(f);
  expect(e).toBeInstanceOf(ConfigError);
  expect(e.message).toMatch(pattern);
};

// transformers 4.40.2 activations.py ACT2CLS, every key, and the function it computes (config.ts ACTIVATION_ALIASES).
const ACT2FN_CANONICAL: Record<string, string> = {
  gelu: 'gelu', gelu_10: 'gelu_10', gelu_fast: 'gelu_new', gelu_new: 'gelu_new', gelu_python: 'gelu',
  gelu_pytorch_tanh: 'gelu_new', gelu_accurate: 'gelu_new', laplace: 'laplace', leaky_relu: 'leaky_relu',
  linear: 'linear', mish: 'mish', quick_gelu: 'quick_gelu', relu: 'relu', relu2: 'relu2', relu6: 'relu6',
  sigmoid: 'sigmoid', silu: 'silu', swish: 'silu', tanh: 'tanh',
};

const TINY_SIZES = { d_model: 64, encoder_layers: 2, decoder_layers: 2, encoder_attention_heads: 4, decoder_attention_heads: 4,
  encoder_ffn_dim: 128, decoder_ffn_dim: 128, vocab_size: 101, decoder_vocab_size: 101, max_position_embeddings: 64 };

describe('fixtures (config.json + generation_config.json written by transformers 4.40)', () => {
  it('marian_tiny', () => {
    const c = bart(fixture('marian_tiny'));
    expect(c).toMatchObject({ model_type: 'marian', ...TINY_SIZES, scale_embedding: false, activation_function: 'gelu',
      share_encoder_decoder_embeddings: true, tie_word_embeddings: true, pad_token_id: 100, eos_token_id: [0],
      bos_token_id: undefined, decoder_start_token_id: 100 });
    // _from_model_config + non-default generation keys in config.json → transformers regenerates from config.json.
    expect(c.generation).toEqual({ source: 'config.json', max_length: 20, max_new_tokens: undefined, min_length: 0,
      do_sample: false, num_beams: 1, num_return_sequences: 1, length_penalty: 1, early_stopping: false,
      repetition_penalty: 1, no_repeat_ngram_size: 0, bad_words_ids: [[100]], forced_bos_token_id: undefined,
      forced_eos_token_id: [0], pad_token_id: 100, bos_token_id: undefined, eos_token_id: [0], decoder_start_token_id: 100 });
  });

  it('marian_swish_scaled: swish is silu, embeddings scaled', () => {
    const c = bart(fixture('marian_swish_scaled'));
    expect(c.activation_function).toBe('silu');
    expect(c.scale_embedding).toBe(true);
  });

  it('bart_tiny', () => {
    const c = bart(fixture('bart_tiny'));
    expect(c).toMatchObject({ model_type: 'bart', ...TINY_SIZES, scale_embedding: false, activation_function: 'gelu',
      pad_token_id: 1, bos_token_id: 0, eos_token_id: [2], decoder_start_token_id: 2 });
    expect(c.generation).toMatchObject({ forced_bos_token_id: 0, forced_eos_token_id: [2], pad_token_id: 1,
      decoder_start_token_id: 2, bad_words_ids: undefined });
  });

  it('mbart_tiny', () => {
    const c = bart(fixture('mbart_tiny'));
    expect(c).toMatchObject({ model_type: 'mbart', ...TINY_SIZES, scale_embedding: true, activation_function: 'gelu' });
    expect(c.generation).toMatchObject({ forced_bos_token_id: 98, forced_eos_token_id: [2], decoder_start_token_id: 2 });
  });

  it('m2m100_tiny', () => {
    const c = bart(fixture('m2m100_tiny'));
    expect(c).toMatchObject({ model_type: 'm2m_100', ...TINY_SIZES, scale_embedding: true, activation_function: 'relu', pad_token_id: 1 });
    expect(c.generation).toMatchObject({ forced_bos_token_id: 97, forced_eos_token_id: undefined, decoder_start_token_id: 2, eos_token_id: [2] });
  });

  it('t5_v1_0_tiny', () => {
    const c = t5(fixture('t5_v1_0_tiny'));
    expect(c).toMatchObject({ model_type: 't5', d_model: 64, d_kv: 16, d_ff: 128, num_layers: 2, num_decoder_layers: 2,
      num_heads: 4, vocab_size: 101, relative_attention_num_buckets: 32, relative_attention_max_distance: 128,
      layer_norm_epsilon: 1e-6, feed_forward_proj: { activation: 'relu', gated: false }, tie_word_embeddings: true });
    // No non-default generation keys in config.json → generation_config.json is used as is.
    expect(c.generation).toMatchObject({ source: 'generation_config.json', pad_token_id: 0, eos_token_id: [1],
      decoder_start_token_id: 0, max_length: 20, num_beams: 1 });
  });

  it('t5_v1_1_tiny: gated-gelu is gelu_new, untied head, small buckets', () => {
    const c = t5(fixture('t5_v1_1_tiny'));
    expect(c.feed_forward_proj).toEqual({ activation: 'gelu_new', gated: true });
    expect(c.tie_word_embeddings).toBe(false);
    expect([c.relative_attention_num_buckets, c.relative_attention_max_distance]).toEqual([8, 16]);
  });

  it('a real opus-mt config (legacy BART-style keys, no generation_config.json)', () => {
    const c = bart(parseConfig(readJson('./fixtures/tokenizers/opus-mt-en-mg/config.json')));
    expect(c).toMatchObject({ model_type: 'marian', d_model: 512, encoder_layers: 6, decoder_layers: 6,
      encoder_attention_heads: 8, decoder_attention_heads: 8, encoder_ffn_dim: 2048, decoder_ffn_dim: 2048,
      vocab_size: 54688, decoder_vocab_size: 54688, max_position_embeddings: 512, scale_embedding: true,
      activation_function: 'silu', share_encoder_decoder_embeddings: true, tie_word_embeddings: true,
      pad_token_id: 54687, decoder_start_token_id: 54687, eos_token_id: [0], bos_token_id: 0 });
    // forced_eos_token_id is absent from the file: MarianConfig's default 0 applies.
    expect(c.generation).toMatchObject({ source: 'config.json', max_length: 512, num_beams: 4, bad_words_ids: [[54687]],
      forced_eos_token_id: [0], forced_bos_token_id: undefined, pad_token_id: 54687, decoder_start_token_id: 54687 });
  });
});

describe('family defaults for absent keys (transformers 4.40 config classes)', () => {
  it('marian', () => {
    const c = bart(parseConfig({ model_type: 'marian' }));
    expect(c).toMatchObject({ vocab_size: 58101, decoder_vocab_size: 58101, d_model: 1024, encoder_layers: 12,
      decoder_attention_heads: 16, encoder_ffn_dim: 4096, max_position_embeddings: 1024, activation_function: 'gelu',
      scale_embedding: false, pad_token_id: 58100, decoder_start_token_id: 58100, eos_token_id: [0] });
    expect(c.generation).toMatchObject({ forced_eos_token_id: [0], max_length: 20, num_beams: 1 });
  });

  it('bart, mbart, m2m_100', () => {
    const b = bart(parseConfig({ model_type: 'bart' }));
    expect(b).toMatchObject({ vocab_size: 50265, pad_token_id: 1, bos_token_id: 0, eos_token_id: [2], decoder_start_token_id: 2 });
    expect(b.generation.forced_eos_token_id).toEqual([2]);
    const mb = bart(parseConfig({ model_type: 'mbart' }));
    // MBartConfig sets no decoder_start_token_id: generate() falls back to bos.
    expect(mb.decoder_start_token_id).toBeUndefined();
    expect(mb.generation.decoder_start_token_id).toBe(0);
    const m = bart(parseConfig({ model_type: 'm2m_100' }));
    expect(m).toMatchObject({ vocab_size: 128112, activation_function: 'relu', scale_embedding: true, decoder_start_token_id: 2 });
    expect(m.generation.forced_eos_token_id).toBeUndefined();
  });

  it('t5', () => {
    const c = t5(parseConfig({ model_type: 't5', num_layers: 3 }));
    expect(c).toMatchObject({ vocab_size: 32128, d_model: 512, d_kv: 64, d_ff: 2048, num_layers: 3, num_decoder_layers: 3,
      num_heads: 8, relative_attention_num_buckets: 32, relative_attention_max_distance: 128, layer_norm_epsilon: 1e-6,
      feed_forward_proj: { activation: 'relu', gated: false }, tie_word_embeddings: true, pad_token_id: 0, eos_token_id: [1] });
    expect(c.generation.decoder_start_token_id).toBeUndefined();
    expect(t5(parseConfig({ model_type: 't5', num_layers: 3, num_decoder_layers: null })).num_decoder_layers).toBe(3);
  });

  it('an explicit null overrides the family default like Python None', () => {
    expect(bart(parseConfig({ model_type: 'marian', forced_eos_token_id: null })).generation.forced_eos_token_id).toBeUndefined();
  });

  it('BART force_bos_token_to_be_generated (old bart-large-cnn configs) means forced_bos = bos', () => {
    expect(bart(parseConfig({ model_type: 'bart', force_bos_token_to_be_generated: true })).generation.forced_bos_token_id).toBe(0);
    expect(bart(parseConfig({ model_type: 'bart' })).generation.forced_bos_token_id).toBeUndefined();
  });

  it('Marian decoder_vocab_size: `or vocab_size`, and ids are checked against the output vocabulary', () => {
    expect(bart(parseConfig({ model_type: 'marian', vocab_size: 200, decoder_vocab_size: 0, pad_token_id: 5, decoder_start_token_id: 5 })).decoder_vocab_size).toBe(200);
    const c = bart(parseConfig({ model_type: 'marian', vocab_size: 200, decoder_vocab_size: 50, share_encoder_decoder_embeddings: false, pad_token_id: 49, decoder_start_token_id: 49 }));
    expect([c.decoder_vocab_size, c.share_encoder_decoder_embeddings]).toEqual([50, false]);
    configError(() => parseConfig({ model_type: 'marian', vocab_size: 200, decoder_vocab_size: 50, pad_token_id: 60, decoder_start_token_id: 49 }),
      /"pad_token_id" must be a token id in \[0, 50\), got 60/);
  });
});

describe('T5 feed_forward_proj', () => {
  const ff = (extra: object) => t5(parseConfig({ model_type: 't5', ...extra })).feed_forward_proj;
  it('parses <act> and gated-<act>, gated-gelu meaning gelu_new', () => {
    expect(ff({ feed_forward_proj: 'gated-gelu' })).toEqual({ activation: 'gelu_new', gated: true });
    expect(ff({ feed_forward_proj: 'gated-silu' })).toEqual({ activation: 'silu', gated: true });
    expect(ff({ feed_forward_proj: 'gelu_new' })).toEqual({ activation: 'gelu_new', gated: false });
    expect(ff({ feed_forward_proj: 'gelu' })).toEqual({ activation: 'gelu', gated: false }); // only gated-gelu is remapped
  });
  it('accepts <act> and gated-<act> for every ACT2FN name', () => {
    for (const [name, canonical] of Object.entries(ACT2FN_CANONICAL)) {
      if (name === 'gelu') continue; // gated-gelu: gelu_new, above
      expect(ff({ feed_forward_proj: `gated-${name}` }), name).toEqual({ activation: canonical, gated: true });
      expect(ff({ feed_forward_proj: name }), name).toEqual({ activation: canonical, gated: false });
      expect(ff({ feed_forward_proj: 'relu', dense_act_fn: name }), name).toEqual({ activation: canonical, gated: false });
    }
  });
  it('lets explicit dense_act_fn / is_gated_act win, as PretrainedConfig does', () => {
    expect(ff({ feed_forward_proj: 'gated-gelu', dense_act_fn: 'gelu' })).toEqual({ activation: 'gelu', gated: true });
    expect(ff({ feed_forward_proj: 'relu', is_gated_act: true })).toEqual({ activation: 'relu', gated: true });
  });
  it('rejects malformed values', () => {
    configError(() => ff({ feed_forward_proj: 'double-gated-gelu' }), /"feed_forward_proj" must be of the form/);
    configError(() => ff({ feed_forward_proj: 'fancy-relu' }), /"feed_forward_proj" must be of the form/);
    configError(() => ff({ feed_forward_proj: 'gated-foo' }), /unknown activation "foo"/);
  });
});

describe('validation errors', () => {
  const marian = (extra: object) => parseConfig({ model_type: 'marian', ...TINY_SIZES, pad_token_id: 100, decoder_start_token_id: 100, ...extra });

  it('unknown model_type → UnsupportedError listing the supported ones', () => {
    expect(SUPPORTED_MODEL_TYPES).toEqual(['marian', 'bart', 'mbart', 'm2m_100', 't5']);
    const e = thrown(() => parseConfig({ model_type: 'gpt2' }));
    expect(e).toBeInstanceOf(UnsupportedError);
    expect(e.message).toMatch(/model_type "gpt2" is not supported; supported: marian, bart, mbart, m2m_100, t5/);
    configError(() => parseConfig({ d_model: 4 }), /"model_type" is missing/);
    configError(() => parseConfig([1]), /config\.json must be a JSON object, got an array/);
  });

  it('sizes must be positive integers', () => {
    configError(() => marian({ encoder_layers: 0 }), /"encoder_layers" must be a positive integer, got 0/);
    configError(() => marian({ decoder_ffn_dim: 1.5 }), /"decoder_ffn_dim" must be a positive integer, got 1.5/);
    configError(() => marian({ vocab_size: '101' }), /"vocab_size" must be a positive integer, got "101"/);
    configError(() => parseConfig({ model_type: 't5', d_kv: -8 }), /"d_kv" must be a positive integer, got -8/);
    configError(() => parseConfig({ model_type: 't5', layer_norm_epsilon: 0 }), /"layer_norm_epsilon" must be a positive number, got 0/);
    configError(() => marian({ scale_embedding: 'yes' }), /"scale_embedding" must be true or false, got "yes"/);
  });

  it('d_model must be divisible by the number of heads', () => {
    configError(() => marian({ d_model: 66 }), /d_model 66 is not divisible by encoder_attention_heads 4/);
    configError(() => marian({ decoder_attention_heads: 5 }), /d_model 64 is not divisible by decoder_attention_heads 5/);
  });

  it('activations: every ACT2FN name of transformers 4.40.2 is accepted, anything else → ConfigError', () => {
    for (const [name, canonical] of Object.entries(ACT2FN_CANONICAL)) {
      expect(bart(marian({ activation_function: name })).activation_function, name).toBe(canonical);
    }
    const all = Object.keys(ACT2FN_CANONICAL).sort().join(', ');
    configError(() => marian({ activation_function: 'sparkle' }), new RegExp(`unknown activation "sparkle"; supported: ${all}$`));
    configError(() => marian({ activation_function: 'GELU' }), /unknown activation "GELU"/); // ACT2FN is case-sensitive
    configError(() => marian({ activation_function: 'gelu_' }), /unknown activation "gelu_"/);
    configError(() => marian({ activation_function: 7 }), /unknown activation 7/);
    configError(() => marian({ activation_function: 'hasOwnProperty' }), /unknown activation "hasOwnProperty"/);
  });

  it('special ids must lie in [0, vocab)', () => {
    configError(() => marian({ pad_token_id: 101 }), /"pad_token_id" must be a token id in \[0, 101\), got 101/);
    configError(() => marian({ decoder_start_token_id: -1 }), /"decoder_start_token_id" must be a token id in \[0, 101\), got -1/);
    configError(() => marian({ forced_bos_token_id: 500 }), /"forced_bos_token_id" must be a token id in \[0, 101\), got 500/);
    configError(() => marian({ eos_token_id: [0, 101] }), /"eos_token_id"\[1\] must be a token id, an integer in \[0, 101\) \(the vocabulary\); got 101/);
    configError(() => marian({ eos_token_id: [0, , 1] }), /"eos_token_id"\[1\] is missing \(a sparse array\)/);
    configError(() => marian({ eos_token_id: Array(102).fill(0) }), /"eos_token_id" has 102 elements, over the limit of 101/);
    configError(() => marian({ bad_words_ids: [[5], [200]] }), /"bad_words_ids"\[1\]\[0\] must be a token id, an integer in \[0, 101\)/);
    configError(() => marian({ bad_words_ids: [5] }), /"bad_words_ids"/);
    configError(() => parseConfig({ model_type: 'm2m_100', pad_token_id: null }), /"pad_token_id" must be a token id \(m2m_100 positions depend on it\)/);
  });
});

describe('generation defaults (transformers 4.40 precedence)', () => {
  const cfg = { model_type: 'bart', ...TINY_SIZES, num_beams: 4, max_length: 200, early_stopping: true };

  it('without generation_config.json, generation keys come from config.json', () => {
    const g = parseConfig(cfg).generation;
    expect(g).toMatchObject({ source: 'config.json', num_beams: 4, max_length: 200, early_stopping: true });
  });

  it('a generation_config.json written by hand replaces them, absent keys taking GenerationConfig defaults', () => {
    const g = parseConfig(cfg, { num_beams: 2, eos_token_id: 2, decoder_start_token_id: 2 }).generation;
    expect(g).toMatchObject({ source: 'generation_config.json', num_beams: 2, max_length: 20, early_stopping: false,
      forced_eos_token_id: undefined, decoder_start_token_id: 2 });
  });

  it('a _from_model_config generation_config.json is rebuilt from config.json when that has non-default keys', () => {
    const g = parseConfig(cfg, { _from_model_config: true, num_beams: 2 }).generation;
    expect(g).toMatchObject({ source: 'config.json', num_beams: 4, max_length: 200 });
    // ...but used as is when config.json only has default generation values.
    const plain = parseConfig({ model_type: 't5' }, { _from_model_config: true, max_length: 50, pad_token_id: 0, eos_token_id: 1 }).generation;
    expect(plain).toMatchObject({ source: 'generation_config.json', max_length: 50 });
  });

  it('keeps eos lists, falls back pad → first eos and decoder_start → bos', () => {
    const g = parseConfig({ model_type: 't5' }, { eos_token_id: [1, 7], bos_token_id: 3 }).generation;
    expect(g).toMatchObject({ eos_token_id: [1, 7], pad_token_id: 1, decoder_start_token_id: 3 });
  });

  it('reads every generation field and validates early_stopping', () => {
    const g = parseConfig({ model_type: 't5' }, { max_new_tokens: 12, min_length: 3, length_penalty: 2, early_stopping: 'never',
      repetition_penalty: 1.2, no_repeat_ngram_size: 3, num_return_sequences: 2, num_beams: 4, forced_eos_token_id: 1,
      forced_bos_token_id: 5, bad_words_ids: [[2, 3]], do_sample: false }).generation;
    expect(g).toMatchObject({ max_new_tokens: 12, min_length: 3, length_penalty: 2, early_stopping: 'never', repetition_penalty: 1.2,
      no_repeat_ngram_size: 3, num_return_sequences: 2, num_beams: 4, forced_eos_token_id: [1], forced_bos_token_id: 5, bad_words_ids: [[2, 3]] });
    configError(() => parseConfig({ model_type: 't5' }, { early_stopping: 'sometimes' }), /generation_config\.json: "early_stopping" must be true, false or "never", got "sometimes"/);
    configError(() => parseConfig({ model_type: 't5' }, { num_beams: 0 }), /"num_beams" must be a positive integer, got 0/);
    configError(() => parseConfig({ model_type: 't5' }, { repetition_penalty: 0 }), /"repetition_penalty" must be a positive number/);
    configError(() => parseConfig({ model_type: 't5' }, 'x'), /generation_config\.json must be a JSON object/);
  });
});
