"""Parsers of the admin client, fed with responses recorded from a real Envoy 1.40.

The fixtures are written by ``scripts/record_admin_fixtures.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from envoykit.admin import AdminResponseError, ConfigDump, Histogram, StatsSnapshot
from envoykit.admin import _models as m
from envoykit.admin._stats import parse_stats_json

FIXTURES = Path(__file__).parent / "fixtures" / "admin"


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def data(name: str) -> Any:
    return json.loads(raw(name))


# --- server info, listeners --------------------------------------------------------------


def test_server_info_of_a_live_envoy() -> None:
    info = m.parse_server_info(data("server_info.json"))
    assert info.state == "LIVE" and info.is_live
    assert info.version_number == "1.40.0"
    assert info.version.endswith("/1.40.0/Clean/RELEASE/BoringSSL")
    assert info.restart_epoch == 0
    assert isinstance(info.uptime_current_epoch, float)
    assert info.uptime_all_epochs >= info.uptime_current_epoch >= 5.0
    assert info.hot_restart_version == "11.104"
    assert info.command_line_options["concurrency"] == 1
    assert info.command_line_options["use_dynamic_base_id"] is True
    assert info.node["id"] == "envoykit-admin-test"


def test_server_info_of_an_envoy_still_initializing() -> None:
    info = m.parse_server_info(data("server_info_initializing.json"))
    assert info.state == "PRE_INITIALIZING"
    assert not info.is_live


def test_server_info_with_a_wrong_shape_is_an_admin_error() -> None:
    with pytest.raises(AdminResponseError, match="/server_info"):
        m.parse_server_info({"state": "LIVE"})


def test_listeners_report_the_real_ports_of_port_0_listeners() -> None:
    listeners = m.parse_listeners(data("listeners.json"))
    assert set(listeners) == {"ingress_http", "ingress_https", "dynamic_http"}
    for host, port in listeners.values():
        assert host == "127.0.0.1"
        assert 0 < port < 65536


def test_pipe_addresses_become_path_and_port_0() -> None:
    status = {"name": "uds", "local_address": {"pipe": {"path": "/tmp/a.sock"}}}
    assert m.parse_listeners({"listener_statuses": [status]}) == {"uds": ("/tmp/a.sock", 0)}


# --- stats -------------------------------------------------------------------------------


def snapshot() -> StatsSnapshot:
    parts = [
        parse_stats_json(raw("stats_counters.json")),
        parse_stats_json(raw("stats_gauges.json"), numbers="gauges"),
        parse_stats_json(raw("stats_text_readouts.json")),
        parse_stats_json(raw("stats_histograms.json")),
    ]
    return StatsSnapshot().merge(*parts)


def test_counters_gauges_readouts_and_histograms_are_told_apart() -> None:
    snap = snapshot()
    assert snap.counters["cluster.backend.upstream_rq_total"] == 2
    assert snap.counters["http.ingress_http.downstream_rq_total"] == 5
    assert snap.gauges["server.live"] == 1
    assert "server.live" not in snap.counters
    assert snap.text_readouts["listener_manager.lds.version_text"] == "l1"
    assert snap.text_readouts["cluster_manager.cds.version_text"] == "c1"
    # every entry of the counters dump, counted straight from the file (not a copied number)
    assert len(snap.counters) == len(json.loads(raw("stats_counters.json"))["stats"])
    assert len(snap) == sum(
        len(t) for t in (snap.counters, snap.gauges, snap.text_readouts, snap.histograms)
    )


def test_histograms_have_quantiles_in_percent() -> None:
    rq_time = snapshot().histograms["cluster.backend.upstream_rq_time"]
    assert isinstance(rq_time, Histogram)
    assert list(rq_time.cumulative) == [0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100]
    assert rq_time.p50 is not None and rq_time.p99 is not None
    assert (rq_time.quantile(100) or 0) > 0
    assert rq_time.quantile(99.9) == rq_time.cumulative[99.9]
    assert rq_time.quantile(50, interval=True) == rq_time.interval[50.0]
    with pytest.raises(KeyError, match="no quantile 42"):
        rq_time.quantile(42)


def test_histograms_without_samples_read_as_none() -> None:
    histograms = snapshot().histograms
    empty = [h for h in histograms.values() if all(v is None for v in h.cumulative.values())]
    assert empty, "the recorded envoy has histograms that never got a sample"
    assert empty[0].p99 is None


def test_snapshot_is_a_mapping_over_all_kinds() -> None:
    snap = snapshot()
    assert snap["server.live"] == 1
    assert snap["listener_manager.lds.version_text"] == "l1"
    assert isinstance(snap["cluster.backend.upstream_rq_time"], Histogram)
    assert "cluster.backend.upstream_rq_total" in snap
    assert "nope" not in snap
    assert snap.get("nope", 7) == 7
    with pytest.raises(KeyError):
        snap["nope"]
    assert sorted(snap) == sorted(snap.keys())


def test_number_reads_counters_and_gauges_as_int() -> None:
    snap = snapshot()
    assert snap.number("server.live") == 1
    assert snap.number("cluster.backend.upstream_rq_total") == 2
    assert snap.number("missing", 0) == 0
    with pytest.raises(KeyError):
        snap.number("listener_manager.lds.version_text")


def test_a_type_all_dump_puts_plain_numbers_in_counters() -> None:
    snap = parse_stats_json(raw("stats_all.json"))
    assert snap.counters["server.live"] == 1
    assert snap.text_readouts["cluster_manager.cds.version_text"] == "c1"
    assert "cluster.backend.upstream_rq_time" in snap.histograms
    assert not snap.gauges


def test_subtraction_gives_deltas() -> None:
    before = StatsSnapshot(counters={"a": 1, "b": 5}, gauges={"g": 10}, text_readouts={"t": "x"})
    after = StatsSnapshot(
        counters={"a": 4, "b": 5, "new": 2}, gauges={"g": 7}, text_readouts={"t": "y"}
    )
    delta = after - before
    assert dict(delta.counters) == {"a": 3, "b": 0, "new": 2}
    assert dict(delta.gauges) == {"g": -3}
    assert dict(delta.text_readouts) == {"t": "y"}
    assert snapshot() - snapshot() == StatsSnapshot(
        counters=dict.fromkeys(snapshot().counters, 0),
        gauges=dict.fromkeys(snapshot().gauges, 0),
        text_readouts=snapshot().text_readouts,
        histograms=snapshot().histograms,
    )


def test_with_prefix_keeps_only_matching_names() -> None:
    part = snapshot().with_prefix("cluster.backend.")
    assert part and all(name.startswith("cluster.backend.") for name in part)


@pytest.mark.parametrize("body", [b"", b"{}", b'{"stats": 3}', b"<html>"])
def test_bad_stats_json_is_an_admin_error(body: bytes) -> None:
    with pytest.raises(AdminResponseError, match=r"^/stats: cannot parse stats JSON"):
        parse_stats_json(body)


def test_numbers_must_name_counters_or_gauges() -> None:
    with pytest.raises(ValueError, match="numbers"):
        parse_stats_json(b'{"stats": []}', numbers="histograms")


# --- config dump -------------------------------------------------------------------------


def test_full_config_dump_sections() -> None:
    dump = ConfigDump(data("config_dump.json"))
    assert dump.bootstrap["node"]["id"] == "envoykit-admin-test"
    assert set(dump.static_listeners) == {"ingress_http", "ingress_https"}
    assert dump.static_listeners["ingress_http"].config["name"] == "ingress_http"
    assert set(dump.dynamic_listeners) == {"dynamic_http"}
    assert dump.dynamic_listeners["dynamic_http"].version_info == "l1"
    assert dump.dynamic_listeners["dynamic_http"].state == "active"
    assert dump.listeners_version_info == "l1"
    assert not dump.warming_listeners and not dump.draining_listeners
    assert set(dump.static_clusters) == {"backend", "dead", "tls_backend"}
    assert set(dump.dynamic_clusters) == {"dyn_backend"}
    assert dump.dynamic_clusters["dyn_backend"].version_info == "c1"
    assert dump.clusters_version_info == "c1"
    assert set(dump.static_routes) == {"local_route", "tls_route"}
    assert dump.dynamic_routes["dynamic_route"].version_info == "r1"
    assert set(dump.static_secrets) == {"server_cert", "upstream_ca"}
    assert not dump.dynamic_secrets and not dump.static_endpoints


def test_config_dump_with_eds() -> None:
    dump = ConfigDump(data("config_dump_eds.json"))
    assert {"backend", "dead", "tls_backend"} <= set(dump.static_endpoints)
    endpoint = dump.static_endpoints["backend"].config["endpoints"][0]
    assert endpoint["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]["port_value"] > 0


def test_config_dump_of_one_resource() -> None:
    dump = ConfigDump(data("config_dump_dynamic_listeners.json"), resource="dynamic_listeners")
    assert set(dump.dynamic_listeners) == {"dynamic_http"}
    assert dump.dynamic_listeners["dynamic_http"].version_info == "l1"
    assert not dump.static_listeners


def test_config_dump_of_one_resource_without_saying_which() -> None:
    dump = ConfigDump(data("config_dump_dynamic_listeners.json"))
    assert set(dump.dynamic_listeners) == {"dynamic_http"}


def test_masked_config_dump_keeps_only_the_masked_fields() -> None:
    dump = ConfigDump(data("config_dump_static_clusters_mask.json"), resource="static_clusters")
    clusters = dump.static_clusters
    assert set(clusters) == {"backend", "dead", "tls_backend"}
    assert set(clusters["dead"].config) == {"@type", "name"}


def test_config_dump_with_a_wrong_shape_is_an_admin_error() -> None:
    with pytest.raises(AdminResponseError, match="/config_dump"):
        ConfigDump({"configs": [3]})


# --- clusters, certs, memory, runtime, logging ---------------------------------------------


def test_clusters_report_health_flags_and_host_stats() -> None:
    clusters = m.parse_clusters(data("clusters.json"))
    assert set(clusters) == {"backend", "dead", "tls_backend", "dyn_backend"}
    (dead,) = clusters["dead"].hosts
    assert dead.health_flags == {"failed_active_health_check"}
    assert not dead.healthy and not clusters["dead"].healthy_hosts
    (backend,) = clusters["backend"].hosts
    assert backend.healthy and backend.eds_health_status == "HEALTHY"
    assert backend.stats["rq_total"] == 2 and backend.stats["rq_success"] == 2
    assert backend.stats["rq_error"] == 0
    assert backend.address[0] == "127.0.0.1"
    assert clusters["dyn_backend"].added_via_api
    assert not clusters["backend"].added_via_api


def test_certs_report_days_until_expiry() -> None:
    certs = m.parse_certs(data("certs.json"))
    kinds = sorted(cert.kind for cert in certs)
    assert kinds == ["ca_cert", "cert_chain"]
    chain = next(cert for cert in certs if cert.kind == "cert_chain")
    assert chain.path.endswith("cert.pem")
    assert chain.subject_alt_names == ("a.example.com", "b.example.com")
    assert chain.days_until_expiration > 300_000  # trustme certificates run to the year 3000
    assert chain.expiration_time.startswith("3000-01-01")


def test_memory_numbers_arrive_as_strings_and_become_ints() -> None:
    memory = m.parse_memory(data("memory.json"))
    assert memory.allocated > 1_000_000
    assert memory.heap_size >= memory.allocated


def test_runtime_layers_and_values() -> None:
    runtime = m.parse_runtime(data("runtime.json"))
    assert runtime.layers == ("static", "admin")
    assert runtime.values == {"envoykit.test.flag": "on", "envoykit.test.knob": "42"}
    assert runtime.layer_values["envoykit.test.knob"] == ("", "42")


def test_logging_levels_after_setting_components() -> None:
    levels = m.parse_logging(raw("logging_paths.txt").decode())
    assert levels["upstream"] == "debug"
    assert levels["connection"] == "trace"
    assert levels["admin"] == "warning"
    assert len(levels) > 50


def test_logging_without_a_listing_is_an_admin_error() -> None:
    with pytest.raises(AdminResponseError, match="/logging"):
        m.parse_logging(raw("logging_get.txt").decode())


def test_merge_keeps_every_part_and_later_parts_win() -> None:
    a = StatsSnapshot(counters={"x": 1, "y": 1}, gauges={"g": 1})
    b = StatsSnapshot(counters={"y": 2}, text_readouts={"t": "v"})
    merged = a.merge(b)
    assert dict(merged.counters) == {"x": 1, "y": 2}
    assert dict(merged.gauges) == {"g": 1} and dict(merged.text_readouts) == {"t": "v"}
    assert StatsSnapshot().merge() == StatsSnapshot()
