"""envoykit.testing.Upstream: plain HTTP, HTTPS with SNI recorded, mTLS, IPv6."""

from __future__ import annotations

import httpx
import pytest

from envoykit.testing.http import resolving_client
from envoykit.testing.net import ipv6_loopback
from envoykit.testing.tls import TestCA
from envoykit.testing.upstream import Upstream


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("ca"))


def test_plain_http_records_and_answers() -> None:
    with Upstream("A") as up:
        reply = httpx.post(f"http://{up.address}/x?y=1", content=b"hi", headers={"x-t": "1"})
        up.respond_with(503)
        later = httpx.get(f"http://{up.address}/")
    assert (reply.status_code, reply.headers["x-upstream"]) == (200, "A")
    assert reply.json()["path"] == "/x?y=1"
    assert later.status_code == 503
    first = up.requests[0]
    assert (first.method, first.body, first.headers["x-t"], first.sni) == ("POST", b"hi", "1", None)


def test_https_records_the_sni_name(ca: TestCA) -> None:
    files = ca.issue("api.internal.test")
    with Upstream("api", cert=(files.cert, files.key)) as up, \
            resolving_client({"api.internal.test": up.host}, verify=ca.ca_file) as client:
        reply = client.get(f"https://api.internal.test:{up.port}/")
    assert reply.status_code == 200
    assert up.requests[-1].sni == "api.internal.test"
    assert reply.json()["sni"] == "api.internal.test"


def test_client_certificates_are_required_with_client_ca(ca: TestCA) -> None:
    files, client = ca.issue("orders.test"), ca.client_cert("envoy.internal.test")
    with Upstream("orders", cert=(files.cert, files.key), client_ca=ca.ca_file) as up:
        hosts = {"orders.test": up.host}
        with resolving_client(hosts, verify=ca.ca_file, cert=(client.cert, client.key)) as c:
            assert c.get(f"https://orders.test:{up.port}/").status_code == 200
        assert up.requests[-1].client_cert == "envoy.internal.test"
        with resolving_client(hosts, verify=ca.ca_file) as c, \
                pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
            c.get(f"https://orders.test:{up.port}/")
    assert len(up.requests) == 1


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_ipv6_address_is_bracketed() -> None:
    with Upstream("v6", host="::1") as up:
        assert up.address == f"[::1]:{up.port}"
        assert httpx.get(f"http://{up.address}/").headers["x-upstream"] == "v6"

