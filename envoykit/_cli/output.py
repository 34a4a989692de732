"""Output helpers: JSON to stdout, aligned tables, log handlers."""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from typing import Any

__all__ = ["JsonFormatter", "StderrHandler", "install_handler", "print_json", "progress",
           "table"]

# the attributes every LogRecord has; anything else came in through ``extra=``
_RECORD_FIELDS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (pytest's capture swaps it)."""

    def emit(self, record: logging.LogRecord) -> None:
        """Write one record to the current ``sys.stderr``."""
        self.stream = sys.stderr
        super().emit(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, and every
    field given with ``extra=`` (the supervisor's ``event``, ``state``, ``epoch``, ``pid``,
    ``reason``)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        when = datetime.datetime.fromtimestamp(record.created, tz=datetime.timezone.utc)
        data: dict[str, Any] = {
            "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update({k: v for k, v in record.__dict__.items() if k not in _RECORD_FIELDS})
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def install_handler(logger: logging.Logger, fmt: str | logging.Formatter) -> None:
    """Give ``logger`` exactly one :class:`StderrHandler` with format ``fmt``."""
    for old in [h for h in logger.handlers if isinstance(h, StderrHandler)]:
        logger.removeHandler(old)
    handler = StderrHandler()
    handler.setFormatter(fmt if isinstance(fmt, logging.Formatter) else logging.Formatter(fmt))
    logger.addHandler(handler)


@contextlib.contextmanager
def progress(text: str, *, enabled: bool = True) -> Iterator[None]:
    """A spinner with ``text`` on stderr while the block runs, only when stderr is a
    terminal (and ``enabled``); log lines printed meanwhile appear above it."""
    if not (enabled and sys.stderr.isatty()):
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(text):
        yield


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """An aligned plain-text table (two spaces between columns)."""
    cells = [[str(c) for c in header], *([str(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in cells]
    return "\n".join(lines)
