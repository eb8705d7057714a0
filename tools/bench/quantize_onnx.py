#!/usr/bin/env python3
"""onnxruntime-web's own int8 for the benchmark: dynamic quantization of the exported Marian graphs.

Every MatMul (and the output Gemm) whose weight is a constant becomes the subgraph that
onnxruntime.quantization.quantize_dynamic(per_channel=True, weight_type=QInt8) writes in its QOperator form:

    DynamicQuantizeLinear(A) -> A_q (uint8), A_scale, A_zero_point        activations: per call, per tensor
    MatMulInteger(A_q, W_q, A_zero_point, W_zero_point) -> int32          W_q int8 [K, N], zero point 0
    Cast(float) * (A_scale * W_scale[N]) (+ bias)                         W_scale per output column

Only standard ONNX ops, so onnxruntime-web's wasm build runs it. The onnxruntime Python package (and with it
quantize_dynamic) is not installable here (no pip index, not in Debian), so this writes the same graph with
python3-onnx. The weights get our load-time rule: symmetric, per output channel, scale = max|w| / 127, round half
to even; embeddings, norms and biases stay f32.

    /usr/bin/python3 tools/bench/quantize_onnx.py IN_DIR OUT_DIR     (encoder.onnx, cross_kv.onnx, decoder_step.onnx)
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

GRAPHS = ("encoder.onnx", "cross_kv.onnx", "decoder_step.onnx")


def quantize_columns(w):
    """w [K, N] float32 -> (int8 [K, N], scale [N] float32), w ~= q * scale."""
    amax = np.abs(w).max(axis=0)
    scale = (amax / 127.0).astype(np.float32)
    safe = np.where(scale > 0, scale, 1.0).astype(np.float32)
    q = np.clip(np.rint(w / safe), -127, 127).astype(np.int8)
    return q, scale


def quantize_graph(model):
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    new_nodes, new_inits, done = [], [], 0
    for node in g.node:
        weight, bias, trans_b = None, None, 0
        if node.op_type == "MatMul" and node.input[1] in inits and node.input[0] not in inits:
            weight = numpy_helper.to_array(inits[node.input[1]])
        elif node.op_type == "Gemm" and node.input[1] in inits:
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            if attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0 or attrs.get("transA", 0):
                raise SystemExit(f"Gemm {node.name} with alpha/beta/transA is not handled")
            trans_b = attrs.get("transB", 0)
            weight = numpy_helper.to_array(inits[node.input[1]])
            bias = node.input[2] if len(node.input) > 2 and node.input[2] else None
        if weight is None or weight.ndim != 2 or weight.dtype != np.float32:
            new_nodes.append(node)
            continue
        w = weight.T if trans_b else weight  # [K, N]
        q, scale = quantize_columns(np.ascontiguousarray(w))
        base = f"q{done}"
        done += 1
        new_inits += [
            numpy_helper.from_array(q, f"{base}_W_q"),
            numpy_helper.from_array(scale, f"{base}_W_scale"),
            numpy_helper.from_array(np.zeros(q.shape[1], np.int8), f"{base}_W_zp"),
        ]
        a, out = node.input[0], node.output[0]
        new_nodes += [
            helper.make_node("DynamicQuantizeLinear", [a], [f"{base}_A_q", f"{base}_A_scale", f"{base}_A_zp"]),
            helper.make_node("MatMulInteger", [f"{base}_A_q", f"{base}_W_q", f"{base}_A_zp", f"{base}_W_zp"], [f"{base}_i32"]),
            helper.make_node("Cast", [f"{base}_i32"], [f"{base}_f32"], to=TensorProto.FLOAT),
            helper.make_node("Mul", [f"{base}_A_scale", f"{base}_W_scale"], [f"{base}_scale"]),
            helper.make_node("Mul", [f"{base}_f32", f"{base}_scale"], [out if bias is None else f"{base}_nobias"]),
        ]
        if bias is not None:
            new_nodes.append(helper.make_node("Add", [f"{base}_nobias", bias], [out]))
    # weights no node reads any more (the embedding stays: its Gather still reads it)
    used = {i for n in new_nodes for i in n.input}
    kept = [i for i in g.initializer if i.name in used]
    del g.node[:]
    g.node.extend(new_nodes)
    del g.initializer[:]
    g.initializer.extend(kept + new_inits)
    return done


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    os.makedirs(dst, exist_ok=True)
    for name in GRAPHS:
        model = onnx.load(os.path.join(src, name))
        n = quantize_graph(model)
        onnx.checker.check_model(model)
        tmp = os.path.join(dst, name + ".tmp")
        onnx.save(model, tmp)
        os.replace(tmp, os.path.join(dst, name))
        print(f"{name}: {n} weight products quantised -> {os.path.getsize(os.path.join(dst, name)) / 1e6:.1f} MB", flush=True)


if __name__ == "__main__":
    main()
