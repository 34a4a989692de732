"""RE2, the regex engine Envoy uses: a pattern Python's ``re`` accepts may be refused by Envoy
(back-references, look-arounds), so the builder checks and matches with RE2 itself."""

from __future__ import annotations

import functools
from typing import Protocol, cast

import re2  # type: ignore[import-untyped]

__all__ = ["Pattern", "compile_re2", "re2_error"]


class Pattern(Protocol):
    def fullmatch(self, text: str) -> object | None: ...


def _options() -> object:
    options = re2.Options()
    options.log_errors = False  # the error reaches the user as an exception, not on stderr
    return options


@functools.lru_cache(maxsize=4096)
def compile_re2(pattern: str) -> Pattern:
    """The compiled RE2 ``pattern`` (raises ``ValueError`` naming RE2's complaint)."""
    try:
        return cast(Pattern, re2.compile(pattern, _options()))
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        text = detail.decode() if isinstance(detail, bytes) else str(detail)
        raise ValueError(f"{pattern!r} is not a valid RE2 regex: {text}") from None


def re2_error(pattern: str) -> str | None:
    """Why ``pattern`` is not a valid RE2 regex, or ``None`` when it is."""
    try:
        compile_re2(pattern)
    except ValueError as exc:
        return str(exc)
    return None
