"""The two thin drivers: :class:`AdminClient` (httpx.Client) and :class:`AsyncAdminClient`.

All endpoint logic lives in :mod:`envoykit.admin._ops`; each method here is one line that
hands an operation to ``_run``. ``tests/unit/test_admin_client.py`` checks that both
classes expose the same methods with the same signatures.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Generator, Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx

from envoykit.admin import _ops
from envoykit.admin import _protocol as p
from envoykit.admin._config_dump import ConfigDump
from envoykit.admin._models import Certificate, ClusterStatus, MemoryInfo, RuntimeInfo, ServerInfo
from envoykit.admin._stats import StatsSnapshot
from envoykit.errors import AdminConnectError, AdminTimeout, AdminTransportError

__all__ = ["AdminClient", "AsyncAdminClient"]

log = logging.getLogger("envoykit.admin")

T = TypeVar("T")
_ANY_STATUS = frozenset(range(100, 600))
Predicate = Callable[[Any], bool]
RuntimeValue = _ops.RuntimeValue


class _Core:
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
            reply = yield from p.send(p.Call("GET", "/help", ok=_ANY_STATUS))
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


class AdminClient(_Core):
    """A blocking client for envoy's admin API.

    ``address`` is ``"127.0.0.1:9901"``, ``"http://127.0.0.1:9901"``, ``("::1", 9901)`` or
    ``"unix:/path/admin.sock"``. Use it as a context manager or call :meth:`close`.
    """

    def __init__(
        self,
        address: p.Address,
        *,
        timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
        check_params: bool = True,
    ) -> None:
        super().__init__(address, timeout=timeout, check_params=check_params)
        if transport is None and self._uds is not None:
            transport = httpx.HTTPTransport(uds=self._uds)
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _run(self, op: p.Operation[T]) -> T:
        steps = self._steps(op)
        reply: p.Reply | None = None
        while True:
            try:
                step = steps.send(reply)
            except StopIteration as stop:
                result: T = stop.value
                return result
            reply = self._do(step)

    def _do(self, step: p.Step) -> p.Reply | None:
        if isinstance(step, p.Sleep):
            time.sleep(step.seconds)
            return None
        started = time.monotonic()
        try:
            response = self._http.request(step.method, step.path, params=step.params)
        except httpx.HTTPError as exc:
            raise self._error(step, exc) from exc
        return self._reply(step, response, started)

    # --- endpoints (one line each; the logic is in _ops) ---
    def ready(self) -> bool:
        """True when envoy is LIVE (``/ready`` 200), False otherwise (503)."""
        return self._run(_ops.ready())

    def server_info(self) -> ServerInfo:
        """Version, state, restart epoch, uptimes and command-line options."""
        return self._run(_ops.server_info())

    def listeners(self) -> dict[str, tuple[str, int]]:
        """Listener name → bound (host, port); real ports for listeners bound to port 0."""
        return self._run(_ops.listeners())

    def stats(
        self,
        filter: str | None = None,
        usedonly: bool = False,
        type: str | None = None,
        invert_filter: bool = False,
    ) -> StatsSnapshot:
        """A typed snapshot of counters, gauges, text readouts and histograms."""
        return self._run(_ops.stats(filter, usedonly, type, invert_filter))

    def stats_text(
        self,
        filter: str | None = None,
        usedonly: bool = False,
        type: str | None = None,
        invert_filter: bool = False,
        histogram_buckets: str | None = None,
    ) -> str:
        """``/stats`` in envoy's text format."""
        return self._run(_ops.stats_text(filter, usedonly, type, invert_filter, histogram_buckets))

    def prometheus(
        self,
        filter: str | None = None,
        usedonly: bool = False,
        text_readouts: bool = False,
        invert_filter: bool = False,
        histogram_buckets: str | None = None,
    ) -> str:
        """``/stats/prometheus`` as text."""
        return self._run(
            _ops.prometheus(filter, usedonly, text_readouts, invert_filter, histogram_buckets)
        )

    def wait_for(
        self, stat: str, predicate: Predicate, timeout: float = 5.0, interval: float = 0.05
    ) -> Any:
        """Poll ``stat`` until ``predicate(value)`` holds; return it, or raise AdminTimeout."""
        return self._run(_ops.wait_for(stat, predicate, timeout, interval))

    def config_dump(
        self,
        resource: str | None = None,
        mask: str | None = None,
        name_regex: str | None = None,
        include_eds: bool = False,
    ) -> ConfigDump:
        """``/config_dump`` with typed accessors for listeners, clusters, routes, secrets."""
        return self._run(_ops.config_dump(resource, mask, name_regex, include_eds))

    def clusters(self, filter: str | None = None) -> dict[str, ClusterStatus]:
        """Cluster name → hosts with health flags and per-host stats."""
        return self._run(_ops.clusters(filter))

    def certs(self) -> list[Certificate]:
        """Every loaded certificate with its days until expiry."""
        return self._run(_ops.certs())

    def memory(self) -> MemoryInfo:
        """Allocator figures in bytes."""
        return self._run(_ops.memory())

    def runtime(self) -> RuntimeInfo:
        """Runtime layers and values."""
        return self._run(_ops.runtime())

    def runtime_modify(
        self, values: Mapping[str, RuntimeValue] | None = None, /, **more: RuntimeValue
    ) -> None:
        """Set runtime keys (``{"a.b": 1}`` or keywords); "" deletes an admin override."""
        return self._run(_ops.runtime_modify({**(values or {}), **more}))

    def logging(self) -> dict[str, str]:
        """Logger name → level."""
        return self._run(_ops.logging())

    def set_log_level(self, level: str) -> dict[str, str]:
        """Set every logger to ``level``; returns the new levels."""
        return self._run(_ops.set_log_level(level))

    def set_component_log_levels(self, levels: Mapping[str, str]) -> dict[str, str]:
        """Set some loggers, e.g. ``{"upstream": "debug"}``; returns the new levels."""
        return self._run(_ops.set_component_log_levels(levels))

    def drain_listeners(
        self, graceful: bool = False, inbound_only: bool = False, skip_exit: bool = False
    ) -> None:
        """Drain listeners (``graceful`` waits the drain period before closing them)."""
        return self._run(_ops.drain_listeners(graceful, inbound_only, skip_exit))

    def healthcheck_fail(self) -> None:
        """Make envoy fail health checks (first step of a graceful shutdown)."""
        return self._run(_ops.healthcheck_fail())

    def healthcheck_ok(self) -> None:
        """Make envoy pass health checks again."""
        return self._run(_ops.healthcheck_ok())

    def reset_counters(self) -> None:
        """Reset every counter to zero."""
        return self._run(_ops.reset_counters())

    def quit(self) -> None:
        """Ask envoy to exit (``/quitquitquit``)."""
        return self._run(_ops.quit())

    def help(self) -> str:
        """The ``/help`` text of the running envoy."""
        return self._run(_ops.help())

    def request(self, method: str, path: str, params: Mapping[str, str] | None = None) -> p.Reply:
        """Any admin request (parameters checked against ``/help``); any status is returned."""
        return self._run(_ops.raw(method, path, params))


class AsyncAdminClient(_Core):
    """The asyncio twin of :class:`AdminClient`: same methods, awaited."""

    def __init__(
        self,
        address: p.Address,
        *,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        check_params: bool = True,
    ) -> None:
        super().__init__(address, timeout=timeout, check_params=check_params)
        if transport is None and self._uds is not None:
            transport = httpx.AsyncHTTPTransport(uds=self._uds)
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, transport=transport)

    async def __aenter__(self) -> AsyncAdminClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def _run(self, op: p.Operation[T]) -> T:
        steps = self._steps(op)
        reply: p.Reply | None = None
        while True:
            try:
                step = steps.send(reply)
            except StopIteration as stop:
                result: T = stop.value
                return result
            reply = await self._do(step)

    async def _do(self, step: p.Step) -> p.Reply | None:
        if isinstance(step, p.Sleep):
            await asyncio.sleep(step.seconds)
            return None
        started = time.monotonic()
        try:
            response = await self._http.request(step.method, step.path, params=step.params)
        except httpx.HTTPError as exc:
            raise self._error(step, exc) from exc
        return self._reply(step, response, started)

    # --- endpoints (one line each; the logic is in _ops) ---
    async def ready(self) -> bool:
        """True when envoy is LIVE (``/ready`` 200), False otherwise (503)."""
        return await self._run(_ops.ready())

    async def server_info(self) -> ServerInfo:
        """Version, state, restart epoch, uptimes and command-line options."""
        return await self._run(_ops.server_info())

    async def listeners(self) -> dict[str, tuple[str, int]]:
        """Listener name → bound (host, port); real ports for listeners bound to port 0."""
        return await self._run(_ops.listeners())

    async def stats(
        self,
        filter: str | None = None,
        usedonly: bool = False,
        type: str | None = None,
        invert_filter: bool = False,
    ) -> StatsSnapshot:
        """A typed snapshot of counters, gauges, text readouts and histograms."""
        return await self._run(_ops.stats(filter, usedonly, type, invert_filter))

    async def stats_text(
        self,
        filter: str | None = None,
        usedonly: bool = False,
        type: str | None = None,
        invert_filter: bool = False,
        histogram_buckets: str | None = None,
    ) -> str:
        """``/stats`` in envoy's text format."""
        return await self._run(
            _ops.stats_text(filter, usedonly, type, invert_filter, histogram_buckets)
        )

    async def prometheus(
        self,
        filter: str | None = None,
        usedonly: bool = False,
        text_readouts: bool = False,
        invert_filter: bool = False,
        histogram_buckets: str | None = None,
    ) -> str:
        """``/stats/prometheus`` as text."""
        return await self._run(
            _ops.prometheus(filter, usedonly, text_readouts, invert_filter, histogram_buckets)
        )

    async def wait_for(
        self, stat: str, predicate: Predicate, timeout: float = 5.0, interval: float = 0.05
    ) -> Any:
        """Poll ``stat`` until ``predicate(value)`` holds; return it, or raise AdminTimeout."""
        return await self._run(_ops.wait_for(stat, predicate, timeout, interval))

    async def config_dump(
        self,
        resource: str | None = None,
        mask: str | None = None,
        name_regex: str | None = None,
        include_eds: bool = False,
    ) -> ConfigDump:
        """``/config_dump`` with typed accessors for listeners, clusters, routes, secrets."""
        return await self._run(_ops.config_dump(resource, mask, name_regex, include_eds))

    async def clusters(self, filter: str | None = None) -> dict[str, ClusterStatus]:
        """Cluster name → hosts with health flags and per-host stats."""
        return await self._run(_ops.clusters(filter))

    async def certs(self) -> list[Certificate]:
        """Every loaded certificate with its days until expiry."""
        return await self._run(_ops.certs())

    async def memory(self) -> MemoryInfo:
        """Allocator figures in bytes."""
        return await self._run(_ops.memory())

    async def runtime(self) -> RuntimeInfo:
        """Runtime layers and values."""
        return await self._run(_ops.runtime())

    async def runtime_modify(
        self, values: Mapping[str, RuntimeValue] | None = None, /, **more: RuntimeValue
    ) -> None:
        """Set runtime keys (``{"a.b": 1}`` or keywords); "" deletes an admin override."""
        return await self._run(_ops.runtime_modify({**(values or {}), **more}))

    async def logging(self) -> dict[str, str]:
        """Logger name → level."""
        return await self._run(_ops.logging())

    async def set_log_level(self, level: str) -> dict[str, str]:
        """Set every logger to ``level``; returns the new levels."""
        return await self._run(_ops.set_log_level(level))

    async def set_component_log_levels(self, levels: Mapping[str, str]) -> dict[str, str]:
        """Set some loggers, e.g. ``{"upstream": "debug"}``; returns the new levels."""
        return await self._run(_ops.set_component_log_levels(levels))

    async def drain_listeners(
        self, graceful: bool = False, inbound_only: bool = False, skip_exit: bool = False
    ) -> None:
        """Drain listeners (``graceful`` waits the drain period before closing them)."""
        return await self._run(_ops.drain_listeners(graceful, inbound_only, skip_exit))

    async def healthcheck_fail(self) -> None:
        """Make envoy fail health checks (first step of a graceful shutdown)."""
        return await self._run(_ops.healthcheck_fail())

    async def healthcheck_ok(self) -> None:
        """Make envoy pass health checks again."""
        return await self._run(_ops.healthcheck_ok())

    async def reset_counters(self) -> None:
        """Reset every counter to zero."""
        return await self._run(_ops.reset_counters())

    async def quit(self) -> None:
        """Ask envoy to exit (``/quitquitquit``)."""
        return await self._run(_ops.quit())

    async def help(self) -> str:
        """The ``/help`` text of the running envoy."""
        return await self._run(_ops.help())

    async def request(
        self, method: str, path: str, params: Mapping[str, str] | None = None
    ) -> p.Reply:
        """Any admin request (parameters checked against ``/help``); any status is returned."""
        return await self._run(_ops.raw(method, path, params))
