"""``envoykit status``: one look at a running envoy through its admin API.

Two stats samples ``interval`` seconds apart give request rates. The admin's own HTTP
connection manager (``http.admin``) is left out: it would only count our own polling.
Rate-limit counters (``…rate_limited``, ``…over_limit``) are listed by name: they live
under each filter's own ``stat_prefix``, not under the connection manager's.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Mapping
from typing import Any

from envoykit._cli.args import EXIT_OK, SubParsers, add_admin, seconds
from envoykit._cli.output import print_json, table
from envoykit._util import host_port
from envoykit.admin import AdminClient, ClusterStatus, ServerInfo, StatsSnapshot

__all__ = ["STATS_FILTER", "format_status", "gather_status", "register", "run"]

STATS_FILTER = (
    r"((downstream|upstream)_rq_(total|4xx|5xx)|rate_limited|over_limit)$"
)
_HCM_RE = re.compile(r"^http\.(?P<prefix>.+)\.downstream_rq_total$")
_LIMITED_RE = re.compile(r"(^|\.)(rate_limited|over_limit)$")
_SKIP_PREFIXES = {"admin"}


def register(subparsers: SubParsers) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "status", help="a running envoy at a glance",
        description="Server state, epoch and uptime; listeners; clusters with "
        "host health; request rates, 4xx/5xx and rate-limited counters.")
    add_admin(p)
    p.add_argument("--interval", type=seconds, default=1.0, metavar="SECONDS",
                   help="time between the two stats samples for rates (default 1)")
    return p


def run(args: argparse.Namespace) -> int:
    with AdminClient(args.admin, timeout=args.timeout) as admin:
        status = gather_status(admin, interval=args.interval)
    if args.json:
        print_json(status)
    else:
        sys.stdout.write(format_status(status) + "\n")
    return EXIT_OK


def gather_status(admin: AdminClient, interval: float = 1.0) -> dict[str, Any]:
    """Server, listeners, clusters, per-HCM and per-cluster traffic as a JSON-ready dict."""
    first = admin.stats(filter=STATS_FILTER)
    started = time.monotonic()
    info = admin.server_info()
    listeners = admin.listeners()
    clusters = admin.clusters()
    time.sleep(max(0.0, interval - (time.monotonic() - started)))
    second = admin.stats(filter=STATS_FILTER)
    elapsed = max(time.monotonic() - started, 1e-6)
    return {
        "admin": str(admin.address),
        "server": _server(info),
        "listeners": {name: _addr(addr) for name, addr in sorted(listeners.items())},
        "clusters": {name: _cluster(c, first, second, elapsed)
                     for name, c in sorted(clusters.items())},
        "http": _http(first, second, elapsed),
        "rate_limited": {k: v for k, v in sorted(second.counters.items())
                         if _LIMITED_RE.search(k)},
        "sample_seconds": round(elapsed, 3),
    }


def _server(info: ServerInfo) -> dict[str, Any]:
    return {
        "version": info.version_number,
        "state": info.state,
        "epoch": info.restart_epoch,
        "uptime_s": info.uptime_current_epoch,
        "uptime_all_epochs_s": info.uptime_all_epochs,
    }


def _addr(address: tuple[str, int]) -> str:
    host, port = address
    if port == 0:
        return host
    return host_port(host, port)


def _counter(snap: StatsSnapshot, name: str) -> int:
    return int(snap.counters.get(name, 0))


def _traffic(first: StatsSnapshot, second: StatsSnapshot, base: str, elapsed: float,
             kind: str) -> dict[str, Any]:
    total = _counter(second, f"{base}.{kind}_rq_total")
    rate = (total - _counter(first, f"{base}.{kind}_rq_total")) / elapsed
    return {
        "rq_per_s": round(rate, 2),
        "rq_total": total,
        "rq_4xx": _counter(second, f"{base}.{kind}_rq_4xx"),
        "rq_5xx": _counter(second, f"{base}.{kind}_rq_5xx"),
    }


def _cluster(cluster: ClusterStatus, first: StatsSnapshot, second: StatsSnapshot,
             elapsed: float) -> dict[str, Any]:
    base = f"cluster.{cluster.observability_name or cluster.name}"
    hosts = [
        {"address": _addr(h.address), "healthy": h.healthy,
         "health_flags": sorted(h.health_flags), "eds_health_status": h.eds_health_status}
        for h in cluster.hosts
    ]
    return {
        "hosts": hosts,
        "healthy_hosts": len(cluster.healthy_hosts),
        **_traffic(first, second, base, elapsed, "upstream"),
    }


def _http(first: StatsSnapshot, second: StatsSnapshot, elapsed: float) -> dict[str, Any]:
    prefixes = sorted({m["prefix"] for name in second.counters
                       if (m := _HCM_RE.match(name)) and m["prefix"] not in _SKIP_PREFIXES})
    return {prefix: _traffic(first, second, f"http.{prefix}", elapsed, "downstream")
            for prefix in prefixes}


# --- text ----------------------------------------------------------------------------------


def format_status(status: Mapping[str, Any]) -> str:
    """The status as aligned tables for a terminal."""
    parts = [_server_line(status), _listeners_table(status["listeners"]),
             _clusters_table(status["clusters"]), _http_table(status["http"])]
    limited = status["rate_limited"]
    parts.append(table(["RATE-LIMITED COUNTER", "VALUE"], sorted(limited.items()))
                 if limited else "no rate-limit counters")
    return "\n\n".join(p for p in parts if p)


def _server_line(status: Mapping[str, Any]) -> str:
    s = status["server"]
    return (f"envoy {s['version']}  state {s['state']}  epoch {s['epoch']}  "
            f"uptime {_duration(s['uptime_s'])} (all epochs {_duration(s['uptime_all_epochs_s'])})"
            f"  admin {status['admin']}")


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _listeners_table(listeners: Mapping[str, str]) -> str:
    if not listeners:
        return "no listeners"
    return table(["LISTENER", "ADDRESS"], sorted(listeners.items()))


def _clusters_table(clusters: Mapping[str, Any]) -> str:
    if not clusters:
        return "no clusters"
    rows = []
    for name, c in clusters.items():
        hosts = ", ".join(f"{h['address']}{'' if h['healthy'] else ' (unhealthy)'}"
                          for h in c["hosts"]) or "-"
        rows.append([name, f"{c['healthy_hosts']}/{len(c['hosts'])}", f"{c['rq_per_s']:.1f}",
                     c["rq_total"], c["rq_4xx"], c["rq_5xx"], hosts])
    return table(["CLUSTER", "HEALTHY", "RQ/S", "TOTAL", "4XX", "5XX", "HOSTS"], rows)


def _http_table(http: Mapping[str, Any]) -> str:
    if not http:
        return ""
    rows = [[prefix, f"{h['rq_per_s']:.1f}", h["rq_total"], h["rq_4xx"], h["rq_5xx"]]
            for prefix, h in http.items()]
    return table(["HTTP (stat_prefix)", "RQ/S", "TOTAL", "4XX", "5XX"], rows)
