"""Faults around a running edge.

* a config whose certificate is missing, is a directory, or is not PEM is refused by
  ``validate()`` — envoykit's file check or envoy's own ``--mode validate`` — before any
  process is touched, and the running edge keeps serving;
* a certificate file deleted or replaced with garbage *while envoy runs* changes nothing
  (file certificates are read once, at start) — and the next validate refuses it;
* an upstream that dies yields 503 for its site only, and service returns with it.

Left to the supervisor's own tests (``tests/integration/test_supervisor.py``):
kill -9 of envoy (``test_kill_9_of_envoy_restarts_it_on_the_same_address``) and SIGKILL of
the Python parent (``test_sigkill_of_the_python_parent_leaves_no_envoy``). With the
supervisor, a hot restart onto a missing certificate is shown here to keep the old epoch.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from envoykit import EdgeProxy
from envoykit.errors import SemanticError
from envoykit.process import Supervisor
from envoykit.testing import wait_until
from envoykit.testing.http import resolving_client
from envoykit.testing.tls import CertFiles, TestCA
from envoykit.testing.upstream import Upstream
from envoykit.validation import validate
from tests.integration._edge_envoy import HOSTS, RunningEnvoy, running_envoy

pytestmark = pytest.mark.integration


@dataclass
class Edge:
    envoy: RunningEnvoy
    ca: TestCA
    certs: dict[str, CertFiles]
    a: Upstream
    b: Upstream
    tmp: Path

    def builder(self, a_cert: tuple[str, str] | None = None) -> EdgeProxy:
        a, b = self.certs[HOSTS[0]], self.certs[HOSTS[1]]
        return (EdgeProxy("faults")
                .site(HOSTS[0], self.a.address, cert=a_cert or (a.cert, a.key))
                .site(HOSTS[1], self.b.address, cert=(b.cert, b.key))
                .https(0).admin(0))

    def get(self, host: str, path: str = "/") -> httpx.Response:
        with resolving_client({host: "127.0.0.1"}, verify=self.ca.ca_file, timeout=5) as c:
            return c.get(f"https://{host}:{self.envoy.ports['https']}{path}")

    def assert_serving(self) -> None:
        assert self.envoy.process.poll() is None, self.envoy.log_tail()
        for host, name in zip(HOSTS, "AB", strict=True):
            got = self.get(host)
            assert (got.status_code, got.headers.get("x-upstream")) == (200, name)


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[Edge]:
    ca = TestCA(tmp_path / "certs")
    certs = {host: ca.issue(host) for host in HOSTS}
    with Upstream("A", "127.0.0.1", 0) as a, Upstream("B", "127.0.0.1", 0) as b:
        state = Edge(None, ca, certs, a, b, tmp_path)  # type: ignore[arg-type]
        with running_envoy(tmp_path / "envoy", validate(state.builder())) as envoy:
            state.envoy = envoy
            yield state


def test_a_config_with_a_bad_certificate_is_refused_before_any_restart(tmp_path: Path) -> None:
    """Each bad certificate is pushed through ``Supervisor.hot_restart``: refused with the
    path named, and the running epoch keeps its pid, its config and its traffic."""
    ca = TestCA(tmp_path / "certs")
    certs = {host: ca.issue(host) for host in HOSTS}
    key = certs[HOSTS[0]].key
    directory = tmp_path / "a-directory.pem"
    directory.mkdir()
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    bad = {str(tmp_path / "gone.pem"): f"site({HOSTS[0]!r}).cert: no such file",
           str(directory): f"site({HOSTS[0]!r}).cert: not a file",
           str(garbage): "tls_certificates[0].certificate_chain: not a PEM certificate chain"}
    with Upstream("A", "127.0.0.1", 0) as a, Upstream("B", "127.0.0.1", 0) as b:
        state = Edge(None, ca, certs, a, b, tmp_path)  # type: ignore[arg-type]
        with Supervisor(validate(state.builder()), run_dir=tmp_path / "run",
                        log_level="warning") as proxy:
            epoch, pid = proxy.epoch, proxy.pid
            with proxy.admin() as admin:
                config = admin.config_dump().raw
            for cert, says in bad.items():
                with pytest.raises(SemanticError) as info:
                    proxy.hot_restart(state.builder(a_cert=(cert, key)))
                assert says in str(info.value), str(info.value)
                assert (proxy.epoch, proxy.pid) == (epoch, pid)
            with proxy.admin() as admin:
                assert admin.config_dump().raw == config
            port = proxy.address_of("https")[1]
            with resolving_client(dict.fromkeys(HOSTS, "127.0.0.1"), verify=ca.ca_file,
                                  timeout=10) as client:
                for host, name in zip(HOSTS, "AB", strict=True):
                    got = client.get(f"https://{host}:{port}/")
                    assert (got.status_code, got.headers.get("x-upstream")) == (200, name)


def test_certificate_files_changing_under_a_running_envoy_change_nothing(edge: Edge) -> None:
    """File certificates are loaded at start: deleting or corrupting them later does not
    take the site down (use SDS ``watched_directory`` for rotation); validate() then
    refuses the same config, so a restart onto it never happens."""
    a = edge.certs[HOSTS[0]]
    Path(a.key).write_text("corrupted\n")
    Path(a.cert).unlink()
    edge.assert_serving()
    with pytest.raises(SemanticError):
        validate(edge.builder())
    edge.assert_serving()


def test_a_dead_upstream_gives_503_for_its_site_only_and_service_returns(edge: Edge) -> None:
    address = (edge.a.host, edge.a.port)
    edge.a.close()
    got = edge.get(HOSTS[0], "/while-down")
    assert got.status_code == 503
    assert edge.get(HOSTS[1]).status_code == 200  # the other site is untouched
    revived = Upstream("A", *address)
    try:
        wait_until(lambda: edge.get(HOSTS[0]).status_code, expected=200,
                   what="site a served again")
        assert edge.get(HOSTS[0]).headers["x-upstream"] == "A"
    finally:
        revived.close()
        edge.a = Upstream("A-spare", "127.0.0.1", 0)  # the fixture's close() needs a live one


def test_hot_restart_onto_a_missing_certificate_keeps_the_old_epoch(tmp_path: Path) -> None:
    ca = TestCA(tmp_path / "certs")
    a_cert = ca.issue(HOSTS[0])
    spare = tmp_path / "spare.pem"
    shutil.copy(a_cert.cert, spare)
    with Upstream("A", "127.0.0.1", 0) as a:
        def edge(cert: str) -> EdgeProxy:
            return EdgeProxy("faults").site(HOSTS[0], a.address, cert=(cert, a_cert.key)) \
                .https(0).admin(0)

        proxy = Supervisor(validate(edge(str(spare))), run_dir=tmp_path / "run",
                           log_level="warning")
        # The monitor memos the started config (an identical config later skips the
        # checks), after start() returns; on a loaded machine that can be after the unlink
        # below. Held back here until then, it must still remember the files as envoy read
        # them at start, not as they are by then.
        unlinked, first_prewarm = threading.Event(), proxy._first_prewarm

        def late_memo() -> None:  # (the monitor's first step, before it takes the lock)
            unlinked.wait(30)
            first_prewarm()

        proxy._first_prewarm = late_memo  # type: ignore[method-assign]
        with proxy:
            epoch, pid = proxy.epoch, proxy.pid
            built = edge(str(spare)).build()
            spare.unlink()  # the new epoch's certificate is gone by the time we restart
            unlinked.set()
            wait_until(lambda: proxy._started is None, what="the started config memo'd")
            with pytest.raises(SemanticError, match=r"certificate_chain\.filename: no such file"):
                proxy.hot_restart(built)
            assert (proxy.epoch, proxy.pid) == (epoch, pid)
            port = proxy.address_of("https")[1]
            with resolving_client({HOSTS[0]: "127.0.0.1"}, verify=ca.ca_file, timeout=5) as c:
                assert c.get(f"https://{HOSTS[0]}:{port}/").status_code == 200
