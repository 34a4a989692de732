"""The last line of each bench's output (its JSON figures) as one summary table.

    python scripts/bench_summary.py OUTPUT...   # files named after the benches

Prints ``bench  target`` rows: ``met``, ``MISSED`` or ``-`` (a bench without a target, or
one that printed no JSON line). Exit status 0: a miss is a result, not an error (the
benches themselves fail when they cannot measure).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def verdict(path: Path) -> str:
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    try:
        figures = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        return "- (no JSON last line)"
    if not isinstance(figures, dict) or "target_met" not in figures:
        return "-"
    return "met" if figures["target_met"] else "MISSED"


def main(paths: list[str]) -> int:
    print(f"{'bench':<16} target")
    for name in paths:
        print(f"{Path(name).stem:<16} {verdict(Path(name))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
