"""Build + check + render time of the builder against `envoy --mode validate` of the same config.

Cases: 1 route per site at 1,000 and 10,000 sites; 5 routes per site (a header-routed canary,
a weighted split with retries, a direct answer, a redirect, a catch-all; 100 shared services)
at 1,000 and 10,000 sites, each site making its own routes; and, shown but not a target,
"5 shared": the same 10,000-site edge with its 100 route tables made once and reused.
Python time = the ``EdgeProxy`` calls + ``check(edge)`` +
``to_json(edge)``: a user's whole path from intent to the file envoy reads (the fast render
path, which compiles the edge without the typed ``Bootstrap`` of every site and renders the
same bytes as ``to_json(edge.build())``). Each round times Python and then envoy's validate
of the JSON just made (interleaved, same run); the figures are medians of the rounds.

Targets (issues 2 and 11), evaluated here:
  * at 10,000 sites, Python <= 0.2x envoy's validate, for both shapes;
  * linear: time per site at 10,000 sites <= 1.5x the time per site at 1,000 sites.

    python bench/render.py [--rounds 3]

Last line: JSON with ``sites``, ``build_render_s``, ``envoy_validate_s``, ``ratio``,
``routes``, ``routed_build_render_s``, ``routed_envoy_validate_s``, ``routed_ratio``,
``linear``, ``cpu_ratio``, ``routed_cpu_ratio``, ``shared_ratio``, ``shared_cpu_ratio`` and
``target_met``. A missed target is reported there (exit status 0); a run that fails
(envoy rejects the config, check() finds a problem) exits non-zero. The targets are
judged on wall time; the CPU columns (this process's CPU time against envoy's, threads
included) show the ratio without the machine's load, which inflates the two sides
unequally on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from envoykit import EdgeProxy, HttpRoute, Redirect, Respond, Retry, check, to_json
from envoykit.validation import envoy_validate_file

RATIO_TARGET = 0.2
LINEAR_TARGET = 1.5
SERVICES = 100


def address(i: int) -> str:
    return f"127.0.{(i >> 8) & 255}.{i & 255 or 1}:8080"


def simple_edge(sites: int) -> EdgeProxy:
    edge = EdgeProxy("bench").http(8080, address="127.0.0.1").rate_limit(1000)
    for i in range(sites):
        edge.site(f"s{i}.example.com", address(i))
    return edge


def _services(edge: EdgeProxy) -> EdgeProxy:
    for k in range(SERVICES):
        edge.service(f"api{k}", address(3 * k + 1)).service(f"canary{k}", address(3 * k + 2))
        edge.service(f"web{k}", address(3 * k + 3))
    return edge


def _table(k: int, retry: Retry) -> list[HttpRoute]:
    return [
        HttpRoute("/api/", headers={"x-canary": "1"}, to=f"canary{k}"),
        HttpRoute("/api/", to={f"api{k}": 90, f"canary{k}": 10}, retries=retry, timeout="5s"),
        HttpRoute(path="/healthz", respond=Respond(200, "ok")),
        HttpRoute(path="/old", redirect=Redirect(path="/new")),
        HttpRoute("/", to=f"web{k}"),
    ]


def routed_edge(sites: int) -> EdgeProxy:
    edge = _services(EdgeProxy("bench").http(8080, address="127.0.0.1").rate_limit(1000))
    retry = Retry(attempts=1, per_try_timeout="2s")
    for i in range(sites):
        edge.site(f"s{i}.example.com", routes=_table(i % SERVICES, retry))
    return edge


def shared_edge(sites: int) -> EdgeProxy:
    """The 5-route edge with its 100 route tables made once and given to the sites (what a
    program generating a large edge would write; shown, not a target)."""
    edge = _services(EdgeProxy("bench").http(8080, address="127.0.0.1").rate_limit(1000))
    retry = Retry(attempts=1, per_try_timeout="2s")
    tables = [_table(k, retry) for k in range(SERVICES)]
    for i in range(sites):
        edge.site(f"s{i}.example.com", routes=tables[i % SERVICES])
    return edge


def python_time(make: Callable[[int], EdgeProxy], sites: int) -> tuple[float, float, str]:
    """Wall and CPU seconds of making, checking and rendering the edge, and its JSON."""
    start, cpu = time.perf_counter(), time.process_time()
    edge = make(sites)
    issues = check(edge)
    text = to_json(edge, indent=None)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    if issues:
        raise SystemExit(f"check() found problems in the bench config: {issues[:3]}")
    return elapsed, cpu, text


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def validate_time(text: str) -> tuple[float, float]:
    """Wall and CPU seconds of ``envoy --mode validate`` of ``text``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "envoy.json"
        path.write_text(text)
        start, cpu = time.perf_counter(), _children_cpu()
        envoy_validate_file(path, timeout=600)
        return time.perf_counter() - start, _children_cpu() - cpu


@dataclass
class Row:
    shape: str
    sites: int
    routes: int
    python_s: float
    envoy_s: float
    json_bytes: int
    python_cpu_s: float
    envoy_cpu_s: float

    @property
    def ratio(self) -> float:
        return self.python_s / self.envoy_s

    @property
    def cpu_ratio(self) -> float:
        return self.python_cpu_s / self.envoy_cpu_s

    @property
    def per_site_us(self) -> float:
        return self.python_s / self.sites * 1e6


def measure(shape: str, make: Callable[[int], EdgeProxy], sites: int, routes: int,
            rounds: int) -> Row:
    py, py_cpu, envoy, envoy_cpu, size = [], [], [], [], 0
    for _ in range(rounds):  # interleaved: Python, then envoy on the same config
        elapsed, cpu, text = python_time(make, sites)
        py.append(elapsed)
        py_cpu.append(cpu)
        elapsed, cpu = validate_time(text)
        envoy.append(elapsed)
        envoy_cpu.append(cpu)
        size = len(text)
    median = statistics.median
    return Row(shape, sites, routes, median(py), median(envoy), size, median(py_cpu),
               median(envoy_cpu))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds per case (>= 3)")
    rounds = max(3, parser.parse_args().rounds)
    rows = [measure(shape, make, sites, per * sites, rounds)
            for shape, make, per in (("1 route", simple_edge, 1), ("5 routes", routed_edge, 5))
            for sites in (1_000, 10_000)]
    shared = measure("5 shared", shared_edge, 10_000, 50_000, rounds)
    print(f"{'shape':>9} {'sites':>7} {'routes':>7} {'python s':>9} {'per site us':>12} "
          f"{'envoy validate s':>17} {'ratio':>6} {'json MiB':>9} {'python cpu s':>13} "
          f"{'envoy cpu s':>12} {'cpu ratio':>10}")
    for r in [*rows, shared]:
        print(f"{r.shape:>9} {r.sites:>7} {r.routes:>7} {r.python_s:>9.3f} "
              f"{r.per_site_us:>12.1f} {r.envoy_s:>17.3f} {r.ratio:>6.3f} "
              f"{r.json_bytes / 2**20:>9.2f} {r.python_cpu_s:>13.3f} {r.envoy_cpu_s:>12.3f} "
              f"{r.cpu_ratio:>10.3f}")
    small, big, routed_small, routed_big = rows
    linear = max(big.per_site_us / small.per_site_us,
                 routed_big.per_site_us / routed_small.per_site_us)
    met = big.ratio <= RATIO_TARGET and routed_big.ratio <= RATIO_TARGET \
        and linear <= LINEAR_TARGET
    print(f"targets: ratio <= {RATIO_TARGET} at 10,000 sites (got {big.ratio:.3f} and "
          f"{routed_big.ratio:.3f}); per-site growth 1,000 -> 10,000 <= {LINEAR_TARGET}x "
          f"(got {linear:.2f}x): {'met' if met else 'MISSED'}")
    print(json.dumps({
        "sites": big.sites, "build_render_s": round(big.python_s, 4),
        "envoy_validate_s": round(big.envoy_s, 3), "ratio": round(big.ratio, 3),
        "routes": routed_big.routes, "routed_build_render_s": round(routed_big.python_s, 4),
        "routed_envoy_validate_s": round(routed_big.envoy_s, 3),
        "routed_ratio": round(routed_big.ratio, 3), "linear": round(linear, 2),
        "cpu_ratio": round(big.cpu_ratio, 3), "routed_cpu_ratio": round(routed_big.cpu_ratio, 3),
        "shared_ratio": round(shared.ratio, 3), "shared_cpu_ratio": round(shared.cpu_ratio, 3),
        "rounds": rounds, "target_met": met,
    }))
    return 0  # a miss is reported (target_met), not a failure to measure


if __name__ == "__main__":
    sys.exit(main())
