#!/usr/bin/env python3
"""Writes test/fixtures/activation_variants.json: model-level references for configs whose activation the
transformers fixtures do not cover (T5 feed_forward_proj "gated-<act>" / "<act>", BART-family
activation_function), on the weights of the tiny fixtures in test/fixtures/.

transformers is not installed here, so the model is ../shared/reference/check_fixtures_numpy.py (an independent
NumPy re-implementation of ARCHITECTURES.md, float64, that passes every transformers-made fixture; checked again
below on the unchanged configs), with its activation table replaced by transformers 4.40.2's ACT2FN definitions
evaluated by torch in float64 (tools/activations_fixture.py). For each variant: the config change, the
teacher-forced decoder logits of golden.json's inputs, and the greedy sequences with the smallest top-1 / top-2
logit gap seen on the way (a variant is only useful when that gap is well above float32 noise).

Usage: /usr/bin/python3 tools/activation_variants_reference.py [--shared PATH_TO_shared/reference]
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, 'tools'))
from activations_fixture import ACT2FN  # noqa: E402

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
    ap = argparse.ArgumentParser()
    ap.add_argument('--shared', default=os.path.join(REPO, '..', 'shared', 'reference'))
    args = ap.parse_args()
    sys.path.insert(0, os.path.abspath(args.shared))
    import check_fixtures_numpy as ref  # noqa: E402
    ref.ACT.update({name: torch_act(fn) for name, fn in ACT2FN.items()})

    out = []
    for name, change in VARIANTS:
        d = os.path.join(REPO, 'test', 'fixtures', name)
        cfg = json.load(open(os.path.join(d, 'config.json')))
        gcfg = json.load(open(os.path.join(d, 'generation_config.json')))
        gold = json.load(open(os.path.join(d, 'golden.json')))
        W = ref.read_safetensors(os.path.join(d, 'model.safetensors'))
        ids, mask = gold['inputs']['input_ids'], gold['inputs']['attention_mask']
        dec = gold['decoder_teacher_forced']['decoder_input_ids']

        def build(c):
            return ref.T5(c, W) if c['model_type'] == 't5' else ref.BartLike(c, W)

        # the unchanged config through the torch activations still reproduces transformers' golden logits
        base = build(cfg)
        encs = [base.encode(ids[b], mask[b]) for b in range(len(ids))]
        got = np.stack([base.decode(dec[b], encs[b], mask[b]) for b in range(len(ids))])
        want = np.array(gold['decoder_teacher_forced']['logits']['data']).reshape(got.shape)
        assert np.abs(got - want).max() < 1e-4, (name, np.abs(got - want).max())

        vcfg = {**cfg, **change}
        if vcfg['model_type'] == 't5':
            fp = vcfg['feed_forward_proj']
            assert vcfg.get('dense_act_fn', fp.split('-')[-1]) == fp.split('-')[-1], vcfg
            assert vcfg.get('is_gated_act', fp.startswith('gated-')) == fp.startswith('gated-'), vcfg
        model = build(vcfg)
        encs = [model.encode(ids[b], mask[b]) for b in range(len(ids))]
        logits = np.stack([model.decode(dec[b], encs[b], mask[b]) for b in range(len(ids))])
        max_len = 1 + gold['generate']['greedy']['kwargs']['max_new_tokens']
        seqs, gap = [], np.inf
        for b in range(len(ids)):
            toks = [gcfg['decoder_start_token_id']]
            while len(toks) < max_len:
                s = ref.process(model.decode(toks, encs[b], mask[b])[-1], toks, gcfg, max_len)
                top = np.sort(s[np.isfinite(s)])[::-1]
                if len(top) > 1:
                    gap = min(gap, float(top[0] - top[1]))
                toks.append(int(np.argmax(s)))
                if toks[-1] == gcfg['eos_token_id']:
                    break
            seqs.append(toks)
        seqs = ref.pad_rows(seqs, gcfg['pad_token_id'], gcfg['eos_token_id'], max_len, False)  # as generate() pads a batch
        differs = float(np.abs(logits - want).max())
        print(f'{name:20s} {json.dumps(change):70s} greedy {seqs} min gap {gap:.4f}, logits moved {differs:.3f}')
        out.append({'fixture': name, 'config': change, 'max_new_tokens': max_len - 1,
                    'teacher_forced': {'decoder_input_ids': dec, 'shape': list(logits.shape),
                                       'logits': [round(float(v), 7) for v in logits.astype(np.float32).ravel()]},
                    'greedy': {'sequences': seqs, 'min_top1_top2_gap': round(gap, 6)},
                    'logits_moved_from_golden': round(differs, 6)})
    doc = {'made_with': {'torch': torch.__version__, 'numpy': np.__version__,
                         'model': '../shared/reference/check_fixtures_numpy.py (float64), activations: '
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
