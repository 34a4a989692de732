"""The edges of the stats snapshot that the parser tests do not reach (found by mutation
testing, see docs/quality.md): which quantiles a default call reads, what a missing name
or quantile says, equality over every section, prefix filtering of every section, and
the histogram block shapes envoy can send."""

from __future__ import annotations

import json

import pytest

from envoykit.admin import Histogram, StatsSnapshot
from envoykit.admin._stats import parse_stats_json

H = Histogram("rq_time", cumulative={50.0: 1.0, 99.0: 9.0}, interval={50.0: 2.0, 99.0: 20.0})


def test_quantile_reads_cumulative_unless_interval_is_asked() -> None:
    assert H.quantile(50) == 1.0
    assert H.quantile(50, interval=True) == 2.0
    assert H.percentile(99) == 9.0 and H.percentile(99, interval=True) == 20.0


def test_a_missing_quantile_names_the_histogram_and_the_known_ones() -> None:
    with pytest.raises(KeyError) as info:
        H.quantile(75)
    assert info.value.args[0] == "rq_time: no quantile 75 (envoy computed: 50, 99)"


def test_a_missing_stat_is_a_key_error_naming_it() -> None:
    snap = StatsSnapshot(counters={"a": 1})
    with pytest.raises(KeyError) as item:
        snap["nope"]
    with pytest.raises(KeyError) as number:
        snap.number("nope")
    assert item.value.args == number.value.args == ("nope",)
    assert snap.number("nope", 7) == 7


@pytest.mark.parametrize("section", ["counters", "gauges", "text_readouts", "histograms"])
def test_snapshots_differing_in_any_one_section_are_not_equal(section: str) -> None:
    base = {"counters": {"c": 1}, "gauges": {"g": 1}, "text_readouts": {"t": "x"},
            "histograms": {"h": H}}
    other = {**base, section: {}}
    assert StatsSnapshot(**base) == StatsSnapshot(**base)  # type: ignore[arg-type]
    assert StatsSnapshot(**base) != StatsSnapshot(**other)  # type: ignore[arg-type]


def test_with_prefix_filters_every_section() -> None:
    snap = StatsSnapshot(counters={"a.c": 1, "b.c": 2}, gauges={"a.g": 3, "b.g": 4},
                         text_readouts={"a.t": "x", "b.t": "y"},
                         histograms={"a.h": H, "b.h": H})
    assert sorted(snap.with_prefix("a.")) == ["a.c", "a.g", "a.h", "a.t"]


def test_gauges_keep_the_text_readouts_and_histograms_of_their_body() -> None:
    body = {"stats": [{"name": "g", "value": 5}, {"name": "t", "value": "v1"},
                      {"histograms": {"supported_quantiles": [50],
                                      "computed_quantiles": [{"name": "h", "values": [
                                          {"cumulative": 1, "interval": 2}]}]}}]}
    snap = parse_stats_json(json.dumps(body), numbers="gauges")
    assert (snap.gauges, snap.counters) == ({"g": 5}, {})
    assert snap.text_readouts == {"t": "v1"}
    assert snap.histograms["h"].name == "h" and snap.histograms["h"].quantile(50) == 1


def test_a_histogram_block_without_quantiles_is_empty_and_a_short_one_is_refused() -> None:
    assert parse_stats_json(json.dumps({"stats": [{"histograms": {}}]})).histograms == {}
    short = {"stats": [{"histograms": {"supported_quantiles": [50, 99],
                                       "computed_quantiles": [{"name": "h", "values": [
                                           {"cumulative": 1, "interval": 2}]}]}}]}
    with pytest.raises(Exception, match="zip"):  # one value for two quantiles: refused
        parse_stats_json(json.dumps(short))
