"""Plain-torch Marian encoder-decoder that mirrors transformers' MarianMTModel (v4.40) exactly.

Rules (see docs/model-spec.md §Common, §Weights, §Marian):
- token embedding * (sqrt(d_model) if scale_embedding else 1) + static sinusoids (sin half | cos half,
  computed in float64 then cast to float32), positions 0..L-1 (decoder: past_len + t), not padding-aware;
- post-LN layers: h = LN(h + SelfAttn(h)) [; h = LN(h + CrossAttn(h, enc))]; h = LN(h + fc2(act(fc1(h))));
- attention: q = (x Wq^T + bq) * head_dim**-0.5 (after the bias); additive masks with finfo(f32).min;
- LayerNorm eps 1e-5; no embedding LayerNorm, no final encoder/decoder LayerNorm;
- one shared embedding (encoder, decoder, lm head): logits = h E^T + final_logits_bias.

Parameter names equal transformers' state-dict names, so export is a rename-free dump of state_dict().
Also: read/write safetensors (F32) with json + struct, write config.json / generation_config.json.
"""
import json
import math
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

NEG = torch.finfo(torch.float32).min


def marian_sinusoids(n_pos, d):
    """transformers MarianSinusoidalPositionalEmbedding._init_weight, float64 numpy then float32."""
    pe = np.array([[p / np.power(10000, 2 * (j // 2) / d) for j in range(d)] for p in range(n_pos)])
    out = np.zeros((n_pos, d), dtype=np.float32)
    half = d // 2 if d % 2 == 0 else d // 2 + 1
    out[:, :half] = np.sin(pe[:, 0::2])
    out[:, half:] = np.cos(pe[:, 1::2])
    return torch.from_numpy(out)


ACT = {
    "gelu": lambda x: F.gelu(x),
    "swish": F.silu,
    "silu": F.silu,
    "relu": F.relu,
    "gelu_new": lambda x: 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0)))),
}


def _drop(x, p, training):
    return F.dropout(x, p, True) if training and p > 0 else x


class Attention(nn.Module):
    def __init__(self, d, heads, attn_dropout):
        super().__init__()
        self.h, self.hd = heads, d // heads
        assert self.hd * heads == d
        self.scaling = self.hd ** -0.5
        self.q_proj = nn.Linear(d, d)
        self.k_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)
        self.out_proj = nn.Linear(d, d)
        self.attn_dropout = attn_dropout

    def forward(self, x, kv, add_mask):
        """x [B,Lq,d], kv [B,Lk,d], add_mask broadcastable to [B,1,Lq,Lk] (0 keep / NEG masked)."""
        B, Lq, d = x.shape
        Lk = kv.shape[1]
        q = self.q_proj(x) * self.scaling  # scale after bias
        k = self.k_proj(kv)
        v = self.v_proj(kv)
        q = q.view(B, Lq, self.h, self.hd).transpose(1, 2)
        k = k.view(B, Lk, self.h, self.hd).transpose(1, 2)
        v = v.view(B, Lk, self.h, self.hd).transpose(1, 2)
        s = torch.matmul(q, k.transpose(-1, -2))
        if add_mask is not None:
            s = s + add_mask
        p = torch.softmax(s, dim=-1)
        p = _drop(p, self.attn_dropout, self.training)
        o = torch.matmul(p, v).transpose(1, 2).reshape(B, Lq, d)
        return self.out_proj(o)


class EncoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["d_model"]
        self.self_attn = Attention(d, c["encoder_attention_heads"], c["attention_dropout"])
        self.self_attn_layer_norm = nn.LayerNorm(d, eps=1e-5)
        self.fc1 = nn.Linear(d, c["encoder_ffn_dim"])
        self.fc2 = nn.Linear(c["encoder_ffn_dim"], d)
        self.final_layer_norm = nn.LayerNorm(d, eps=1e-5)
        self.act = ACT[c["activation_function"]]
        self.p, self.pa = c["dropout"], c["activation_dropout"]

    def forward(self, h, mask):
        r = h
        h = _drop(self.self_attn(h, h, mask), self.p, self.training)
        h = self.self_attn_layer_norm(r + h)
        r = h
        h = _drop(self.act(self.fc1(h)), self.pa, self.training)
        h = _drop(self.fc2(h), self.p, self.training)
        return self.final_layer_norm(r + h)


class DecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["d_model"]
        self.self_attn = Attention(d, c["decoder_attention_heads"], c["attention_dropout"])
        self.self_attn_layer_norm = nn.LayerNorm(d, eps=1e-5)
        self.encoder_attn = Attention(d, c["decoder_attention_heads"], c["attention_dropout"])
        self.encoder_attn_layer_norm = nn.LayerNorm(d, eps=1e-5)
        self.fc1 = nn.Linear(d, c["decoder_ffn_dim"])
        self.fc2 = nn.Linear(c["decoder_ffn_dim"], d)
        self.final_layer_norm = nn.LayerNorm(d, eps=1e-5)
        self.act = ACT[c["activation_function"]]
        self.p, self.pa = c["dropout"], c["activation_dropout"]

    def forward(self, h, enc, self_mask, cross_mask):
        r = h
        h = _drop(self.self_attn(h, h, self_mask), self.p, self.training)
        h = self.self_attn_layer_norm(r + h)
        r = h
        h = _drop(self.encoder_attn(h, enc, cross_mask), self.p, self.training)
        h = self.encoder_attn_layer_norm(r + h)
        r = h
        h = _drop(self.act(self.fc1(h)), self.pa, self.training)
        h = _drop(self.fc2(h), self.p, self.training)
        return self.final_layer_norm(r + h)


class Stack(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.layers = nn.ModuleList(layers)


class Inner(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.shared = nn.Embedding(c["vocab_size"], c["d_model"])
        self.encoder = Stack([EncoderLayer(c) for _ in range(c["encoder_layers"])])
        self.decoder = Stack([DecoderLayer(c) for _ in range(c["decoder_layers"])])


class MarianModel(nn.Module):
    """state_dict keys: model.shared.weight, model.encoder.layers.N..., model.decoder.layers.N..., final_logits_bias."""

    def __init__(self, c):
        super().__init__()
        assert c.get("share_encoder_decoder_embeddings", True)
        self.c = c
        self.model = Inner(c)
        # transformers keeps final_logits_bias as a (zero) buffer; here it is trained and exported.
        self.final_logits_bias = nn.Parameter(torch.zeros(1, c["vocab_size"]))
        self.register_buffer("pos", marian_sinusoids(c["max_position_embeddings"], c["d_model"]), persistent=False)
        self.embed_scale = math.sqrt(c["d_model"]) if c["scale_embedding"] else 1.0
        self.p = c["dropout"]

    # --- pieces -------------------------------------------------------------------------------
    def embed(self, ids, offset=0):
        L = ids.shape[1]
        x = self.model.shared(ids) * self.embed_scale + self.pos[offset:offset + L]
        return _drop(x, self.p, self.training)

    @staticmethod
    def key_mask(attention_mask):
        """[B,Lk] 1/0 -> additive [B,1,1,Lk]."""
        return ((1.0 - attention_mask[:, None, None, :].float()) * NEG)

    @staticmethod
    def causal(L, device=None):
        return torch.triu(torch.full((L, L), NEG, device=device), diagonal=1)[None, None]

    def encode(self, input_ids, attention_mask):
        h = self.embed(input_ids)
        m = self.key_mask(attention_mask)
        for layer in self.model.encoder.layers:
            h = layer(h, m)
        return h

    def decode(self, dec_ids, enc, attention_mask):
        """Full (non-incremental) decoder over dec_ids [B,T]; returns logits [B,T,V]."""
        h = self.embed(dec_ids)
        sm = self.causal(dec_ids.shape[1], dec_ids.device)
        cm = self.key_mask(attention_mask)
        for layer in self.model.decoder.layers:
            h = layer(h, enc, sm, cm)
        return torch.matmul(h, self.model.shared.weight.t()) + self.final_logits_bias

    def forward(self, input_ids, attention_mask, dec_ids):
        return self.decode(dec_ids, self.encode(input_ids, attention_mask), attention_mask)


def init_weights(model, seed):
    """Transformer-style init (xavier for projections, N(0, d^-0.5) for the shared embedding)."""
    g = torch.Generator().manual_seed(seed)
    d = model.c["d_model"]
    for name, p in model.named_parameters():
        if name == "model.shared.weight":
            with torch.no_grad():
                p.copy_(torch.randn(p.shape, generator=g) * d ** -0.5)
        elif name.endswith("layer_norm.weight"):
            nn.init.ones_(p)
        elif name.endswith(".bias") or name == "final_logits_bias":
            nn.init.zeros_(p)
        elif p.dim() == 2:
            fan_out, fan_in = p.shape
            a = math.sqrt(6.0 / (fan_in + fan_out))
            with torch.no_grad():
                p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) * a)
        else:
            raise ValueError(name)


# --- Hugging Face layout I/O ----------------------------------------------------------------------
def marian_config(vocab_size, pad_id, d_model, enc_layers, dec_layers, heads, ffn, max_pos,
                  activation="swish", scale_embedding=True, dropout=0.1, attention_dropout=0.0,
                  activation_dropout=0.0):
    """Every field a transformers-4.40 MarianConfig writes (same key set as test/fixtures/marian_tiny)."""
    return {
        "activation_dropout": activation_dropout,
        "activation_function": activation,
        "architectures": ["MarianMTModel"],
        "attention_dropout": attention_dropout,
        "bad_words_ids": [[pad_id]],
        "d_model": d_model,
        "decoder_attention_heads": heads,
        "decoder_ffn_dim": ffn,
        "decoder_layerdrop": 0.0,
        "decoder_layers": dec_layers,
        "decoder_start_token_id": pad_id,
        "decoder_vocab_size": vocab_size,
        "dropout": dropout,
        "encoder_attention_heads": heads,
        "encoder_ffn_dim": ffn,
        "encoder_layerdrop": 0.0,
        "encoder_layers": enc_layers,
        "eos_token_id": 0,
        "forced_eos_token_id": 0,
        "init_std": 0.02,
        "is_encoder_decoder": True,
        "max_position_embeddings": max_pos,
        "model_type": "marian",
        "num_hidden_layers": enc_layers,
        "pad_token_id": pad_id,
        "scale_embedding": scale_embedding,
        "share_encoder_decoder_embeddings": True,
        "torch_dtype": "float32",
        "transformers_version": "4.40.2",
        "use_cache": True,
        "vocab_size": vocab_size,
    }


def generation_config(c, num_beams=4, max_length=64):
    pad = c["pad_token_id"]
    return {
        "bad_words_ids": [[pad]],
        "decoder_start_token_id": pad,
        "eos_token_id": c["eos_token_id"],
        "forced_eos_token_id": c["forced_eos_token_id"],
        "max_length": max_length,
        "num_beams": num_beams,
        "pad_token_id": pad,
        "transformers_version": c["transformers_version"],
    }


def write_safetensors(path, tensors, metadata=None):
    """tensors: dict name -> float32 torch tensor / numpy array. Keys sorted, data contiguous, header
    space-padded to a multiple of 8 (as the safetensors library does)."""
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for k in sorted(tensors):
        t = tensors[k]
        a = (t.detach().cpu().numpy() if torch.is_tensor(t) else np.asarray(t)).astype("<f4", copy=False)
        b = np.ascontiguousarray(a).tobytes()
        header[k] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    out = {}
    for k, info in header.items():
        assert info["dtype"] == "F32", (k, info["dtype"])
        s, e = info["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(data[s:e], "<f4").reshape(info["shape"]).copy())
    return out


def export_tensors(model):
    """The key set save_pretrained(safe_serialization=True) keeps: no embed_positions, no lm_head,
    no encoder/decoder embed_tokens (tied to model.shared.weight)."""
    return {k: v.detach().clone().float() for k, v in model.state_dict().items()}


def save_hf(model, out_dir, gen_cfg, metadata=None):
    import os
    os.makedirs(out_dir, exist_ok=True)
    write_safetensors(os.path.join(out_dir, "model.safetensors"), export_tensors(model),
                      metadata or {"format": "pt"})
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(model.c, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(out_dir, "generation_config.json"), "w") as f:
        json.dump(gen_cfg, f, indent=2, sort_keys=True)
        f.write("\n")


def load_hf(model_dir):
    """Build a MarianModel from config.json + model.safetensors (also accepts transformers' own files,
    e.g. test/fixtures/marian_tiny, where final_logits_bias is a buffer)."""
    import os
    c = json.load(open(os.path.join(model_dir, "config.json")))
    W = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    m = MarianModel(c)
    sd = m.state_dict()
    for alt in ("model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight", "lm_head.weight"):
        if "model.shared.weight" not in W and alt in W:
            W["model.shared.weight"] = W[alt]
    W = {k: v for k, v in W.items() if k in sd}
    if "final_logits_bias" not in W:
        W["final_logits_bias"] = torch.zeros(1, c["vocab_size"])
    missing = set(sd) - set(W)
    assert not missing, missing
    m.load_state_dict(W)
    m.eval()
    g = {}
    gp = os.path.join(model_dir, "generation_config.json")
    if os.path.exists(gp):
        g = json.load(open(gp))
    return m, c, g
