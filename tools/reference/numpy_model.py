"""Float64 NumPy forward pass and search of the encoder-decoder families in docs/model-spec.md.

The repository's executable statement of docs/model-spec.md: no transformers, no torch, only NumPy. It reads a
Hugging Face model folder (config.json, generation_config.json, model.safetensors), runs the encoder and the
decoder in float64 over whole prefixes (no KV cache: the decoder is recomputed for every prefix, which gives
the same numbers as transformers' incremental decoding and keeps the code short), and searches greedily or
with beams as transformers 4.40.2's generate() does.

It is written for clarity, not speed, and shares no code with the TypeScript runtime in bindings/. Who uses it:
  tools/reference/verify_fixtures.py   reproduces every golden.json in test/fixtures (the proof that this file
                                       implements the spec)
  tools/gen_reference.py               model logits for the generation replay fixtures; cross-check of its search
  tools/marian_random_ref.py           golden outputs of the random Marian checkpoints in test/fixtures/random
  tools/g2p/check_marian.py            checks the G2P trainer's torch model and its export against this file

API in brief:
  read_safetensors(path)                    {name: float64 array}
  build_model(config, weights)              BartFamily (marian, bart, mbart, m2m_100) or T5
  model.encode(ids, mask) -> [L, d]         one sentence (mask: 1 = real token, 0 = padding)
  model.decode(dec_ids, enc, mask) -> [L, V]  raw logits of every decoder position
  model.next_logits(ids, mask)              a cached prefix -> last-position-logits function for the search
  GenerationSettings.resolve(gen_cfg, **kw) generation_config.json + generate() kwargs, as transformers merges them
  greedy(next_logits_per_row, s)            sequences (start token first) and per-step log-probs, whole batch
  beam_search(next_logits, s)               one sentence's best hypotheses [(score, tokens without eos)]
  pad_beam_rows(hyps, s)                    the batch layout transformers' finalize() returns
"""
import json
import math
import struct

import numpy as np

F64 = np.float64
NEG = float(np.finfo(np.float32).min)  # transformers' additive mask value for a float32 model


# ---------------------------------------------------------------------------------------------- weights
_SAFETENSORS_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
                       "I8": "i1", "U8": "u1", "BOOL": "?"}


def read_safetensors(path):
    """{tensor name: array} of a .safetensors file: floating tensors as float64 (BF16 widened bit-exactly),
    integer ones as int64. Layout: u64 little-endian header size, JSON header, then the raw data."""
    with open(path, "rb") as f:
        blob = f.read()
    (header_len,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + header_len])
    data = memoryview(blob)[8 + header_len:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = data[start:end]
        if info["dtype"] == "BF16":  # the upper half of a float32
            arr = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view("<f4")
        else:
            arr = np.frombuffer(raw, _SAFETENSORS_DTYPES[info["dtype"]])
        arr = arr.reshape(info["shape"])
        out[name] = arr.astype(F64) if arr.dtype.kind == "f" else arr.astype(np.int64)
    return out


# ---------------------------------------------------------------------------------------------- activations
_erf = np.vectorize(math.erf, otypes=[F64])


def _sigmoid(x):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def _gelu_erf(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def _silu(x):
    with np.errstate(over="ignore"):
        return x / (1.0 + np.exp(-x))


def _softplus(x):
    return np.logaddexp(0.0, x)


# Every name of transformers 4.40.2's ACT2FN (activations.py); see docs/model-spec.md §Common.
ACTIVATIONS = {
    "gelu": _gelu_erf,
    "gelu_python": _gelu_erf,
    "gelu_10": lambda x: np.clip(_gelu_erf(x), -10.0, 10.0),
    "gelu_new": _gelu_tanh,
    "gelu_pytorch_tanh": _gelu_tanh,
    "gelu_accurate": _gelu_tanh,
    "gelu_fast": lambda x: 0.5 * x * (1.0 + np.tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x))),
    "quick_gelu": lambda x: x * _sigmoid(1.702 * x),
    "laplace": lambda x: 0.5 * (1.0 + _erf((x - 0.707107) / (0.282095 * math.sqrt(2.0)))),
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.01 * x),
    "linear": lambda x: x,
    "mish": lambda x: x * np.tanh(_softplus(x)),
    "relu": lambda x: np.maximum(x, 0.0),
    "relu2": lambda x: np.maximum(x, 0.0) ** 2,
    "relu6": lambda x: np.clip(x, 0.0, 6.0),
    "sigmoid": _sigmoid,
    "silu": _silu,
    "swish": _silu,
    "tanh": np.tanh,
}


def activation(name):
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r} (transformers' ACT2FN has {sorted(ACTIVATIONS)})")
    return ACTIVATIONS[name]


# ---------------------------------------------------------------------------------------------- building blocks
def layer_norm(x, weight, bias, eps=1e-5):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def rms_norm(x, weight, eps):
    """T5LayerNorm: no mean subtraction, no bias."""
    return x / np.sqrt((x ** 2).mean(-1, keepdims=True) + eps) * weight


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def log_softmax(x):
    """Over the last axis; -inf entries stay -inf (a row that is all -inf is not expected)."""
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def padding_mask(mask_row, n_queries):
    """[n_queries, n_keys] additive mask hiding the keys whose attention_mask is 0."""
    keep = np.asarray(mask_row)[None, :] == 1
    return np.where(keep, 0.0, NEG).repeat(n_queries, 0)


def causal_mask(n):
    """[n, n] additive mask: query i sees keys 0..i."""
    return np.where(np.arange(n)[None, :] <= np.arange(n)[:, None], 0.0, NEG)


class Linear:
    """y = x W^T (+ b), W stored [out, in] as in PyTorch."""

    def __init__(self, weights, prefix, bias=True):
        self.w = weights[prefix + ".weight"]
        self.b = weights[prefix + ".bias"] if bias else None

    def __call__(self, x):
        y = x @ self.w.T
        return y if self.b is None else y + self.b


class Attention:
    """Multi-head attention. `scaled`: q * head_dim**-0.5 after q's bias (BART family); T5 does not scale."""

    def __init__(self, weights, prefix, heads, names, bias, scaled):
        self.q, self.k, self.v, self.o = (Linear(weights, f"{prefix}.{n}", bias) for n in names)
        self.heads, self.scaled = heads, scaled

    def __call__(self, x_q, x_kv, mask, position_bias=None):
        q, k, v = self.q(x_q), self.k(x_kv), self.v(x_kv)
        head_dim = q.shape[-1] // self.heads
        if self.scaled:
            q = q * head_dim ** -0.5

        def split(t):  # [L, H*hd] -> [H, L, hd]
            return t.reshape(t.shape[0], self.heads, head_dim).transpose(1, 0, 2)

        scores = split(q) @ split(k).transpose(0, 2, 1) + mask[None]
        if position_bias is not None:
            scores = scores + position_bias
        ctx = softmax(scores) @ split(v)  # [H, Lq, hd]
        return self.o(ctx.transpose(1, 0, 2).reshape(x_q.shape[0], -1))


# ---------------------------------------------------------------------------------------------- positions
def marian_positions(n, d):
    """Marian's static sinusoids for positions 0..n-1: column i < d/2 holds sin(p / 10000^(2i/d)), column
    d/2 + i the matching cos; computed in float64 and rounded to float32 as transformers stores them."""
    j = np.arange(d)
    angle = np.arange(n)[:, None] / np.power(10000, 2 * (j // 2) / d)[None, :]
    half = (d + 1) // 2
    table = np.empty((n, d))
    table[:, :half] = np.sin(angle[:, 0::2])
    table[:, half:] = np.cos(angle[:, 1::2])
    return table.astype(np.float32).astype(F64)


def fairseq_positions(position_ids, d, pad):
    """M2M100/NLLB sinusoid rows for the given position ids, computed in float32 like transformers: frequencies
    exp(-i * ln(10000) / (d/2 - 1)), all sines then all cosines, a zero column when d is odd, and the row of the
    padding index all zeros."""
    half = d // 2
    step = np.float32(math.log(10000) / (half - 1))
    freq = np.exp(np.arange(half, dtype=np.float32) * -step)
    angle = np.asarray(position_ids, dtype=np.float32)[:, None] * freq[None, :]
    rows = np.concatenate([np.sin(angle), np.cos(angle)], axis=1)
    if d % 2:
        rows = np.concatenate([rows, np.zeros((len(rows), 1), np.float32)], axis=1)
    rows[np.asarray(position_ids) == pad] = 0.0
    return rows.astype(F64)


def t5_bucket(relative_position, bidirectional, num_buckets, max_distance):
    """T5's relative-position bucket of key_pos - query_pos; the logarithmic part is computed in float32 and
    truncated toward zero, as transformers does."""
    n = relative_position
    bucket = 0
    if bidirectional:
        num_buckets //= 2
        if n > 0:
            bucket += num_buckets
        n = abs(n)
    else:
        n = max(-n, 0)
    exact = num_buckets // 2
    if n < exact:
        return bucket + n
    log_ratio = np.log(np.float32(n) / np.float32(exact)) / np.float32(math.log(max_distance / exact))
    large = exact + int(np.float32(log_ratio * np.float32(num_buckets - exact)))
    return bucket + min(large, num_buckets - 1)


# ---------------------------------------------------------------------------------------------- models
def first_present(weights, names, what):
    for name in names:
        if name in weights:
            return weights[name]
    raise KeyError(f"no {what}: none of {names} in the weight file")


class Model:
    def next_logits(self, ids, mask):
        """Encode once; return f(prefix) -> float64 logits of the prefix's last position (cached per prefix)."""
        enc = self.encode(ids, mask)
        cache = {}

        def f(prefix):
            key = tuple(prefix)
            if key not in cache:
                cache[key] = self.decode(list(prefix), enc, mask)[-1]
            return cache[key]

        f.encoder_output = enc
        f.cache = cache
        return f


class BartFamily(Model):
    """Marian, BART, mBART and M2M100/NLLB: docs/model-spec.md §Common, §Marian, §BART, §mBART, §M2M100."""

    DEFAULTS = {  # config-class defaults that matter when config.json leaves a key out
        "marian": {"activation_function": "gelu", "scale_embedding": False},
        "bart": {"activation_function": "gelu", "scale_embedding": False},
        "mbart": {"activation_function": "gelu", "scale_embedding": False},
        "m2m_100": {"activation_function": "relu", "scale_embedding": True},
    }

    def __init__(self, cfg, weights):
        kind = cfg["model_type"]
        if kind not in self.DEFAULTS:
            raise ValueError(f"not a BART-family model_type: {kind}")
        get = lambda key: cfg.get(key, self.DEFAULTS[kind][key])  # noqa: E731
        self.kind, self.cfg, self.W = kind, cfg, weights
        self.d = cfg["d_model"]
        self.embed_scale = math.sqrt(self.d) if get("scale_embedding") else 1.0
        self.act = activation(get("activation_function"))
        self.pre_norm = kind in ("mbart", "m2m_100")
        self.embedding_norm = kind in ("bart", "mbart")
        self.final_norm = kind in ("mbart", "m2m_100")
        self.pad = cfg["pad_token_id"]

        tied = cfg.get("tie_word_embeddings", True)
        shared_names = ["model.shared.weight", "model.encoder.embed_tokens.weight",
                        "model.decoder.embed_tokens.weight"] + (["lm_head.weight"] if tied else [])
        if kind == "marian" and not cfg.get("share_encoder_decoder_embeddings", True):
            self.enc_table = first_present(weights, ["model.encoder.embed_tokens.weight"], "encoder embedding")
            self.dec_table = first_present(weights, ["model.decoder.embed_tokens.weight"], "decoder embedding")
        else:
            self.enc_table = self.dec_table = first_present(weights, shared_names, "shared embedding")
        self.head = self.dec_table if tied else first_present(weights, ["lm_head.weight"], "untied lm_head")
        has_bias = kind != "m2m_100"
        self.logits_bias = weights["final_logits_bias"][0] if has_bias and "final_logits_bias" in weights else 0.0

        names = ("q_proj", "k_proj", "v_proj", "out_proj")
        self.layers = {}
        for side in ("encoder", "decoder"):
            heads = cfg[f"{side}_attention_heads"]
            layers = []
            for i in range(cfg[f"{side}_layers"]):
                p = f"model.{side}.layers.{i}"
                layer = {"self": Attention(weights, p + ".self_attn", heads, names, True, True),
                         "fc1": Linear(weights, p + ".fc1"), "fc2": Linear(weights, p + ".fc2"),
                         "norms": {n: (weights[f"{p}.{n}.weight"], weights[f"{p}.{n}.bias"])
                                   for n in ("self_attn_layer_norm", "encoder_attn_layer_norm", "final_layer_norm")
                                   if f"{p}.{n}.weight" in weights}}
                if side == "decoder":
                    layer["cross"] = Attention(weights, p + ".encoder_attn", heads, names, True, True)
                layers.append(layer)
            self.layers[side] = layers

    def _norm(self, x, pair):
        return layer_norm(x, pair[0], pair[1])

    def _sublayer(self, x, norm, fn):
        if self.pre_norm:
            return x + fn(self._norm(x, norm))
        return self._norm(x + fn(x), norm)

    def embed(self, side, ids):
        ids = np.asarray(ids)
        table = self.enc_table if side == "encoder" else self.dec_table
        x = table[ids] * self.embed_scale
        n = len(ids)
        if self.kind == "marian":
            x = x + marian_positions(n, self.d)
        elif self.kind in ("bart", "mbart"):
            x = x + self.W[f"model.{side}.embed_positions.weight"][np.arange(n) + 2]
        else:  # m2m_100: positions count real tokens only, from pad + 1; padding gets the zero row
            real = (ids != self.pad).astype(np.int64)
            x = x + fairseq_positions(np.cumsum(real) * real + self.pad, self.d, self.pad)
        if self.embedding_norm:
            x = layer_norm(x, self.W[f"model.{side}.layernorm_embedding.weight"],
                           self.W[f"model.{side}.layernorm_embedding.bias"])
        return x

    def _ffn(self, layer):
        return lambda h: layer["fc2"](self.act(layer["fc1"](h)))

    def _final(self, side, x):
        if not self.final_norm:
            return x
        return layer_norm(x, self.W[f"model.{side}.layer_norm.weight"], self.W[f"model.{side}.layer_norm.bias"])

    def encode(self, ids, mask):
        x = self.embed("encoder", ids)
        m = padding_mask(mask, len(ids))
        for layer in self.layers["encoder"]:
            x = self._sublayer(x, layer["norms"]["self_attn_layer_norm"], lambda h: layer["self"](h, h, m))
            x = self._sublayer(x, layer["norms"]["final_layer_norm"], self._ffn(layer))
        return self._final("encoder", x)

    def decode(self, dec_ids, enc, mask):
        x = self.embed("decoder", dec_ids)
        n = len(dec_ids)
        self_mask, cross_mask = causal_mask(n), padding_mask(mask, n)
        for layer in self.layers["decoder"]:
            x = self._sublayer(x, layer["norms"]["self_attn_layer_norm"], lambda h: layer["self"](h, h, self_mask))
            x = self._sublayer(x, layer["norms"]["encoder_attn_layer_norm"],
                               lambda h: layer["cross"](h, enc, cross_mask))
            x = self._sublayer(x, layer["norms"]["final_layer_norm"], self._ffn(layer))
        x = self._final("decoder", x)
        return x @ self.head.T + self.logits_bias


def t5_feed_forward(cfg):
    """(activation name, gated) as T5Config derives them: feed_forward_proj is "<act>" or "gated-<act>",
    "gated-gelu" means gelu_new; dense_act_fn / is_gated_act keys in config.json take precedence."""
    proj = cfg.get("feed_forward_proj", "relu")
    parts = proj.split("-")
    if (len(parts) > 1 and parts[0] != "gated") or len(parts) > 2:
        raise ValueError(f"feed_forward_proj {proj!r} is not '<act>' or 'gated-<act>'")
    act = "gelu_new" if proj == "gated-gelu" else parts[-1]
    return cfg.get("dense_act_fn", act), cfg.get("is_gated_act", parts[0] == "gated")


class T5(Model):
    """T5 v1.0 and v1.1 / Flan-T5: docs/model-spec.md §T5."""

    def __init__(self, cfg, weights):
        self.cfg, self.W = cfg, weights
        self.d = cfg["d_model"]
        self.heads = cfg["num_heads"]
        self.eps = cfg.get("layer_norm_epsilon", 1e-6)
        self.num_buckets = cfg.get("relative_attention_num_buckets", 32)
        self.max_distance = cfg.get("relative_attention_max_distance", 128)
        act, self.gated = t5_feed_forward(cfg)
        self.act = activation(act)
        self.tied = cfg.get("tie_word_embeddings", True)
        self.table = first_present(weights, ["shared.weight", "encoder.embed_tokens.weight",
                                             "decoder.embed_tokens.weight"] + (["lm_head.weight"] if self.tied else []),
                                   "shared embedding")
        self.head = None if self.tied else first_present(weights, ["lm_head.weight"], "untied lm_head")
        self.n_layers = {"encoder": cfg["num_layers"],
                         "decoder": cfg.get("num_decoder_layers") or cfg["num_layers"]}

    def _attn(self, prefix):
        return Attention(self.W, prefix, self.heads, ("q", "k", "v", "o"), False, False)

    def _norm(self, x, prefix):
        return rms_norm(x, self.W[prefix + ".weight"], self.eps)

    def _ff(self, prefix, h):
        W = self.W
        if self.gated:
            h = self.act(h @ W[prefix + ".wi_0.weight"].T) * (h @ W[prefix + ".wi_1.weight"].T)
        else:
            h = self.act(h @ W[prefix + ".wi.weight"].T)
        return h @ W[prefix + ".wo.weight"].T

    def position_bias(self, stack, n_q, n_k, bidirectional):
        """[heads, n_q, n_k] from block 0's table, shared by every layer of the stack."""
        table = self.W[f"{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"]  # [buckets, heads]
        buckets = np.array([[t5_bucket(k - q, bidirectional, self.num_buckets, self.max_distance)
                             for k in range(n_k)] for q in range(n_q)])
        return table[buckets].transpose(2, 0, 1)

    def encode(self, ids, mask):
        n = len(ids)
        x = self.table[np.asarray(ids)]
        bias, m = self.position_bias("encoder", n, n, True), padding_mask(mask, n)
        for i in range(self.n_layers["encoder"]):
            p = f"encoder.block.{i}.layer"
            h = self._norm(x, p + ".0.layer_norm")
            x = x + self._attn(p + ".0.SelfAttention")(h, h, m, bias)
            x = x + self._ff(p + ".1.DenseReluDense", self._norm(x, p + ".1.layer_norm"))
        return self._norm(x, "encoder.final_layer_norm")

    def decode(self, dec_ids, enc, mask):
        n = len(dec_ids)
        x = self.table[np.asarray(dec_ids)]
        bias, self_mask, cross_mask = self.position_bias("decoder", n, n, False), causal_mask(n), padding_mask(mask, n)
        for i in range(self.n_layers["decoder"]):
            p = f"decoder.block.{i}.layer"
            h = self._norm(x, p + ".0.layer_norm")
            x = x + self._attn(p + ".0.SelfAttention")(h, h, self_mask, bias)
            h = self._norm(x, p + ".1.layer_norm")
            x = x + self._attn(p + ".1.EncDecAttention")(h, enc, cross_mask)
            x = x + self._ff(p + ".2.DenseReluDense", self._norm(x, p + ".2.layer_norm"))
        x = self._norm(x, "decoder.final_layer_norm")
        if self.tied:
            return (x * self.d ** -0.5) @ self.table.T
        return x @ self.head.T


def build_model(cfg, weights):
    return T5(cfg, weights) if cfg["model_type"] == "t5" else BartFamily(cfg, weights)


def load_folder(folder):
    """(config, generation_config or {}, model) of a Hugging Face folder with model.safetensors."""
    import os
    cfg = json.load(open(os.path.join(folder, "config.json")))
    gpath = os.path.join(folder, "generation_config.json")
    gcfg = json.load(open(gpath)) if os.path.exists(gpath) else {}
    return cfg, gcfg, build_model(cfg, read_safetensors(os.path.join(folder, "model.safetensors")))


# ---------------------------------------------------------------------------------------------- generation
class GenerationSettings:
    """The generate() parameters this reference implements, merged as transformers does: generation_config.json
    (or config.json's generation keys) first, call kwargs over them; max_new_tokens / min_new_tokens count from
    the one decoder start token. docs/model-spec.md §Generation."""

    def __init__(self, d):
        eos = d.get("eos_token_id")
        self.eos = [] if eos is None else ([eos] if isinstance(eos, int) else list(eos))
        self.pad = d["pad_token_id"] if d.get("pad_token_id") is not None else (self.eos[0] if self.eos else 0)
        self.start = d["decoder_start_token_id"]
        self.max_length = 1 + d["max_new_tokens"] if d.get("max_new_tokens") is not None else d.get("max_length", 20)
        self.min_length = 1 + d["min_new_tokens"] if d.get("min_new_tokens") is not None else d.get("min_length", 0)
        self.num_beams = d.get("num_beams", 1)
        self.length_penalty = d.get("length_penalty", 1.0)
        self.early_stopping = d.get("early_stopping", False)
        self.num_return_sequences = d.get("num_return_sequences", 1)
        self.repetition_penalty = d.get("repetition_penalty", 1.0)
        self.no_repeat_ngram_size = d.get("no_repeat_ngram_size", 0) or 0
        # NoBadWordsLogitsProcessor drops a bad word that is just [eos]
        self.bad_words = [list(w) for w in d.get("bad_words_ids") or [] if all(list(w) != [e] for e in self.eos)]
        self.forced_bos = d.get("forced_bos_token_id")
        fe = d.get("forced_eos_token_id")
        self.forced_eos = None if fe is None else ([fe] if isinstance(fe, int) else list(fe))

    @classmethod
    def resolve(cls, gen_config, **kwargs):
        merged = {k: v for k, v in gen_config.items() if not k.startswith("_") and k != "transformers_version"}
        merged.update({k: v for k, v in kwargs.items() if k != "do_sample"})
        return cls(merged)


def process(scores, tokens, s):
    """The logits processors of §Processors on one row of scores, in transformers' order. `tokens` is the
    decoder input so far, start token included; cur_len = len(tokens)."""
    out = np.array(scores, dtype=F64)
    cur_len = len(tokens)
    if s.repetition_penalty != 1.0:
        for t in set(tokens):
            out[t] = out[t] * s.repetition_penalty if out[t] < 0 else out[t] / s.repetition_penalty
    n = s.no_repeat_ngram_size
    if n > 0 and cur_len + 1 >= n:
        tail = tuple(tokens[cur_len - n + 1:])
        for i in range(cur_len - n + 1):
            if tuple(tokens[i:i + n - 1]) == tail:
                out[tokens[i + n - 1]] = -np.inf
    for word in s.bad_words:
        prefix = word[:-1]
        if len(word) == 1 or (len(word) <= cur_len and list(tokens[cur_len - len(prefix):]) == prefix):
            out[word[-1]] = -np.inf
    if s.eos and cur_len < s.min_length:
        out[s.eos] = -np.inf
    if s.forced_bos is not None and cur_len == 1:
        out[:] = -np.inf
        out[s.forced_bos] = 0.0
    if s.forced_eos is not None and cur_len == s.max_length - 1:
        out[:] = -np.inf
        out[s.forced_eos] = 0.0
    return out


def greedy(next_logits_per_row, s):
    """transformers' greedy search over a batch: processors on the raw logits, argmax (lowest id on a tie), a
    finished row is fed pad; stops when every row has produced an eos or max_length is reached. Returns
    (rows with the start token first, per-step log-softmax of the processed scores at the chosen token)."""
    rows = [[s.start] for _ in next_logits_per_row]
    logprobs = [[] for _ in rows]
    finished = [False] * len(rows)
    while len(rows[0]) < s.max_length and not all(finished):
        for b, f in enumerate(next_logits_per_row):
            scores = process(f(rows[b]), rows[b], s)
            tok = s.pad if finished[b] else int(np.argmax(scores))
            logprobs[b].append(float(log_softmax(scores)[tok]))
            rows[b].append(tok)
            finished[b] = finished[b] or tok in s.eos
    return rows, logprobs


class _Finished:
    """The best num_beams finished hypotheses of one sentence (transformers' BeamHypotheses)."""

    def __init__(self, s):
        self.s, self.items = s, []  # (score, tokens)

    def worst(self):
        return min(score for score, _ in self.items)

    def offer(self, tokens, sum_logprobs, generated_len):
        score = sum_logprobs / generated_len ** self.s.length_penalty
        if len(self.items) < self.s.num_beams or score > self.worst():
            self.items.append((score, list(tokens)))
            if len(self.items) > self.s.num_beams:
                self.items.remove(min(self.items, key=lambda item: item[0]))  # the first of equal minima

    def done(self, best_candidate, generated_len):
        """Can no running beam still enter? best_candidate: this step's best summed log-prob."""
        s = self.s
        if len(self.items) < s.num_beams:
            return False
        if s.early_stopping is True:
            return True
        if s.early_stopping == "never" and s.length_penalty > 0:
            generated_len = s.max_length - 1
        return self.worst() >= best_candidate / generated_len ** s.length_penalty


def beam_search(next_logits, s):
    """transformers' beam search for one sentence (sentences of a batch do not interact until the final padding).
    Returns the num_return_sequences best hypotheses, best first, as (score, tokens): tokens = start token +
    generated tokens, the final eos not included."""
    k = s.num_beams
    beams = [([s.start], 0.0 if i == 0 else -1e9) for i in range(k)]  # only beam 0 is live at the first step
    finished = _Finished(s)
    done = False
    while True:
        candidates = []  # (summed log-prob, flat index = beam * vocab + token)
        for i, (tokens, beam_score) in enumerate(beams):
            scores = process(log_softmax(next_logits(tokens)), tokens, s) + beam_score
            vocab = len(scores)
            candidates += [(scores[t], i * vocab + t) for t in range(vocab)]
        candidates.sort(key=lambda c: (-c[0], c[1]))
        top = candidates[:max(2, 1 + len(s.eos)) * k]
        generated_len = len(beams[0][0])  # tokens after the start, counting the one chosen now
        next_beams = []
        for rank, (score, flat) in enumerate(top):
            i, tok = divmod(flat, vocab)
            if tok in s.eos:
                if rank < k:  # an eos below the first num_beams candidates is ignored
                    finished.offer(beams[i][0], score, generated_len)
            else:
                next_beams.append((beams[i][0] + [tok], score))
            if len(next_beams) == k:
                break
        done = finished.done(top[0][0], generated_len)
        beams = next_beams
        if done or len(beams[0][0]) >= s.max_length:
            break
    if not done:
        for tokens, score in beams:
            finished.offer(tokens, score, len(tokens) - 1)
    ranked = sorted(finished.items, key=lambda item: item[0])  # stable; the best is taken from the end
    return [ranked.pop() for _ in range(s.num_return_sequences)]


def pad_greedy_rows(rows, s):
    width = max(len(r) for r in rows)
    return [list(r) + [s.pad] * (width - len(r)) for r in rows]


def pad_beam_rows(token_lists, s):
    """finalize()'s layout for every returned hypothesis of the batch: width = min(longest + 1, max_length); a
    row shorter than that gets one eos, then pad."""
    width = min(max(len(t) for t in token_lists) + 1, s.max_length)
    out = []
    for tokens in token_lists:
        row = list(tokens) + ([s.eos[0]] if len(tokens) < width else [])
        out.append(row + [s.pad] * (width - len(row)))
    return out
