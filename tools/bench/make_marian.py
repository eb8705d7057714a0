#!/usr/bin/python3
"""Benchmark models for `npm run bench` (issue 5): a Marian-size model with random weights, twice.

  OUT/hf/      config.json, generation_config.json, model.safetensors (F32, transformers' key names and key
               set, exactly like test/fixtures/marian_tiny: no lm_head, no embed_positions)   -> wasm-seq2seq
  OUT/onnx/    encoder.onnx       input_ids [B,S] i64, attention_mask [B,S] i64 -> last_hidden_state [B,S,D]
               cross_kv.onnx      encoder_hidden_states [R,S,D] -> present.{i}.encoder.{key,value} [R,H,S,hd]
               decoder_step.onnx  input_ids [R,1] i64, encoder_attention_mask [R,S] i64,
                                  past_key_values.{i}.decoder.{key,value} [R,H,P,hd],
                                  past_key_values.{i}.encoder.{key,value} [R,H,S,hd]
                                  -> logits [R,1,V], present.{i}.decoder.{key,value} [R,H,P+1,hd]
               (Optimum's decoder_with_past layout and names; the cross-attention K/V that Optimum's
               first-step decoder_model.onnx returns come from a separate small graph, run once per input)
  OUT/gemm/    matmul_M_K_N.onnx  one MatMul node, A [M,K] input, B [K,N] initializer; overhead.onnx (one Add)
  OUT/meta.json                   the fixed 32-token input, reference logits of the first 3 greedy steps and
                                  64 greedy tokens (from this torch model), sizes, generator version

Config: d_model 512, 6+6 layers, 8 heads, FFN 2048, vocab 58101, tied embeddings, swish, scale_embedding,
512 positions, pad = decoder_start = 58100, eos 0 (opus-mt-en-de's shape). Init (fixed seed): every linear
weight and bias, the shared embedding and final_logits_bias ~ N(0, 0.02) (transformers' init_std; biases are
non-zero here so the logits check exercises them), the pad row of the embedding zero (as nn.Embedding with
padding_idx), LayerNorms weight 1 / bias 0.

The model follows docs/model-spec.md §Common/§Weights/§Marian (transformers 4.40 Marian). The sinusoid
table, the attention rule and the layer structure are copied from tools/g2p/marian.py (same repository, by the
G2P work), extended with the incremental (KV-cache) decoder step that the ONNX export needs.

Needs Debian's python3-torch, python3-onnx, python3-numpy (run with /usr/bin/python3).
  /usr/bin/python3 tools/bench/make_marian.py --out bench/.models
"""
import argparse
import json
import math
import os
import struct
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

GENERATOR_VERSION = 2
SEED = 5  # issue 5
NEG = torch.finfo(torch.float32).min

CONFIG = {
    "activation_dropout": 0.0,
    "activation_function": "swish",
    "architectures": ["MarianMTModel"],
    "attention_dropout": 0.0,
    "bad_words_ids": [[58100]],
    "d_model": 512,
    "decoder_attention_heads": 8,
    "decoder_ffn_dim": 2048,
    "decoder_layerdrop": 0.0,
    "decoder_layers": 6,
    "decoder_start_token_id": 58100,
    "decoder_vocab_size": 58101,
    "dropout": 0.1,
    "encoder_attention_heads": 8,
    "encoder_ffn_dim": 2048,
    "encoder_layerdrop": 0.0,
    "encoder_layers": 6,
    "eos_token_id": 0,
    "forced_eos_token_id": 0,
    "init_std": 0.02,
    "is_encoder_decoder": True,
    "max_position_embeddings": 512,
    "model_type": "marian",
    "num_hidden_layers": 6,
    "pad_token_id": 58100,
    "scale_embedding": True,
    "share_encoder_decoder_embeddings": True,
    "torch_dtype": "float32",
    "transformers_version": "4.40.2",
    "use_cache": True,
    "vocab_size": 58101,
}
GENERATION_CONFIG = {
    "bad_words_ids": [[58100]],
    "decoder_start_token_id": 58100,
    "eos_token_id": 0,
    "forced_eos_token_id": 0,
    "max_length": 512,
    "num_beams": 4,
    "pad_token_id": 58100,
    "transformers_version": "4.40.2",
}
GEMM_SHAPES = [(1, 512, 512), (1, 512, 2048), (1, 512, 58101), (4, 512, 58101), (64, 512, 2048), (512, 512, 512)]
SRC_LEN = 32
OPSET = 17  # LayerNormalization is one op from 17 on


def log(*a):
    print("[make_marian]", *a, flush=True)


# --- model (docs/model-spec.md §Common, §Marian) ------------------------------------------------------
def marian_sinusoids(n_pos, d):
    """transformers MarianSinusoidalPositionalEmbedding._init_weight: float64 numpy, sin half | cos half,
    cast to float32 (copied from tools/g2p/marian.py)."""
    pe = np.array([[p / np.power(10000, 2 * (j // 2) / d) for j in range(d)] for p in range(n_pos)])
    out = np.zeros((n_pos, d), dtype=np.float32)
    half = d // 2 if d % 2 == 0 else d // 2 + 1
    out[:, :half] = np.sin(pe[:, 0::2])
    out[:, half:] = np.cos(pe[:, 1::2])
    return torch.from_numpy(out)


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.h, self.hd = heads, d // heads
        self.scaling = self.hd ** -0.5
        self.q_proj = nn.Linear(d, d)
        self.k_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)
        self.out_proj = nn.Linear(d, d)

    def heads(self, x):  # [B,L,D] -> [B,H,L,hd]
        B, L, _ = x.shape
        return x.view(B, L, self.h, self.hd).transpose(1, 2)

    def attend(self, q, k, v, add_mask):
        """q [B,H,Lq,hd] (already scaled), k/v [B,H,Lk,hd] -> [B,Lq,D] after out_proj."""
        s = torch.matmul(q, k.transpose(-1, -2))
        if add_mask is not None:
            s = s + add_mask
        p = torch.softmax(s, dim=-1)
        o = torch.matmul(p, v).transpose(1, 2)
        B, Lq = o.shape[0], o.shape[1]
        return self.out_proj(o.reshape(B, Lq, self.h * self.hd))

    def forward(self, x, kv, add_mask):
        q = self.heads(self.q_proj(x) * self.scaling)  # scale after the bias
        return self.attend(q, self.heads(self.k_proj(kv)), self.heads(self.v_proj(kv)), add_mask)


class EncoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["d_model"]
        self.self_attn = Attention(d, c["encoder_attention_heads"])
        self.self_attn_layer_norm = nn.LayerNorm(d, eps=1e-5)
        self.fc1 = nn.Linear(d, c["encoder_ffn_dim"])
        self.fc2 = nn.Linear(c["encoder_ffn_dim"], d)
        self.final_layer_norm = nn.LayerNorm(d, eps=1e-5)

    def forward(self, h, mask):
        h = self.self_attn_layer_norm(h + self.self_attn(h, h, mask))
        return self.final_layer_norm(h + self.fc2(F.silu(self.fc1(h))))


class DecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["d_model"]
        self.self_attn = Attention(d, c["decoder_attention_heads"])
        self.self_attn_layer_norm = nn.LayerNorm(d, eps=1e-5)
        self.encoder_attn = Attention(d, c["decoder_attention_heads"])
        self.encoder_attn_layer_norm = nn.LayerNorm(d, eps=1e-5)
        self.fc1 = nn.Linear(d, c["decoder_ffn_dim"])
        self.fc2 = nn.Linear(c["decoder_ffn_dim"], d)
        self.final_layer_norm = nn.LayerNorm(d, eps=1e-5)

    def forward(self, h, enc, self_mask, cross_mask):
        """Full (teacher-forced) pass, the reference for the incremental step."""
        h = self.self_attn_layer_norm(h + self.self_attn(h, h, self_mask))
        h = self.encoder_attn_layer_norm(h + self.encoder_attn(h, enc, cross_mask))
        return self.final_layer_norm(h + self.fc2(F.silu(self.fc1(h))))

    def cross_kv(self, enc):
        a = self.encoder_attn
        return a.heads(a.k_proj(enc)), a.heads(a.v_proj(enc))

    def step(self, h, past_k, past_v, cross_k, cross_v, cross_mask):
        """One new token per row: h [R,1,D]; past self K/V [R,H,P,hd]; returns h and present self K/V."""
        a = self.self_attn
        q = a.heads(a.q_proj(h) * a.scaling)
        k = torch.cat([past_k, a.heads(a.k_proj(h))], dim=2)
        v = torch.cat([past_v, a.heads(a.v_proj(h))], dim=2)
        h = self.self_attn_layer_norm(h + a.attend(q, k, v, None))  # the new token sees every past position
        c = self.encoder_attn
        h = self.encoder_attn_layer_norm(h + c.attend(c.heads(c.q_proj(h) * c.scaling), cross_k, cross_v, cross_mask))
        return self.final_layer_norm(h + self.fc2(F.silu(self.fc1(h)))), k, v


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


class Marian(nn.Module):
    """state_dict keys = transformers' MarianMTModel safetensors keys (model.shared.weight, final_logits_bias, layers)."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        self.model = Inner(c)
        self.register_buffer("final_logits_bias", torch.zeros(1, c["vocab_size"]))
        self.register_buffer("pos", marian_sinusoids(c["max_position_embeddings"], c["d_model"]), persistent=False)
        self.embed_scale = math.sqrt(c["d_model"]) if c["scale_embedding"] else 1.0

    @staticmethod
    def key_mask(attention_mask):  # [B,Lk] 1/0 -> additive [B,1,1,Lk]
        return (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * NEG

    def encode(self, input_ids, attention_mask):
        L = input_ids.shape[1]
        h = self.model.shared(input_ids) * self.embed_scale + self.pos[:L]
        m = self.key_mask(attention_mask)
        for layer in self.model.encoder.layers:
            h = layer(h, m)
        return h

    def head(self, h):
        """logits = h E^T + final_logits_bias as one Gemm(transB) over [rows, D], so the exported graph shares the
        embedding initializer between Gather and the head instead of storing a transposed copy."""
        B, L, D = h.shape
        return F.linear(h.reshape(B * L, D), self.model.shared.weight, self.final_logits_bias[0]).reshape(B, L, -1)

    def decode_full(self, dec_ids, enc, attention_mask):
        T = dec_ids.shape[1]
        h = self.model.shared(dec_ids) * self.embed_scale + self.pos[:T]
        causal = torch.triu(torch.full((T, T), NEG), diagonal=1)[None, None]
        cm = self.key_mask(attention_mask)
        for layer in self.model.decoder.layers:
            h = layer(h, enc, causal, cm)
        return self.head(h)


def init_weights(m):
    g = torch.Generator().manual_seed(SEED)
    std = m.c["init_std"]
    with torch.no_grad():
        for name, p in list(m.named_parameters()) + [("final_logits_bias", m.final_logits_bias)]:
            if name.endswith("layer_norm.weight"):
                p.fill_(1.0)
            elif name.endswith("layer_norm.bias"):
                p.zero_()
            else:
                p.copy_(torch.randn(p.shape, generator=g) * std)
        m.model.shared.weight[m.c["pad_token_id"]].zero_()


# --- export wrappers -------------------------------------------------------------------------------
class EncoderGraph(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask):
        return self.m.encode(input_ids, attention_mask)


class CrossKVGraph(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, encoder_hidden_states):
        out = []
        for layer in self.m.model.decoder.layers:
            out.extend(layer.cross_kv(encoder_hidden_states))
        return tuple(out)


class DecoderStepGraph(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, encoder_attention_mask, *past):
        m = self.m
        n = len(m.model.decoder.layers)
        P = past[0].shape[2]  # past length = position of this token
        h = m.model.shared(input_ids) * m.embed_scale + m.pos[P:P + 1]
        cm = m.key_mask(encoder_attention_mask)
        present = []
        for i, layer in enumerate(m.model.decoder.layers):
            sk, sv, ck, cv = past[4 * i:4 * i + 4]
            h, k, v = layer.step(h, sk, sv, ck, cv, cm)
            present.extend([k, v])
        assert len(present) == 2 * n
        return (m.head(h), *present)


def past_names(n):
    names = []
    for i in range(n):
        names += [f"past_key_values.{i}.decoder.key", f"past_key_values.{i}.decoder.value",
                  f"past_key_values.{i}.encoder.key", f"past_key_values.{i}.encoder.value"]
    return names


# --- files -----------------------------------------------------------------------------------------
def write_safetensors(path, tensors, metadata):
    """Keys sorted, data contiguous, header space-padded to a multiple of 8, as the safetensors library writes
    (same writer as tools/g2p/marian.py)."""
    header, blobs, off = {"__metadata__": metadata}, [], 0
    for k in sorted(tensors):
        a = tensors[k].detach().cpu().numpy().astype("<f4", copy=False)
        b = np.ascontiguousarray(a).tobytes()
        header[k] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(path + ".tmp", path)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def export(module, args, path, input_names, output_names, dynamic_axes):
    t0 = time.time()
    warnings.filterwarnings("ignore")  # tracer warnings about shape-dependent slicing: intended (dynamic axes)
    torch.onnx.export(module, args, path + ".tmp", input_names=input_names, output_names=output_names,
                      dynamic_axes=dynamic_axes, opset_version=OPSET, do_constant_folding=True)
    os.replace(path + ".tmp", path)
    import onnx
    g = onnx.load(path)
    onnx.checker.check_model(g)
    ops = {}
    for node in g.graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    init_mb = sum(np.prod(t.dims) * 4 for t in g.graph.initializer) / 2 ** 20
    log(f"  {os.path.basename(path)}: {os.path.getsize(path) / 2 ** 20:.0f} MiB, {len(g.graph.initializer)} initializers "
        f"({init_mb:.0f} MiB), ops {dict(sorted(ops.items()))} ({time.time() - t0:.0f} s)")


def make_gemm(path, M, K, N, rng):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    B = (rng.random((K, N), dtype=np.float32) - 0.5).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["A", "B"], ["C"])], f"matmul_{M}_{K}_{N}",
        [helper.make_tensor_value_info("A", TensorProto.FLOAT, [M, K])],
        [helper.make_tensor_value_info("C", TensorProto.FLOAT, [M, N])],
        [numpy_helper.from_array(B, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    onnx.checker.check_model(model)
    onnx.save(model, path + ".tmp")
    os.replace(path + ".tmp", path)


def make_overhead(path):
    """The smallest useful graph (Add of a [1,8] input and a constant): what one session.run() costs."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    graph = helper.make_graph(
        [helper.make_node("Add", ["A", "B"], ["C"])], "overhead",
        [helper.make_tensor_value_info("A", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("C", TensorProto.FLOAT, [1, 8])],
        [numpy_helper.from_array(np.ones((1, 8), np.float32), "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    onnx.save(model, path + ".tmp")
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench/.models")
    a = ap.parse_args()
    out = a.out
    torch.set_num_threads(2)
    torch.manual_seed(SEED)
    c = CONFIG
    D, H, V, L = c["d_model"], c["decoder_attention_heads"], c["vocab_size"], c["decoder_layers"]
    hd = D // H
    for sub in ("hf", "onnx", "gemm"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)

    log(f"building Marian d={D} layers {c['encoder_layers']}+{L} heads {H} ffn {c['encoder_ffn_dim']} vocab {V} (seed {SEED})")
    m = Marian(c)
    init_weights(m)
    m.eval()

    # fixed 32-token source: 31 pieces + </s> (eos 0), ids avoid eos and pad
    rng = np.random.default_rng(SEED)
    src = [int(x) for x in rng.integers(1, V - 1, size=SRC_LEN - 1)] + [c["eos_token_id"]]
    ids = torch.tensor([src], dtype=torch.int64)
    mask = torch.ones_like(ids)

    with torch.no_grad():
        # reference: greedy with the incremental step, checked against the full (teacher-forced) decoder
        enc = m.encode(ids, mask)
        step = DecoderStepGraph(m)
        crossg = CrossKVGraph(m)
        cross = crossg(enc)
        past = []
        for i in range(L):
            past += [torch.zeros(1, H, 0, hd), torch.zeros(1, H, 0, hd), cross[2 * i], cross[2 * i + 1]]
        tok = c["decoder_start_token_id"]
        dec = [tok]
        logits3 = []
        for t in range(64):
            outs = step(torch.tensor([[tok]]), mask, *past)
            lg = outs[0][0, 0]
            if t < 3:
                logits3.append(lg.clone())
            for i in range(L):
                past[4 * i], past[4 * i + 1] = outs[1 + 2 * i], outs[2 + 2 * i]
            tok = int(torch.argmax(lg))
            dec.append(tok)
        full = m.decode_full(torch.tensor([dec[:4]]), enc, mask)[0]
        err = max(float((full[t] - logits3[t]).abs().max()) for t in range(3))
        log(f"incremental step vs full decoder, first 3 steps: max |diff| {err:.2e}")
        assert err < 1e-4, err
        spread = float(torch.stack(logits3).std())
        log(f"reference greedy tokens (first 12): {dec[1:13]}; logits std {spread:.3f}")

    # (a) Hugging Face layout
    hf = os.path.join(out, "hf")
    write_json(os.path.join(hf, "config.json"), c)
    write_json(os.path.join(hf, "generation_config.json"), GENERATION_CONFIG)
    sd = {k: v for k, v in m.state_dict().items()}
    assert "lm_head.weight" not in sd and not any("embed_positions" in k for k in sd)
    write_safetensors(os.path.join(hf, "model.safetensors"), sd, {"format": "pt"})
    log(f"wrote {hf}/model.safetensors ({os.path.getsize(os.path.join(hf, 'model.safetensors')) / 2 ** 20:.0f} MiB, {len(sd)} tensors)")

    # (b) ONNX
    od = os.path.join(out, "onnx")
    log("exporting ONNX (opset %d)" % OPSET)
    with torch.no_grad():
        export(EncoderGraph(m), (ids, mask), os.path.join(od, "encoder.onnx"),
               ["input_ids", "attention_mask"], ["last_hidden_state"],
               {"input_ids": {0: "batch", 1: "src"}, "attention_mask": {0: "batch", 1: "src"},
                "last_hidden_state": {0: "batch", 1: "src"}})
        cross_names = []
        for i in range(L):
            cross_names += [f"present.{i}.encoder.key", f"present.{i}.encoder.value"]
        export(CrossKVGraph(m), (enc,), os.path.join(od, "cross_kv.onnx"),
               ["encoder_hidden_states"], cross_names,
               {"encoder_hidden_states": {0: "rows", 1: "src"}, **{n: {0: "rows", 2: "src"} for n in cross_names}})
        # trace with a non-empty past so no shape is specialised to 0
        R, P = 2, 3
        pst = []
        for i in range(L):
            pst += [torch.randn(R, H, P, hd), torch.randn(R, H, P, hd), torch.randn(R, H, SRC_LEN, hd), torch.randn(R, H, SRC_LEN, hd)]
        pn = past_names(L)
        present = []
        for i in range(L):
            present += [f"present.{i}.decoder.key", f"present.{i}.decoder.value"]
        dyn = {"input_ids": {0: "rows"}, "encoder_attention_mask": {0: "rows", 1: "src"}, "logits": {0: "rows"}}
        for n in pn:
            dyn[n] = {0: "rows", 2: "past" if ".decoder." in n else "src"}
        for n in present:
            dyn[n] = {0: "rows", 2: "past_plus_1"}
        export(DecoderStepGraph(m), (torch.tensor([[5], [7]]), torch.ones(R, SRC_LEN, dtype=torch.int64), *pst),
               os.path.join(od, "decoder_step.onnx"), ["input_ids", "encoder_attention_mask", *pn],
               ["logits", *present], dyn)

    # kernel graphs
    gd = os.path.join(out, "gemm")
    grng = np.random.default_rng(SEED)
    for M, K, N in GEMM_SHAPES:
        make_gemm(os.path.join(gd, f"matmul_{M}_{K}_{N}.onnx"), M, K, N, grng)
    make_overhead(os.path.join(gd, "overhead.onnx"))
    log(f"wrote {len(GEMM_SHAPES)} one-node MatMul graphs + overhead.onnx to {gd}")

    meta = {
        "generator": "tools/bench/make_marian.py", "version": GENERATOR_VERSION, "seed": SEED, "opset": OPSET,
        "torch": torch.__version__, "input_ids": src, "d_model": D, "heads": H, "head_dim": hd, "layers": L,
        "vocab": V, "decoder_start_token_id": c["decoder_start_token_id"],
        "reference": {"greedy_tokens_64": dec[1:], "logits_first3_file": "ref_logits3.f32"},
        "gemm_shapes": GEMM_SHAPES,
        "onnx": {"encoder": "onnx/encoder.onnx", "cross_kv": "onnx/cross_kv.onnx", "decoder_step": "onnx/decoder_step.onnx"},
    }
    torch.stack(logits3).numpy().astype("<f4").tofile(os.path.join(out, "ref_logits3.f32"))
    write_json(os.path.join(out, "meta.json"), meta)  # written last: its presence means the set is complete
    log(f"done: {out}/meta.json")


if __name__ == "__main__":
    sys.exit(main())
