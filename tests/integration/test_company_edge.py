"""The mission, end to end on the real envoy: host routing over HTTPS by SNI, HTTP→HTTPS
redirect, the local rate limit (429 + counter), admin on loopback only."""

from __future__ import annotations

import socket
import ssl
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest

from envoykit import EdgeProxy, RateLimit, validate
from envoykit.process import Supervisor
from envoykit.testing.http import resolving_client
from envoykit.testing.net import free_port
from envoykit.testing.tls import TestCA
from envoykit.testing.upstream import Upstream

pytestmark = pytest.mark.integration

HOSTS = ("a.example.com", "b.example.com", "c.example.com")


@dataclass
class Edge:
    proxy: Supervisor
    ca: TestCA
    https_port: int
    http_port: int
    upstreams: dict[str, Upstream]

    def client(self) -> httpx.Client:
        return resolving_client({h: "127.0.0.1" for h in HOSTS}, verify=self.ca.ca_file,
                                timeout=5)


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    ca = TestCA(tmp_path_factory.mktemp("certs"))
    https_port, http_port = free_port(), free_port()
    with Upstream("A", "127.0.0.20") as a, Upstream("B", "127.0.0.21") as b, \
            Upstream("C", "127.0.0.22") as c:
        company = (
            EdgeProxy("company-edge")
            .site("a.example.com", a.address, cert=ca.issue("a.example.com").as_cert())
            .site("b.example.com", b.address, cert=ca.issue("b.example.com").as_cert(),
                  rate_limit=False)
            # the rate-limit test's own site: 5 tokens that are never refilled in a run
            .site("c.example.com", c.address, cert=ca.issue("c.example.com").as_cert(),
                  rate_limit=RateLimit(5, per=timedelta(hours=24)))
            .https(port=https_port)
            .redirect_http(port=http_port)
            .rate_limit(requests=10_000, per="1s")
            .admin(port=0)
        )
        bootstrap = validate(company)
        with Supervisor(bootstrap, log_level="warning") as proxy:
            yield Edge(proxy, ca, https_port, http_port, {"A": a, "B": b, "C": c})


def test_each_host_reaches_its_own_upstream_over_https(edge: Edge) -> None:
    with edge.client() as client:
        a = client.get(f"https://a.example.com:{edge.https_port}/hello")
        b = client.get(f"https://b.example.com:{edge.https_port}/world")
    assert (a.status_code, a.headers["x-upstream"]) == (200, "A")
    assert (b.status_code, b.headers["x-upstream"]) == (200, "B")
    assert a.json()["path"] == "/hello" and b.json()["path"] == "/world"
    assert a.headers["strict-transport-security"] == "max-age=63072000; includeSubDomains"
    assert any(r.path == "/world" for r in edge.upstreams["B"].requests)
    assert edge.upstreams["B"].requests[-1].headers["x-forwarded-proto"] == "https"


def test_plain_http_is_redirected_to_https(edge: Edge) -> None:
    reply = httpx.get(f"http://127.0.0.1:{edge.http_port}/path?q=1",
                      headers={"host": f"a.example.com:{edge.http_port}"})
    assert reply.status_code == 301
    assert reply.headers["location"] == f"https://a.example.com:{edge.https_port}/path?q=1"


def test_unknown_host_over_http_is_not_redirected(edge: Edge) -> None:
    reply = httpx.get(f"http://127.0.0.1:{edge.http_port}/",
                      headers={"host": "evil.example.net"})
    assert reply.status_code == 404


def test_rate_limit_returns_429_and_counts(edge: Edge) -> None:
    """Only this test sends to c.example.com: its 5 tokens (refilled once a day) give
    exactly 5 × 200 then 429s, whatever the machine's speed."""
    stat = "https_c_example_com.http_local_rate_limit.rate_limited"
    with edge.proxy.admin() as admin:
        before = admin.stats(filter="http_local_rate_limit").number(stat) or 0
        with edge.client() as client:
            statuses = [client.get(f"https://c.example.com:{edge.https_port}/").status_code
                        for _ in range(7)]
            limited = client.get(f"https://c.example.com:{edge.https_port}/")
        after = admin.stats(filter="http_local_rate_limit").number(stat) or 0
    assert statuses == [200] * 5 + [429] * 2
    assert limited.status_code == 429
    assert limited.text == "local_rate_limited"
    assert limited.headers["x-local-rate-limit"] == "true"
    assert limited.headers["x-ratelimit-limit"] == "5"
    assert after - before == 3
    with edge.client() as client:  # b.example.com has no limit: it keeps serving
        assert client.get(f"https://b.example.com:{edge.https_port}/").status_code == 200


def test_admin_listens_on_loopback_only(edge: Edge) -> None:
    host, port = edge.proxy.admin_address.rsplit(":", 1)
    assert host == "127.0.0.1"
    assert httpx.get(f"http://127.0.0.1:{port}/ready").status_code == 200
    with pytest.raises(httpx.ConnectError):  # another loopback address: not bound there
        httpx.get(f"http://127.0.0.2:{port}/ready", timeout=2)


def presented_certificate(port: int, sni: str) -> bytes | None:
    """The certificate envoy presents for ``sni`` (no verification), or None when the
    handshake ends without one."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname=sni) as tls:
                return tls.getpeercert(binary_form=True)
        except (ssl.SSLError, ConnectionResetError):
            return None


def test_unknown_sni_gets_no_certificate(edge: Edge) -> None:
    assert presented_certificate(edge.https_port, "a.example.com")  # the probe sees certs
    assert presented_certificate(edge.https_port, "unknown.example.com") is None


def test_host_for_another_site_than_the_sni_gets_404(edge: Edge) -> None:
    """Domain fronting: SNI a.example.com with Host b.example.com stays in a's chain."""
    path = f"/fronting-{uuid.uuid4().hex}"
    with edge.client() as client:
        reply = client.get(f"https://a.example.com:{edge.https_port}{path}",
                           headers={"host": "b.example.com"})
    assert reply.status_code == 404  # envoy's own: no route in a's chain
    assert reply.headers.get("x-upstream") is None
    assert not [r for up in edge.upstreams.values() for r in up.requests if r.path == path]
