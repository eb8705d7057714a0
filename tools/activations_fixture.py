#!/usr/bin/env python3
"""Writes test/fixtures/activations.json: every activation of transformers 4.40.2's ACT2FN, evaluated by torch.

For each ACT2FN name (activations.py ACT2CLS) the definition is written here exactly as activations.py writes it,
with the same torch functions (nn.functional.gelu, gelu(approximate="tanh"), torch.tanh, torch.erf, F.mish,
F.leaky_relu, F.relu6, torch.sigmoid, F.silu, ...), and applied to a fixed set of float32 inputs (edge values and
a seeded random sweep):

  f32     the definition applied to the float32 tensor: what transformers computes in a float32 model.
  f64     the definition applied to the same inputs cast to float64.
  exact   float64, a cancellation-free form of the same function (only where the literal form cancels): the
          definitions written as 0.5·x·(1 + erf(..)) or 0.5·x·(1 + tanh(..)) lose all relative precision for
          large negative x even in float64 (1 + erf(-6) = 2e-17 is below double's 1.1e-16 spacing at 1), so
          these are evaluated as 0.5·x·erfc(-x/√2) (torch.special.erfc) and x·sigmoid(2u). The script checks
          that `exact` and `f64` agree to within the literal form's own float64 rounding.

test/kernels/activations_fixture.test.ts compares the wasm kernels (and the WebGPU shader where an adapter
exists) against it. Non-finite numbers are written as the strings "nan", "inf", "-inf".

Usage: /usr/bin/python3 tools/activations_fixture.py     (needs torch >= 1.12 for gelu(approximate="tanh"))
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, 'test', 'fixtures', 'activations.json')

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


# --- transformers 4.40.2 activations.py, one function per ACT2CLS entry ---------------------------------------
def gelu(x):  # GELUActivation: nn.functional.gelu (erf form)
    return F.gelu(x)


def gelu_python(x):  # GELUActivation(use_gelu_python=True)._gelu_python
    return x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))


def gelu_10(x):  # ClippedGELUActivation(min=-10, max=10): clip(gelu(x)), gelu = get_activation("gelu")
    return torch.clip(F.gelu(x), -10, 10)


def gelu_fast(x):  # FastGELUActivation
    return 0.5 * x * (1.0 + torch.tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)))


def gelu_new(x):  # NewGELUActivation
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gelu_pytorch_tanh(x):  # PytorchGELUTanh
    return F.gelu(x, approximate='tanh')


def gelu_accurate(x):  # AccurateGELUActivation
    return 0.5 * x * (1 + torch.tanh(SQRT_2_OVER_PI * (x + 0.044715 * torch.pow(x, 3))))


def laplace(x, mu=0.707107, sigma=0.282095):  # LaplaceActivation
    x = (x - mu).div(sigma * math.sqrt(2.0))
    return 0.5 * (1.0 + torch.erf(x))


def leaky_relu(x):  # nn.LeakyReLU() (negative_slope 0.01)
    return F.leaky_relu(x)


def linear(x):  # LinearActivation
    return x


def mish(x):  # MishActivation: nn.functional.mish on torch >= 1.9
    return F.mish(x)


def quick_gelu(x):  # QuickGELUActivation
    return x * torch.sigmoid(1.702 * x)


def relu(x):  # nn.ReLU
    return F.relu(x)


def relu2(x):  # ReLUSquaredActivation
    return torch.square(F.relu(x))


def relu6(x):  # nn.ReLU6
    return F.relu6(x)


def sigmoid(x):  # nn.Sigmoid
    return torch.sigmoid(x)


def silu(x):  # nn.SiLU ("silu" and "swish")
    return F.silu(x)


def tanh(x):  # nn.Tanh
    return torch.tanh(x)


ACT2FN = {
    'gelu': gelu, 'gelu_10': gelu_10, 'gelu_fast': gelu_fast, 'gelu_new': gelu_new, 'gelu_python': gelu_python,
    'gelu_pytorch_tanh': gelu_pytorch_tanh, 'gelu_accurate': gelu_accurate, 'laplace': laplace,
    'leaky_relu': leaky_relu, 'linear': linear, 'mish': mish, 'quick_gelu': quick_gelu, 'relu': relu,
    'relu2': relu2, 'relu6': relu6, 'sigmoid': sigmoid, 'silu': silu, 'swish': silu, 'tanh': tanh,
}


# --- cancellation-free float64 forms of the definitions that cancel ----------------------------------------------
def erf_gelu_exact(x):
    return 0.5 * x * torch.special.erfc(-x / math.sqrt(2.0))


def tanh_gelu_exact(c):
    # 0.5·x·(1 + tanh(u)) = x·sigmoid(2u), u = c·(x + 0.044715·x³)
    return lambda x: x * torch.sigmoid(2.0 * c * (x + 0.044715 * x * x * x))


EXACT = {
    'gelu': erf_gelu_exact,
    'gelu_python': erf_gelu_exact,
    'gelu_10': lambda x: torch.clip(erf_gelu_exact(x), -10, 10),
    'gelu_fast': tanh_gelu_exact(0.7978845608),
    'gelu_new': tanh_gelu_exact(SQRT_2_OVER_PI),
    'gelu_pytorch_tanh': tanh_gelu_exact(SQRT_2_OVER_PI),
    'gelu_accurate': tanh_gelu_exact(SQRT_2_OVER_PI),
    'laplace': lambda x: 0.5 * torch.special.erfc(-(x - 0.707107) / (0.282095 * math.sqrt(2.0))),
}


def inputs():
    special = [0.0, -0.0, 1e-45, -1e-45, 1.1754944e-38, -1.1754944e-38, 1e-30, -1e-30, 1e-12, -1e-12, 1e-7, -1e-7,
               1e-4, -1e-4, 0.01, -0.01, 0.1, -0.1, 0.5, -0.5, 0.624, -0.624, 0.626, -0.626, 0.707107, 1.0, -1.0,
               2.0, -2.0, 3.0, -3.0, 5.0, -5.0, 6.0, 5.9999995, 6.0000005, -6.0, 8.0, -8.0, 9.0, -9.0, 10.0, -10.0,
               10.0000010, 12.0, -12.0, 15.0, -15.0, 20.0, -20.0, 25.0, -25.0, 30.0, -30.0, 44.0, -44.0, 50.0,
               -50.0, 87.0, -87.0, 88.5, -88.5, 89.0, -89.0, 100.0, -100.0, 1e4, -1e4, 1e10, -1e10, 1e20, -1e20,
               3.4028235e38, -3.4028235e38, math.inf, -math.inf, math.nan]
    rng = np.random.default_rng(20240521)
    sweep = [rng.uniform(-16, 16, 300), rng.uniform(-3, 3, 60),  # the range activations see
             rng.choice([-1, 1], 60) * 10.0 ** rng.uniform(-12, 2, 60)]  # magnitudes
    return np.concatenate([np.array(special), *sweep]).astype(np.float32)


def enc(a):
    out = []
    for v in a.tolist():
        if math.isnan(v):
            out.append('nan')
        elif math.isinf(v):
            out.append('inf' if v > 0 else '-inf')
        else:
            out.append(v)
    return out


def enc32(a):
    # shortest decimal that round-trips the float32 (JSON numbers are read back as float64, then fround)
    return [float(repr(v)) if np.isfinite(v) else enc(np.array([v], dtype=np.float64))[0]
            for v in (np.float32(t) for t in a.tolist())]


def main():
    x32 = inputs()
    t32 = torch.from_numpy(x32)
    t64 = t32.double()
    acts = {}
    for name, fn in ACT2FN.items():
        with torch.no_grad():
            y32 = fn(t32)
            y64 = fn(t64)
            assert y32.dtype == torch.float32 and y64.dtype == torch.float64, name
            entry = {'f32': enc32(y32.numpy()), 'f64': enc(y64.numpy())}
            if name in EXACT:
                ex = EXACT[name](t64)
                # the literal float64 form differs from the exact one only by its cancellation: ~1.1e-16 absolute
                # in 1 + erf / 1 + tanh, times 0.5·|x| (or 0.5 for laplace)
                finite = torch.isfinite(t64)
                lim = 4e-16 * torch.clamp(t64.abs(), min=1.0) + 1e-12 * ex.abs()
                bad = finite & ((ex - y64).abs() > lim)
                assert not bad.any(), (name, t64[bad][:5].tolist(), ex[bad][:5].tolist(), y64[bad][:5].tolist())
                entry['exact'] = enc(ex.numpy())
            acts[name] = entry
    doc = {
        'made_with': {
            'torch': torch.__version__,
            'numpy': np.__version__,
            'transformers_source': '4.40.2 src/transformers/activations.py (ACT2CLS), definitions copied into '
                                   'tools/activations_fixture.py',
            'recipe': 'python3 tools/activations_fixture.py: f32 = definition on the float32 inputs; f64 = same on '
                      'the inputs cast to float64; exact = float64 cancellation-free form (erfc, sigmoid) where '
                      'the literal form cancels',
        },
        'inputs': enc32(x32),
        'activations': acts,
    }
    with open(OUT, 'w') as f:
        f.write('{\n')
        f.write(f' "made_with": {json.dumps(doc["made_with"])},\n')
        f.write(f' "inputs": {json.dumps(doc["inputs"])},\n')
        f.write(' "activations": {\n')
        items = list(acts.items())
        for i, (name, entry) in enumerate(items):
            f.write(f'  "{name}": {{\n')
            keys = list(entry)
            for j, k in enumerate(keys):
                f.write(f'   "{k}": {json.dumps(entry[k], allow_nan=False)}{"," if j + 1 < len(keys) else ""}\n')
            f.write(f'  }}{"," if i + 1 < len(items) else ""}\n')
        f.write(' }\n}\n')
    print(f'wrote {OUT}: {len(x32)} inputs x {len(acts)} activations')


if __name__ == '__main__':
    main()
