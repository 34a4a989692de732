"""The blocking admin client. GENERATED from ``_async_client.py`` by
``scripts/unasync.py``: do not edit; edit the asyncio client and run the script."""

from __future__ import annotations

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

__all__ = ["AdminClient"]


class AdminClient(Core):
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

    def prometheus_text(
        self,
        filter: str | None = None,
        usedonly: bool = False,
        text_readouts: bool = False,
        invert_filter: bool = False,
        histogram_buckets: str | None = None,
    ) -> str:
        """``/stats/prometheus`` as text."""
        return self._run(
            _ops.prometheus_text(filter, usedonly, text_readouts, invert_filter, histogram_buckets)
        )

    def prometheus(
        self,
        filter: str | None = None,
        usedonly: bool = False,
        text_readouts: bool = False,
        invert_filter: bool = False,
        histogram_buckets: str | None = None,
    ) -> PrometheusMetrics:
        """``/stats/prometheus`` parsed by ``prometheus_client``: families by name."""
        return self._run(
            _ops.prometheus(filter, usedonly, text_readouts, invert_filter, histogram_buckets)
        )

    def histograms(self, filter: str | None = None, usedonly: bool = False) -> dict[str, Histogram]:
        """Histograms by name: quantiles (cumulative and interval) and detailed buckets."""
        return self._run(_ops.histograms(filter, usedonly))

    def histogram(self, name: str) -> Histogram:
        """One histogram by its exact name, with quantiles and detailed buckets."""
        return self._run(_ops.histogram(name))

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
