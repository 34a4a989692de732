"""envoykit top without envoy: sites from a config dump, sorting, filtering, drawing, keys."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import Any

from envoykit._cli import _top_view as view
from envoykit._cli import top
from envoykit.admin import ClusterStatus, Histogram, HostStatus, StatsSnapshot

DUMP = {"configs": [
    {"dynamic_listeners": [{"active_state": {"listener": {"filter_chains": [{"filters": [
        {"typed_config": {"route_config": {"virtual_hosts": [
            {"name": "a", "domains": ["a.example.com", "www.a.example.com"],
             "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "a_example_com"}}]},
            {"name": "redirect", "domains": ["*"],
             "routes": [{"match": {"prefix": "/"}, "redirect": {"https_redirect": True}}]},
        ]}}}]}]}}}]},
    {"static_route_configs": [{"route_config": {"virtual_hosts": [
        {"name": "b", "domains": ["b.example.com"], "routes": [
            {"match": {"prefix": "/api"}, "route": {"cluster": "b_api"}, "stat_prefix": "api"},
            {"match": {"prefix": "/"}, "route": {"cluster": "b_example_com"}}]}]}}]},
]}


def test_sites_are_virtual_hosts_that_route_to_a_cluster_and_routes_with_stats() -> None:
    assert top.sites_of(DUMP) == [
        top.Target("a.example.com", "a_example_com", None, "cluster.a_example_com"),
        top.Target("b.example.com", "b_api", None, "cluster.b_api"),
        top.Target("b.example.com", "b_api", "api", "vhost.b.route.api"),
        top.Target("b.example.com", "b_example_com", None, "cluster.b_example_com"),
    ]


class FakeAdmin:
    """Just enough of AdminClient for the Sampler; counters grow between samples."""

    address = "127.0.0.1:9901"

    def __init__(self) -> None:
        self.samples = 0

    def config_dump(self) -> Any:
        return SimpleNamespace(raw=DUMP)

    def stats(self, filter: str) -> StatsSnapshot:
        self.samples += 1
        n = self.samples
        return StatsSnapshot(
            counters={"cluster.b_api.upstream_rq_2xx": 10 * n,
                      "cluster.b_api.upstream_rq_5xx": n,
                      "vhost.b.route.api.upstream_rq_2xx": 4 * n,
                      "https_b_api.http_local_rate_limit.rate_limited": 7},
            gauges={"server.total_connections": 3, "server.memory_allocated": 1048576,
                    "server.memory_heap_size": 2097152},
            histograms={"vhost.b.route.api.upstream_rq_time": Histogram(
                "vhost.b.route.api.upstream_rq_time", {50.0: 4.0, 95.0: 9.0, 99.0: 9.5},
                {50.0: None, 95.0: None, 99.0: None})})

    def server_info(self) -> Any:
        return SimpleNamespace(version_number="1.40.0", state="LIVE", restart_epoch=2,
                               uptime_current_epoch=61)

    def clusters(self) -> dict[str, ClusterStatus]:
        return {}


def test_the_sampler_turns_two_samples_into_rates_and_rows() -> None:
    sampler = top.Sampler(FakeAdmin())  # type: ignore[arg-type]
    first = sampler.sample()
    assert first["sample_seconds"] == 0 and first["sites"][1]["rps"] == 0.0
    second = sampler.sample()
    rows = {(r["cluster"], r["route"]): r for r in second["sites"]}
    b_api, route = rows[("b_api", None)], rows[("b_api", "api")]
    assert (b_api["requests"], b_api["2xx"], b_api["5xx"]) == (22, 20, 2)
    assert b_api["rps"] > 0 and len(b_api["history"]) == 1 and b_api["rate_limited"] == 7
    assert (route["requests"], route["rate_limited"], route["p50"], route["p99"]) == \
        (8, None, 4.0, 9.5)  # no interval samples: the cumulative quantiles
    assert second["server"] == {"version": "1.40.0", "state": "LIVE", "epoch": 2,
                                "uptime_s": 61, "connections": 3,
                                "memory_allocated": 1048576, "memory_heap_size": 2097152}


def test_rate_limited_counts_the_filters_named_after_the_site() -> None:
    stats = StatsSnapshot(counters={
        "https_a_example_com.http_local_rate_limit.rate_limited": 3,
        "http_a_example_com.http_local_rate_limit.rate_limited": 2,
        "http.http_local_rate_limit.rate_limited": 50,  # shared by every site: not a's
        "https_xa_example_com.http_local_rate_limit.ok": 9,
    })
    assert top.rate_limited(stats, "a_example_com") == 5


def site(name: str, rps: float, errors: int, p99: float | None) -> dict[str, Any]:
    return {"site": name, "route": None, "cluster": name.replace(".", "_"), "rps": rps,
            "requests": 10,
            "2xx": 10 - errors, "3xx": 0, "4xx": 0, "5xx": errors, "rate_limited": 0,
            "p50": 1.0, "p95": 2.0, "p99": p99, "history": [0.0, rps / 2, rps]}


FRAME: dict[str, Any] = {
    "admin": "127.0.0.1:9901",
    "server": {"version": "1.40.0", "state": "LIVE", "epoch": 1, "uptime_s": 3725.0,
               "connections": 4, "memory_allocated": 7340032, "memory_heap_size": 12582912},
    "sites": [site("a.example.com", 12.5, 0, 3.5), site("b.example.com", 2.0, 7, None),
              site("c.example.com", 40.0, 1, 9.0),
              {**site("c.example.com", 4.0, 0, 1.0), "route": "api", "rate_limited": None}],
    "upstreams": [
        {"cluster": "a_example_com", "healthy": 1, "hosts": 1, "unhealthy": [],
         "active_requests": 2, "retries": 0, "ejections": 0, "5xx": 0},
        {"cluster": "b_example_com", "healthy": 0, "hosts": 1, "unhealthy": ["127.0.0.21:80"],
         "active_requests": 0, "retries": 3, "ejections": 1, "5xx": 7},
    ],
    "sample_seconds": 1.0,
}


def test_select_sorts_and_filters() -> None:
    order = [(s["site"], s["route"]) for s in top.select(FRAME, "rps", "")["sites"]]
    assert order == [("c.example.com", None), ("a.example.com", None),
                     ("c.example.com", "api"), ("b.example.com", None)]
    assert len(top.select(FRAME, "site", "api")["sites"]) == 1
    assert top.select(FRAME, "5xx", "")["sites"][0]["site"] == "b.example.com"
    assert [s["site"] for s in top.select(FRAME, "p99", "")["sites"]][-1] == "b.example.com"
    only_b = top.select(FRAME, "site", "b_")
    assert [s["site"] for s in only_b["sites"]] == ["b.example.com"]
    assert [u["cluster"] for u in only_b["upstreams"]] == ["b_example_com"]


def test_sparkline_scales_to_the_peak() -> None:
    assert view.sparkline([0, 1, 2, 4]) == "▁▃▅█"
    assert view.sparkline([0, 0]) == "▁▁" and view.sparkline([]) == ""
    assert len(view.sparkline(range(100))) == view.SPARK_WIDTH


def test_a_frame_as_text() -> None:
    lines = [line.rstrip() for line in view.text(top.select(FRAME, "rps", "")).splitlines()]
    assert lines == [
        "envoy 1.40.0  LIVE  epoch 1  uptime 1h02m05s  connections 4  memory 7.0 MiB "
        "(heap 12.0 MiB)  admin 127.0.0.1:9901",
        "SITES",
        " SITE                 RQ/S  2XX  3XX  4XX  5XX  LIMITED  P50 MS  P95 MS  P99 MS  "
        "LAST MINUTE",
        " c.example.com        40.0    9    0    0    1        0     1.0     2.0     9.0  ▁▅█",
        " a.example.com        12.5   10    0    0    0        0     1.0     2.0     3.5  ▁▅█",
        " c.example.com [api]   4.0   10    0    0    0        -     1.0     2.0     1.0  ▁▅█",
        " b.example.com         2.0    3    0    0    7        0     1.0     2.0       -  ▁▅█",
        "UPSTREAMS",
        " CLUSTER        HEALTHY  ACTIVE RQ  RETRIES  EJECTED  5XX  UNHEALTHY",
        " a_example_com      1/1          2        0        0    0  -",
        " b_example_com      0/1          0        3        1    7  127.0.0.21:80",
    ]
    assert view.svg(FRAME).startswith("<svg")


def test_keys_sort_filter_and_quit() -> None:
    state = view._LiveState("rps", "")
    assert not state.handle("s") and state.sort == "5xx"
    for key in "/ab\x7fc":
        assert not state.handle(key)
    assert state.keys().startswith("filter: ac")
    state.handle("\r")
    assert (state.filter, state.prompt) == ("ac", None)
    state.handle("/")
    state.handle("\x1b")
    assert state.filter == ""
    assert state.keys().startswith("sort: 5xx (s)")
    assert state.handle("q")


ROUTER_NO_DYNAMIC = {"name": "envoy.filters.http.router",
                     "typed_config": {"dynamic_stats": False}}
FRONT_DUMP = {"configs": [{"static_listeners": [{"listener": {"filter_chains": [
    {"filters": [{"typed_config": {  # an HTTPS site's own connection manager
        "stat_prefix": "https_shop_example_com", "http_filters": [ROUTER_NO_DYNAMIC],
        "route_config": {"name": "https_shop_example_com", "virtual_hosts": [
            {"name": "shop", "domains": ["shop.example.com"], "routes": [
                {"match": {"prefix": "/api"}, "route": {"cluster": "api"}, "stat_prefix": "a"},
                {"match": {"prefix": "/"}, "route": {"cluster": "web"}},
                {"match": {"prefix": "/x"}, "route": {"cluster": "api"}}]}]}}}]},
    {"filters": [{"typed_config": {  # shared by two sites: no per-site stats of its own
        "stat_prefix": "http", "http_filters": [ROUTER_NO_DYNAMIC],
        "route_config": {"virtual_hosts": [
            {"name": "p", "domains": ["p.example.com"],
             "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "p"}}]},
            {"name": "q", "domains": ["q.example.com"],
             "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "q"}}]}]}}}]},
]}}]}]}
# /config_dump lists an inline route table again among the static route configs
FRONT_DUMP["configs"].append({"static_route_configs": [{"route_config": json.loads(json.dumps(
    FRONT_DUMP["configs"][0]["static_listeners"][0]["listener"]["filter_chains"][0]["filters"][0]
    ["typed_config"]["route_config"]))}]})


def test_a_site_with_its_own_connection_manager_is_one_row_from_its_stats() -> None:
    assert top.sites_of(FRONT_DUMP) == [
        top.Target("shop.example.com", "api, web", None, "http.https_shop_example_com",
                   front=True),
        top.Target("shop.example.com", "api", "a", "vhost.shop.route.a"),
        top.Target("p.example.com", "p", None, "cluster.p"),
        top.Target("q.example.com", "q", None, "cluster.q"),
    ]
    dynamic = {"name": "envoy.filters.http.router", "typed_config": {}}
    with_dynamic = json.loads(json.dumps(FRONT_DUMP).replace(
        json.dumps(ROUTER_NO_DYNAMIC), json.dumps(dynamic)))
    assert [t.cluster for t in top.sites_of(with_dynamic)][:3] == ["api", "api", "web"]


class FrontAdmin(FakeAdmin):
    def config_dump(self) -> Any:
        return SimpleNamespace(raw=FRONT_DUMP)

    def stats(self, filter: str) -> StatsSnapshot:
        assert re.search(filter, "http.https_shop_example_com.downstream_rq_5xx")
        assert re.search(filter, "http.https_shop_example_com.downstream_rq_time")
        self.samples += 1
        n = self.samples
        return StatsSnapshot(
            counters={"http.https_shop_example_com.downstream_rq_2xx": 10 * n,
                      "http.https_shop_example_com.downstream_rq_4xx": 3,
                      "https_shop_example_com.http_local_rate_limit.rate_limited": 3,
                      "cluster.p.upstream_rq_total": 6 * n},
            gauges={}, histograms={"http.https_shop_example_com.downstream_rq_time": Histogram(
                "http.https_shop_example_com.downstream_rq_time", {50.0: 2.0, 99.0: 8.0},
                {50.0: 1.0, 99.0: 7.0})})

    def clusters(self) -> dict[str, ClusterStatus]:
        hosts = tuple(HostStatus(("127.0.0.20", 80), "HEALTHY", frozenset(), {"rq_error": e})
                      for e in (2, 3))
        return {"p": ClusterStatus("p", hosts)}


def test_rows_from_a_sites_connection_manager_and_without_per_class_counters() -> None:
    sampler = top.Sampler(FrontAdmin())  # type: ignore[arg-type]
    sampler.sample()
    frame = sampler.sample()
    rows = {(r["site"], r["route"]): r for r in frame["sites"]}
    shop = rows[("shop.example.com", None)]
    assert (shop["cluster"], shop["requests"], shop["2xx"], shop["4xx"], shop["5xx"]) == \
        ("api, web", 23, 20, 3, 0)
    assert (shop["rate_limited"], shop["p50"], shop["p99"]) == (3, 1.0, 7.0)
    assert shop["rps"] > 0
    p = rows[("p.example.com", None)]  # shared connection manager, no dynamic stats
    assert (p["requests"], p["2xx"], p["5xx"], p["p99"]) == (12, None, None, None)
    assert p["rps"] > 0
    assert frame["upstreams"][0]["5xx"] == 5  # the hosts' rq_error without the counter
    line = next(x for x in view.text(frame).splitlines() if x.split()[:1] == ["p.example.com"])
    assert line.split()[2:7] == ["-", "-", "-", "-", "0"]
