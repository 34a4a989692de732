"""Large configs: the same 1,000- and 10,000-site edge as hand-written Envoy config and as
``EdgeProxy`` output, started side by side: start → first proxied 200, RSS, number of stats.

The edge: N sites ``site<i>.example.com``, each its own virtual host routed to its own
STATIC cluster (all endpoints are one loopback upstream), on one plain-HTTP listener;
admin on loopback port 0. Plain HTTP keeps the bench about config size (N certificates
would add the same TLS contexts to both sides).

- **handwritten**: what an expert writes for that: one listener, one connection manager
  with N virtual hosts and the router, N clusters, ``strip_any_host_port``. Envoy defaults
  otherwise (every stat).
- **envoykit**: ``EdgeProxy`` with all its defaults and a per-site rate limit
  (``.rate_limit(...)``, so the "rate limited" stat an operator needs exists), rendered once.

Both run ``envoy -c FILE --concurrency 2``. Start time: from ``Popen`` until a request
for the *last* site is proxied with 200 (a new connection every 5 ms). Then the RSS of the
envoy process and the number of stats (``/stats`` lines, histograms included). Rounds
alternate which config starts first; medians of the rounds, ratios taken per round.

Targets (issue 14): at 1,000 and at 10,000 sites envoykit starts >= 1.5x faster and uses
<= 0.85x the memory of the hand-written config, with the stats an operator needs.

    python bench/large.py [--sites 1000 10000] [--rounds 3]

Last line: JSON with the 10,000-site figures (the 1,000-site ones are in the table):
``{"sites", "envoykit_start_ms", "handwritten_start_ms", "envoykit_rss_mib",
"handwritten_rss_mib", "envoykit_stats", "handwritten_stats", "target_met", ...}``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from envoykit import EdgeProxy
from envoykit.binary import find_envoy
from envoykit.render import to_json
from envoykit.testing.net import free_port

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration._supervisor_helpers import upstream

HCM_TYPE = ("type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
            "HttpConnectionManager")
ROUTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
START_TARGET, RSS_TARGET = 1.5, 0.85


def host(i: int) -> str:
    return f"site{i}.example.com"


def handwritten(sites: int, port: int, upstream_port: int) -> dict[str, object]:
    """The minimal config an expert writes for N host-routed sites."""
    vhosts = [{"name": f"site{i}", "domains": [host(i)],
               "routes": [{"match": {"prefix": "/"}, "route": {"cluster": f"site{i}"}}]}
              for i in range(sites)]
    clusters = [{"name": f"site{i}", "type": "STATIC", "connect_timeout": "5s",
                 "load_assignment": {"cluster_name": f"site{i}", "endpoints": [{"lb_endpoints": [
                     {"endpoint": {"address": {"socket_address": {
                         "address": "127.0.0.1", "port_value": upstream_port}}}}]}]}}
                for i in range(sites)]
    hcm = {"@type": HCM_TYPE, "stat_prefix": "http", "strip_any_host_port": True,
           "route_config": {"virtual_hosts": vhosts},
           "http_filters": [{"name": "envoy.filters.http.router",
                             "typed_config": {"@type": ROUTER_TYPE}}]}
    listener = {"name": "http", "address": {"socket_address": {"address": "127.0.0.1",
                                                                "port_value": port}},
                "filter_chains": [{"filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": hcm}]}]}
    return {"admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
            "static_resources": {"listeners": [listener], "clusters": clusters}}


def envoykit(sites: int, port: int, upstream_port: int) -> str:
    edge = EdgeProxy("large")
    for i in range(sites):
        edge.site(host(i), f"127.0.0.1:{upstream_port}")
    edge.http(port).admin(0).rate_limit(requests=1_000_000, per="1s")
    return to_json(edge.build(), indent=None)


@dataclass
class Sample:
    start_ms: float
    rss_mib: float
    stats: int


def _get(port: int, path: str, host_header: str, timeout: float = 5.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": host_header})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@contextlib.contextmanager
def envoy(config: Path, work: Path) -> Iterator[subprocess.Popen[bytes]]:
    admin_file = work / "admin.txt"
    admin_file.unlink(missing_ok=True)
    argv = [str(find_envoy().path), "-c", str(config), "--concurrency", "2", "-l", "error",
            "--use-dynamic-base-id", "--base-id-path", str(work / "base-id"),
            "--admin-address-path", str(admin_file)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        with contextlib.suppress(OSError, ValueError):
            base = int((work / "base-id").read_text())
            Path(f"/dev/shm/envoy_shared_memory_{base * 10}").unlink(missing_ok=True)


def measure(config: Path, port: int, last: str, work: Path, timeout: float) -> Sample:
    """Start envoy on ``config``; time to the first 200 for site ``last``; RSS; stats."""
    started = time.perf_counter()
    with envoy(config, work) as proc:
        while True:
            with contextlib.suppress(OSError):
                if _get(port, "/", last, timeout=2)[0] == 200:
                    break
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise RuntimeError(f"envoy exited ({proc.returncode}) on {config}:\n{err[-3000:]}")
            if time.perf_counter() - started > timeout:
                raise RuntimeError(f"no 200 for {last} within {timeout:g}s ({config})")
            time.sleep(0.005)
        start_ms = (time.perf_counter() - started) * 1000
        rss = psutil.Process(proc.pid).memory_info().rss / 2**20
        admin = (work / "admin.txt").read_text().strip()
        admin_port = int(admin.rsplit(":", 1)[1])
        status, body = _get(admin_port, "/stats", "admin", timeout=120)
        if status != 200:
            raise RuntimeError(f"/stats answered {status}")
        stats = sum(1 for line in body.splitlines() if line.strip())
    return Sample(start_ms, rss, stats)


def run_size(sites: int, rounds: int, upstream_port: int, work: Path) -> dict[str, object]:
    port = free_port()
    hand = work / f"handwritten-{sites}.json"
    hand.write_text(json.dumps(handwritten(sites, port, upstream_port)))
    built = time.perf_counter()
    ours = work / f"envoykit-{sites}.json"
    ours.write_text(envoykit(sites, port, upstream_port))
    build_ms = (time.perf_counter() - built) * 1000
    timeout = 60 + sites / 100
    samples: dict[str, list[Sample]] = {"envoykit": [], "handwritten": []}
    for rnd in range(rounds):
        order = [("envoykit", ours), ("handwritten", hand)]
        for name, path in order if rnd % 2 == 0 else order[::-1]:
            sample = measure(path, port, host(sites - 1), work, timeout)
            samples[name].append(sample)
            print(f"  {sites:>6} sites round {rnd + 1} {name:<11} start {sample.start_ms:8.0f} ms"
                  f"  rss {sample.rss_mib:6.0f} MiB  stats {sample.stats:>8}", flush=True)
    pairs = list(zip(samples["envoykit"], samples["handwritten"], strict=True))
    return {
        "sites": sites,
        "envoykit_build_ms": round(build_ms),
        "envoykit_start_ms": round(statistics.median(s.start_ms for s in samples["envoykit"])),
        "handwritten_start_ms": round(statistics.median(
            s.start_ms for s in samples["handwritten"])),
        "envoykit_rss_mib": round(statistics.median(s.rss_mib for s in samples["envoykit"]), 1),
        "handwritten_rss_mib": round(statistics.median(
            s.rss_mib for s in samples["handwritten"]), 1),
        "envoykit_stats": round(statistics.median(s.stats for s in samples["envoykit"])),
        "handwritten_stats": round(statistics.median(s.stats for s in samples["handwritten"])),
        "start_speedup": round(statistics.median(h.start_ms / e.start_ms for e, h in pairs), 2),
        "rss_ratio": round(statistics.median(e.rss_mib / h.rss_mib for e, h in pairs), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"envoy {find_envoy().version}; {os.cpu_count()} CPUs; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; both at --concurrency 2; "
          f"{args.rounds} rounds, alternating who starts first")
    results = []
    with tempfile.TemporaryDirectory(prefix="envoykit-large-") as tmp, upstream() as up:
        for sites in args.sites:
            results.append(run_size(sites, args.rounds, up, Path(tmp)))
    print()
    print("| sites | config | start ms | RSS MiB | stats | start speedup | RSS ratio |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    met = True
    for r in results:
        ok = r["start_speedup"] >= START_TARGET and r["rss_ratio"] <= RSS_TARGET  # type: ignore[operator]
        met = met and ok
        print(f"| {r['sites']:,} | envoykit | {r['envoykit_start_ms']:,} | {r['envoykit_rss_mib']} "
              f"| {r['envoykit_stats']:,} | {r['start_speedup']}x | {r['rss_ratio']}x |")
        print(f"| {r['sites']:,} | handwritten | {r['handwritten_start_ms']:,} | "
              f"{r['handwritten_rss_mib']} | {r['handwritten_stats']:,} | 1.00x | 1.00x |")
        print(f"  envoykit build (Python, not in start): {r['envoykit_build_ms']:,} ms; "
              f"target start >= {START_TARGET}x and RSS <= {RSS_TARGET}x: "
              f"{'met' if ok else 'NOT met'}")
    last = dict(results[-1])
    last["target_met"] = met
    last["sizes"] = {str(r["sites"]): {k: v for k, v in r.items() if k != "sites"}
                     for r in results}
    print(json.dumps(last))
    return 0


if __name__ == "__main__":
    sys.exit(main())
