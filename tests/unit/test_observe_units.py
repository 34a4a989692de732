"""Pure pieces of issue 15: detailed histograms, Prometheus parsing, event records, JSON logs."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from envoykit._cli.output import JsonFormatter, progress
from envoykit.admin import (
    AdminResponseError,
    Bucket,
    Histogram,
    parse_prometheus,
    parse_stats_json,
)
from envoykit.process import SupervisorEvent as Event
from envoykit.process import SupervisorState as State

DETAILED = {"stats": [{"histograms": {
    "supported_percentiles": [0, 50, 99],
    "details": [{
        "name": "cluster.a.upstream_rq_time",
        "totals": [{"lower_bound": 0, "width": 0, "count": 2},
                   {"lower_bound": 200, "width": 10, "count": 5}],
        "intervals": [{"lower_bound": 200, "width": 10, "count": 1}],
        "percentiles": [{"cumulative": 0, "interval": 200},
                        {"cumulative": 204, "interval": 205},
                        {"cumulative": 209.9, "interval": 209}],
    }],
}}]}


def test_detailed_histograms_carry_quantiles_and_buckets() -> None:
    h = parse_stats_json(json.dumps(DETAILED)).histograms["cluster.a.upstream_rq_time"]
    assert h.supported_quantiles == (0.0, 50.0, 99.0)
    assert (h.p50, h.p99, h.p95) == (204, 209.9, None)
    assert h.quantile(50, interval=True) == 205
    assert h.count == 7
    assert h.bucket_of(204) == Bucket(200.0, 10.0, 5) and h.bucket_of(210) is None
    assert h.bucket_of(0) == Bucket(0.0, 0.0, 2)  # a zero-width bucket holds its bound
    assert h.bucket_of(205, interval=True) == Bucket(200.0, 10.0, 1)
    assert Bucket(200.0, 10.0, 5).upper_bound == 210.0
    assert h.percentile(99) == 209.9 and h.percentile(0, interval=True) == 200
    with pytest.raises(KeyError, match="no quantile 95"):
        h.quantile(95)
    empty = Histogram("x.rq_time", {50.0: None}, {50.0: None})
    with pytest.raises(ValueError, match=r"x\.rq_time has no samples yet"):
        empty.percentile(50)


PROM = """\
# TYPE envoy_cluster_upstream_rq_total counter
envoy_cluster_upstream_rq_total{envoy_cluster_name="a"} 7
# TYPE envoy_cluster_upstream_rq counter
envoy_cluster_upstream_rq{envoy_response_code="200",envoy_cluster_name="a"} 6
envoy_cluster_upstream_rq{envoy_response_code="503",envoy_cluster_name="a"} 1
# TYPE envoy_server_live gauge
envoy_server_live{} 1
"""


def test_prometheus_families_merge_envoys_x_total_and_x() -> None:
    metrics = parse_prometheus(PROM)
    assert set(metrics) == {"envoy_cluster_upstream_rq", "envoy_server_live"}
    assert metrics.value("envoy_cluster_upstream_rq_total", envoy_cluster_name="a") == 7
    assert metrics.value("envoy_cluster_upstream_rq_total", envoy_cluster_name="a",
                         envoy_response_code="503") == 1
    assert metrics.value("envoy_server_live") == 1 and len(metrics.samples()) == 4
    with pytest.raises(KeyError, match="label sets found"):
        metrics.value("envoy_server_live", x="y")


def test_bad_prometheus_text_is_a_response_error() -> None:
    with pytest.raises(AdminResponseError, match="cannot parse Prometheus text"):
        parse_prometheus("envoy_x abc\n")


def test_events_have_levels_fields_and_a_line_for_people() -> None:
    crash = Event("crash", State.RESTARTING, 0, 42, "envoy pid 42 exited with code 1")
    assert crash.level == logging.WARNING
    assert Event("gave_up", State.FAILED).level == logging.ERROR
    assert Event("started", State.LIVE, 0, 42, "envoy is live").level == logging.INFO
    assert crash.fields() == {"event": "crash", "state": "restarting", "epoch": 0, "pid": 42,
                              "reason": "envoy pid 42 exited with code 1"}
    assert crash.describe() == "crash: envoy pid 42 exited with code 1 [epoch 0, pid 42]"
    assert Event("stopped", State.STOPPED).describe() == "stopped: stopped"


def test_json_formatter_writes_one_object_with_the_extra_fields() -> None:
    record = logging.LogRecord("envoykit.process.events", logging.WARNING, __file__, 1,
                               "%s happened", ("crash",), None)
    for key, value in Event("crash", State.RESTARTING, 1, 7, "why").fields().items():
        setattr(record, key, value)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data.pop("time").endswith("Z")
    assert data == {"level": "warning", "logger": "envoykit.process.events",
                    "message": "crash happened", "event": "crash", "state": "restarting",
                    "epoch": 1, "pid": 7, "reason": "why"}


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_spins_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    with progress("draining connections…"):
        pass
    assert "draining connections…" in screen.getvalue()
    quiet = Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    with progress("draining connections…", enabled=False):  # --log-format json
        pass
    piped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", piped)
    with progress("draining connections…"):
        pass
    assert quiet.getvalue() == piped.getvalue() == ""
