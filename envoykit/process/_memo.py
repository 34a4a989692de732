"""The validation memo: which configs ``envoy --mode validate`` already accepted.

A hot restart validates first; a config accepted before (by :meth:`Supervisor.validate`, or
because it started) skips that step. The key is the rendered config, the override flags and
the state of every file the config names (a certificate replaced or deleted since means:
validate again). The newest 64 keys are kept.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from envoykit.process._launch import LaunchOptions, render_config, with_admin

__all__ = ["ValidationMemo"]


class ValidationMemo:
    """Content keys of configs envoy accepted, newest last (at most ``size``)."""

    def __init__(self, options: LaunchOptions, size: int = 64) -> None:
        self.options = options
        self.size = size
        self._keys: OrderedDict[str, None] = OrderedDict()

    def key(self, data: Mapping[str, Any], files: str | None = None) -> str:
        """The rendered config, the override flags, and the state of every named file
        (``files``: as :meth:`files` saw them earlier; now if not given)."""
        rendered = render_config(with_admin(data, self.options.config_yaml))
        extra = "\0".join(self.options.override_args())
        files = self.files(data) if files is None else files
        return hashlib.sha256(f"{rendered}\0{extra}\0{files}".encode()).hexdigest()

    @staticmethod
    def files(data: Mapping[str, Any]) -> str:
        """The state of every file ``data`` names, now (a key made later from it remembers
        the files as they were when envoy read them, not as they are by then)."""
        return "\0".join(_file_state(name) for name in sorted(_filenames(data)))

    def remember(self, key: str) -> None:
        self._keys[key] = None
        self._keys.move_to_end(key)
        while len(self._keys) > self.size:
            self._keys.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return key in self._keys


def _filenames(node: Any) -> set[str]:
    """Every ``filename`` value (DataSource) in a config dict."""
    if isinstance(node, Mapping):
        found = {str(v) for k, v in node.items() if k == "filename" and isinstance(v, str)}
        for value in node.values():
            found |= _filenames(value)
        return found
    if isinstance(node, list):
        return set().union(*(_filenames(item) for item in node)) if node else set()
    return set()


def _file_state(name: str) -> str:
    try:
        info = os.stat(name)
    except OSError:
        return f"{name}:missing"
    return f"{name}:{info.st_mtime_ns}:{info.st_size}:{info.st_ino}"
