"""Testing a service behind Envoy with envoykit's pytest plugin.

Nothing to configure: installing envoykit registers the plugin. Run with
``pytest examples/pytest_example`` (add ``-n 2`` for pytest-xdist: every port is 0).
"""

from __future__ import annotations

import httpx
import pytest

from envoykit import EdgeProxy
from envoykit.testing import (
    ClientFactory,
    EnvoyProxy,
    EnvoyProxyFactory,
    TestCA,
    UpstreamFactory,
    envoy_proxy_fixture,
    wait_until,
)


# 1. A named fixture, composed from a config function whose parameters are fixtures.
def company_edge(upstream: UpstreamFactory, test_ca: TestCA) -> EdgeProxy:
    """Two services on their own loopback addresses, HTTPS by SNI in front of them."""
    service_a = upstream("A", host="127.0.0.20")
    service_b = upstream("B", host="127.0.0.21")
    return (
        EdgeProxy("company-edge")
        .site("a.example.com", service_a.address, cert=test_ca.issue("a.example.com").as_cert())
        .site("b.example.com", service_b.address, cert=test_ca.issue("b.example.com").as_cert())
        .https(port=0)  # port 0: envoy picks a free port; edge.url("https") knows it
        .admin(port=0)
    )


edge = envoy_proxy_fixture(company_edge)  # a function-scoped fixture named "edge"


def test_each_host_reaches_its_own_service(
    edge: EnvoyProxy, upstream: UpstreamFactory, resolving_client: ClientFactory
) -> None:
    client = resolving_client(["a.example.com", "b.example.com"])  # trusts test_ca
    a = client.get(edge.url("https", "/hello", host="a.example.com"))
    b = client.get(edge.url("https", "/world", host="b.example.com"))
    assert (a.status_code, a.headers["x-upstream"]) == (200, "A")
    assert (b.status_code, b.headers["x-upstream"]) == (200, "B")
    seen = upstream["A"].requests[-1]  # what the service received from the proxy
    assert seen.path == "/hello"
    assert seen.headers["x-forwarded-proto"] == "https"


def test_the_admin_counts_the_requests(edge: EnvoyProxy, resolving_client: ClientFactory) -> None:
    client = resolving_client("a.example.com")
    for _ in range(3):
        assert client.get(edge.url("https", host="a.example.com")).status_code == 200
    stats = edge.admin.stats(filter="downstream_rq_2xx|upstream_rq_total")
    # each HTTPS site's connection manager counts its answers (docs/defaults.md)
    assert stats.number("http.https_a_example_com.downstream_rq_2xx") == 3
    assert stats.number("http.https_b_example_com.downstream_rq_2xx", default=0) == 0
    assert stats.number("cluster.a_example_com.upstream_rq_total") == 3


# 2. The factory fixture, for a config written inside the test.
def test_errors_of_the_service_reach_the_client(
    envoy_proxy: EnvoyProxyFactory, upstream: UpstreamFactory
) -> None:
    service = upstream("svc")
    proxy = envoy_proxy(EdgeProxy("plain").site("svc.example.com", service.address)
                        .http(port=0).admin(port=0))
    service.respond_with(503)
    reply = httpx.get(proxy.url("http", "/health"), headers={"host": "svc.example.com"})
    assert reply.status_code == 503
    assert service.requests[-1].headers["host"] == "svc.example.com"


# 3. Supervisor options per test with the ``envoy`` marker (here: a debug log).
@pytest.mark.envoy(log_level="debug")
def test_logs_are_captured(envoy_proxy: EnvoyProxyFactory, upstream: UpstreamFactory) -> None:
    proxy = envoy_proxy(EdgeProxy("debug").site("svc.example.com", upstream("svc").address)
                        .http(port=0).admin(port=0))
    assert any("[debug]" in line for line in proxy.logs)


# 4. Waiting for something that happens later: poll it with ``wait_until`` (no sleeps).
def test_the_service_is_served_again_once_it_is_back(
    envoy_proxy: EnvoyProxyFactory, upstream: UpstreamFactory
) -> None:
    service = upstream("svc")
    proxy = envoy_proxy(EdgeProxy("comeback").site("svc.example.com", service.address)
                        .http(port=0).admin(port=0))

    def status() -> int:
        return httpx.get(proxy.url("http"), headers={"host": "svc.example.com"}).status_code

    assert status() == 200
    host, port = service.host, service.port
    service.close()
    assert status() == 503  # envoy answers for the service that is gone
    upstream("svc", host=host, port=port)  # back on the same address
    # polls fast, then backs off; fails after 60 s naming what it waited for and the last
    # status seen (an ``ignore=httpx.TransportError`` would let it retry refused connections)
    assert wait_until(status, expected=200, what="the service served again") == 200
