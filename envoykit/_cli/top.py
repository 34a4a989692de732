"""``envoykit top``: a live view of a running envoy, from its admin API only.

Each interval one sample is taken (stats, ``/server_info``, ``/clusters``; the route
table from ``/config_dump`` now and then) and turned into a *frame*: a JSON-ready dict
with the server, one row per site and one per upstream cluster. A site is a virtual host
that routes to a cluster; its figures are the cluster's (response classes, latency from
``cluster.<name>.upstream_rq_time``) plus the local rate limit counters named after it.
A route with a ``stat_prefix`` gets its own row from envoy's route stats
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
        base = target.base
        codes = {c: now.counters.get(f"{base}.upstream_rq_{c}", 0) for c in CLASSES}
        answered = sum(codes.values())
        answered_before = sum(before.counters.get(f"{base}.upstream_rq_{c}", 0) for c in CLASSES)
        rps = round((answered - answered_before) / elapsed, 2) if before is not now else 0.0
        history = self._history.setdefault(base, deque(maxlen=HISTORY))
        if before is not now:
            history.append(rps)
        latency = now.histograms.get(f"{base}.upstream_rq_time")
        limited = rate_limited(now, target.cluster) if target.route is None else None
        return {"site": target.site, "route": target.route, "cluster": target.cluster,
                "rps": rps, "requests": answered, **codes, "rate_limited": limited,
                **{f"p{q:g}": _quantile(latency, q) for q in (50, 95, 99)},
                "history": list(history)}


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
        "5xx": stats.number(f"{base}.upstream_rq_5xx", 0),
    }


def _address(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True)
class Target:
    """One row of the sites table: a site (its first domain and cluster) or, for a route
    with a ``stat_prefix``, that route; ``base`` is where its ``upstream_rq_*`` stats live."""

    site: str
    cluster: str
    route: str | None
    base: str


def sites_of(config_dump: Mapping[str, Any]) -> list[Target]:
    """A row for every virtual host that routes to a cluster and for every route with a
    ``stat_prefix``, wherever the route table lives (inline in a listener, static or
    dynamic route configs)."""
    found: dict[Target, None] = {}
    for vhost in _virtual_hosts(config_dump):
        domains = vhost.get("domains") or [vhost.get("name", "?")]
        for route in vhost.get("routes", []):
            cluster = (route.get("route") or {}).get("cluster")
            if not cluster:
                continue
            site = str(domains[0])
            found[Target(site, str(cluster), None, f"cluster.{cluster}")] = None
            if route.get("stat_prefix"):
                prefix = str(route["stat_prefix"])
                base = f"vhost.{vhost.get('name', '')}.route.{prefix}"
                found[Target(site, str(cluster), prefix, base)] = None
    return list(found)


def _virtual_hosts(node: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(node, Mapping):
        hosts = node.get("virtual_hosts")
        if isinstance(hosts, list):
            yield from (h for h in hosts if isinstance(h, Mapping))
        for value in node.values():
            yield from _virtual_hosts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _virtual_hosts(item)


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
