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
