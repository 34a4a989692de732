"""The admin client's sans-IO core: addresses, /help parsing, parameter checks, statuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from envoykit.admin import AdminError, AdminHTTPError, AdminParameterError
from envoykit.admin import _protocol as p

FIXTURES = Path(__file__).parent / "fixtures" / "admin"
HELP = p.parse_help((FIXTURES / "help.txt").read_text())


@pytest.mark.parametrize(
    ("address", "url"),
    [
        ("127.0.0.1:9901", "http://127.0.0.1:9901"),
        ("http://127.0.0.1:9901/", "http://127.0.0.1:9901"),
        (("127.0.0.1", 9901), "http://127.0.0.1:9901"),
        (("::1", 9901), "http://[::1]:9901"),
        ("[::1]:9901", "http://[::1]:9901"),
    ],
)
def test_base_url_accepts_the_usual_spellings(address: p.Address, url: str) -> None:
    assert p.base_url(address) == url


@pytest.mark.parametrize("address", ["", "  ", "ftp://127.0.0.1:21"])
def test_base_url_rejects_nonsense(address: str) -> None:
    with pytest.raises(ValueError, match="admin address"):
        p.base_url(address)


def test_help_lists_the_parameters_of_envoy_1_40() -> None:
    stats = HELP["/stats"].params
    assert set(stats) == {
        "usedonly",
        "filter",
        "invert_filter",
        "format",
        "type",
        "histogram_buckets",
    }
    assert stats["type"] == ("All", "Counters", "Histograms", "Gauges", "TextReadouts")
    assert stats["filter"] is None
    assert HELP["/stats/prometheus"].params["histogram_buckets"] == ("cumulative", "summary")
    assert HELP["/drain_listeners"].params.keys() == {"graceful", "skip_exit", "inboundonly"}
    assert HELP["/logging"].params["level"] is not None
    assert "" in (HELP["/logging"].params["level"] or ())
    assert HELP["/quitquitquit"].params == {}
    assert "/config_dump" in HELP and "include_eds" in HELP["/config_dump"].params


def test_check_params_spells_choices_the_way_envoy_does() -> None:
    call = p.get("/stats", {"type": "counters", "filter": "x"})
    checked = p.check_params(HELP, call)
    assert checked.params == (("type", "Counters"), ("filter", "x"))


def test_check_params_names_the_parameters_envoy_accepts() -> None:
    call = p.get("/stats", {"histograms": "1"})
    with pytest.raises(AdminParameterError, match="unknown parameter 'histograms'") as info:
        p.check_params(HELP, call)
    assert "invert_filter" in str(info.value)
    assert info.value.endpoint == "/stats"
    assert isinstance(info.value, AdminError) and isinstance(info.value, ValueError)


def test_check_params_rejects_a_value_outside_the_choices() -> None:
    call = p.get("/stats/prometheus", {"histogram_buckets": "detailed"})
    with pytest.raises(AdminParameterError, match="'cumulative', 'summary'"):
        p.check_params(HELP, call)


def test_check_params_rejects_an_unknown_endpoint() -> None:
    with pytest.raises(AdminParameterError, match="no such admin endpoint"):
        p.check_params(HELP, p.get("/statz", {"filter": "x"}))


def test_check_params_skips_names_marked_unchecked() -> None:
    call = p.Call("GET", "/clusters", (("format", "json"),), unchecked=frozenset({"format"}))
    assert p.check_params(HELP, call) == call


def test_none_params_are_left_out_and_flags_are_empty_values() -> None:
    call = p.post("/drain_listeners", {"graceful": p.flag(True), "inboundonly": p.flag(False)})
    assert call.params == (("graceful", ""),)
    assert call.method == "POST"


def test_send_raises_http_error_for_a_status_the_call_does_not_accept() -> None:
    op = p.send(p.get("/stats"))
    assert next(op) == p.get("/stats")
    with pytest.raises(AdminHTTPError) as info:
        op.send(p.Reply(400, b"invalid &type= param"))
    error = info.value
    assert (error.status, error.endpoint) == (400, "/stats")
    assert str(error) == "/stats: HTTP 400: invalid &type= param"


def test_parse_json_error_names_the_endpoint() -> None:
    with pytest.raises(AdminError, match=r"^/memory: expected JSON, got 'oops'"):
        p.parse_json(b"oops", "/memory")
