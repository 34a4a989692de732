"""The admin client against a real envoy, for every method (sync and async).

Each xdist worker starts its own envoys (admin and listeners on 127.0.0.1 port 0, dynamic
base id), so the module is safe under ``pytest -n 2``. Read-only tests share one envoy per
module; tests that change envoy's state (health, drain, quit, counters) get their own.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _admin_helpers import Envoy, rich_envoy

from envoykit.admin import (
    AdminClient,
    AdminConnectError,
    AdminHTTPError,
    AdminParameterError,
    AdminTimeout,
    AsyncAdminClient,
    Histogram,
)
from envoykit.testing import async_wait_until, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def shared_envoy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Envoy]:
    with rich_envoy(tmp_path_factory.mktemp("admin-shared")) as envoy:
        yield envoy


@pytest.fixture
def admin(shared_envoy: Envoy) -> Iterator[AdminClient]:
    with AdminClient(shared_envoy.admin_address, timeout=5) as client:
        yield client


@pytest.fixture
def own_envoy(tmp_path: Path) -> Iterator[Envoy]:
    with rich_envoy(tmp_path) as envoy:
        yield envoy


def get(admin: AdminClient, listener: str, path: str = "/") -> httpx.Response:
    host, port = admin.listeners()[listener]
    return httpx.get(f"http://{host}:{port}{path}", timeout=5)


def accepts(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=0.5):
            return True
    except OSError:
        return False


# --- core methods --------------------------------------------------------------------------


def test_ready_and_server_info(admin: AdminClient) -> None:
    assert admin.ready() is True
    info = admin.server_info()
    assert info.state == "LIVE" and info.restart_epoch == 0
    assert info.version_number == "1.40.0"
    assert info.command_line_options["concurrency"] == 1
    assert info.uptime_all_epochs >= info.uptime_current_epoch >= 0


def test_listeners_report_real_ports_that_serve(admin: AdminClient) -> None:
    listeners = admin.listeners()
    assert set(listeners) == {"ingress_http", "ingress_https", "dynamic_http"}
    assert all(port > 0 for _, port in listeners.values())
    assert get(admin, "ingress_http").text == "hello"
    assert get(admin, "dynamic_http").text == "hello"


def test_stats_delta_counts_the_requests_sent(admin: AdminClient) -> None:
    before = admin.stats(filter=r"^http\.ingress_http\.")
    for _ in range(3):
        assert get(admin, "ingress_http").status_code == 200
    after = admin.stats(filter=r"^http\.ingress_http\.")
    delta = after - before
    assert delta["http.ingress_http.downstream_rq_total"] == 3
    assert delta["http.ingress_http.downstream_rq_2xx"] == 3
    assert all(name.startswith("http.ingress_http.") for name in after)


def test_stats_tells_the_kinds_apart(admin: AdminClient) -> None:
    snap = admin.stats()
    assert snap.gauges["server.live"] == 1
    assert snap.counters["cluster_manager.cds.update_success"] >= 1
    assert snap.text_readouts["listener_manager.lds.version_text"] == "l1"
    assert isinstance(snap["http.ingress_http.downstream_rq_time"], Histogram)
    used = admin.stats(usedonly=True)
    assert 0 < len(used) < len(snap)
    only = admin.stats(type="counters")
    assert only.counters and not only.gauges and not only.histograms


def test_stats_invert_filter(admin: AdminClient) -> None:
    snap = admin.stats(filter="^server\\.", invert_filter=True)
    assert snap and not any(name.startswith("server.") for name in snap)


def test_wait_for_an_upstream_request(admin: AdminClient) -> None:
    start = admin.stats(filter=r"^cluster\.backend\.upstream_rq_total$")
    total = start.number("cluster.backend.upstream_rq_total", 0)
    assert get(admin, "ingress_http", "/up").text == "upstream"
    stat = "cluster.backend.upstream_rq_total"
    assert admin.wait_for(stat, lambda v: v >= total + 1, timeout=60) == total + 1
    with pytest.raises(AdminTimeout, match="did not satisfy"):
        admin.wait_for(stat, lambda v: v > total + 100, timeout=0.2)


def test_the_seed_examples_as_text_and_prometheus(admin: AdminClient) -> None:
    get(admin, "ingress_http")
    text = admin.stats_text(filter=r"^http\.ingress_http")
    lines = text.splitlines()
    assert lines and all(line.startswith("http.ingress_http") for line in lines)
    assert any(line.startswith("http.ingress_https.") for line in lines)  # the regex is a prefix
    prom = admin.prometheus_text(filter=r"^http\.ingress_http", histogram_buckets="summary")
    assert 'envoy_http_downstream_rq_total{envoy_http_conn_manager_prefix="ingress_http"}' in prom
    assert "quantile=" in prom


def test_config_dump(admin: AdminClient) -> None:
    dump = admin.config_dump()
    assert set(dump.static_listeners) == {"ingress_http", "ingress_https"}
    assert dump.dynamic_listeners["dynamic_http"].version_info == "l1"
    assert dump.clusters_version_info == "c1"
    assert dump.dynamic_routes["dynamic_route"].version_info == "r1"
    assert set(dump.static_secrets) == {"server_cert", "upstream_ca"}
    assert dump.bootstrap["node"]["id"] == "envoykit-admin-test"
    seed = admin.config_dump(resource="dynamic_listeners")
    assert set(seed.dynamic_listeners) == {"dynamic_http"} and not seed.static_listeners
    named = admin.config_dump(resource="static_clusters", name_regex="^dead$", mask="cluster.name")
    assert list(named.static_clusters) == ["dead"]
    assert set(named.static_clusters["dead"].config) == {"@type", "name"}
    assert "dyn_backend" in admin.config_dump(include_eds=True).dynamic_endpoints or (
        "backend" in admin.config_dump(include_eds=True).static_endpoints
    )


def test_config_dump_follows_a_file_xds_update(own_envoy: Envoy) -> None:
    cds = own_envoy.workdir / "cds.json"
    update = json.loads(cds.read_text())
    update["version_info"] = "c2"
    update["resources"][0]["connect_timeout"] = "0.75s"
    staged = cds.with_suffix(".tmp")
    staged.write_text(json.dumps(update))
    os.replace(staged, cds)  # envoy watches the file: a move is an update
    with AdminClient(own_envoy.admin_address) as admin:
        wait_until(lambda: admin.config_dump().clusters_version_info, expected="c2",
                   what="envoy loading cds version c2")
        dyn = admin.config_dump(resource="dynamic_active_clusters").dynamic_clusters
    assert dyn["dyn_backend"].version_info == "c2"
    assert dyn["dyn_backend"].config["connect_timeout"] == "0.750s"


def test_clusters_health_flags_and_host_stats(admin: AdminClient) -> None:
    get(admin, "ingress_http", "/up")
    clusters = admin.clusters()
    assert {"backend", "dead", "tls_backend", "dyn_backend"} <= set(clusters)
    wait_until(lambda: not admin.clusters()["dead"].hosts[0].healthy,
               what="the dead host marked unhealthy")
    assert "failed_active_health_check" in admin.clusters()["dead"].hosts[0].health_flags
    (backend,) = clusters["backend"].hosts
    assert backend.healthy and backend.stats["rq_total"] >= 1
    assert set(admin.clusters(filter="^dea")) == {"dead"}


def test_certs_memory_runtime(admin: AdminClient) -> None:
    certs = admin.certs()
    assert sorted(c.kind for c in certs) == ["ca_cert", "cert_chain"]
    assert all(c.days_until_expiration > 0 for c in certs)
    assert admin.memory().allocated > 0
    admin.runtime_modify({"envoykit.int.knob": 7}, envoykit_flag=True)
    runtime = admin.runtime()
    assert runtime.values["envoykit.int.knob"] == "7"
    assert runtime.values["envoykit_flag"] == "true"
    assert runtime.layers == ("static", "admin")
    admin.runtime_modify({"envoykit.int.knob": ""})
    assert "envoykit.int.knob" not in admin.runtime().values


def test_logging_levels_at_run_time(admin: AdminClient) -> None:
    levels = admin.set_component_log_levels({"upstream": "debug", "connection": "trace"})
    assert (levels["upstream"], levels["connection"]) == ("debug", "trace")
    assert admin.logging()["upstream"] == "debug"
    levels = admin.set_log_level("warning")
    assert set(levels.values()) == {"warning"}


def test_help_and_raw_requests(admin: AdminClient) -> None:
    assert "/stats/prometheus" in admin.help()
    reply = admin.request("GET", "/hot_restart_version")
    assert reply.status == 200 and reply.text.strip() == admin.server_info().hot_restart_version


def test_errors_name_the_endpoint(admin: AdminClient) -> None:
    with pytest.raises(AdminParameterError, match="'All', 'Counters'"):
        admin.stats(type="Foo")
    with pytest.raises(AdminParameterError, match="unknown parameter 'histograms'"):
        admin.request("GET", "/stats", {"histograms": "1"})
    with pytest.raises(AdminHTTPError, match=r"^/config_dump: HTTP 404") as info:
        admin.config_dump(resource="nope")
    assert info.value.status == 404
    with pytest.raises(AdminHTTPError, match="Invalid re2 regex"):
        admin.stats(filter="(")


# --- state-changing methods, each with its own envoy ----------------------------------------


def test_healthcheck_fail_and_ok(own_envoy: Envoy) -> None:
    with AdminClient(own_envoy.admin_address) as admin:
        admin.healthcheck_fail()
        assert admin.server_info().state == "DRAINING"
        assert admin.ready() is False
        admin.healthcheck_ok()
        assert admin.server_info().state == "LIVE"
        assert admin.ready() is True


def test_reset_counters(own_envoy: Envoy) -> None:
    with AdminClient(own_envoy.admin_address) as admin:
        get(admin, "ingress_http")
        name = "http.ingress_http.downstream_rq_total"
        assert admin.stats(filter=f"^{name}$").number(name) >= 1
        admin.reset_counters()
        assert admin.stats(filter=f"^{name}$").number(name) == 0


def test_drain_inbound_only_then_all(own_envoy: Envoy) -> None:
    with AdminClient(own_envoy.admin_address) as admin:
        listeners = admin.listeners()
        admin.drain_listeners(inbound_only=True)
        wait_until(lambda: not accepts(listeners["ingress_https"]), what="https drained")
        assert accepts(listeners["ingress_http"])
        admin.drain_listeners()
        wait_until(lambda: not accepts(listeners["ingress_http"]), what="http drained")


def test_quit_then_connection_refused(own_envoy: Envoy) -> None:
    with AdminClient(own_envoy.admin_address) as admin:
        admin.quit()
        assert own_envoy.process.wait(timeout=10) == 0
        with pytest.raises(AdminConnectError, match="/ready: cannot connect"):
            admin.ready()


def test_async_client_does_what_the_supervisor_needs(own_envoy: Envoy) -> None:
    async def scenario() -> None:
        async with AsyncAdminClient(own_envoy.admin_address, timeout=5) as admin:
            assert await admin.ready()
            info = await admin.server_info()
            assert (info.state, info.restart_epoch) == ("LIVE", 0)
            listeners = await admin.listeners()
            snap = await admin.stats(filter=r"^server\.")
            assert snap["server.live"] == 1
            assert (await admin.config_dump()).listeners_version_info == "l1"
            assert "backend" in await admin.clusters()
            await admin.healthcheck_fail()
            assert not await admin.ready()
            await admin.drain_listeners(graceful=True)
            await async_wait_until(lambda: not accepts(listeners["ingress_http"]),
                                   what="http drained")
            await admin.quit()
        assert own_envoy.process.wait(timeout=10) == 0

    asyncio.run(scenario())


def test_async_client_reads_everything(shared_envoy: Envoy) -> None:
    async def scenario() -> None:
        async with AsyncAdminClient(shared_envoy.admin_address) as admin:
            certs, memory, runtime, levels = await asyncio.gather(
                admin.certs(), admin.memory(), admin.runtime(), admin.logging()
            )
            text, prom, help_text = await asyncio.gather(
                admin.stats_text(filter="^server\\.live$"),
                admin.prometheus_text(filter="^server\\.live$"),
                admin.help(),
            )
            assert len(certs) == 2 and memory.allocated > 0 and runtime.layers
            assert levels["admin"] and text == "server.live: 1\n"
            assert "envoy_server_live{} 1" in prom and "/ready" in help_text
            value = await admin.wait_for("server.live", lambda v: v == 1, timeout=60)
            assert value == 1

    asyncio.run(scenario())


def test_the_example_runs_and_cleans_up() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "admin_stats.py"
    done = subprocess.run(
        [sys.executable, str(example)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "requests counted: 3" in done.stdout
    assert "dynamic listener 'from_file': version_info='v1'" in done.stdout
