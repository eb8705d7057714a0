#!/usr/bin/env python3
"""Shows that numpy_model.py reproduces every golden.json under test/fixtures.

For each folder with config.json + model.safetensors + golden.json (test/fixtures/* made by transformers 4.40.2,
test/fixtures/random/* made by tools/marian_random_ref.py) it recomputes, from the files alone:
  encoder_last_hidden_state, decoder_first_step and decoder_teacher_forced logits   max |diff| < 1e-4
  every generate() case: sequences                                                   exactly equal
                         beam sequences_scores                                       max |diff| < 1e-4
                         greedy step_logprobs (where recorded; -inf must match)      max |diff| < 1e-4
and checks numpy_model.t5_bucket against test/fixtures/t5_buckets.json. Then, as a cross-check of the search
alone on options no model fixture exercises (early_stopping "never", negative length penalties, several eos ids,
multi-token bad words, min_new_tokens, ...), runs numpy_model's greedy/beam_search over the fake decoder of
tools/gen_reference.py and compares with test/generation/reference.json (made by gen_reference.py's separate
transcription of transformers' search).

    /usr/bin/python3 tools/reference/verify_fixtures.py [FIXTURE_DIR ...]      (needs numpy; ~10 s)

Exit status 0 when everything matches. Also importable: verify_folder(path) -> (ok, report line).
"""
import json
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import numpy_model as nm  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(REPO, "test", "fixtures")
TOL = 1e-4


def read_golden(path):
    # Python's json writes -Infinity, which is not JSON; it parses here, but keep the same mapping as the TS tests
    return json.loads(open(path).read().replace("-Infinity", "-1e999"))


def as_array(entry):
    return np.array(entry["data"], dtype=np.float64).reshape(entry["shape"])


def verify_folder(folder):
    cfg, gcfg, model = nm.load_folder(folder)
    gold = read_golden(os.path.join(folder, "golden.json"))
    ids, mask = gold["inputs"]["input_ids"], gold["inputs"]["attention_mask"]
    rows = [model.next_logits(ids[b], mask[b]) for b in range(len(ids))]
    errs = {"encoder": float(np.abs(np.stack([f.encoder_output for f in rows]) -
                                    as_array(gold["encoder_last_hidden_state"])).max())}
    for key in ("decoder_first_step", "decoder_teacher_forced"):
        dec = gold[key]["decoder_input_ids"]
        got = np.stack([model.decode(dec[b], rows[b].encoder_output, mask[b]) for b in range(len(ids))])
        errs[key] = float(np.abs(got - as_array(gold[key]["logits"])).max())
    score_err, failed = 0.0, []
    for name, case in gold["generate"].items():
        s = nm.GenerationSettings.resolve(gcfg, **case["kwargs"])
        if s.num_beams == 1:
            seqs, logprobs = nm.greedy(rows, s)
            seqs = nm.pad_greedy_rows(seqs, s)
            for got_row, want_row in zip(logprobs, case.get("step_logprobs") or []):
                for a, b in zip(got_row, want_row):
                    if math.isinf(b) or math.isinf(a):
                        if a != b:
                            score_err = math.inf
                    else:
                        score_err = max(score_err, abs(a - b))
        else:
            hyps = [h for f in rows for h in nm.beam_search(f, s)]
            seqs = nm.pad_beam_rows([tokens for _, tokens in hyps], s)
            score_err = max(score_err, max(abs(score - want) for (score, _), want in zip(hyps, case["sequences_scores"])))
        if seqs != case["sequences"]:
            failed.append(name)
    errs["scores"] = score_err
    ok = not failed and all(v < TOL for v in errs.values())
    line = (f"{'PASS' if ok else 'FAIL'} {os.path.relpath(folder, FIXTURES):30s} " +
            " ".join(f"{k}={v:.1e}" for k, v in errs.items()) +
            f"  sequences {len(gold['generate']) - len(failed)}/{len(gold['generate'])} exact" +
            (f" (differ: {', '.join(failed)})" if failed else ""))
    return ok, line


def verify_buckets(path):
    data = json.load(open(path))
    bad = 0
    for t in data["tables"]:
        start = t["relative_position_from"]
        got = [nm.t5_bucket(start + i, t["bidirectional"], t["num_buckets"], t["max_distance"])
               for i in range(len(t["buckets"]))]
        bad += sum(a != b for a, b in zip(got, t["buckets"]))
    n = sum(len(t["buckets"]) for t in data["tables"])
    return bad == 0, f"{'PASS' if bad == 0 else 'FAIL'} t5_buckets.json: {n - bad}/{n} buckets equal"


def verify_search_cases(path):
    """numpy_model's search vs gen_reference.py's on its fake-decoder cases (sequences exact, scores < 1e-4)."""
    sys.path.insert(0, os.path.join(REPO, "tools"))
    import gen_reference  # noqa: E402
    cases = json.load(open(path))["cases"]
    differ, worst = [], 0.0
    for case in cases:
        s = nm.GenerationSettings.resolve({}, **case["kwargs"])
        rows = [(lambda prefix, b=b: gen_reference.fake_logits(case["fake"], b, list(prefix)).astype(np.float64))
                for b in range(case["batch"])]
        want = case["expected"]
        if case["engine"] == "greedy":
            seqs = nm.pad_greedy_rows(nm.greedy(rows, s)[0], s)
            same = seqs == want["sequences"]
        else:
            hyps = [h for f in rows for h in nm.beam_search(f, s)]
            err = max(abs(score - w) for (score, _), w in zip(hyps, want["scores"]))
            worst = max(worst, err)
            same = nm.pad_beam_rows([tokens for _, tokens in hyps], s) == want["sequences"] and err < TOL
        if not same:
            differ.append(case["name"])
    ok = not differ
    return ok, (f"{'PASS' if ok else 'FAIL'} test/generation/reference.json: {len(cases) - len(differ)}/{len(cases)} "
                f"fake-decoder search cases equal (beam scores max|diff| {worst:.1e})" +
                (f"; differ: {', '.join(differ)}" if differ else ""))


def fixture_folders(root):
    out = []
    for dirpath, _, files in os.walk(root):
        if {"config.json", "model.safetensors", "golden.json"} <= set(files):
            out.append(dirpath)
    return sorted(out)


def main(argv):
    folders = argv or fixture_folders(FIXTURES)
    results = []
    if not argv:
        ok, line = verify_buckets(os.path.join(FIXTURES, "t5_buckets.json"))
        print(line, flush=True)
        results.append(ok)
    for folder in folders:
        ok, line = verify_folder(os.path.abspath(folder))
        print(line, flush=True)
        results.append(ok)
    if not argv:
        ok, line = verify_search_cases(os.path.join(REPO, "test", "generation", "reference.json"))
        print(line, flush=True)
        results.append(ok)
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
