"""``envoykit top``: a live view of a running envoy, from its admin API only.

Each interval one sample is taken (stats, ``/server_info``, ``/clusters``; the route
table from ``/config_dump`` now and then) and turned into a *frame*: a JSON-ready dict
with the server, one row per site and one per upstream cluster. A site is a virtual host
that routes to a cluster. Where the site has a connection manager of its own whose router
keeps no per-upstream stats (envoykit's HTTPS sites by default), its row is that
connection manager's (``http.<prefix>.downstream_rq_<class>``, ``downstream_rq_time``:
every answer of the site, its clusters named together); otherwise one row per cluster it
routes to, from the cluster's ``upstream_rq_<class>`` and ``upstream_rq_time`` (the
router's dynamic stats; without them only ``upstream_rq_total`` is known and the classes
are ``None``). Each row adds the local rate limit counters named after the site. A route
with a ``stat_prefix`` gets its own row from envoy's route stats
(``vhost.<vhost>.route.<stat_prefix>.*``). The frame is drawn by
:mod:`envoykit._cli._top_view`, printed once (``--once``) or written as one JSON object
per line (``--json``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from envoykit._cli.args import SubParsers, add_admin, seconds_between
from envoykit.admin import AdminClient, ClusterStatus, Histogram, StatsSnapshot

__all__ = ["Sampler", "register", "run"]

STATS_FILTER = (r"^(cluster\.|server\.|vhost\.[^.]+\.route\.)"
                r"|^http\.[^.]+\.downstream_rq_(?:[1-5]xx|time)$"
                r"|\.http_local_rate_limit\.rate_limited$")
HISTORY = 60  # sparkline points: the last minute at one frame a second
ROUTES_EVERY = 10  # re-read the route table every N frames (xDS may change it)
CLASSES = ("2xx", "3xx", "4xx", "5xx")
_LIMITED_RE = re.compile(r"^(?:.*\.)?(?P<prefix>[^.]+)\.http_local_rate_limit\.rate_limited$")


def register(subparsers: SubParsers) -> argparse.ArgumentParser:
    """Add ``top`` to the ``envoykit`` commands."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "top", help="a live view of a running envoy (sites, upstreams, latency)",
        description="A live full-screen view of a running envoy, refreshed every interval: "
        "per site requests/s, 2xx-5xx, rate-limited, p50/p95/p99 latency and a sparkline; "
        "per upstream healthy/total hosts, active requests, retries, ejections; the server. "
        "Keys: s sort, / filter, q quit.")
    add_admin(p)  # --admin, --timeout, --json
    p.add_argument("--interval", type=seconds_between(0.05, 3600), default=1.0, metavar="SECONDS",
                   help="time between frames (default 1)")
    p.add_argument("--sort", choices=SORT_KEYS, default="rps", help="site order (default rps)")
    p.add_argument("--filter", default="", metavar="TEXT", help="only sites and upstreams "
                   "whose name contains TEXT")
    p.add_argument("--once", action="store_true", help="print one frame and exit")
    return p


def run(args: argparse.Namespace) -> int:
    """``envoykit top``."""
    from envoykit._cli import _top_view as view

    with AdminClient(args.admin, timeout=args.timeout) as admin:
        sampler = Sampler(admin)
        if args.once:
            sampler.sample()
            time.sleep(args.interval)  # the second sample gives the rates
            frame = select(sampler.sample(), args.sort, args.filter)
            sys.stdout.write(json.dumps(frame) + "\n" if args.json else view.text(frame))
            return 0
        if args.json:
            for frame in sampler.frames(args.interval):
                sys.stdout.write(json.dumps(select(frame, args.sort, args.filter)) + "\n")
                sys.stdout.flush()
            return 0
        return view.live(sampler, args.interval, args.sort, args.filter)


# --- sampling ------------------------------------------------------------------------------

SORT_KEYS = ("rps", "5xx", "p99", "site")


@dataclass
class Sampler:
    """Turns admin samples into frames; keeps the previous sample and the history."""

    admin: AdminClient
    _previous: tuple[float, StatsSnapshot] | None = None
    _sites: list[Target] = field(default_factory=list)
    _history: dict[str, deque[float]] = field(default_factory=dict)
    _count: int = 0

    def frames(self, interval: float) -> Iterator[dict[str, Any]]:
        """A frame every ``interval`` seconds, forever."""
        self.sample()
        while True:
            time.sleep(interval)
            yield self.sample()

    def sample(self) -> dict[str, Any]:
        """Read envoy now; a frame with rates since the previous call (0 the first time)."""
        if self._count % ROUTES_EVERY == 0:
            self._sites = sites_of(self.admin.config_dump().raw)
        self._count += 1
        stats = self.admin.stats(filter=STATS_FILTER)
        now = time.monotonic()
        info, clusters = self.admin.server_info(), self.admin.clusters()
        previous = self._previous or (now, stats)
        self._previous = (now, stats)
        elapsed = max(now - previous[0], 1e-6)
        sites = [self._site(target, stats, previous[1], elapsed) for target in self._sites]
        return {
            "admin": str(self.admin.address),
            "server": {"version": info.version_number, "state": info.state,
                       "epoch": info.restart_epoch, "uptime_s": info.uptime_current_epoch,
                       "connections": stats.number("server.total_connections", 0),
                       "memory_allocated": stats.number("server.memory_allocated", 0),
                       "memory_heap_size": stats.number("server.memory_heap_size", 0)},
            "sites": sites,
            "upstreams": [upstream_row(c, stats) for _, c in sorted(clusters.items())],
            "sample_seconds": round(elapsed if previous[1] is not stats else 0.0, 3),
        }

    def _site(self, target: Target, now: StatsSnapshot, before: StatsSnapshot,
              elapsed: float) -> dict[str, Any]:
        codes, answered = _answers(target, now)
        answered_before = _answers(target, before)[1]
        rps = round((answered - answered_before) / elapsed, 2) if before is not now else 0.0
        history = self._history.setdefault(target.base, deque(maxlen=HISTORY))
        if before is not now:
            history.append(rps)
        latency = now.histograms.get(f"{target.base}.{target.kind}_rq_time")
        limited = None if target.route is not None else \
            rate_limited(now, target.base[len("http."):]) if target.front else \
            rate_limited(now, target.cluster)
        return {"site": target.site, "route": target.route, "cluster": target.cluster,
                "rps": rps, "requests": answered, **codes, "rate_limited": limited,
                **{f"p{q:g}": _quantile(latency, q) for q in (50, 95, 99)},
                "history": list(history)}


def _answers(target: Target, stats: StatsSnapshot) -> tuple[dict[str, int | None], int]:
    """The row's response classes and its count of answered requests. Without per-class
    counters (a router without dynamic stats) the classes are ``None`` and the count is
    the requests sent upstream."""
    names = {c: f"{target.base}.{target.kind}_rq_{c}" for c in CLASSES}
    if target.front or any(n in stats.counters for n in names.values()):
        codes = {c: stats.counters.get(n, 0) for c, n in names.items()}
        return dict(codes), sum(codes.values())
    return dict.fromkeys(CLASSES), stats.counters.get(f"{target.base}.upstream_rq_total", 0)


def _quantile(histogram: Histogram | None, q: float) -> float | None:
    """The last flush interval's value when it had samples, else the cumulative one."""
    if histogram is None:
        return None
    value = histogram.interval.get(float(q))
    if not value:
        value = histogram.cumulative.get(float(q))
    return value


def rate_limited(stats: StatsSnapshot, name: str) -> int:
    """Local rate limit rejections of the filters whose stat prefix names ``name``
    (``name``, ``http_<name>``, ``https_<name>``… as envoykit's builder writes them)."""
    total = 0
    for counter, value in stats.counters.items():
        match = _LIMITED_RE.match(counter)
        if match and (match["prefix"] == name or match["prefix"].endswith(f"_{name}")):
            total += value
    return total


def upstream_row(cluster: ClusterStatus, stats: StatsSnapshot) -> dict[str, Any]:
    """One upstream cluster: host health and the gauges an operator looks at."""
    base = f"cluster.{cluster.observability_name or cluster.name}"
    return {
        "cluster": cluster.name,
        "healthy": len(cluster.healthy_hosts),
        "hosts": len(cluster.hosts),
        "unhealthy": [_address(h.address) for h in cluster.hosts if not h.healthy],
        "active_requests": stats.number(f"{base}.upstream_rq_active", 0),
        "retries": stats.number(f"{base}.upstream_rq_retry", 0),
        "ejections": stats.number(f"{base}.outlier_detection.ejections_active", 0),
        "5xx": stats.number(f"{base}.upstream_rq_5xx",
                            sum(h.stats.get("rq_error", 0) for h in cluster.hosts)),
    }


def _address(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True)
class Target:
    """One row of the sites table: a site (its first domain and cluster) or, for a route
    with a ``stat_prefix``, that route; ``base`` is where its stats live. ``front``: the
    base is the site's own connection manager (``http.<prefix>``, the ``downstream_rq_*``
    stats) and ``cluster`` names all the clusters it routes to."""

    site: str
    cluster: str
    route: str | None
    base: str
    front: bool = False

    @property
    def kind(self) -> str:
        """The stats' first word: ``downstream`` (front) or ``upstream``."""
        return "downstream" if self.front else "upstream"


def sites_of(config_dump: Mapping[str, Any]) -> list[Target]:
    """A row for every virtual host that routes to a cluster and for every route with a
    ``stat_prefix``, wherever the route table lives (inline in a listener, static or
    dynamic route configs): one row per site from its own connection manager where it
    has one without the router's per-upstream stats, else one per site and cluster."""
    fronts = _fronts(config_dump)
    found: dict[Target, None] = {}
    for table in _route_tables(config_dump):
        front = fronts.get(_table_key(table))
        for vhost in table["virtual_hosts"]:
            if isinstance(vhost, Mapping):
                found.update(dict.fromkeys(_targets(vhost, front)))
    return list(found)


def _targets(vhost: Mapping[str, Any], front: str | None) -> Iterator[Target]:
    domains = vhost.get("domains") or [vhost.get("name", "?")]
    site = str(domains[0])
    routed = list(_routed(vhost))
    if front and routed:
        clusters = dict.fromkeys(cluster for _, cluster in routed)
        yield Target(site, ", ".join(clusters), None, f"http.{front}", front=True)
    for route, cluster in routed:
        if not front:
            yield Target(site, cluster, None, f"cluster.{cluster}")
        if route.get("stat_prefix"):
            prefix = str(route["stat_prefix"])
            yield Target(site, cluster, prefix, f"vhost.{vhost.get('name', '')}.route.{prefix}")


def _routed(vhost: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], str]]:
    """The routes of a virtual host that forward to a cluster, with the cluster."""
    for route in vhost.get("routes", []):
        cluster = (route.get("route") or {}).get("cluster")
        if cluster:
            yield route, str(cluster)


def _table_key(table: Mapping[str, Any]) -> object:
    """A route table by name (``/config_dump`` lists an inline table twice: in its
    listener and among the static route configs), by identity when it has none."""
    return table.get("name") or id(table)


def _fronts(node: Any) -> dict[object, str]:
    """Route table → stat prefix, for the tables of one virtual host inline in a
    connection manager whose router has ``dynamic_stats: false``."""
    found: dict[object, str] = {}
    for hcm in _connection_managers(node):
        table = hcm.get("route_config") or {}
        hosts = table.get("virtual_hosts") or []
        if len(hosts) == 1 and isinstance(hosts[0], Mapping) and _no_dynamic_stats(hcm):
            found[_table_key(table)] = str(hcm["stat_prefix"])
    return found


def _no_dynamic_stats(hcm: Mapping[str, Any]) -> bool:
    return any((f.get("typed_config") or {}).get("dynamic_stats") is False
               for f in hcm.get("http_filters", []) if isinstance(f, Mapping))


def _connection_managers(node: Any) -> Iterator[Mapping[str, Any]]:
    return (m for m in _mappings(node) if "stat_prefix" in m and "http_filters" in m)


def _route_tables(node: Any) -> Iterator[Mapping[str, Any]]:
    return (m for m in _mappings(node) if isinstance(m.get("virtual_hosts"), list))


def _mappings(node: Any) -> Iterator[Mapping[str, Any]]:
    """Every mapping in a JSON tree, outer first."""
    if isinstance(node, Mapping):
        yield node
        for value in node.values():
            yield from _mappings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _mappings(item)


def select(frame: dict[str, Any], sort: str, text: str) -> dict[str, Any]:
    """The frame with sites sorted by ``sort`` and both tables filtered by ``text``."""
    sites = [s for s in frame["sites"]
             if text in s["site"] or text in s["cluster"] or text in (s["route"] or "")]
    if sort == "site":
        sites.sort(key=lambda s: (s["site"], s["route"] or ""))
    else:
        key = {"rps": "rps", "5xx": "5xx", "p99": "p99"}[sort]
        sites.sort(key=lambda s: (-(s[key] or 0), s["site"], s["route"] or ""))
    upstreams = [u for u in frame["upstreams"] if text in u["cluster"]]
    return {**frame, "sites": sites, "upstreams": upstreams}
