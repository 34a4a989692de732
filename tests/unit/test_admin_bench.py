"""bench/stats.py runs and ends with its JSON line (small sizes, so it stays fast)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "stats.py"


def test_bench_prints_a_table_and_a_json_last_line() -> None:
    args = [sys.executable, str(BENCH), "--stats", "3000", "--rounds", "1"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)
    lines = done.stdout.strip().splitlines()
    assert any(line.startswith("parse_stats_json") for line in lines)
    result = json.loads(lines[-1])
    assert set(result) == {"stats", "parse_s", "json_loads_s"}
    assert 3000 <= result["stats"] < 3200
    assert result["parse_s"] > 0 and result["json_loads_s"] > 0
