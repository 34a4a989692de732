"""Small messages several filters share: ``google.protobuf.Empty``, ``PathMatcher``,
``Int32Range``."""

from __future__ import annotations

from pydantic import model_validator

from envoykit.config._base import EnvoyModel
from envoykit.config.core import StringMatcher

__all__ = [
    "Empty",
    "Int32Range",
    "PathMatcher",
]


class Empty(EnvoyModel):
    """``google.protobuf.Empty``: renders as ``{}`` (e.g. ``allow_missing: {}``)."""


class PathMatcher(EnvoyModel):
    """``envoy.type.matcher.v3.PathMatcher``: match the URL path (without query) by ``path``."""

    path: StringMatcher

    @classmethod
    def prefix(cls, value: str) -> PathMatcher:
        """``PathMatcher.prefix("/admin")``."""
        return cls(path=StringMatcher(prefix=value))

    @classmethod
    def exact(cls, value: str) -> PathMatcher:
        """``PathMatcher.exact("/callback")``."""
        return cls(path=StringMatcher(exact=value))


class Int32Range(EnvoyModel):
    """``envoy.type.v3.Int32Range``: ``[start, end)``."""

    start: int
    end: int

    @model_validator(mode="after")
    def _ordered(self) -> Int32Range:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) must not be below start ({self.start})")
        return self
