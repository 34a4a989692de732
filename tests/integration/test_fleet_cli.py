"""``envoykit serve-xds`` and ``envoykit fleet status`` against a real Envoy member."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytest.importorskip("envoy.service.discovery.v3.ads_pb2")

from envoykit import Supervisor
from envoykit.fleet import fleet_member
from envoykit.testing import free_port, wait_until
from envoykit.testing.upstream import Upstream

pytestmark = pytest.mark.integration

CONFIG = """\
from envoykit import EdgeProxy
edge = EdgeProxy().site("a.example.com", "127.0.0.20:8080").http(port=PORT).no_admin()
"""
TWO_ON_ONE_PORT = """
edge = edge.to_dict()
listeners = edge["static_resources"]["listeners"]
listeners.append({**listeners[0], "name": "same-port"})
"""


class Lines:
    """The control plane's stdout, line by line, waited on with a deadline."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        assert process.stdout is not None
        stream = process.stdout
        threading.Thread(target=lambda: [self.lines.put(x) for x in stream], daemon=True).start()

    def wait_for(self, prefix: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            if line.startswith(prefix):
                return line


def write(path: Path, text: str) -> None:
    """Replace a file at once, as a careful editor does (the watcher may look at any time)."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "envoykit.cli", *args], capture_output=True,
                          text=True, timeout=60, check=False)


def serve_xds(config: Path, address: str) -> tuple[subprocess.Popen[str], Lines]:
    process = subprocess.Popen(
        [sys.executable, "-m", "envoykit.cli", "serve-xds", str(config), "--listen", address,
         "--interval", "0.2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines = Lines(process)
    try:
        lines.wait_for("serving ")
    except BaseException:
        process.kill()
        raise
    return process, lines


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, Lines]]:
    config = tmp_path / "edge.py"
    config.write_text(CONFIG.replace("PORT", str(free_port())))
    address = f"127.0.0.1:{free_port()}"
    process, lines = serve_xds(config, address)
    try:
        yield address, config, lines
    finally:
        process.terminate()
        process.wait(30)


def test_serve_xds_pushes_file_changes_and_fleet_status_lists_nodes(
        served: tuple[str, Path, Lines]) -> None:
    address, config, lines = served
    with Supervisor(fleet_member(address, node_id="edge-1"), concurrency=1,
                    log_level="warning"):
        first = config.read_text()
        write(config, first.replace("127.0.0.20", "127.0.0.21"))
        assert "to 1 node(s)" in lines.wait_for("pushed snapshot ")
        done = cli("fleet", "status", "--control-plane", address, "--json")
        assert done.returncode == 0, done.stderr
        [node] = json.loads(done.stdout)
        assert node["id"] == "edge-1" and node["in_sync"] and node["connected"]
        assert {t["status"] for t in node["types"].values()} == {"SYNCED"}

        write(config, first + TWO_ON_ONE_PORT)                   # Envoy refuses this
        assert "rejected by 1 node(s)" in lines.wait_for("push failed")
        assert "edge-1:" in lines.wait_for("  - edge-1")
        table = cli("fleet", "status", "--control-plane", address)
        assert table.returncode == 1                             # a node is not in sync
        assert "ERROR" in table.stdout and "NACKed:" in table.stdout
        assert "edge-1 Listener:" in table.stdout


def test_fleet_status_names_an_unreachable_control_plane() -> None:
    done = cli("fleet", "status", "--control-plane", f"127.0.0.1:{free_port()}",
               "--timeout", "2")
    assert done.returncode == 1
    assert "UNAVAILABLE" in done.stderr and "control plane" in done.stderr


def served_by(envoy: Supervisor) -> str:
    with envoy.admin() as admin:
        port = admin.listeners()["http"][1]
    reply = httpx.get(f"http://127.0.0.1:{port}/", headers={"host": "a.example.com"},
                      timeout=10)
    return str(json.loads(reply.text)["upstream"])


def test_a_killed_control_plane_leaves_envoys_serving_and_they_reconverge(
        tmp_path: Path) -> None:
    with Upstream("blue") as blue, Upstream("green") as green:
        config = tmp_path / "edge.py"
        config.write_text(CONFIG.replace("127.0.0.20:8080", blue.address)
                          .replace("PORT", "0"))
        address = f"127.0.0.1:{free_port()}"
        first, _ = serve_xds(config, address)
        second = None
        members = [Supervisor(fleet_member(address, node_id=n, delta=n == "delta"),
                              concurrency=1, log_level="warning") for n in ("sotw", "delta")]
        try:
            for member in members:
                member.start()
            assert {served_by(m) for m in members} == {"blue"}
            first.kill()                                          # SIGKILL: no goodbye
            first.wait(30)
            assert {served_by(m) for m in members} == {"blue"}     # still serving
            write(config, config.read_text().replace(blue.address, green.address))
            second, _ = serve_xds(config, address)               # back, with a change

            def in_sync() -> bool:  # (the 5 s bound: test_fleet.py, in-process)
                done = cli("fleet", "status", "--control-plane", address, "--json")
                nodes = json.loads(done.stdout) if done.returncode in (0, 1) else []
                return len(nodes) == 2 and all(n["in_sync"] for n in nodes)

            wait_until(in_sync, what="both members in sync with the restarted plane",
                       context=lambda: cli("fleet", "status", "--control-plane", address).stdout)
            assert {served_by(m) for m in members} == {"green"}
        finally:
            for member in members:
                member.stop(graceful=False)
            for process in (first, second):
                if process is not None and process.poll() is None:
                    process.kill()
                    process.wait(30)
