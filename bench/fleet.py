"""Fleet: push-to-all-ACKed latency of the control plane for 10, 25 and 50 Envoys.

    python bench/fleet.py [--sizes 10,25,50] [--rounds 21]

One control plane (in this process, ``grpc.aio``) and 10 + 25 + 50 supervised Envoys on
loopback (``--concurrency 1``, half on state-of-the-world xDS, half on delta), each size
a node group of its own. Each round pushes a change (the site moves to the other upstream)
to the 10-, the 25- and the 50-Envoy group in turn, timed from ``push()`` to the last
node's ACK; the 10-Envoy group is the baseline the others are compared with (interleaved,
same run). One Envoy of the 50 carries a closed-loop HTTP load (a child process) during
all the pushes. Then the bytes on the wire for one changed route of a 1,000-site HTTPS
edge (one route config per site), over delta and over state of the world.

Target (issue 13): with 50 Envoys, median push-to-all-ACKed <= 1,000 ms and 0 failed
requests. ``control_plane_rss_mib`` is this process's RSS (control plane serving all 85
Envoys, plus their supervisors). Last line: JSON with envoys, push_all_acked_median_ms,
push_all_acked_p99_ms, failed_requests, control_plane_rss_mib, delta_bytes, sotw_bytes,
by_size, target_met.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil
from _load import load_worker

from envoykit import EdgeProxy, Supervisor
from envoykit.fleet import ControlPlane, fleet_member
from envoykit.fleet._snapshot import ROUTE
from envoykit.testing.tls import TestCA
from envoykit.testing.upstream import Upstream

HOST = "a.example.com"
TARGET_MS = 1000.0


def edge(upstream: Upstream) -> EdgeProxy:
    return EdgeProxy().site(HOST, upstream.address).http(port=0).no_admin()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def wait_for_requests(member: Supervisor, count: int, timeout: float = 60.0) -> None:
    name = "http.http.downstream_rq_total"
    deadline = time.monotonic() + timeout
    with member.admin() as admin:
        while int(admin.stats(filter=f"^{name}$").counters.get(name, 0)) < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"the load did not reach {count} requests in {timeout} s")
            time.sleep(0.05)


def start_fleet(plane: ControlPlane, sizes: list[int]) -> dict[int, list[Supervisor]]:
    """Every fleet size at once, one group each (node ids ``g<N>-<i>``), half on delta."""
    fleets = {n: [Supervisor(fleet_member(plane.address, node_id=f"g{n}-{i:02d}",
                                          delta=i % 2 == 1),
                             concurrency=1, log_level="error", startup_timeout=120)
                  for i in range(n)] for n in sizes}
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda s: s.start(), [m for f in fleets.values() for m in f]))
    return fleets


def stop_fleet(members: list[Supervisor]) -> None:
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda s: s.stop(graceful=False), members))


def measure(sizes: list[int], rounds: int, a: Upstream, b: Upstream) -> list[dict[str, Any]]:
    """Rounds interleave the sizes: round r pushes to the 10-, then the 25-, then the
    50-Envoy group, so a slow moment of the shared machine hits every size alike."""
    with ControlPlane(group_by=lambda node: node.id.split("-")[0]) as plane:
        plane.set_snapshot(edge(a))
        fleets = start_fleet(plane, sizes)
        members = [m for f in fleets.values() for m in f]
        try:
            plane.wait_synced(timeout=180)
            loaded = fleets[sizes[-1]][0]
            with loaded.admin() as admin:
                port = admin.listeners()["http"][1]
            load = subprocess.Popen(
                [sys.executable, __file__, "--load", str(port)], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, text=True)
            wait_for_requests(loaded, 200)             # the load is flowing
            times: dict[int, list[float]] = {n: [] for n in sizes}
            for i in range(rounds):
                for n in sizes:
                    started = time.perf_counter()
                    plane.push(edge(b if i % 2 == 0 else a), nodes=[f"g{n}"], timeout=120)
                    times[n].append((time.perf_counter() - started) * 1000)
            out, _ = load.communicate("", timeout=60)
            counts = json.loads(out.strip().splitlines()[-1])
            rss = psutil.Process().memory_info().rss / 2**20
            acked = {s.acked_version for s in plane.status()}
            if len(acked) != 1 or counts["requests"] == 0:
                raise SystemExit(f"nodes not in sync ({acked}) or no load ran")
        finally:
            stop_fleet(members)
    return [{"envoys": n, "median_ms": statistics.median(times[n]),
             "p99_ms": percentile(times[n], 0.99), "min_ms": min(times[n]),
             "failed_requests": counts["failed"] if n == sizes[-1] else 0,
             "requests": counts["requests"] if n == sizes[-1] else 0, "rss_mib": rss}
            for n in sizes]


def wire_bytes() -> tuple[int, int]:
    """Bytes sent for one changed route of a 1,000-site HTTPS edge: (delta, sotw)."""
    with tempfile.TemporaryDirectory() as tmp:
        files = TestCA(tmp).issue("*.example.com")

        def sites(changed: int | None) -> EdgeProxy:
            proxy = EdgeProxy().https(port=0).no_admin()
            for i in range(1000):
                proxy.site(f"s{i}.example.com", "127.0.0.20:8080", cert=(files.cert, files.key),
                           prefix_rewrite="/v2/" if i == changed else None)
            return proxy

        with ControlPlane() as plane:
            plane.set_snapshot(sites(None))
            members = [Supervisor(fleet_member(plane.address, node_id=n, delta=n == "delta"),
                                  concurrency=1, log_level="error", startup_timeout=120)
                       for n in ("sotw", "delta")]
            for member in members:
                member.start()
            try:
                plane.wait_synced(timeout=120)
                before = {s.id: s.bytes_sent for s in plane.status()}
                snapshot = plane.push(sites(7), timeout=120)
                after = {s.id: s.bytes_sent for s in plane.status()}
            finally:
                stop_fleet(members)
    assert len(snapshot.of_type(ROUTE)) == 1000
    return after["delta"] - before["delta"], after["sotw"] - before["sotw"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,25,50")
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--load", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        load_worker("127.0.0.1", args.load, 2, headers={"host": HOST})
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    with Upstream("a") as a, Upstream("b") as b:
        results = measure(sizes, args.rounds, a, b)
    delta, sotw = wire_bytes()
    base = results[0]["median_ms"]
    print(f"{'envoys':>6} {'median ms':>10} {'x base':>7} {'p99 ms':>8} {'min ms':>8} "
          f"{'requests':>9} {'failed':>7} {'rss MiB':>8}")
    for r in results:
        print(f"{r['envoys']:>6} {r['median_ms']:>10.1f} {r['median_ms'] / base:>7.1f} "
              f"{r['p99_ms']:>8.1f} {r['min_ms']:>8.1f} {r['requests'] or '-':>9} "
              f"{r['failed_requests'] if r['requests'] else '-':>7} {r['rss_mib']:>8.1f}")
    print(f"one changed route of 1,000 sites: delta {delta} bytes, state of the world {sotw} "
          f"bytes ({sotw / max(delta, 1):.0f}x)")
    biggest = results[-1]
    failed = sum(r["failed_requests"] for r in results)
    met = biggest["envoys"] >= 50 and biggest["median_ms"] <= TARGET_MS and failed == 0
    print(json.dumps({
        "envoys": biggest["envoys"],
        "push_all_acked_median_ms": round(biggest["median_ms"], 1),
        "push_all_acked_p99_ms": round(biggest["p99_ms"], 1),
        "failed_requests": failed,
        "control_plane_rss_mib": round(biggest["rss_mib"], 1),
        "delta_bytes": delta, "sotw_bytes": sotw,
        "by_size": {str(r["envoys"]): {"median_ms": round(r["median_ms"], 1),
                                       "p99_ms": round(r["p99_ms"], 1)} for r in results},
        "target_met": met,
    }))


if __name__ == "__main__":
    main()
