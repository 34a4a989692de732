"""Output helpers: JSON to stdout, aligned tables, log handlers."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["StderrHandler", "install_handler", "print_json", "table"]


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (pytest's capture swaps it)."""

    def emit(self, record: logging.LogRecord) -> None:
        """Write one record to the current ``sys.stderr``."""
        self.stream = sys.stderr
        super().emit(record)


def install_handler(logger: logging.Logger, fmt: str) -> None:
    """Give ``logger`` exactly one :class:`StderrHandler` with format ``fmt``."""
    for old in [h for h in logger.handlers if isinstance(h, StderrHandler)]:
        logger.removeHandler(old)
    handler = StderrHandler()
    handler.setFormatter(logging.Formatter(fmt))
    logger.addHandler(handler)


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
