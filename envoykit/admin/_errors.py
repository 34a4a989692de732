"""Errors raised by the admin client.

AdminError                    (envoykit.errors; names the endpoint)
├── AdminTransportError       the request did not complete
│   ├── AdminConnectError     nothing accepted the connection (refused, unreachable)
│   └── AdminTimeout          no answer in time (also a TimeoutError)
├── AdminHTTPError            envoy answered with an unexpected status (e.g. 400, 404, 503)
├── AdminParameterError       a parameter the running envoy does not accept (also ValueError)
└── AdminResponseError        the answer could not be parsed
"""

from __future__ import annotations

from envoykit.errors import AdminError

__all__ = [
    "AdminConnectError",
    "AdminError",
    "AdminHTTPError",
    "AdminParameterError",
    "AdminResponseError",
    "AdminTimeout",
    "AdminTransportError",
]


class AdminTransportError(AdminError):
    """The request to the admin endpoint did not complete."""


class AdminConnectError(AdminTransportError):
    """The admin address refused or could not take the connection (is envoy running?)."""


class AdminTimeout(AdminTransportError, TimeoutError):
    """The admin endpoint did not answer in time, or a wait ran out of time."""


class AdminHTTPError(AdminError):
    """Envoy answered with a status the call does not accept; ``status`` and ``body`` say why."""

    def __init__(self, status: int, body: str, *, endpoint: str) -> None:
        self.status = status
        self.body = body
        detail = body.strip().splitlines()[0] if body.strip() else "(empty body)"
        super().__init__(f"HTTP {status}: {detail}", endpoint=endpoint)


class AdminParameterError(AdminError, ValueError):
    """A query parameter (name or value) that the running envoy's ``/help`` does not list."""


class AdminResponseError(AdminError):
    """The admin answer was not in the expected format."""
