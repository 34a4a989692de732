"""The edge's default stats (``EdgeDefaults.stats="edge"``) against the real envoy: the
stats an operator needs are there — per site requests and response classes, rate-limited
requests, upstream health — and the dropped families (circuit breakers, load-balancer
counters, byte counters) are not; ``stats="all"`` brings them back."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import pytest

from envoykit import EdgeDefaults, EdgeProxy
from envoykit.testing import Upstream
from envoykit.testing.http import resolving_client
from envoykit.testing.tls import TestCA
from tests.integration._edge_envoy import running_envoy

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

SITES = ("a.example.com", "b.example.com")
CLUSTERS = ("a_example_com", "b_example_com")
NEEDED = [
    *(f"cluster.{c}.{s}" for c in CLUSTERS for s in ("membership_healthy", "membership_total")),
    "cluster.a_example_com.upstream_rq_2xx", "cluster.a_example_com.upstream_rq_total",
    "cluster.a_example_com.upstream_rq_200", "cluster.a_example_com.upstream_rq_active",
    "http.http.downstream_rq_2xx", "http.http.downstream_rq_4xx",
    "http.http.downstream_rq_total", "http.http_local_rate_limit.rate_limited",
    "server.live", "server.total_connections",
]
DROPPED = [
    f"cluster.{c}.{s}" for c in CLUSTERS
    for s in ("circuit_breakers.default.cx_open", "lb_healthy_panic", "upstream_cx_rx_bytes_total",
              "upstream_flow_control_paused_reading_total", "assignment_stale")
]


def _names(envoy_admin: str) -> set[str]:
    text = httpx.get(f"http://{envoy_admin}/stats", timeout=5).text
    return {line.split(":", 1)[0] for line in text.splitlines() if ":" in line}


def _edge(upstreams: dict[str, str], stats: str) -> EdgeProxy:
    edge = EdgeProxy("stats", defaults=dataclasses.replace(EdgeDefaults(), stats=stats))
    for host in SITES:
        edge.site(host, upstreams[host])
    return edge.http(0).admin(0).rate_limit(requests=2, per="60s")


@pytest.mark.parametrize("stats", ["edge", "all"])
def test_edge_stats_keep_what_an_operator_needs(tmp_path: Path, stats: str) -> None:
    with Upstream("A", "127.0.0.1", 0) as a, Upstream("B", "127.0.0.1", 0) as b, \
            running_envoy(tmp_path / stats, _edge({SITES[0]: a.address, SITES[1]: b.address},
                                                  stats).build()) as envoy:
        url = f"http://127.0.0.1:{envoy.ports['http']}/"
        codes = [httpx.get(url, headers={"host": SITES[0]}, timeout=5).status_code
                 for _ in range(4)]  # a bucket of 2 for the listener: 200 200 429 429
        assert codes == [200, 200, 429, 429]
        names = _names(envoy.admin_address)
        missing = [n for n in NEEDED if n not in names]
        assert not missing, missing
        assert envoy.counter("http.http_local_rate_limit.rate_limited") == 2
        assert envoy.counter("cluster.a_example_com.upstream_rq_2xx") == 2
        present = [n for n in DROPPED if n in names]
        if stats == "edge":
            assert not present, present
            assert not any(n.startswith("cluster.b_example_com.upstream_rq_") for n in names), \
                "traffic stats of a site without requests are created lazily"
        else:
            assert present == DROPPED


def test_https_sites_count_their_answers_in_their_own_connection_manager(
        tmp_path: Path, test_ca: TestCA) -> None:
    """By default (``dynamic_stats="auto"``) an HTTPS site's router keeps no per-upstream
    code counters or latency: the site's own connection manager has them, including the
    answers no upstream gave (429s); the cluster keeps its request count and health."""
    with Upstream("A", "127.0.0.1", 0) as a, Upstream("B", "127.0.0.1", 0) as b:
        edge = EdgeProxy("stats").https(0).admin(0).rate_limit(requests=2, per="60s")
        for host, up in zip(SITES, (a, b), strict=True):
            edge.site(host, up.address, cert=test_ca.issue(host).as_cert())
        with running_envoy(tmp_path, edge.build()) as envoy, \
                resolving_client(SITES, verify=test_ca.ca_file, timeout=5) as client:
            url = f"https://{SITES[0]}:{envoy.ports['https']}/"
            assert [client.get(url).status_code for _ in range(3)] == [200, 200, 429]
            names = _names(envoy.admin_address)
            prefix = "http.https_a_example_com"
            assert envoy.counter(f"{prefix}.downstream_rq_2xx") == 2
            assert envoy.counter(f"{prefix}.downstream_rq_4xx") == 1
            assert envoy.counter("https_a_example_com.http_local_rate_limit.rate_limited") == 1
            assert envoy.counter("cluster.a_example_com.upstream_rq_total") == 2
            assert f"{prefix}.downstream_rq_time" in names
            assert not [n for n in names if n.startswith("cluster.a_example_com.upstream_rq_2")
                        or n == "cluster.a_example_com.upstream_rq_time"]
            assert not [n for n in names if n.startswith("http.https_b_example_com.downstream_rq_2")
                        and envoy.counter(n)]

