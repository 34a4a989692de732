"""Hot restart under load: 10 ``Supervisor.hot_restart()`` calls with changed routes while
closed-loop keep-alive clients hammer the proxy, next to 10 raw ``envoy --restart-epoch``
restarts done by hand (same config shape, flags and load) in the same run.

Every config adds a distinct ``x-tag`` response header. The switch time is from the call
(``hot_restart()`` / ``Popen`` of the raw child) until a fresh connection is served by
the new config. ``hot_restart()`` validates every config with ``envoy --mode validate``
(a prewarmed validator process, while the new epoch loads on a FIFO: see
docs/supervisor.md), so the raw run is reported twice: the bare restart, and
validate-then-restart by hand. A fourth series calls ``Supervisor.validate()`` before the
timed ``hot_restart()`` (which then skips the validation).

Target (issue 14): ``hot_restart()`` switch median <= 1.2x the raw ``--restart-epoch``
one, with 0 failed requests over >= 10 restarts.

The switch is observed by a probe process (a new connection every millisecond). The load
is Python client threads (one keep-alive connection each, reconnecting when the
server says ``connection: close``) in a separate process, and so is the upstream, so the
GIL of the measuring process is not shared with them; wrk is not used. Failed requests =
non-2xx + socket errors. Restarts are spaced so that the previous old epoch has exited
(Envoy kills epoch n-1 when epoch n+1 starts). The four series run side by side and are
interleaved restart by restart, each restart under its own burst of load (started 0.3 s
before, stopped 2.3 s after), so that other work on the machine affects them alike.

    python bench/hot_restart.py [--restarts 10] [--clients 4]

Last line: ``{"restarts": 10, "requests": ..., "failed_requests": ...,
"switch_median_s": ..., "raw_switch_median_s": ...}`` plus the validate-then-restart and
the validated-ahead medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _load import load_worker

from envoykit.binary import find_envoy
from envoykit.process import Supervisor
from envoykit.testing.net import free_port
from envoykit.validation import envoy_validate_file
from tests.integration._supervisor_helpers import bootstrap, get, upstream

DRAIN_S, PARENT_SHUTDOWN_S = 1, 2
WARM_S, PAUSE_S = 0.3, 2.3  # the pause outlasts the old epoch (parent shutdown)
FLAGS = ["--concurrency", "1", "-l", "warning", "--drain-time-s", str(DRAIN_S),
         "--parent-shutdown-time-s", str(PARENT_SHUTDOWN_S)]


def upstream_worker() -> None:
    """Child process: a loopback upstream; prints its port, serves until stdin closes."""
    with upstream() as port:
        print(port, flush=True)
        sys.stdin.read()


@dataclass
class LoadResult:
    """What a load process counted."""

    requests: int
    non_2xx: int
    socket_errors: int
    failed: int
    errors_seen: list[str]


class LoadProcess:
    """The load generator in its own process."""

    def __init__(self, address: tuple[str, int], clients: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--load", address[0], str(address[1]), str(clients)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def stop(self) -> LoadResult:
        out, _ = self.proc.communicate(timeout=30)
        return LoadResult(**json.loads(out))


def wait_for_tag(address: tuple[str, int], tag: str, started: float, limit: float = 20) -> float:
    """Seconds from ``started`` (a ``time.monotonic()`` value, comparable across processes)
    until a fresh connection gets ``x-tag: tag``."""
    while time.monotonic() - started < limit:
        try:
            if get(address, timeout=2)[1] == tag:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.001)
    raise TimeoutError(f"tag {tag} never served")


def probe_worker() -> None:
    """Child process: for each ``host port tag started`` line, print the switch time."""
    for line in sys.stdin:
        host, port, tag, started = line.split()
        print(wait_for_tag((host, int(port)), tag, float(started)), flush=True)


class Probe:
    """Watches for the new config from its own process, so that the GIL of the process
    doing the restart (the supervisor's threads, or nothing for the raw runs) does not
    delay the observation."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--probe"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def timed_switch(self, address: tuple[str, int], tag: str,
                     action: Callable[[], object]) -> float:
        """Start ``action``; seconds until a fresh connection is served with ``tag``."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        started = time.monotonic()
        self.proc.stdin.write(f"{address[0]} {address[1]} {tag} {started}\n")
        self.proc.stdin.flush()
        action()
        return float(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.communicate(timeout=10)


@dataclass
class Series:
    """One way of restarting, with what its restarts measured."""

    name: str
    address: tuple[str, int]
    restart: Callable[[int, str], object]
    prepare: Callable[[int, str], object] | None = None
    switches: list[float] = field(default_factory=list)
    requests: int = 0
    non_2xx: int = 0
    socket_errors: int = 0
    errors_seen: set[str] = field(default_factory=set)

    def measure(self, n: int, clients: int, probe: Probe) -> None:
        """Restart number ``n`` under its own burst of load."""
        load = LoadProcess(self.address, clients)
        time.sleep(WARM_S)
        tag = f"{self.name[:3]}{n}"
        if self.prepare is not None:
            self.prepare(n, tag)  # not timed
        self.switches.append(probe.timed_switch(self.address, tag, lambda: self.restart(n, tag)))
        time.sleep(PAUSE_S)
        result = load.stop()
        self.requests += result.requests
        self.non_2xx += result.non_2xx
        self.socket_errors += result.socket_errors
        self.errors_seen.update(result.errors_seen)
        print(f"  {self.name:24} restart {n:2}: {self.switches[-1]:.3f} s", flush=True)


class RawEnvoy:
    """Envoy driven by hand: epoch 0 with a dynamic base id, then --restart-epoch n."""

    def __init__(self, upstream_port: int, workdir: Path, validate: bool) -> None:
        self.upstream_port = upstream_port
        self.workdir = workdir
        self.validate = validate
        self.port = free_port()
        self.binary = str(find_envoy().path)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.base_id: int | None = None
        self.launch(0, "raw0")

    def config(self, epoch: int, tag: str) -> Path:
        path = self.workdir / f"raw-{epoch}.json"
        path.write_text(json.dumps(bootstrap(self.upstream_port, tag=tag, port=self.port)))
        return path

    def launch(self, epoch: int, tag: str) -> None:
        """Write the config, validate it if asked, start the epoch."""
        config = self.config(epoch, tag)
        if self.validate:
            envoy_validate_file(config)
        if epoch == 0:
            ids = ["--use-dynamic-base-id", "--base-id-path", str(self.workdir / "raw-id")]
        else:
            ids = ["--base-id", str(self.base_id)]
        argv = [self.binary, "-c", str(config), "--restart-epoch", str(epoch), *ids, *FLAGS]
        self.procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL))
        if epoch == 0:
            wait_for_tag(("127.0.0.1", self.port), tag, time.monotonic())
            self.base_id = int((self.workdir / "raw-id").read_text())

    def close(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(10)
        if self.base_id is not None:
            Path(f"/dev/shm/envoy_shared_memory_{self.base_id * 10}").unlink(missing_ok=True)


def supervisor(upstream_port: int) -> Supervisor:
    """A supervisor with the bench's flags (listener on port 0, kept across epochs)."""
    return Supervisor(bootstrap(upstream_port, tag="env0"), concurrency=1, log_level="warning",
                      drain_time_s=DRAIN_S, parent_shutdown_time_s=PARENT_SHUTDOWN_S)


def run(upstream_port: int, restarts: int, clients: int) -> list[Series]:
    """The four series, interleaved restart by restart (rotating which goes first), so
    that other work on the machine hits them alike."""
    def config(tag: str) -> dict[str, object]:
        return bootstrap(upstream_port, tag=tag)

    with tempfile.TemporaryDirectory() as raw_dir, tempfile.TemporaryDirectory() as rawv_dir, \
            supervisor(upstream_port) as proxy, supervisor(upstream_port) as ahead:
        raw = RawEnvoy(upstream_port, Path(raw_dir), validate=False)
        rawv = RawEnvoy(upstream_port, Path(rawv_dir), validate=True)
        probe = Probe()
        try:
            series = [
                Series("envoykit hot_restart()", proxy.address_of("ingress"),
                       lambda n, tag: proxy.hot_restart(config(tag))),
                Series("raw --restart-epoch", ("127.0.0.1", raw.port), raw.launch),
                Series("raw validate + restart", ("127.0.0.1", rawv.port), rawv.launch),
                Series("envoykit validated ahead", ahead.address_of("ingress"),
                       lambda n, tag: ahead.hot_restart(config(tag)),
                       prepare=lambda n, tag: ahead.validate(config(tag))),
            ]
            for n in range(1, restarts + 1):
                for one in series[n % 4:] + series[:n % 4]:
                    one.measure(n, clients, probe)
        finally:
            probe.close()
            raw.close()
            rawv.close()
    return series


def main() -> None:
    """Run the three series and print the tables and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restarts", type=int, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--load", nargs=3, metavar=("HOST", "PORT", "CLIENTS"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--upstream", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        return probe_worker()
    if args.load:
        return load_worker(args.load[0], int(args.load[1]), int(args.load[2]))
    if args.upstream:
        return upstream_worker()
    server = subprocess.Popen([sys.executable, __file__, "--upstream"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        upstream_port = int(server.stdout.readline())
        series = run(upstream_port, args.restarts, args.clients)
    finally:
        server.communicate(timeout=10)
    print(f"\n{'series':24} {'requests':>9} {'non-2xx':>8} {'sock err':>9} "
          f"{'switch median s':>16} {'min':>6} {'max':>6}")
    for one in series:
        print(f"{one.name:24} {one.requests:>9} {one.non_2xx:>8} {one.socket_errors:>9} "
              f"{statistics.median(one.switches):>16.3f} {min(one.switches):>6.3f} "
              f"{max(one.switches):>6.3f}")
        for error in sorted(one.errors_seen)[:5]:
            print(f"    error: {error}")
    ours, raw, rawv, ahead = (statistics.median(one.switches) for one in series)
    failed = series[0].non_2xx + series[0].socket_errors
    met = ours / raw <= 1.2 and failed == 0 and len(series[0].switches) >= 10
    print(f"ratio envoykit / raw: {ours / raw:.2f} (target <= 1.2 with 0 failed requests: "
          f"{'met' if met else 'NOT met'}); "
          f"envoykit / raw validate+restart: {ours / rawv:.2f}; "
          f"envoykit validated ahead / raw: {ahead / raw:.2f}")
    print(json.dumps({
        "restarts": len(series[0].switches),
        "requests": series[0].requests,
        "failed_requests": failed,
        "switch_median_s": round(ours, 4),
        "raw_switch_median_s": round(raw, 4),
        "raw_validated_switch_median_s": round(rawv, 4),
        "validated_ahead_switch_median_s": round(ahead, 4),
        "ratio_to_raw": round(ours / raw, 3),
        "target_met": met,
    }))


if __name__ == "__main__":
    main()
