"""envoykit top without envoy: sites from a config dump, sorting, filtering, drawing, keys."""

from __future__ import annotations

from typing import Any

from envoykit._cli import _top_view as view
from envoykit._cli import top
from envoykit.admin import StatsSnapshot

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
            {"match": {"prefix": "/api"}, "route": {"cluster": "b_api"}},
            {"match": {"prefix": "/"}, "route": {"cluster": "b_example_com"}}]}]}}]},
]}


def test_sites_are_virtual_hosts_that_route_to_a_cluster() -> None:
    assert top.sites_of(DUMP) == [("a.example.com", "a_example_com"),
                                  ("b.example.com", "b_api"), ("b.example.com", "b_example_com")]


def test_rate_limited_counts_the_filters_named_after_the_site() -> None:
    stats = StatsSnapshot(counters={
        "https_a_example_com.http_local_rate_limit.rate_limited": 3,
        "http_a_example_com.http_local_rate_limit.rate_limited": 2,
        "http.http_local_rate_limit.rate_limited": 50,  # shared by every site: not a's
        "https_xa_example_com.http_local_rate_limit.ok": 9,
    })
    assert top.rate_limited(stats, "a_example_com") == 5


def site(name: str, rps: float, errors: int, p99: float | None) -> dict[str, Any]:
    return {"site": name, "cluster": name.replace(".", "_"), "rps": rps, "requests": 10,
            "2xx": 10 - errors, "3xx": 0, "4xx": 0, "5xx": errors, "rate_limited": 0,
            "p50": 1.0, "p95": 2.0, "p99": p99, "history": [0.0, rps / 2, rps]}


FRAME: dict[str, Any] = {
    "admin": "127.0.0.1:9901",
    "server": {"version": "1.40.0", "state": "LIVE", "epoch": 1, "uptime_s": 3725.0,
               "connections": 4, "memory_allocated": 7340032, "memory_heap_size": 12582912},
    "sites": [site("a.example.com", 12.5, 0, 3.5), site("b.example.com", 2.0, 7, None),
              site("c.example.com", 40.0, 1, 9.0)],
    "upstreams": [
        {"cluster": "a_example_com", "healthy": 1, "hosts": 1, "unhealthy": [],
         "active_requests": 2, "retries": 0, "ejections": 0, "5xx": 0},
        {"cluster": "b_example_com", "healthy": 0, "hosts": 1, "unhealthy": ["127.0.0.21:80"],
         "active_requests": 0, "retries": 3, "ejections": 1, "5xx": 7},
    ],
    "sample_seconds": 1.0,
}


def test_select_sorts_and_filters() -> None:
    order = [s["site"] for s in top.select(FRAME, "rps", "")["sites"]]
    assert order == ["c.example.com", "a.example.com", "b.example.com"]
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
        " SITE           RQ/S  2XX  3XX  4XX  5XX  LIMITED  P50 MS  P95 MS  P99 MS  LAST MINUTE",
        " c.example.com  40.0    9    0    0    1        0     1.0     2.0     9.0  ▁▅█",
        " a.example.com  12.5   10    0    0    0        0     1.0     2.0     3.5  ▁▅█",
        " b.example.com   2.0    3    0    0    7        0     1.0     2.0       -  ▁▅█",
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
