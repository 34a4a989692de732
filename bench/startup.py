"""Startup: time from ``Supervisor.start()`` to the first proxied 200, next to a bare
``envoy -c file`` started by hand to its first 200, in the same run (medians of rounds).

Both use the same bootstrap (listener on a fixed free port, admin on port 0), the same
log level and concurrency, and a loopback upstream. The bare envoy also gets
``--use-dynamic-base-id`` (without it, two envoys on one host collide) and is polled
with a new connection every millisecond. Rounds alternate which one goes first.

    python bench/startup.py [--rounds 31]

Other work on the machine moves both columns a lot; rounds alternate which one goes first
and the median of the per-round ratios is printed too (each pair shares the conditions).

Last line: ``{"envoykit_start_ms": ..., "bare_start_ms": ...}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from envoykit.binary import find_envoy
from envoykit.process import Supervisor
from envoykit.testing.net import free_port
from tests.integration._supervisor_helpers import bootstrap, get, upstream

TARGET = 1.1  # envoykit's start -> first proxied 200 within 1.1x a bare envoy's

ENVOY_ARGS = ["--concurrency", "1", "-l", "warning"]


def first_200(port: int, deadline: float) -> None:
    """Poll with a new connection every millisecond until a proxied 200."""
    while time.perf_counter() < deadline:
        try:
            if get(("127.0.0.1", port), timeout=1.0)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.001)
    raise TimeoutError("no 200 before the deadline")


def envoykit_round(upstream_port: int) -> float:
    """Milliseconds from start() to the first proxied 200."""
    port = free_port()
    proxy = Supervisor(bootstrap(upstream_port, port=port), concurrency=1, log_level="warning")
    started = time.perf_counter()
    proxy.start()
    try:
        bound = proxy.address_of("ingress")[1]
        first_200(bound, started + 10)
        return (time.perf_counter() - started) * 1000
    finally:
        proxy.stop(graceful=False)


def bare_round(upstream_port: int, workdir: Path) -> float:
    """Milliseconds from Popen(envoy -c file) to the first proxied 200."""
    port = free_port()
    config = workdir / "bare.json"
    config.write_text(json.dumps(bootstrap(upstream_port, port=port), indent=2))
    base_id = workdir / "base-id"
    argv = [str(find_envoy().path), "-c", str(config), "--use-dynamic-base-id",
            "--base-id-path", str(base_id), *ENVOY_ARGS]
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        first_200(port, started + 10)
        return (time.perf_counter() - started) * 1000
    finally:
        proc.terminate()
        proc.wait(5)
        shm = Path(f"/dev/shm/envoy_shared_memory_{int(base_id.read_text()) * 10}")
        shm.unlink(missing_ok=True)


def main() -> None:
    """Run the rounds and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=31)
    args = parser.parse_args()
    ours: list[float] = []
    bare: list[float] = []
    with upstream() as upstream_port, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        envoykit_round(upstream_port)  # warm-up: imports, page cache
        bare_round(upstream_port, workdir)
        print(f"{'round':>5} {'envoykit ms':>12} {'bare envoy ms':>14}")
        for index in range(args.rounds):
            if index % 2:
                bare.append(bare_round(upstream_port, workdir))
                ours.append(envoykit_round(upstream_port))
            else:
                ours.append(envoykit_round(upstream_port))
                bare.append(bare_round(upstream_port, workdir))
            print(f"{index + 1:>5} {ours[-1]:>12.1f} {bare[-1]:>14.1f}")
    ours_median, bare_median = statistics.median(ours), statistics.median(bare)
    paired = statistics.median(o / b for o, b in zip(ours, bare, strict=True))
    met = paired <= TARGET
    print(f"{'median':>5} {ours_median:>12.1f} {bare_median:>14.1f}"
          f"   ratio {ours_median / bare_median:.2f}; median of per-round ratios {paired:.2f} "
          f"(target <= {TARGET}): {'met' if met else 'MISSED'}")
    print(json.dumps({"envoykit_start_ms": round(ours_median, 1),
                      "bare_start_ms": round(bare_median, 1), "ratio": round(paired, 3),
                      "target_met": met}))


if __name__ == "__main__":
    main()
