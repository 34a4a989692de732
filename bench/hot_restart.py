"""Hot restart under load: 10 ``Supervisor.hot_restart()`` calls with changed routes while
closed-loop keep-alive clients hammer the proxy, next to 10 raw ``envoy --restart-epoch``
restarts done by hand (same config shape, flags and load) in the same run.

Every config adds a distinct ``x-tag`` response header. The switch time is from the call
(``hot_restart()`` / ``Popen`` of the raw child) until a fresh connection is served by
the new config. ``hot_restart()`` validates with ``envoy --mode validate`` first, so the
raw run is reported twice: the bare restart, and validate-then-restart by hand.

The load is Python client threads (one keep-alive connection each, reconnecting when the
server says ``connection: close``) in a separate process, and so is the upstream, so the
GIL of the measuring process is not shared with them; wrk is not used. Failed requests =
non-2xx + socket errors. Restarts are spaced so that the previous old epoch has exited
(Envoy kills epoch n-1 when epoch n+1 starts).

    python bench/hot_restart.py [--restarts 10] [--clients 4]

Last line: ``{"restarts": 10, "requests": ..., "failed_requests": ...,
"switch_median_s": ..., "raw_switch_median_s": ...}`` (plus the validated raw median).
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from envoykit.binary import find_envoy
from envoykit.process import Supervisor
from envoykit.validation import envoy_validate_file
from tests.integration._supervisor_helpers import bootstrap, get, upstream

DRAIN_S, PARENT_SHUTDOWN_S, PAUSE_S = 1, 2, 2.3  # the pause outlasts the old epoch
FLAGS = ["--concurrency", "1", "-l", "warning", "--drain-time-s", str(DRAIN_S),
         "--parent-shutdown-time-s", str(PARENT_SHUTDOWN_S)]


@dataclass
class Load:
    """Closed-loop keep-alive clients; counts requests, non-2xx and socket errors."""

    address: tuple[str, int]
    clients: int
    requests: int = 0
    non_2xx: int = 0
    socket_errors: int = 0
    errors_seen: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Load:
        for index in range(self.clients):
            thread = threading.Thread(target=self._client, name=f"load-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)

    def _client(self) -> None:
        requests = non_2xx = errors = 0
        conn = http.client.HTTPConnection(*self.address, timeout=5)
        while not self._stop.is_set():
            try:
                conn.request("GET", "/")
                response = conn.getresponse()
                response.read()
                requests += 1
                non_2xx += not 200 <= response.status < 300
            except (OSError, http.client.HTTPException) as exc:
                requests += 1
                errors += 1
                with self._lock:
                    self.errors_seen.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection(*self.address, timeout=5)
        conn.close()
        with self._lock:
            self.requests += requests
            self.non_2xx += non_2xx
            self.socket_errors += errors


def load_worker(host: str, port: int, clients: int) -> None:
    """Child process: run the load until stdin closes, then print the counts as JSON."""
    load = Load((host, port), clients).start()
    sys.stdin.read()
    load.stop()
    print(json.dumps({"requests": load.requests, "non_2xx": load.non_2xx,
                      "socket_errors": load.socket_errors,
                      "errors_seen": sorted(set(load.errors_seen))[:5]}), flush=True)


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
    """Seconds from ``started`` until a fresh connection gets ``x-tag: tag``."""
    while time.perf_counter() - started < limit:
        try:
            if get(address, timeout=2)[1] == tag:
                return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.001)
    raise TimeoutError(f"tag {tag} never served")


def timed_switch(address: tuple[str, int], tag: str, action: Callable[[], object]) -> float:
    """Start ``action`` and measure, from a probe thread, when ``tag`` is served."""
    result: list[float] = []
    started = time.perf_counter()
    probe = threading.Thread(target=lambda: result.append(wait_for_tag(address, tag, started)))
    probe.start()
    action()
    probe.join()
    return result[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_envoykit(
    upstream_port: int, restarts: int, clients: int
) -> tuple[LoadResult, list[float]]:
    """Hot restarts through the supervisor (listener on port 0, kept across epochs)."""
    proxy = Supervisor(bootstrap(upstream_port, tag="ek0"), concurrency=1, log_level="warning",
                       drain_time_s=DRAIN_S, parent_shutdown_time_s=PARENT_SHUTDOWN_S)
    switches: list[float] = []
    with proxy:
        address = proxy.address_of("ingress")
        load = LoadProcess(address, clients)
        try:
            time.sleep(PAUSE_S)
            for n in range(1, restarts + 1):
                tag = f"ek{n}"
                config = bootstrap(upstream_port, tag=tag)
                switches.append(timed_switch(address, tag, lambda c=config: proxy.hot_restart(c)))
                print(f"  envoykit  restart {n:2}: {switches[-1]:.3f} s", flush=True)
                time.sleep(PAUSE_S)
        finally:
            result = load.stop()
    return result, switches


class RawEnvoy:
    """Envoy driven by hand: epoch 0 with a dynamic base id, then --restart-epoch n."""

    def __init__(self, upstream_port: int, workdir: Path) -> None:
        self.upstream_port = upstream_port
        self.workdir = workdir
        self.port = free_port()
        self.binary = str(find_envoy().path)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.base_id: int | None = None

    def config(self, epoch: int, tag: str) -> Path:
        path = self.workdir / f"raw-{epoch}.json"
        path.write_text(json.dumps(bootstrap(self.upstream_port, tag=tag, port=self.port)))
        return path

    def launch(self, epoch: int, config: Path) -> None:
        if epoch == 0:
            ids = ["--use-dynamic-base-id", "--base-id-path", str(self.workdir / "raw-id")]
        else:
            ids = ["--base-id", str(self.base_id)]
        argv = [self.binary, "-c", str(config), "--restart-epoch", str(epoch), *ids, *FLAGS]
        self.procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL))
        if epoch == 0:
            wait_for_tag(("127.0.0.1", self.port), "raw0", time.perf_counter())
            self.base_id = int((self.workdir / "raw-id").read_text())

    def close(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(10)
        if self.base_id is not None:
            Path(f"/dev/shm/envoy_shared_memory_{self.base_id * 10}").unlink(missing_ok=True)


def run_raw(upstream_port: int, restarts: int, clients: int,
            validate: bool) -> tuple[LoadResult, list[float]]:
    """The same restarts by hand; with ``validate``, ``envoy --mode validate`` first."""
    label = "raw+valid" if validate else "raw"
    switches: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        raw = RawEnvoy(upstream_port, Path(tmp))
        try:
            raw.launch(0, raw.config(0, "raw0"))
            address = ("127.0.0.1", raw.port)
            load = LoadProcess(address, clients)
            try:
                time.sleep(PAUSE_S)
                for n in range(1, restarts + 1):
                    tag = f"raw{n}"
                    config = raw.config(n, tag)

                    def restart(n: int = n, config: Path = config) -> None:
                        if validate:
                            envoy_validate_file(config)
                        raw.launch(n, config)

                    switches.append(timed_switch(address, tag, restart))
                    print(f"  {label:9} restart {n:2}: {switches[-1]:.3f} s", flush=True)
                    time.sleep(PAUSE_S)
            finally:
                result = load.stop()
        finally:
            raw.close()
    return result, switches


def main() -> None:
    """Run the three series and print the tables and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restarts", type=int, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--load", nargs=3, metavar=("HOST", "PORT", "CLIENTS"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--upstream", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        return load_worker(args.load[0], int(args.load[1]), int(args.load[2]))
    if args.upstream:
        return upstream_worker()
    server = subprocess.Popen([sys.executable, __file__, "--upstream"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        upstream_port = int(server.stdout.readline())
        ours, ours_switches = run_envoykit(upstream_port, args.restarts, args.clients)
        raw, raw_switches = run_raw(upstream_port, args.restarts, args.clients, validate=False)
        rawv, rawv_switches = run_raw(upstream_port, args.restarts, args.clients, validate=True)
    finally:
        server.communicate(timeout=10)
    rows = [("envoykit hot_restart()", ours, ours_switches),
            ("raw --restart-epoch", raw, raw_switches),
            ("raw validate + restart", rawv, rawv_switches)]
    print(f"\n{'series':24} {'requests':>9} {'non-2xx':>8} {'sock err':>9} "
          f"{'switch median s':>16} {'min':>6} {'max':>6}")
    for name, load, switches in rows:
        print(f"{name:24} {load.requests:>9} {load.non_2xx:>8} {load.socket_errors:>9} "
              f"{statistics.median(switches):>16.3f} {min(switches):>6.3f} {max(switches):>6.3f}")
        for error in sorted(set(load.errors_seen))[:5]:
            print(f"    error: {error}")
    ours_median = statistics.median(ours_switches)
    raw_median = statistics.median(raw_switches)
    rawv_median = statistics.median(rawv_switches)
    print(f"ratio envoykit / raw: {ours_median / raw_median:.2f} (target <= 1.2); "
          f"envoykit / raw validate+restart: {ours_median / rawv_median:.2f}")
    print(json.dumps({
        "restarts": len(ours_switches),
        "requests": ours.requests,
        "failed_requests": ours.non_2xx + ours.socket_errors,
        "switch_median_s": round(ours_median, 4),
        "raw_switch_median_s": round(raw_median, 4),
        "raw_validated_switch_median_s": round(rawv_median, 4),
    }))


if __name__ == "__main__":
    main()
