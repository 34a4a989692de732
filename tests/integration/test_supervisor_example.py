"""``examples/supervisor_hot_restart.py`` runs with plain python, exits 0, leaves nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration._supervisor_helpers import envoy_pids_with

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "supervisor_hot_restart.py"


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_the_example_runs_and_cleans_up() -> None:
    done = subprocess.run([sys.executable, str(EXAMPLE)], cwd=ROOT, capture_output=True,
                          text=True, timeout=50, check=False)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "epoch 1: a: 200 hello from a | b: 200 hello from b" in out
    assert ", 0 failed" in out
    assert "refused before anything started" in out
    assert "connect_timeout" in out
    assert out.rstrip().endswith("stopped: stopped")
    [run_dir] = [line.split(": ", 1)[1] for line in out.splitlines()
                 if line.startswith("run dir: ")]
    assert not Path(run_dir).exists()
    assert envoy_pids_with(run_dir) == []
