"""One operation per admin endpoint, written once for the sync and the async client.

Each function returns a generator (see :mod:`envoykit.admin._protocol`): it yields the
requests to send and turns the replies into typed results. Nothing here does I/O.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from envoykit.admin import _protocol as p
from envoykit.admin._config_dump import ConfigDump
from envoykit.admin._models import (
    Certificate,
    ClusterStatus,
    MemoryInfo,
    RuntimeInfo,
    ServerInfo,
    parse_certs,
    parse_clusters,
    parse_listeners,
    parse_logging,
    parse_memory,
    parse_runtime,
    parse_server_info,
)
from envoykit.admin._prometheus import PrometheusMetrics, parse_prometheus
from envoykit.admin._stats import Histogram, StatsSnapshot, parse_stats_json
from envoykit.errors import AdminTimeout

RuntimeValue = str | int | float | bool

_STAT_TYPES = {"counters": "Counters", "gauges": "Gauges"}


def ready() -> p.Operation[bool]:
    """GET /ready: True when 200 (LIVE), False when 503."""
    reply = yield from p.send(p.Call("GET", "/ready", ok=frozenset({200, 503})))
    return reply.status == 200


def server_info() -> p.Operation[ServerInfo]:
    """GET /server_info."""
    data = yield from p.send_json(p.get("/server_info"))
    return parse_server_info(data)


def listeners() -> p.Operation[dict[str, tuple[str, int]]]:
    """GET /listeners?format=json."""
    data = yield from p.send_json(p.get("/listeners", {"format": "json"}))
    return parse_listeners(data)


def _stats_params(
    filter: str | None, usedonly: bool, type: str | None, invert_filter: bool = False
) -> dict[str, str | None]:
    return {
        "filter": filter,
        "usedonly": p.flag(usedonly),
        "invert_filter": p.flag(invert_filter),
        "type": type,
    }


def stats(
    filter: str | None = None,
    usedonly: bool = False,
    type: str | None = None,
    invert_filter: bool = False,
) -> p.Operation[StatsSnapshot]:
    """GET /stats?format=json, once per stat type so counters and gauges can be told apart."""
    wanted = ["Counters", "Gauges", "TextReadouts", "Histograms"]
    if type is not None and type.lower() != "all":
        wanted = [type]
    parts = []
    for kind in wanted:
        params = {"format": "json", **_stats_params(filter, usedonly, kind, invert_filter)}
        reply = yield from p.send(p.get("/stats", params))
        numbers = "gauges" if kind.lower() == "gauges" else "counters"
        parts.append(parse_stats_json(reply.body, numbers=numbers))
    return StatsSnapshot().merge(*parts)


def stats_text(
    filter: str | None = None,
    usedonly: bool = False,
    type: str | None = None,
    invert_filter: bool = False,
    histogram_buckets: str | None = None,
) -> p.Operation[str]:
    """GET /stats (plain text, one ``name: value`` per line)."""
    params = _stats_params(filter, usedonly, type, invert_filter)
    params["histogram_buckets"] = histogram_buckets
    reply = yield from p.send(p.get("/stats", params))
    return reply.text


def prometheus_text(
    filter: str | None = None,
    usedonly: bool = False,
    text_readouts: bool = False,
    invert_filter: bool = False,
    histogram_buckets: str | None = None,
) -> p.Operation[str]:
    """GET /stats/prometheus."""
    params = _stats_params(filter, usedonly, None, invert_filter)
    params["text_readouts"] = p.flag(text_readouts)
    params["histogram_buckets"] = histogram_buckets
    reply = yield from p.send(p.get("/stats/prometheus", params))
    return reply.text


def prometheus(
    filter: str | None = None,
    usedonly: bool = False,
    text_readouts: bool = False,
    invert_filter: bool = False,
    histogram_buckets: str | None = None,
) -> p.Operation[PrometheusMetrics]:
    """GET /stats/prometheus, parsed by prometheus_client."""
    text = yield from prometheus_text(filter, usedonly, text_readouts, invert_filter,
                                      histogram_buckets)
    return parse_prometheus(text)


def histograms(filter: str | None = None, usedonly: bool = False) -> p.Operation[
        dict[str, Histogram]]:
    """GET /stats?format=json&type=Histograms&histogram_buckets=detailed."""
    params = {"format": "json", "histogram_buckets": "detailed",
              **_stats_params(filter, usedonly, "Histograms")}
    reply = yield from p.send(p.get("/stats", params))
    return dict(parse_stats_json(reply.body).histograms)


def histogram(name: str) -> p.Operation[Histogram]:
    """One histogram by its exact name; KeyError naming it when envoy has none."""
    found = yield from histograms(f"^{re.escape(name)}$")
    if name not in found:
        raise KeyError(f"envoy has no histogram {name!r} (admin.histograms() lists them)")
    return found[name]


def wait_for(
    stat: str,
    predicate: Callable[[Any], bool],
    timeout: float = 5.0,
    interval: float = 0.05,
) -> p.Operation[Any]:
    """Poll ``stat`` until ``predicate(value)`` is true; return the value.

    Raises :class:`AdminTimeout` (naming the last value seen) after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    pattern = f"^{re.escape(stat)}$"
    last: Any = None
    while True:
        snapshot = yield from stats(filter=pattern)
        if stat in snapshot:
            last = snapshot[stat]
            if predicate(last):
                return last
        if time.monotonic() >= deadline:
            seen = "never present" if last is None else f"last value {last!r}"
            raise AdminTimeout(
                f"{stat} did not satisfy the predicate within {timeout:g}s ({seen})",
                endpoint="/stats",
            )
        yield p.Sleep(interval)


def config_dump(
    resource: str | None = None,
    mask: str | None = None,
    name_regex: str | None = None,
    include_eds: bool = False,
) -> p.Operation[ConfigDump]:
    """GET /config_dump."""
    params = {
        "resource": resource,
        "mask": mask,
        "name_regex": name_regex,
        "include_eds": p.flag(include_eds),
    }
    data = yield from p.send_json(p.get("/config_dump", params))
    return ConfigDump(data, resource=resource)


def clusters(filter: str | None = None) -> p.Operation[dict[str, ClusterStatus]]:
    """GET /clusters?format=json."""
    params = {"format": "json", "filter": filter}
    call = p.Call("GET", "/clusters", p.pairs(params), unchecked=frozenset({"format"}))
    data = yield from p.send_json(call)
    return parse_clusters(data)


def certs() -> p.Operation[list[Certificate]]:
    """GET /certs."""
    data = yield from p.send_json(p.get("/certs"))
    return parse_certs(data)


def memory() -> p.Operation[MemoryInfo]:
    """GET /memory."""
    data = yield from p.send_json(p.get("/memory"))
    return parse_memory(data)


def runtime() -> p.Operation[RuntimeInfo]:
    """GET /runtime."""
    data = yield from p.send_json(p.get("/runtime"))
    return parse_runtime(data)


def runtime_modify(values: Mapping[str, RuntimeValue]) -> p.Operation[None]:
    """POST /runtime_modify?key=value… (needs an admin layer in the bootstrap's runtime)."""
    params = tuple((key, _runtime_text(value)) for key, value in values.items())
    yield from p.send(p.Call("POST", "/runtime_modify", params, check_params=False))


def _runtime_text(value: RuntimeValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def logging() -> p.Operation[dict[str, str]]:
    """POST /logging without parameters: the level of every logger."""
    reply = yield from p.send(p.post("/logging"))
    return parse_logging(reply.text)


def set_log_level(level: str) -> p.Operation[dict[str, str]]:
    """POST /logging?level=…: set every logger; returns the new levels."""
    reply = yield from p.send(p.post("/logging", {"level": level}))
    return parse_logging(reply.text)


def set_component_log_levels(levels: Mapping[str, str]) -> p.Operation[dict[str, str]]:
    """POST /logging?paths=name:level,…: set some loggers; returns the new levels."""
    if not levels:
        raise ValueError("set_component_log_levels needs at least one logger")
    paths = ",".join(f"{name}:{level}" for name, level in levels.items())
    reply = yield from p.send(p.post("/logging", {"paths": paths}))
    return parse_logging(reply.text)


def drain_listeners(
    graceful: bool = False, inbound_only: bool = False, skip_exit: bool = False
) -> p.Operation[None]:
    """POST /drain_listeners."""
    params = {
        "graceful": p.flag(graceful),
        "inboundonly": p.flag(inbound_only),
        "skip_exit": p.flag(skip_exit),
    }
    yield from p.send(p.post("/drain_listeners", params))


def healthcheck_fail() -> p.Operation[None]:
    """POST /healthcheck/fail."""
    yield from p.send(p.post("/healthcheck/fail"))


def healthcheck_ok() -> p.Operation[None]:
    """POST /healthcheck/ok."""
    yield from p.send(p.post("/healthcheck/ok"))


def reset_counters() -> p.Operation[None]:
    """POST /reset_counters."""
    yield from p.send(p.post("/reset_counters"))


def quit() -> p.Operation[None]:
    """POST /quitquitquit: envoy exits."""
    yield from p.send(p.post("/quitquitquit"))


def help() -> p.Operation[str]:
    """GET /help: the endpoint list of the running envoy."""
    reply = yield from p.send(p.get("/help"))
    return reply.text


def raw(method: str, path: str, params: Mapping[str, str] | None = None) -> p.Operation[p.Reply]:
    """Any admin request; parameters are checked against ``/help``, any status is returned."""
    pairs = p.pairs(params)
    return (yield from p.send(p.Call(method.upper(), path, pairs, ok=_ANY_STATUS)))


_ANY_STATUS = frozenset(range(100, 600))
