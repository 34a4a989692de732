"""apply() under load: 20 route changes through file xDS, next to the same change done
by a hot restart, in the same run.

The proxy is an ``EdgeProxy`` site (plain HTTP, listener on port 0). Change *i* sets the
site's ``prefix_rewrite`` to ``/v<i>/``; the upstream echoes the path it got, so a probe
sees exactly when the new route serves. The switch time is from the ``apply()`` call
(or ``Supervisor.hot_restart()``) until a fresh connection is served by the new route.
``apply()`` includes our checks, the split into files, the atomic write and Envoy's
confirmation; for one route change it skips ``envoy --mode validate`` (Envoy takes or
refuses one RDS file as a whole; see docs/dynamic.md); ``--validate always`` runs it.

Load: closed-loop keep-alive client threads in a separate process (so they do not share
the measuring process's GIL); the upstream and the probe (fresh connections every 0.5 ms,
timestamps on the system-wide monotonic clock) are processes of their own too. Failed
requests = non-2xx + socket errors. Hot restarts are spaced so that the previous old
epoch has exited (Envoy ends epoch n-1 when epoch n+1 starts).

    python bench/apply.py [--changes 20] [--restarts 5] [--clients 4] [--validate auto]

Last line: ``{"changes": 20, "failed_requests": ..., "apply_median_ms": ...,
"apply_p95_ms": ..., "hot_restart_median_ms": ...}``.
"""

from __future__ import annotations

import argparse
import functools
import http.client
import json
import math
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _load import load_worker

from envoykit import EdgeProxy
from envoykit.process import Supervisor
from envoykit.xds import ApplyReport, DynamicProxy

HOST = "a.example.com"
DRAIN_S, PARENT_SHUTDOWN_S, PAUSE_S = 1, 2, 2.3
OPTIONS = {"concurrency": 1, "log_level": "warning", "drain_time_s": DRAIN_S,
           "parent_shutdown_time_s": PARENT_SHUTDOWN_S}


def edge(upstream: str, version: int) -> EdgeProxy:
    """The proxy config of change ``version``."""
    return (EdgeProxy().site(HOST, upstream, prefix_rewrite=f"/v{version}/")
            .http(port=0).admin(port=0))


# --- load and upstream (child processes) ----------------------------------------------------


class EchoHandler(BaseHTTPRequestHandler):
    """Answers ``{"path": ...}`` in one write, with TCP_NODELAY: a response written in two
    small segments (headers, body) waits ~40 ms for the peer's delayed ACK (Nagle)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        body = json.dumps({"path": self.path}).encode()
        head = (f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\n\r\n").encode()
        self.wfile.write(head + body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def upstream_worker() -> None:
    """Child process: a loopback upstream echoing the path; serves until stdin closes."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"127.0.0.1:{server.server_address[1]}", flush=True)
    sys.stdin.read()
    server.shutdown()


class Child:
    """This script run as a child process (``--load`` or ``--upstream``)."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def first_line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def finish(self) -> str:
        out, _ = self.proc.communicate(timeout=30)
        return out


# --- measuring ------------------------------------------------------------------------------


def served_path(address: tuple[str, int]) -> str:
    """The path the upstream got for ``/x`` on a fresh connection ("" on error)."""
    conn = http.client.HTTPConnection(*address, timeout=2)
    try:
        conn.request("GET", "/x", headers={"host": HOST, "connection": "close"})
        response = conn.getresponse()
        body = response.read()
        return str(json.loads(body)["path"]) if response.status == 200 else ""
    except (OSError, http.client.HTTPException, ValueError, KeyError):
        return ""
    finally:
        conn.close()


def probe_worker(host: str, port: int) -> None:
    """Child process: for each expected path read from stdin, poll fresh connections until
    it is served, then print the ``perf_counter()`` of that moment (CLOCK_MONOTONIC on
    Linux: the same clock in every process)."""
    for line in sys.stdin:
        expected = line.strip()
        started = time.perf_counter()
        while served_path((host, port)) != expected:
            if time.perf_counter() - started > 30:
                print("timeout", flush=True)
                break
            time.sleep(0.0005)
        else:
            print(time.perf_counter(), flush=True)


class Probe:
    """The probe process: times ``action`` from its call until ``/v<n>/x`` is served."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.child = Child("--probe", address[0], str(address[1]))

    def timed_switch(self, version: int, action: Callable[[], object]) -> float:
        """Milliseconds from calling ``action`` until ``/v<version>/x`` is served."""
        assert self.child.proc.stdin is not None
        self.child.proc.stdin.write(f"/v{version}/x\n")
        self.child.proc.stdin.flush()
        started = time.perf_counter()
        action()
        seen = self.child.first_line()
        if seen == "timeout":
            raise TimeoutError(f"/v{version}/x never served")
        return (float(seen) - started) * 1000

    def close(self) -> None:
        self.child.finish()


@dataclass
class Phase:
    """The results of one method."""

    name: str
    switches: list[float]
    requests: int
    failed: int
    errors_seen: list[str]

    def p95(self) -> float:
        ordered = sorted(self.switches)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]

    def row(self) -> str:
        s = self.switches
        return (f"{self.name:<22}{len(s):>8}{statistics.median(s):>12.1f}{self.p95():>10.1f}"
                f"{min(s):>9.1f}{max(s):>9.1f}{self.requests:>10}{self.failed:>8}")


def run_apply(upstream: str, changes: int, clients: int, validate: str) -> tuple[Phase, float]:
    """``changes`` route changes through ``DynamicProxy.apply`` under load."""
    switches: list[float] = []
    internal: list[float] = []
    with DynamicProxy(edge(upstream, 0), validate=validate, **OPTIONS) as proxy:  # type: ignore[arg-type]
        address = proxy.address_of("http")
        load = Child("--load", address[0], str(address[1]), str(clients))
        probe = Probe(address)
        try:
            time.sleep(0.5)
            for n in range(1, changes + 1):
                reports: list[ApplyReport] = []
                action = functools.partial(_apply_into, proxy, edge(upstream, n), reports)
                switches.append(probe.timed_switch(n, action))
                assert reports[0].method == "files" and not reports[0].restarted
                internal.append(reports[0].total_ms)
                time.sleep(0.05)
        finally:
            probe.close()
            result = json.loads(load.finish())
    phase = Phase("apply (files)", switches, result["requests"], result["failed"],
                  result["errors_seen"])
    return phase, statistics.median(internal)


def _apply_into(proxy: DynamicProxy, config: EdgeProxy, reports: list[ApplyReport]) -> None:
    reports.append(proxy.apply(config))


def run_hot_restart(upstream: str, restarts: int, clients: int) -> Phase:
    """The same change by ``Supervisor.hot_restart`` of the static config, under load."""
    switches: list[float] = []
    with Supervisor(edge(upstream, 0).build(), **OPTIONS) as proxy:  # type: ignore[arg-type]
        address = proxy.address_of("http")
        load = Child("--load", address[0], str(address[1]), str(clients))
        probe = Probe(address)
        try:
            time.sleep(0.5)
            for n in range(1, restarts + 1):
                action = functools.partial(proxy.hot_restart, edge(upstream, n).build())
                switches.append(probe.timed_switch(n, action))
                time.sleep(PAUSE_S)
        finally:
            probe.close()
            result = json.loads(load.finish())
    return Phase("hot restart", switches, result["requests"], result["failed"],
                 result["errors_seen"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--restarts", type=int, default=5)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--validate", choices=("auto", "always", "never"), default="auto")
    parser.add_argument("--load", nargs=3, metavar=("HOST", "PORT", "CLIENTS"))
    parser.add_argument("--probe", nargs=2, metavar=("HOST", "PORT"))
    parser.add_argument("--upstream", action="store_true")
    args = parser.parse_args()
    if args.load:
        load_worker(args.load[0], int(args.load[1]), int(args.load[2]),
                    path="/load", headers={"host": HOST})
        return
    if args.probe:
        probe_worker(args.probe[0], int(args.probe[1]))
        return
    if args.upstream:
        upstream_worker()
        return
    upstream = Child("--upstream")
    try:
        address = upstream.first_line()
        applied, internal_ms = run_apply(address, args.changes, args.clients, args.validate)
        restarted = run_hot_restart(address, args.restarts, args.clients)
    finally:
        upstream.finish()
    report(applied, restarted, internal_ms, args)


def report(applied: Phase, restarted: Phase, internal_ms: float,
           args: argparse.Namespace) -> None:
    print(f"route change → served on a fresh connection, under load ({args.clients} keep-alive "
          f"clients, validate={args.validate})")
    print(f"{'method':<22}{'changes':>8}{'median_ms':>12}{'p95_ms':>10}{'min_ms':>9}"
          f"{'max_ms':>9}{'requests':>10}{'failed':>8}")
    print(applied.row())
    print(restarted.row())
    speedup = statistics.median(restarted.switches) / statistics.median(applied.switches)
    print(f"apply() itself (its report's total_ms), median: {internal_ms:.1f} ms; "
          f"apply is {speedup:.0f}x faster than a hot restart")
    for phase in (applied, restarted):
        if phase.errors_seen:
            print(f"{phase.name} errors: {phase.errors_seen}")
    print(json.dumps({
        "changes": len(applied.switches),
        "failed_requests": applied.failed,
        "apply_median_ms": round(statistics.median(applied.switches), 2),
        "apply_p95_ms": round(applied.p95(), 2),
        "hot_restart_median_ms": round(statistics.median(restarted.switches), 2),
    }))


if __name__ == "__main__":
    main()
