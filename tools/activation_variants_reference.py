#!/usr/bin/env python3
"""Writes test/fixtures/activation_variants.json: model-level references for configs whose activation the
transformers fixtures do not cover (T5 feed_forward_proj "gated-<act>" / "<act>", BART-family
activation_function), on the weights of the tiny fixtures in test/fixtures/.

transformers is not installed here, so the model is tools/reference/numpy_model.py (the repo's float64 NumPy
model of docs/model-spec.md, which reproduces every transformers-made fixture: tools/reference/verify_fixtures.py;
checked again below on the unchanged configs), with its activation table replaced by transformers 4.40.2's
ACT2FN definitions evaluated by torch in float64 (tools/activations_fixture.py). For each variant: the config change, the
teacher-forced decoder logits of golden.json's inputs, and the greedy sequences with the smallest top-1 / top-2
logit gap seen on the way (a variant is only useful when that gap is well above float32 noise).

Usage: /usr/bin/python3 tools/activation_variants_reference.py
"""
import json
import os
import sys

import numpy as np
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, 'tools'))
from activations_fixture import ACT2FN  # noqa: E402
from reference import numpy_model as ref  # noqa: E402

# (fixture, config changes). The T5 fixtures' config.json files also carry dense_act_fn / is_gated_act (as
# save_pretrained writes them), which win over feed_forward_proj in T5Config (PretrainedConfig sets leftover kwargs
# last), so dense_act_fn changes with it; the NumPy model reads feed_forward_proj only (checked to agree below).
VARIANTS = [
    ('t5_gated_silu_tiny', {'feed_forward_proj': 'gated-relu', 'dense_act_fn': 'relu'}),
    ('t5_gated_silu_tiny', {'feed_forward_proj': 'gated-gelu_new', 'dense_act_fn': 'gelu_new'}),
    ('t5_gated_silu_tiny', {'feed_forward_proj': 'gated-quick_gelu', 'dense_act_fn': 'quick_gelu'}),
    ('t5_gated_silu_tiny', {'feed_forward_proj': 'gated-mish', 'dense_act_fn': 'mish'}),
    ('t5_gated_silu_tiny', {'feed_forward_proj': 'gated-gelu_10', 'dense_act_fn': 'gelu_10'}),
    ('t5_gated_silu_tiny', {'feed_forward_proj': 'gated-tanh', 'dense_act_fn': 'tanh'}),
    ('t5_v1_0_tiny', {'feed_forward_proj': 'leaky_relu', 'dense_act_fn': 'leaky_relu'}),
    ('t5_v1_0_tiny', {'feed_forward_proj': 'relu2', 'dense_act_fn': 'relu2'}),
    ('bart_tiny', {'activation_function': 'quick_gelu'}),
    ('bart_tiny', {'activation_function': 'gelu_fast'}),
    ('marian_tiny', {'activation_function': 'sigmoid'}),
    ('m2m100_tiny', {'activation_function': 'laplace'}),
]


def torch_act(fn):
    return lambda x: fn(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))).numpy()


def main():
    ref.ACTIVATIONS.update({name: torch_act(fn) for name, fn in ACT2FN.items()})

    out = []
    for name, change in VARIANTS:
        d = os.path.join(REPO, 'test', 'fixtures', name)
        cfg, gcfg, base = ref.load_folder(d)
        W = base.W
        gold = json.load(open(os.path.join(d, 'golden.json')))
        ids, mask = gold['inputs']['input_ids'], gold['inputs']['attention_mask']
        dec = gold['decoder_teacher_forced']['decoder_input_ids']

        # the unchanged config through the torch activations still reproduces transformers' golden logits
        encs = [base.encode(ids[b], mask[b]) for b in range(len(ids))]
        got = np.stack([base.decode(dec[b], encs[b], mask[b]) for b in range(len(ids))])
        want = np.array(gold['decoder_teacher_forced']['logits']['data']).reshape(got.shape)
        assert np.abs(got - want).max() < 1e-4, (name, np.abs(got - want).max())

        vcfg = {**cfg, **change}
        model = ref.build_model(vcfg, W)
        encs = [model.encode(ids[b], mask[b]) for b in range(len(ids))]
        logits = np.stack([model.decode(dec[b], encs[b], mask[b]) for b in range(len(ids))])
        s = ref.GenerationSettings.resolve(gcfg, max_new_tokens=gold['generate']['greedy']['kwargs']['max_new_tokens'])
        steps = [model.next_logits(ids[b], mask[b]) for b in range(len(ids))]
        rows, _ = ref.greedy(steps, s)
        # the smallest top-1 / top-2 gap on the way: a variant is only useful when it is well above float32 noise
        gap = np.inf
        for b, f in enumerate(steps):
            for t in range(1, len(rows[b])):
                if t > 1 and rows[b][t - 1] in s.eos:
                    break
                top = np.sort((lambda x: x[np.isfinite(x)])(ref.process(f(rows[b][:t]), rows[b][:t], s)))[::-1]
                if len(top) > 1:
                    gap = min(gap, float(top[0] - top[1]))
        seqs = ref.pad_greedy_rows(rows, s)  # as generate() pads a batch
        max_len = s.max_length
        differs = float(np.abs(logits - want).max())
        print(f'{name:20s} {json.dumps(change):70s} greedy {seqs} min gap {gap:.4f}, logits moved {differs:.3f}')
        out.append({'fixture': name, 'config': change, 'max_new_tokens': max_len - 1,
                    'teacher_forced': {'decoder_input_ids': dec, 'shape': list(logits.shape),
                                       'logits': [round(float(v), 7) for v in logits.astype(np.float32).ravel()]},
                    'greedy': {'sequences': seqs, 'min_top1_top2_gap': round(gap, 6)},
                    'logits_moved_from_golden': round(differs, 6)})
    doc = {'made_with': {'torch': torch.__version__, 'numpy': np.__version__,
                         'model': 'tools/reference/numpy_model.py (float64), activations: '
                                  'tools/activations_fixture.py ACT2FN (transformers 4.40.2 definitions, torch float64)',
                         'recipe': '/usr/bin/python3 tools/activation_variants_reference.py'},
           'variants': out}
    path = os.path.join(REPO, 'test', 'fixtures', 'activation_variants.json')
    with open(path, 'w') as f:
        json.dump(doc, f, separators=(',', ':'))
        f.write('\n')
    print('wrote', path)


if __name__ == '__main__':
    main()
