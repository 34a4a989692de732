"""Validation: semantic checks across resources, then the real ``envoy --mode validate``."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from envoykit.binary import EnvoyBinary, find_envoy
from envoykit.errors import ValidationError

__all__ = ["envoy_validate_file"]


def envoy_validate_file(
    path: str | os.PathLike[str],
    *,
    binary: EnvoyBinary | None = None,
    extra_args: Sequence[str] = (),
    timeout: float = 120.0,
) -> str:
    """Run ``envoy --mode validate -c PATH``; return envoy's output, raise
    :class:`ValidationError` carrying envoy's own message when it refuses the config."""
    envoy = binary or find_envoy()
    argv = [str(envoy.path), "--mode", "validate", "-c", str(Path(path)), "-l", "warn",
            *extra_args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        raise ValidationError(
            f"envoy --mode validate rejected {path}:\n{_essence(output)}",
            output=output,
            returncode=done.returncode,
        )
    return output


def _essence(output: str) -> str:
    """The useful part of envoy's message: its error lines, not the log preamble."""
    lines = [ln for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "[error]" in ln or "[critical]" in ln]
    return "\n".join(errors or lines[-5:])
