"""Envoy's stdout/stderr: always drained by a reader thread into a ring buffer and
forwarded to ``logging.getLogger("envoykit.envoy")`` with Envoy's level mapped."""

from __future__ import annotations

import collections
import logging
import re
import threading
from collections.abc import Iterable
from typing import IO

__all__ = ["ENVOY_LOGGER", "OutputPump", "RingBuffer", "envoy_level"]

ENVOY_LOGGER = logging.getLogger("envoykit.envoy")
# A library stays quiet until the application configures logging (no "last resort"
# printing of Envoy's warnings to stderr); errors still carry the output tail.
ENVOY_LOGGER.addHandler(logging.NullHandler())
TRACE = 5

# Envoy's default format: "[%Y-%m-%d %T.%e][%t][%l][%n] [%g:%#] %v".
_LEVEL_RE = re.compile(r"^\[[^\]]*\]\[\d+\]\[(?P<level>[a-z]+)\]")
_LEVELS = {
    "trace": TRACE,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}


def envoy_level(line: str) -> int | None:
    """The :mod:`logging` level of one Envoy log line, None when it carries no level."""
    match = _LEVEL_RE.match(line)
    if match is None:
        return None
    return _LEVELS.get(match["level"], logging.INFO)


class RingBuffer:
    """The last ``size`` lines, safe to append from one thread and read from others."""

    def __init__(self, size: int = 200) -> None:
        self._lines: collections.deque[str] = collections.deque(maxlen=size)
        self._lock = threading.Lock()

    def append(self, line: str) -> None:
        """Add one line, dropping the oldest when full."""
        with self._lock:
            self._lines.append(line)

    def extend(self, lines: Iterable[str]) -> None:
        """Add several lines."""
        with self._lock:
            self._lines.extend(lines)

    def tail(self, count: int = 20) -> list[str]:
        """The last ``count`` lines, oldest first."""
        with self._lock:
            lines = list(self._lines)
        return lines[-count:] if count > 0 else []

    def __len__(self) -> int:
        with self._lock:
            return len(self._lines)


class OutputPump:
    """Reads a process pipe to EOF on a daemon thread: ring buffer + logging.

    Lines without a level (continuations, access logs) reuse the previous line's level.
    """

    def __init__(
        self,
        stream: IO[bytes],
        buffer: RingBuffer,
        *,
        name: str,
        extra: dict[str, object] | None = None,
        logger: logging.Logger = ENVOY_LOGGER,
    ) -> None:
        self._stream = stream
        self._buffer = buffer
        self._logger = logger
        self._extra = extra or {}
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> OutputPump:
        """Start the reader thread; returns self."""
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> None:
        """Wait for EOF (the process and every holder of the pipe have exited)."""
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        level = logging.INFO
        try:
            for raw in iter(self._stream.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                level = envoy_level(line) or level
                self._buffer.append(line)
                if self._logger.isEnabledFor(level):
                    self._logger.log(level, "%s", line, extra=self._extra)
        except (OSError, ValueError):  # pipe closed under us during teardown
            pass
        finally:
            self._stream.close()
