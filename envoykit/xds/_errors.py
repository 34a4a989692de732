"""Errors of the dynamic-configuration package."""

from __future__ import annotations

from collections.abc import Sequence

from envoykit.errors import EnvoykitError

__all__ = ["XdsUpdateRejected"]


class XdsUpdateRejected(EnvoykitError):
    """Envoy refused (or did not confirm) a resource-file update; the old config serves.

    ``kind`` is the resource kind (``listener``, ``route``, ``cluster``, ``endpoints``,
    ``secret``), ``path`` the file, ``version`` the version that was refused, ``reason``
    Envoy's own message (from its log) and ``output_tail`` the last lines it printed.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str = "",
        path: str = "",
        version: str = "",
        reason: str = "",
        output_tail: Sequence[str] = (),
    ) -> None:
        self.kind = kind
        self.path = path
        self.version = version
        self.reason = reason
        self.output_tail = list(output_tail)
        text = message if not reason else f"{message}\nenvoy said: {reason}"
        super().__init__(text)
