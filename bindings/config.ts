// config.json (+ generation_config.json) → one validated, typed config. Absent keys take the defaults of the
// transformers 4.40 config class of the family (configuration_marian.py, configuration_bart.py,
// configuration_mbart.py, configuration_m2m_100.py, configuration_t5.py), because that is what transformers
// runs when it loads the same file; an explicit `null` overrides the default like a Python `None` would.

import { ConfigError, UnsupportedError } from './errors.js';
import { denseArray, MAX_LIST_LENGTH, show, tokenIdList } from './validate.js';

export const SUPPORTED_MODEL_TYPES = ['marian', 'bart', 'mbart', 'm2m_100', 't5'] as const;
export type ModelType = (typeof SUPPORTED_MODEL_TYPES)[number];
export type BartFamilyType = Exclude<ModelType, 't5'>;

/**
 * Canonical activation names: one per distinct function of transformers 4.40.2's ACT2FN (activations.py ACT2CLS).
 * The other ACT2FN names are spellings of these (ACTIVATION_ALIASES).
 */
export const SUPPORTED_ACTIVATIONS = ['relu', 'gelu', 'gelu_new', 'silu', 'gelu_10', 'laplace', 'leaky_relu', 'linear',
  'mish', 'quick_gelu', 'relu2', 'relu6', 'sigmoid', 'tanh'] as const;
export type Activation = (typeof SUPPORTED_ACTIVATIONS)[number];

// Every ACT2FN key → the function it computes. Besides the canonical names (differences below are torch's,
// measured over test/fixtures/activations.json, which checks each name against its own definition):
//   swish             nn.SiLU in ACT2CLS: silu itself.
//   gelu_python       x·0.5·(1 + torch.erf(x/√2)): the erf GELU that nn.functional.gelu computes, written out;
//                     the same function up to rounding (x/√2 vs x·(1/√2); float32 1 + erf cancels for x < -5,
//                     where both give ~0): |difference| ≤ 2.2e-7·|x| in float32, 2e-16·|x| in float64.
//   gelu_pytorch_tanh nn.functional.gelu(approximate="tanh"): gelu_new's formula term for term (3e-8·|x| in
//                     float32 from the operation order, bit-identical in float64).
//   gelu_accurate     gelu_new's formula with √(2/π) precomputed in Python: bit-identical.
//   gelu_fast         0.5x(1 + tanh(0.7978845608·x·(1 + 0.044715x²))): gelu_new rearranged, c·x·(1 + ax²) =
//                     c·(x + ax³), with √(2/π) cut to 10 digits (2.9e-12 relative, the same float32 constant):
//                     6.4e-8·|x| in float32, 8e-13·|x| in float64.
const ACTIVATION_ALIASES: Readonly<Record<string, Activation>> = {
  ...Object.fromEntries(SUPPORTED_ACTIVATIONS.map((a) => [a, a] as const)),
  swish: 'silu', gelu_python: 'gelu', gelu_pytorch_tanh: 'gelu_new', gelu_accurate: 'gelu_new', gelu_fast: 'gelu_new',
};

/** What generate() uses when the caller does not override it (transformers 4.40 GenerationConfig semantics). */
export interface GenerationDefaults {
  /** Which file the generation fields came from (see resolveGeneration). */
  readonly source: 'generation_config.json' | 'config.json';
  readonly max_length: number;
  readonly max_new_tokens: number | undefined;
  readonly min_length: number;
  readonly do_sample: boolean;
  readonly num_beams: number;
  readonly num_return_sequences: number;
  readonly length_penalty: number;
  readonly early_stopping: boolean | 'never';
  readonly repetition_penalty: number;
  readonly no_repeat_ngram_size: number;
  readonly bad_words_ids: readonly (readonly number[])[] | undefined;
  readonly forced_bos_token_id: number | undefined;
  /** A list forces any of several eos ids (ForcedEOSTokenLogitsProcessor accepts int or list). */
  readonly forced_eos_token_id: readonly number[] | undefined;
  /** Falls back to the first eos id, as generate() does (with a warning) when pad is unset. */
  readonly pad_token_id: number | undefined;
  readonly bos_token_id: number | undefined;
  /** Always a list (config may give an int or a list); empty when there is no eos. */
  readonly eos_token_id: readonly number[];
  /** Falls back to bos_token_id, as _get_decoder_start_token_id does; undefined means the caller must give one. */
  readonly decoder_start_token_id: number | undefined;
}

interface Common {
  readonly vocab_size: number;
  readonly d_model: number;
  readonly tie_word_embeddings: boolean;
  readonly pad_token_id: number | undefined;
  readonly bos_token_id: number | undefined;
  readonly eos_token_id: readonly number[];
  readonly decoder_start_token_id: number | undefined;
  readonly generation: GenerationDefaults;
  /** The config.json object as given, for fields this type does not model. */
  readonly raw: Readonly<Record<string, unknown>>;
}

export interface BartFamilyConfig extends Common {
  readonly model_type: BartFamilyType;
  /** Output vocabulary; differs from vocab_size only for Marian with share_encoder_decoder_embeddings false. */
  readonly decoder_vocab_size: number;
  readonly encoder_layers: number;
  readonly decoder_layers: number;
  readonly encoder_attention_heads: number;
  readonly decoder_attention_heads: number;
  readonly encoder_ffn_dim: number;
  readonly decoder_ffn_dim: number;
  readonly max_position_embeddings: number;
  readonly scale_embedding: boolean;
  readonly activation_function: Activation;
  /** Marian only; the other families always share one embedding (true). */
  readonly share_encoder_decoder_embeddings: boolean;
}

export interface T5Config extends Common {
  readonly model_type: 't5';
  readonly d_kv: number;
  readonly d_ff: number;
  readonly num_layers: number;
  readonly num_decoder_layers: number;
  readonly num_heads: number;
  readonly relative_attention_num_buckets: number;
  readonly relative_attention_max_distance: number;
  readonly layer_norm_epsilon: number;
  readonly feed_forward_proj: { readonly activation: Activation; readonly gated: boolean };
}

export type ModelConfig = BartFamilyConfig | T5Config;

type Json = Record<string, unknown>;

const BART_FAMILY_DEFAULTS: Record<BartFamilyType, Json> = {
  marian: { vocab_size: 58101, max_position_embeddings: 1024, layers: 12, ffn: 4096, heads: 16, d_model: 1024,
    activation_function: 'gelu', scale_embedding: false, pad_token_id: 58100, bos_token_id: null, eos_token_id: 0,
    decoder_start_token_id: 58100, forced_eos_token_id: 0 },
  bart: { vocab_size: 50265, max_position_embeddings: 1024, layers: 12, ffn: 4096, heads: 16, d_model: 1024,
    activation_function: 'gelu', scale_embedding: false, pad_token_id: 1, bos_token_id: 0, eos_token_id: 2,
    decoder_start_token_id: 2, forced_eos_token_id: 2 },
  mbart: { vocab_size: 50265, max_position_embeddings: 1024, layers: 12, ffn: 4096, heads: 16, d_model: 1024,
    activation_function: 'gelu', scale_embedding: false, pad_token_id: 1, bos_token_id: 0, eos_token_id: 2,
    decoder_start_token_id: null, forced_eos_token_id: 2 },
  m2m_100: { vocab_size: 128112, max_position_embeddings: 1024, layers: 12, ffn: 4096, heads: 16, d_model: 1024,
    activation_function: 'relu', scale_embedding: true, pad_token_id: 1, bos_token_id: 0, eos_token_id: 2,
    decoder_start_token_id: 2 },
};
const T5_DEFAULTS: Json = { vocab_size: 32128, d_model: 512, d_kv: 64, d_ff: 2048, num_layers: 6, num_heads: 8,
  relative_attention_num_buckets: 32, relative_attention_max_distance: 128, layer_norm_epsilon: 1e-6,
  feed_forward_proj: 'relu', pad_token_id: 0, eos_token_id: 1, bos_token_id: null, decoder_start_token_id: null };

// GenerationConfig defaults (generation/configuration_utils.py) for every generation key a model config may
// carry; PretrainedConfig._has_non_default_generation_parameters compares against exactly this list.
const GENERATION_KEY_DEFAULTS: Json = {
  max_length: 20, min_length: 0, do_sample: false, early_stopping: false, num_beams: 1, num_beam_groups: 1,
  diversity_penalty: 0, temperature: 1, top_k: 50, top_p: 1, typical_p: 1, repetition_penalty: 1,
  length_penalty: 1, no_repeat_ngram_size: 0, encoder_no_repeat_ngram_size: 0, bad_words_ids: null,
  num_return_sequences: 1, output_scores: false, return_dict_in_generate: false, forced_bos_token_id: null,
  forced_eos_token_id: null, remove_invalid_values: false, exponential_decay_length_penalty: null,
  suppress_tokens: null, begin_suppress_tokens: null,
};

/** Typed field access with a file label for messages and per-family defaults for absent keys. */
class Fields {
  constructor(readonly obj: Json, readonly label: string, readonly defaults: Json = {}) {}

  get(key: string): unknown {
    const v = Object.hasOwn(this.obj, key) ? this.obj[key] : this.defaults[key];
    return v === null ? undefined : v;
  }
  fail(key: string, want: string, got: unknown = this.get(key)): never {
    throw new ConfigError(`${this.label}: "${key}" must be ${want}, got ${show(got)}`);
  }
  int(key: string, min = 1, fallback?: unknown): number {
    const v = this.get(key) ?? fallback;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
      this.fail(key, min === 1 ? 'a positive integer' : `an integer >= ${min}`, v);
    }
    return v;
  }
  num(key: string, fallback: number, check: (x: number) => boolean, want: string): number {
    const v = this.get(key) ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || !check(v)) this.fail(key, want, v);
    return v;
  }
  bool(key: string, fallback: boolean): boolean {
    const v = this.get(key) ?? fallback;
    if (typeof v !== 'boolean') this.fail(key, 'true or false', v);
    return v;
  }
  /** A token id in [0, vocab), or undefined when absent / null. */
  id(key: string, vocab: number): number | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v >= vocab) {
      this.fail(key, `a token id in [0, ${vocab})`, v);
    }
    return v;
  }
  /** An id or a list of ids, always returned as a list (at most `vocab` of them: a longer list must repeat ids). */
  ids(key: string, vocab: number): number[] | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    return tokenIdList(`${this.label}: "${key}"`, v, { vocab, max: vocab, Err: ConfigError }, true);
  }
}

export function parseActivation(name: unknown, where: string): Activation {
  if (typeof name === 'string' && Object.hasOwn(ACTIVATION_ALIASES, name)) return ACTIVATION_ALIASES[name];
  const accepted = Object.keys(ACTIVATION_ALIASES).sort().join(', ');
  throw new ConfigError(`${where}: unknown activation ${show(name)}; supported: ${accepted}`);
}

/**
 * Parses config.json and, if the model folder has one, generation_config.json (both as parsed JSON).
 * Throws UnsupportedError for a model_type outside SUPPORTED_MODEL_TYPES and ConfigError for invalid values.
 */
export function parseConfig(config: unknown, generationConfig?: unknown): ModelConfig {
  const raw = asObject(config, 'config.json');
  const type = raw.model_type;
  if (type === undefined) throw new ConfigError('config.json: "model_type" is missing');
  if (typeof type !== 'string' || !(SUPPORTED_MODEL_TYPES as readonly string[]).includes(type)) {
    throw new UnsupportedError(`config.json: model_type ${show(type)} is not supported; ` +
      `supported: ${SUPPORTED_MODEL_TYPES.join(', ')}`);
  }
  const genRaw = generationConfig === undefined ? undefined : asObject(generationConfig, 'generation_config.json');
  return type === 't5' ? parseT5(raw, genRaw) : parseBartFamily(type as BartFamilyType, raw, genRaw);
}

function parseBartFamily(type: BartFamilyType, raw: Json, genRaw: Json | undefined): BartFamilyConfig {
  const d = BART_FAMILY_DEFAULTS[type];
  const f = new Fields(raw, 'config.json', d);
  const vocab = f.int('vocab_size', 1);
  const marian = type === 'marian';
  // MarianConfig: `decoder_vocab_size or vocab_size` (so 0 and null also mean "same").
  const decoderVocab = marian && raw.decoder_vocab_size ? f.int('decoder_vocab_size') : vocab;
  const dModel = f.int('d_model');
  const heads = (k: string) => {
    const h = f.int(k, 1, d.heads);
    if (dModel % h !== 0) throw new ConfigError(`config.json: d_model ${dModel} is not divisible by ${k} ${h}`);
    return h;
  };
  const genFamily: Json = { ...pick(d, ['pad_token_id', 'bos_token_id', 'eos_token_id', 'decoder_start_token_id',
    'forced_eos_token_id']) };
  // BartConfig backward compatibility: old bart-large-cnn configs say force_bos_token_to_be_generated.
  if (type === 'bart' && raw.forced_bos_token_id == null && raw.force_bos_token_to_be_generated === true) {
    genFamily.forced_bos_token_id = Object.hasOwn(raw, 'bos_token_id') ? raw.bos_token_id : d.bos_token_id;
  }
  return {
    model_type: type,
    vocab_size: vocab,
    decoder_vocab_size: decoderVocab,
    d_model: dModel,
    encoder_layers: f.int('encoder_layers', 1, d.layers),
    decoder_layers: f.int('decoder_layers', 1, d.layers),
    encoder_attention_heads: heads('encoder_attention_heads'),
    decoder_attention_heads: heads('decoder_attention_heads'),
    encoder_ffn_dim: f.int('encoder_ffn_dim', 1, d.ffn),
    decoder_ffn_dim: f.int('decoder_ffn_dim', 1, d.ffn),
    max_position_embeddings: f.int('max_position_embeddings'),
    scale_embedding: f.bool('scale_embedding', false),
    activation_function: parseActivation(f.get('activation_function'), 'config.json "activation_function"'),
    share_encoder_decoder_embeddings: marian ? f.bool('share_encoder_decoder_embeddings', true) : true,
    tie_word_embeddings: f.bool('tie_word_embeddings', true),
    ...modelIds(f, decoderVocab, type === 'm2m_100'),
    generation: resolveGeneration(raw, genFamily, genRaw, decoderVocab),
    raw,
  };
}

function parseT5(raw: Json, genRaw: Json | undefined): T5Config {
  const f = new Fields(raw, 'config.json', T5_DEFAULTS);
  const vocab = f.int('vocab_size');
  const numLayers = f.int('num_layers');
  return {
    model_type: 't5',
    vocab_size: vocab,
    d_model: f.int('d_model'),
    d_kv: f.int('d_kv'),
    d_ff: f.int('d_ff'),
    num_layers: numLayers,
    num_decoder_layers: f.int('num_decoder_layers', 1, numLayers),
    num_heads: f.int('num_heads'),
    ...t5Buckets(f),
    layer_norm_epsilon: f.num('layer_norm_epsilon', 1e-6, (x) => x > 0, 'a positive number'),
    feed_forward_proj: t5FeedForward(f),
    tie_word_embeddings: f.bool('tie_word_embeddings', true),
    ...modelIds(f, vocab, false),
    generation: resolveGeneration(raw, pick(T5_DEFAULTS, ['pad_token_id', 'eos_token_id']), genRaw, vocab),
    raw,
  };
}

// transformers' _relative_position_bucket halves the buckets for the bidirectional encoder and halves them again
// for the exact range: with fewer than 4 it divides by zero (ZeroDivisionError), and with a max distance at or
// below the decoder's exact range (buckets / 2) its log-spaced formula yields negative buckets for long
// distances (an IndexError in the embedding). Both are refused here rather than producing NaN attention.
function t5Buckets(f: Fields) {
  const nb = f.int('relative_attention_num_buckets');
  if (nb < 4) {
    f.fail('relative_attention_num_buckets', 'an integer >= 4 (transformers\' bucket function halves it twice for the ' +
      'bidirectional encoder and divides by zero below 4)');
  }
  const md = f.int('relative_attention_max_distance');
  if (md <= Math.floor(nb / 2)) {
    f.fail('relative_attention_max_distance', `an integer > ${Math.floor(nb / 2)} (half of relative_attention_num_buckets ` +
      `${nb}; at or below it transformers' bucket formula gives negative buckets for long distances)`);
  }
  return { relative_attention_num_buckets: nb, relative_attention_max_distance: md };
}

// T5Config.__init__: "relu" | "gated-<act>"; "gated-gelu" means gelu_new for backward compatibility. Explicit
// dense_act_fn / is_gated_act keys (save_pretrained writes them) win, because PretrainedConfig sets leftover
// kwargs after T5Config derived its values.
function t5FeedForward(f: Fields): T5Config['feed_forward_proj'] {
  const proj = f.get('feed_forward_proj');
  if (typeof proj !== 'string') f.fail('feed_forward_proj', 'a string such as "relu" or "gated-gelu"');
  const parts = proj.split('-');
  if ((parts.length > 1 && parts[0] !== 'gated') || parts.length > 2) {
    f.fail('feed_forward_proj', 'of the form "<act>" or "gated-<act>"');
  }
  let act: unknown = proj === 'gated-gelu' ? 'gelu_new' : parts[parts.length - 1];
  let gated = parts[0] === 'gated';
  if (f.get('dense_act_fn') !== undefined) act = f.get('dense_act_fn');
  if (f.get('is_gated_act') !== undefined) gated = f.bool('is_gated_act', gated);
  return { activation: parseActivation(act, `config.json feed_forward_proj ${JSON.stringify(proj)}`), gated };
}

function modelIds(f: Fields, vocab: number, needPad: boolean) {
  const pad = f.id('pad_token_id', vocab);
  // M2M100 positions are offset by padding_idx = pad_token_id; without it the model is undefined.
  if (needPad && pad === undefined) f.fail('pad_token_id', 'a token id (m2m_100 positions depend on it)');
  return {
    pad_token_id: pad,
    bos_token_id: f.id('bos_token_id', vocab),
    eos_token_id: f.ids('eos_token_id', vocab) ?? [],
    decoder_start_token_id: f.id('decoder_start_token_id', vocab),
  };
}

/**
 * transformers 4.40: from_pretrained uses generation_config.json when present, else GenerationConfig
 * .from_model_config(config) (generation keys of config.json, family defaults included). One legacy rule on top:
 * generate() rebuilds the generation config from the model config when generation_config.json says
 * `_from_model_config: true` and the model config has any non-default generation parameter.
 */
export function resolveGeneration(config: Json, familyDefaults: Json, generationConfig: Json | undefined,
  vocab: number): GenerationDefaults {
  const effective = (k: string) =>
    Object.hasOwn(config, k) ? config[k] : Object.hasOwn(familyDefaults, k) ? familyDefaults[k] : GENERATION_KEY_DEFAULTS[k];
  const fromModel = generationConfig === undefined || (generationConfig._from_model_config === true &&
    Object.keys(GENERATION_KEY_DEFAULTS).some((k) => !jsonEqual(effective(k), GENERATION_KEY_DEFAULTS[k])));
  const f = fromModel
    ? new Fields(config, 'config.json', familyDefaults)
    : new Fields(generationConfig, 'generation_config.json');
  return parseGeneration(f, vocab, fromModel ? 'config.json' : 'generation_config.json');
}

function parseGeneration(f: Fields, vocab: number, source: GenerationDefaults['source']): GenerationDefaults {
  const early = f.get('early_stopping') ?? false;
  if (early !== true && early !== false && early !== 'never') f.fail('early_stopping', 'true, false or "never"');
  const bad = f.get('bad_words_ids');
  if (bad !== undefined && !(Array.isArray(bad) && bad.length > 0)) f.fail('bad_words_ids', 'a non-empty list of lists of token ids');
  if (bad !== undefined) {
    denseArray(`${f.label}: "bad_words_ids"`, bad, MAX_LIST_LENGTH, ConfigError).forEach((w, i) =>
      tokenIdList(`${f.label}: "bad_words_ids"[${i}]`, w, { vocab, allowEmpty: false, Err: ConfigError }));
  }
  const eos = f.ids('eos_token_id', vocab) ?? [];
  const bos = f.id('bos_token_id', vocab);
  return {
    source,
    max_length: f.int('max_length', 1, 20),
    max_new_tokens: f.get('max_new_tokens') === undefined ? undefined : f.int('max_new_tokens'),
    min_length: f.int('min_length', 0, 0),
    do_sample: f.bool('do_sample', false),
    num_beams: f.int('num_beams', 1, 1),
    num_return_sequences: f.int('num_return_sequences', 1, 1),
    length_penalty: f.num('length_penalty', 1, () => true, 'a number'),
    early_stopping: early,
    repetition_penalty: f.num('repetition_penalty', 1, (x) => x > 0, 'a positive number'),
    no_repeat_ngram_size: f.int('no_repeat_ngram_size', 0, 0),
    bad_words_ids: bad as number[][] | undefined,
    forced_bos_token_id: f.id('forced_bos_token_id', vocab),
    forced_eos_token_id: f.ids('forced_eos_token_id', vocab),
    pad_token_id: f.id('pad_token_id', vocab) ?? eos[0],
    bos_token_id: bos,
    eos_token_id: eos,
    decoder_start_token_id: f.id('decoder_start_token_id', vocab) ?? bos,
  };
}

function asObject(x: unknown, label: string): Json {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) {
    throw new ConfigError(`${label} must be a JSON object, got ${Array.isArray(x) ? 'an array' : JSON.stringify(x)}`);
  }
  return x as Json;
}

function pick(o: Json, keys: string[]): Json {
  return Object.fromEntries(keys.filter((k) => Object.hasOwn(o, k)).map((k) => [k, o[k]]));
}

// Python's `!=` on JSON values: numbers by value (1 == 1.0 already in JS), lists/dicts structurally.
function jsonEqual(a: unknown, b: unknown): boolean {
  try {
    return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  } catch {
    return false; // nested too deep to write out: not the (flat) default
  }
}
