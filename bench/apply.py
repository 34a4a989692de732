"""apply() under load next to the same route change done by a hot restart, interleaved.

The proxies are an ``EdgeProxy`` site (plain HTTP, listener on port 0), one fed by file
xDS (``DynamicProxy``), one static under a ``Supervisor``; both run side by side, each
under its own closed-loop load. Change *i* sets the site's ``prefix_rewrite`` to ``/v<i>/``;
the upstream echoes the path it got, so a probe sees exactly when the new route serves.
The switch time is from the ``apply()`` (or ``hot_restart()``) call until a fresh
connection is served by the new route.

Each round makes one change by each of four methods, in reversed order every other round,
so that machine noise falls on all of them alike. Like is compared with like:

* ``apply()`` (one RDS file, no ``envoy --mode validate``: the default for one route
  change) against ``hot_restart()`` of a config validated beforehand, untimed
  (``Supervisor.validate``, so the restart skips validation);
* ``apply(validate="always")`` against ``hot_restart()`` that validates.

Load: closed-loop keep-alive client threads in child processes (so they do not share the
measuring process's GIL); the upstream and the probes (fresh connections every 0.5 ms,
timestamps on the system-wide monotonic clock) are processes of their own too. Failed
requests = non-2xx + socket errors, per proxy. Hot restarts are spaced so that the previous
old epoch has exited (Envoy ends epoch n-1 when epoch n+1 starts).

Target (docs/performance.md): ``apply()`` median <= 20 ms with no failed request.

    python bench/apply.py [--rounds 8] [--clients 4]

Last line: ``{"changes": 8, "failed_requests": ..., "apply_median_ms": ..., "apply_p95_ms":
..., "hot_restart_median_ms": ..., "apply_validated_median_ms": ...,
"hot_restart_validated_median_ms": ..., ..., "target_met": true}``.
"""

from __future__ import annotations

import argparse
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
from envoykit.xds import DynamicProxy

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
        return (f"{self.name:<30}{len(s):>8}{statistics.median(s):>12.1f}{self.p95():>10.1f}"
                f"{min(s):>9.1f}{max(s):>9.1f}{self.requests:>10}{self.failed:>8}")


class Method:
    """One way to make the change, timed on one proxy (its own probe and version count)."""

    def __init__(self, name: str, probe: Probe, change: Callable[[int], object]) -> None:
        self.name, self.probe, self.change = name, probe, change
        self.switches: list[float] = []

    def once(self, version: int) -> None:
        self.switches.append(self.probe.timed_switch(version, lambda: self.change(version)))


class Versions:
    """The next change number of one proxy (both of its methods share it)."""

    def __init__(self) -> None:
        self.last = 0

    def next(self) -> int:
        self.last += 1
        return self.last


def run_interleaved(upstream: str, rounds: int, clients: int) -> tuple[list[Phase], float]:
    """Both proxies run side by side, each under its own load; every round makes one change
    by each method, the order reversed every other round. Like with like: ``apply()``
    without ``envoy --mode validate`` against a hot restart whose config was validated
    beforehand (``Supervisor.validate``, untimed), and ``apply(validate="always")``
    against a hot restart that validates."""
    internal: list[float] = []
    with DynamicProxy(edge(upstream, 0), **OPTIONS) as dynamic, \
            Supervisor(edge(upstream, 0).build(), **OPTIONS) as supervisor:  # type: ignore[arg-type]
        loads = [Child("--load", *map(str, proxy.address_of("http")), str(clients))
                 for proxy in (dynamic, supervisor)]
        probes = [Probe(proxy.address_of("http")) for proxy in (dynamic, supervisor)]

        def apply(validate: str) -> Callable[[int], object]:
            def change(version: int) -> None:
                report = dynamic.apply(edge(upstream, version), validate=validate)  # type: ignore[arg-type]
                assert report.method == "files" and not report.restarted
                if validate == "never":
                    internal.append(report.total_ms)
            return change

        def prevalidated(version: int) -> None:
            supervisor.hot_restart(pending.pop(version))

        pending: dict[int, object] = {}
        methods = [Method("apply", probes[0], apply("never")),
                   Method("hot restart (pre-validated)", probes[1], prevalidated),
                   Method("apply, validate=always", probes[0], apply("always")),
                   Method("hot restart + validate", probes[1],
                          lambda v: supervisor.hot_restart(edge(upstream, v).build()))]
        versions = {id(probes[0]): Versions(), id(probes[1]): Versions()}
        try:
            time.sleep(0.5)
            for round_ in range(rounds):
                for method in (methods if round_ % 2 == 0 else methods[::-1]):
                    version = versions[id(method.probe)].next()
                    if method.change is prevalidated:
                        config = edge(upstream, version).build()
                        supervisor.validate(config)  # untimed: the next hot restart skips it
                        pending[version] = config
                    method.once(version)
                    time.sleep(PAUSE_S if method.probe is probes[1] else 0.05)
        finally:
            for probe in probes:
                probe.close()
            results = [json.loads(load.finish()) for load in loads]
    def phase(method: Method) -> Phase:
        result = results[0 if method.probe is probes[0] else 1]
        return Phase(method.name, method.switches, result["requests"], result["failed"],
                     result["errors_seen"])

    phases = [phase(m) for m in methods]
    return phases, statistics.median(internal)


TARGET_MS = 20.0  # docs/performance.md: apply() median ≤ 20 ms, and no failed request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--clients", type=int, default=4)
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
        phases, internal_ms = run_interleaved(address, args.rounds, args.clients)
    finally:
        upstream.finish()
    report(phases, internal_ms, args)


def report(phases: list[Phase], internal_ms: float, args: argparse.Namespace) -> None:
    """The table, the target met or missed, then the JSON line."""
    applied, restarted, applied_v, restarted_v = phases
    print(f"route change → served on a fresh connection, under load ({args.clients} keep-alive "
          f"clients per proxy), {args.rounds} interleaved rounds; requests/failed are per proxy")
    print(f"{'method':<30}{'changes':>8}{'median_ms':>12}{'p95_ms':>10}{'min_ms':>9}"
          f"{'max_ms':>9}{'requests':>10}{'failed':>8}")
    for phase in phases:
        print(phase.row())
    ratio = statistics.median(restarted.switches) / statistics.median(applied.switches)
    ratio_v = statistics.median(restarted_v.switches) / statistics.median(applied_v.switches)
    print(f"apply() itself (its report's total_ms), median: {internal_ms:.1f} ms; a hot restart "
          f"takes {ratio:.1f}x apply (both unvalidated), {ratio_v:.1f}x (both validated)")
    for phase in phases:
        if phase.errors_seen:
            print(f"{phase.name} errors: {phase.errors_seen}")
    median = statistics.median(applied.switches)
    met = median <= TARGET_MS and applied.failed == 0
    print(f"target: apply() median <= {TARGET_MS:g} ms with no failed request: "
          f"{'met' if met else 'MISSED'}")
    print(json.dumps({
        "changes": len(applied.switches),
        "failed_requests": applied.failed,
        "apply_median_ms": round(median, 2),
        "apply_p95_ms": round(applied.p95(), 2),
        "hot_restart_median_ms": round(statistics.median(restarted.switches), 2),
        "apply_validated_median_ms": round(statistics.median(applied_v.switches), 2),
        "hot_restart_validated_median_ms": round(statistics.median(restarted_v.switches), 2),
        "hot_restart_over_apply": round(ratio, 2),
        "hot_restart_over_apply_validated": round(ratio_v, 2),
        "hot_restart_failed_requests": restarted.failed,
        "target": f"apply_median_ms <= {TARGET_MS:g} and failed_requests == 0",
        "target_met": met,
    }))


if __name__ == "__main__":
    main()
