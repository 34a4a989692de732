"""Resource files on disk: config sources and discovery responses.

Envoy reloads a watched xDS file only when a file is *moved* into its watched directory;
an in-place edit is never seen, and a half-written file would be read half-written. So
every file is written by :func:`envoykit._util.write_atomic` (temp file in the same
directory, then ``os.replace``).

Without fsync: these files only carry the config from this process to its running Envoy
(which reads them from the page cache), and ``DynamicProxy.start()`` writes all of them
afresh from the Python config, so surviving a machine crash buys nothing. The two fsyncs
(file and directory) were 5.7 ms of every ``apply()`` in a profile on a loaded machine
(2026-11-30); on a quiet one the call's time did not change measurably.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envoykit._util import write_atomic

__all__ = [
    "XdsFile",
    "config_source",
    "remove_file",
    "resource_hash",
]

log = logging.getLogger("envoykit.xds")

def remove_file(path: Path) -> None:
    """Remove a resource file and its directory if that is left empty (no error if gone)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    with contextlib.suppress(OSError):
        path.parent.rmdir()


def config_source(path: Path) -> dict[str, Any]:
    """A v3 ``ConfigSource`` reading ``path``, reloaded on a move into its directory."""
    return {
        "path_config_source": {
            "path": str(path),
            "watched_directory": {"path": str(path.parent)},
        },
        "resource_api_version": "V3",
    }


def canonical(value: Any) -> str:
    """Deterministic JSON text (sorted keys) for hashing."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def resource_hash(value: Any) -> str:
    """A short content hash of a resource (its identity for change detection)."""
    return hashlib.sha256(canonical(value).encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class XdsFile:
    """One xDS file: a ``DiscoveryResponse`` with the resources of one subscription.

    ``kind`` is ``listener`` (lds.json, every listener), ``cluster`` (cds.json), or one
    file per ``route`` configuration, ``endpoints`` assignment or ``secret``; ``name`` is
    the resource name ("" for lds/cds). ``version`` is a hash of the content, so an
    unchanged file keeps its version and is never rewritten.
    """

    kind: str
    name: str
    path: Path
    resources: tuple[dict[str, Any], ...]

    @functools.cached_property
    def hashes(self) -> tuple[str, ...]:
        """The content hash of each resource, in order."""
        return tuple(resource_hash(r) for r in self.resources)

    @functools.cached_property
    def version(self) -> str:
        """The ``version_info`` of this file: a hash of its resources' hashes."""
        joined = "|".join(self.hashes).encode("ascii")
        return hashlib.sha256(joined).hexdigest()[:16]

    def render(self) -> str:
        """The file's JSON text."""
        body = {"version_info": self.version, "resources": list(self.resources)}
        return json.dumps(body, indent=1)

    def write(self) -> Path:
        """Write this file atomically (not fsynced: see the module docs)."""
        return write_atomic(self.path, self.render(), fsync=False)

