"""The asyncio admin client; the blocking :class:`AdminClient` is generated from this file.

``scripts/unasync.py`` writes ``_sync_client.py`` from it (``make lint`` fails when that file
is stale): edit this file, then run ``python scripts/unasync.py``. All endpoint logic lives in
:mod:`envoykit.admin._ops`; each method here is one line that hands an operation to ``_run``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import httpx

from envoykit.admin import _ops
from envoykit.admin import _protocol as p
from envoykit.admin._config_dump import ConfigDump
from envoykit.admin._core import Core, Predicate, RuntimeValue, T
from envoykit.admin._models import Certificate, ClusterStatus, MemoryInfo, RuntimeInfo, ServerInfo
from envoykit.admin._prometheus import PrometheusMetrics
from envoykit.admin._stats import Histogram, StatsSnapshot

__all__ = ["AsyncAdminClient"]


class AsyncAdminClient(Core):
    """An asyncio client for envoy's admin API.

    ``address`` is ``"127.0.0.1:9901"``, ``"http://127.0.0.1:9901"``, ``("::1", 9901)`` or
    ``"unix:/path/admin.sock"``. Use it as an async context manager or await :meth:`aclose`.
    """

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

    async def prometheus_text(
        self,
        filter: str | None = None,
        usedonly: bool = False,
        text_readouts: bool = False,
        invert_filter: bool = False,
        histogram_buckets: str | None = None,
    ) -> str:
        """``/stats/prometheus`` as text."""
        return await self._run(
            _ops.prometheus_text(filter, usedonly, text_readouts, invert_filter, histogram_buckets)
        )

    async def prometheus(
        self,
        filter: str | None = None,
        usedonly: bool = False,
        text_readouts: bool = False,
        invert_filter: bool = False,
        histogram_buckets: str | None = None,
    ) -> PrometheusMetrics:
        """``/stats/prometheus`` parsed by ``prometheus_client``: families by name."""
        return await self._run(
            _ops.prometheus(filter, usedonly, text_readouts, invert_filter, histogram_buckets)
        )

    async def histograms(
        self, filter: str | None = None, usedonly: bool = False
    ) -> dict[str, Histogram]:
        """Histograms by name: quantiles (cumulative and interval) and detailed buckets."""
        return await self._run(_ops.histograms(filter, usedonly))

    async def histogram(self, name: str) -> Histogram:
        """One histogram by its exact name, with quantiles and detailed buckets."""
        return await self._run(_ops.histogram(name))

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
