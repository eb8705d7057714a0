"""Where the tokenizer fixtures live and how their case files are written; shared by make_spm_fixtures.py,
families.py and bart_fixtures.py (its own module so that none of them has to import another to get it)."""

import json
import os

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "tokenizers")


def write_cases(path, header, cases):
    """One case per line: small diffs when the fixtures are regenerated."""
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        head = json.dumps(header, ensure_ascii=False)[:-1]
        f.write(head + ', "cases": [\n')
        f.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in cases))
        f.write("\n]}\n")
