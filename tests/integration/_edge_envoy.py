"""A small private envoy runner for the edge suites (abuse, TLS grading, faults, bad inputs).

It does not use ``envoykit.process`` (written in parallel): it renders a bootstrap into a
private directory, starts the real envoy with a dynamic base id (safe under ``pytest -n``),
admin on 127.0.0.1 port 0 (``--admin-address-path``), waits for ``/ready``, finds the real
ports of listeners bound to port 0, and always kills the process group in teardown.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from envoykit.admin import AdminClient
from envoykit.binary import find_envoy
from envoykit.config import Bootstrap
from envoykit.render import to_yaml
from envoykit.testing.tls import TestCA
from envoykit.testing.upstream import Upstream
from envoykit.testing.wait import DEFAULT_TIMEOUT, wait_until

HOSTS = ("a.example.com", "b.example.com")


@dataclass
class RunningEnvoy:
    """A running envoy: its process, admin address, listener ports and log file."""

    process: subprocess.Popen[bytes]
    workdir: Path
    admin_address: str = ""
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def log(self) -> Path:
        return self.workdir / "envoy.log"

    def log_tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def admin(self) -> AdminClient:
        return AdminClient(self.admin_address, timeout=2.0)

    def counter(self, name: str) -> int:
        """One stat's value (0 when absent), read fresh from ``/stats?format=json``."""
        reply = httpx.get(f"http://{self.admin_address}/stats",
                          params={"format": "json", "filter": f"^{name}$"}, timeout=2.0)
        reply.raise_for_status()
        for stat in reply.json().get("stats", []):
            if stat.get("name") == name:
                return int(stat.get("value", 0))
        return 0


def ensure_with_ports(bootstrap: Bootstrap) -> Bootstrap:
    """Admin on 127.0.0.1:0 (the real port is read from ``--admin-address-path``)."""
    assert bootstrap.admin is not None and bootstrap.admin.address.socket_address is not None
    bootstrap.admin.address.socket_address.port_value = 0
    return bootstrap


@contextlib.contextmanager
def running_envoy(workdir: Path, bootstrap: Bootstrap, *, concurrency: int = 1,
                  timeout: float = DEFAULT_TIMEOUT, extra_args: tuple[str, ...] = ()
                  ) -> Iterator[RunningEnvoy]:
    """Start envoy on ``bootstrap`` (admin forced to port 0); yield once ``/ready`` is 200
    and the listener ports are known; always kill the whole process group."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "envoy.yaml"
    config.write_text(to_yaml(ensure_with_ports(bootstrap)))
    args = [
        str(find_envoy().path), "-c", str(config),
        "--admin-address-path", str(workdir / "admin.txt"),
        "--use-dynamic-base-id", "--base-id-path", str(workdir / "base-id.txt"),
        "--concurrency", str(concurrency), "-l", "warning",
        "--drain-time-s", "1", "--parent-shutdown-time-s", "2", *extra_args,
    ]  # fmt: skip
    with open(workdir / "envoy.log", "wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    envoy = RunningEnvoy(process, workdir)
    try:
        _wait_ready(envoy, timeout)
        with envoy.admin() as admin:
            envoy.ports = {name: port for name, (_, port) in admin.listeners().items()}
        yield envoy
    finally:
        stop(envoy.process)


def _wait_ready(envoy: RunningEnvoy, timeout: float) -> None:
    path = envoy.workdir / "admin.txt"

    def ready_address() -> str:
        if envoy.process.poll() is not None:
            raise RuntimeError(f"envoy exited with {envoy.process.returncode}:\n"
                               f"{envoy.log_tail()}")
        address = path.read_text().strip() if path.exists() else ""
        if address and httpx.get(f"http://{address}/ready", timeout=1.0).status_code == 200:
            return address
        return ""

    envoy.admin_address = wait_until(ready_address, timeout=timeout, what="envoy /ready",
                                     ignore=httpx.HTTPError, context=envoy.log_tail)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process group and reap it (a test envoy owes nobody a drain)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@contextlib.contextmanager
def upstreams() -> Iterator[tuple[Upstream, Upstream]]:
    """Two recording upstreams on 127.0.0.1, free ports."""
    with Upstream("A", "127.0.0.1", 0) as a, Upstream("B", "127.0.0.1", 0) as b:
        yield a, b


def ca_in(workdir: Path) -> TestCA:
    return TestCA(workdir / "certs")


def connect(port: int, host: str = "127.0.0.1", timeout: float = 5.0) -> socket.socket:
    return socket.create_connection((host, port), timeout=timeout)


