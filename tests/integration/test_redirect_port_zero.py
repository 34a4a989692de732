"""``https(port=0).redirect_http(port=0)`` against the real envoy: the redirect's Location
carries the port the HTTPS listener really bound, at start, after a hot restart, after
``envoykit run`` + SIGHUP (the config rebuilt from its Python source) and via the pytest
``envoy_proxy`` fixture. Upstreams and listeners are on loopback only."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from envoykit import EdgeProxy
from envoykit.process import Supervisor
from envoykit.testing._fixtures import EnvoyProxyFactory
from envoykit.testing.http import resolving_client
from envoykit.testing.tls import TestCA
from envoykit.testing.upstream import Upstream
from tests.integration.test_bad_inputs_live import CliRun

pytestmark = pytest.mark.integration

DEADLINE = 90.0  # generous: the machine is shared and loaded
HOST = "a.example.com"


def edge(ca: TestCA, upstream: str) -> EdgeProxy:
    return (EdgeProxy("port-zero")
            .site(HOST, upstream, cert=ca.issue(HOST).as_cert())
            .https(port=0)
            .redirect_http(port=0)
            .admin(port=0))


def location(http_port: int) -> tuple[int, str]:
    """Status and Location of ``GET /path?q=1`` for a.example.com over plain HTTP."""
    reply = httpx.get(f"http://127.0.0.1:{http_port}/path?q=1", headers={"host": HOST},
                      timeout=10.0)
    return reply.status_code, reply.headers.get("location", "")


def assert_redirects_to(http_port: int, https_port: int, ca: TestCA) -> None:
    """301 to the real HTTPS port, and that address really answers over TLS."""
    assert https_port != 0
    assert location(http_port) == (301, f"https://{HOST}:{https_port}/path?q=1")
    with resolving_client({HOST: "127.0.0.1"}, verify=ca.ca_file, timeout=10.0) as client:
        final = client.get(f"https://{HOST}:{https_port}/path?q=1")
    assert final.status_code == 200


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("port-zero") / "certs")


@pytest.fixture(scope="module")
def server() -> Iterator[Upstream]:
    with Upstream("server-a") as up:
        yield up


def test_location_carries_the_real_port_at_start_and_after_hot_restarts(
        ca: TestCA, server: Upstream) -> None:
    with Supervisor(edge(ca, server.address), log_level="warning") as envoy:
        _, https_port = envoy.address_of("https")
        _, http_port = envoy.address_of("http")
        assert_redirects_to(http_port, https_port, ca)
        # a fresh build of the same source, twice: the listener and the redirect stay put
        for epoch in (1, 2):
            assert envoy.hot_restart(edge(ca, server.address)) == epoch
            assert envoy.address_of("https") == ("127.0.0.1", https_port)
            assert_redirects_to(envoy.address_of("http")[1], https_port, ca)


def test_location_carries_the_real_port_via_the_envoy_proxy_fixture(
        envoy_proxy: EnvoyProxyFactory, ca: TestCA, server: Upstream) -> None:
    proxy = envoy_proxy(edge(ca, server.address))
    assert_redirects_to(proxy.port("http"), proxy.port("https"), ca)


EDGE_PY = """\
from envoykit import EdgeProxy

edge = (EdgeProxy("port-zero")
        .site("a.example.com", {upstream!r}, cert=({cert!r}, {key!r}))
        .https(port=0)
        .redirect_http(port=0)
        .admin(port=0))
"""


def start_run(config: Path, admin_file: Path) -> CliRun:
    """``envoykit run CONFIG`` in a subprocess; its stderr lines read by a thread."""
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("envoykit")), "run", str(config),
         "--admin-address-path", str(admin_file), "--log-level", "warning"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, start_new_session=True)
    run = CliRun(process, config, admin_file)
    threading.Thread(target=run.read, daemon=True).start()
    return run


def bound_ports(run: CliRun) -> dict[str, int]:
    """Listener name -> the port envoy bound, from the admin ``/listeners``."""
    reply = httpx.get(f"http://{run.admin_address()}/listeners", params={"format": "json"},
                      timeout=10.0)
    return {x["name"]: x["local_address"]["socket_address"]["port_value"]
            for x in reply.json()["listener_statuses"]}


def stop(run: CliRun) -> None:
    run.process.send_signal(signal.SIGTERM)
    try:
        run.process.wait(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        os.killpg(run.process.pid, signal.SIGKILL)
        run.process.wait()


def test_location_carries_the_real_port_after_envoykit_run_and_sighup(
        tmp_path: Path, ca: TestCA, server: Upstream) -> None:
    cert = ca.issue(HOST)
    config = tmp_path / "edge.py"
    config.write_text(EDGE_PY.format(upstream=server.address, cert=cert.cert, key=cert.key))
    run = start_run(config, tmp_path / "admin.txt")
    try:
        run.wait_for("envoy is live", 1)
        first = bound_ports(run)
        assert_redirects_to(first["http"], first["https"], ca)
        for done in (1, 2):  # the module is imported again: a new EdgeProxy each time
            run.process.send_signal(signal.SIGHUP)
            run.wait_for("hot restart done", done)
            assert bound_ports(run) == first
            assert_redirects_to(first["http"], first["https"], ca)
        assert re.search(r"epoch 2 is live", "".join(run.lines))
    finally:
        stop(run)
