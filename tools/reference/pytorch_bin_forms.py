#!/usr/bin/env python3
"""Writes test/fixtures/pytorch_bin_forms/: small torch.save files holding every tensor form a state dict can carry,
made by real torch, so the TypeScript reader (bindings/weights/pytorch.ts) is tested on more than transformers'
plain dict of contiguous float32 tensors.

    /usr/bin/python3 tools/reference/pytorch_bin_forms.py      (needs torch; run with torch 1.13)

Files: forms_zip.bin (torch.save default, zip), forms_legacy.bin (_use_new_zipfile_serialization=False),
sharded/ (two zip shards + pytorch_model.bin.index.json as save_pretrained lays them out), expected.json
(every tensor's dtype, shape, storage sharing and row-major values, computed by torch).
"""
import collections
import json
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(os.path.dirname(HERE)), "test", "fixtures", "pytorch_bin_forms")
DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
          torch.int64: "I64", torch.bool: "BOOL"}


def state_dict():
    g = torch.Generator().manual_seed(22)
    w = torch.randn(4, 3, generator=g)
    sd = collections.OrderedDict()
    sd["w_f32"] = w
    sd["w_t"] = w.t()  # the same storage, transposed: stride (1, 3)
    sd["w_rows"] = w[1:3]  # storage offset 3, contiguous
    sd["w_col"] = w[:, 1]  # offset 1, stride (3,)
    sd["half"] = torch.randn(2, 5, generator=g).half()
    sd["bf16"] = torch.randn(3, 2, generator=g).bfloat16()
    sd["ids"] = torch.arange(6, dtype=torch.int64).view(2, 3)
    sd["position_ids"] = torch.arange(5).expand((1, -1))  # stride (0, 1), as BERT's buffer
    sd["expanded"] = torch.tensor([[1.5], [-2.0]]).expand(2, 3)  # stride (1, 0): 6 values from 2 stored
    sd["scalar"] = torch.tensor(3.5)
    sd["empty"] = torch.zeros(0, 4)
    sd["param"] = torch.nn.Parameter(torch.randn(2, generator=g))  # pickled through _rebuild_parameter
    sd["flags"] = torch.tensor([True, False, True])
    sd["f64"] = torch.randn(2, generator=g).double()
    sd._metadata = collections.OrderedDict([("", {"version": 1})])  # what Module.state_dict() attaches
    return sd


def expected(sd):
    out = collections.OrderedDict()
    for name, t in sd.items():
        t = t.detach()
        vals = t.contiguous().reshape(-1)
        vals = vals.float().tolist() if t.is_floating_point() else vals.long().tolist()
        out[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "storage_offset": t.storage_offset(),
                     "stride": list(t.stride()), "values": vals}
    return out


def main():
    os.makedirs(os.path.join(OUT, "sharded"), exist_ok=True)
    sd = state_dict()
    torch.save(sd, os.path.join(OUT, "forms_zip.bin"))
    torch.save(sd, os.path.join(OUT, "forms_legacy.bin"), _use_new_zipfile_serialization=False)
    # shards: tensors sharing a storage stay together, as transformers' shard_checkpoint keeps them
    shards = {"pytorch_model-00001-of-00002.bin": ["w_f32", "w_t", "w_rows", "w_col", "half"],
              "pytorch_model-00002-of-00002.bin": [n for n in sd if n not in ("w_f32", "w_t", "w_rows", "w_col", "half")]}
    weight_map = {}
    for file, names in shards.items():
        torch.save({n: sd[n] for n in names}, os.path.join(OUT, "sharded", file))
        weight_map.update({n: file for n in names})
    with open(os.path.join(OUT, "sharded", "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f, indent=2)
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"made_with": f"torch {torch.__version__}", "tensors": expected(sd),
                   "shared_storage": [["w_f32", "w_t", "w_rows", "w_col"]]}, f, indent=1)


if __name__ == "__main__":
    main()
