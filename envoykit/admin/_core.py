"""What the sync and the async admin client share: address handling, the ``/help``
cache, parameter checks, error mapping."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator
from typing import Any, TypeVar

import httpx

from envoykit.admin import _ops
from envoykit.admin import _protocol as p
from envoykit.errors import AdminConnectError, AdminTimeout, AdminTransportError

__all__ = ["ANY_STATUS", "Core", "Predicate", "RuntimeValue", "T"]

log = logging.getLogger("envoykit.admin")

T = TypeVar("T")
ANY_STATUS = frozenset(range(100, 600))
Predicate = Callable[[Any], bool]
RuntimeValue = _ops.RuntimeValue


class Core:
    """What both clients share: address handling, the ``/help`` cache, error mapping."""

    def __init__(self, address: p.Address, *, timeout: float, check_params: bool) -> None:
        self.address = address
        self.timeout = timeout
        self.check_params = check_params
        self._uds: str | None = None
        if isinstance(address, str) and address.startswith("unix:"):
            self._uds = address.removeprefix("unix:").removeprefix("//")
            self.base_url = "http://envoy-admin"
        else:
            self.base_url = p.base_url(address)
        self._helps: dict[str, p.EndpointHelp] | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"

    def _steps(self, op: p.Operation[T]) -> p.Operation[T]:
        """Pass ``op``'s steps through, checking each call's parameters against ``/help``."""
        reply: p.Reply | None = None
        while True:
            try:
                step = op.send(reply)
            except StopIteration as stop:
                result: T = stop.value
                return result
            if isinstance(step, p.Call) and self._needs_check(step):
                step = yield from self._checked(step)
            reply = yield step

    def _needs_check(self, call: p.Call) -> bool:
        return self.check_params and call.check_params and bool(call.params)

    def _checked(self, call: p.Call) -> Generator[p.Step, p.Reply | None, p.Call]:
        if self._helps is None:
            reply = yield from p.send(p.Call("GET", "/help", ok=ANY_STATUS))
            self._helps = self._parse_help(reply)
        if not self._helps:  # /help is not available (e.g. admin.allow_paths): send unchecked
            return call
        return p.check_params(self._helps, call)

    def _parse_help(self, reply: p.Reply) -> dict[str, p.EndpointHelp]:
        helps = p.parse_help(reply.text) if reply.status == 200 else {}
        if not helps:
            log.warning(
                "%s/help answered %d without an endpoint list; parameters are not checked",
                self.base_url,
                reply.status,
            )
        return helps

    def _reply(self, call: p.Call, response: httpx.Response, started: float) -> p.Reply:
        elapsed = (time.monotonic() - started) * 1000
        log.debug("%s %s -> %d (%.1f ms)", call.method, call.path, response.status_code, elapsed)
        content_type = response.headers.get("content-type", "")
        return p.Reply(response.status_code, response.content, content_type)

    def _error(self, call: p.Call, exc: httpx.HTTPError) -> Exception:
        where = f"{self.base_url}{call.path}"
        if isinstance(exc, httpx.TimeoutException):
            text = f"no answer from {where} within {self.timeout:g}s ({type(exc).__name__})"
            return AdminTimeout(text, endpoint=call.path)
        if isinstance(exc, httpx.ConnectError):
            text = f"cannot connect to envoy admin at {self.base_url} ({exc}); is envoy running?"
            return AdminConnectError(text, endpoint=call.path)
        return AdminTransportError(f"request to {where} failed: {exc!r}", endpoint=call.path)
