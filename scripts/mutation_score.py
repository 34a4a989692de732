"""Per-module mutation score from mutmut's results (``mutants/**/*.py.meta``).

    python scripts/mutation_score.py            # after `mutmut run` (see `make mutation`)

Killed = a test failed (or timed out) on the mutant; survived = every selected test passed;
no tests = no unit test runs the mutated function. Score = killed / (killed + survived +
no tests). Prints a Markdown table (docs/quality.md keeps the last one) and exits 1 when
a module is under TARGET.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

TARGET = 0.85
KILLED = {1, 3, -24, 24, 36, 152, -11, -9}  # a failing test, a crash or a timeout
SURVIVED = {0}
NO_TESTS = {33}


def outcome(code: int | None) -> str:
    if code in KILLED:
        return "killed"
    if code in SURVIVED:
        return "survived"
    if code in NO_TESTS:
        return "no tests"
    return "not run"


def main(root: Path = Path("mutants")) -> int:
    rows, below = [], False
    for meta in sorted(root.rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"].values()
        counts = Counter(outcome(code) for code in codes)
        total = counts["killed"] + counts["survived"] + counts["no tests"]
        score = counts["killed"] / total if total else 1.0
        below |= score < TARGET
        module = str(meta.relative_to(root)).removesuffix(".meta")
        rows.append(f"| `{module}` | {sum(counts.values())} | {counts['killed']} | "
                    f"{counts['survived']} | {counts['no tests']} | {score:.0%} |")
    if not rows:
        print("no mutmut results under mutants/: run `mutmut run` first", file=sys.stderr)
        return 2
    print("| module | mutants | killed | survived | no tests | score |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
