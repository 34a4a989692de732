"""AdminClient and AsyncAdminClient over httpx.MockTransport, replaying real envoy answers.

Every test runs against both clients: ``admin`` is a callable that invokes a method on the
sync client, or runs the async client's method with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from envoykit.admin import (
    AdminClient,
    AdminConnectError,
    AdminError,
    AdminHTTPError,
    AdminParameterError,
    AdminTimeout,
    AdminTransportError,
    AsyncAdminClient,
    ConfigDump,
    ServerInfo,
    StatsSnapshot,
)

FIXTURES = Path(__file__).parent / "fixtures" / "admin"
INDEX = json.loads((FIXTURES / "index.json").read_text())
Handler = Callable[[httpx.Request], httpx.Response]
Admin = Callable[..., Any]


def key(method: str, path: str, query: list[tuple[str, str]]) -> tuple[str, str, tuple[Any, ...]]:
    return method, path, tuple(sorted(query))


class Replay:
    """An httpx handler answering with the recorded fixture for (method, path, query)."""

    def __init__(self, *overrides: str) -> None:
        self.answers: dict[tuple[str, str, tuple[Any, ...]], dict[str, Any]] = {}
        for entry in INDEX:
            self.answers.setdefault(self.key_of(entry), entry)
        for name in overrides:  # e.g. "ready_initializing" replaces the "ready" answer
            entry = next(e for e in INDEX if e["name"] == name)
            self.answers[self.key_of(entry)] = entry
        self.seen: list[httpx.Request] = []

    @staticmethod
    def key_of(entry: dict[str, Any]) -> tuple[str, str, tuple[Any, ...]]:
        return key(entry["method"], entry["path"], [tuple(q) for q in entry["query"]])

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        query = list(request.url.params.multi_items())
        entry = self.answers.get(key(request.method, request.url.path, query))
        if entry is None:
            return httpx.Response(404, text=f"no fixture for {request.method} {request.url}")
        body = (FIXTURES / entry["file"]).read_bytes()
        headers = {"content-type": entry["content_type"]}
        return httpx.Response(entry["status"], content=body, headers=headers)

    def paths(self) -> list[str]:
        return [r.url.path for r in self.seen]


def make_admin(kind: str, handler: Handler, **options: Any) -> Admin:
    """A callable ``admin(name, *args)`` driving the sync or the async client."""
    transport = httpx.MockTransport(handler)
    if kind == "sync":
        client = AdminClient("127.0.0.1:9901", transport=transport, **options)
        return lambda name, *a, **kw: getattr(client, name)(*a, **kw)

    def run_async(name: str, *args: Any, **kwargs: Any) -> Any:
        async def go() -> Any:
            async with AsyncAdminClient("127.0.0.1:9901", transport=transport, **options) as c:
                return await getattr(c, name)(*args, **kwargs)

        return asyncio.run(go())

    return run_async


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def replay() -> Replay:
    return Replay()


@pytest.fixture
def admin(kind: str, replay: Replay) -> Admin:
    return make_admin(kind, replay)


# --- the core methods ----------------------------------------------------------------------


def test_ready_is_true_when_live(admin: Admin) -> None:
    assert admin("ready") is True


def test_ready_is_false_on_503(kind: str) -> None:
    assert make_admin(kind, Replay("ready_initializing"))("ready") is False


def test_server_info(admin: Admin) -> None:
    info = admin("server_info")
    assert isinstance(info, ServerInfo)
    assert (info.state, info.restart_epoch, info.version_number) == ("LIVE", 0, "1.40.0")


def test_listeners(admin: Admin, replay: Replay) -> None:
    listeners = admin("listeners")
    assert set(listeners) == {"ingress_http", "ingress_https", "dynamic_http"}
    assert replay.seen[-1].url.params["format"] == "json"


def test_stats_asks_each_type_once_and_checks_help_first(admin: Admin, replay: Replay) -> None:
    snap = admin("stats")
    assert isinstance(snap, StatsSnapshot)
    assert replay.paths() == ["/help", "/stats", "/stats", "/stats", "/stats"]
    types = [r.url.params["type"] for r in replay.seen[1:]]
    assert types == ["Counters", "Gauges", "TextReadouts", "Histograms"]
    assert snap.gauges["server.live"] == 1
    assert snap.counters["cluster.backend.upstream_rq_total"] == 2
    assert snap.text_readouts["listener_manager.lds.version_text"] == "l1"
    assert snap.histograms["cluster.backend.upstream_rq_time"].quantile(100)


def test_stats_of_one_type(admin: Admin, replay: Replay) -> None:
    snap = admin("stats", type="gauges")
    assert replay.seen[-1].url.params["type"] == "Gauges"
    assert snap.gauges and not snap.counters


def test_help_is_fetched_once_per_client(kind: str, replay: Replay) -> None:
    transport = httpx.MockTransport(replay)

    async def twice_async() -> None:
        async with AsyncAdminClient("127.0.0.1:9901", transport=transport) as client:
            await client.stats(type="Gauges")
            await client.stats(type="Gauges")

    if kind == "sync":
        with AdminClient("127.0.0.1:9901", transport=transport) as client:
            client.stats(type="Gauges")
            client.stats(type="Gauges")
    else:
        asyncio.run(twice_async())
    assert replay.paths() == ["/help", "/stats", "/stats"]


def test_check_params_false_skips_help(kind: str, replay: Replay) -> None:
    make_admin(kind, replay, check_params=False)("stats", type="Gauges")
    assert replay.paths() == ["/stats"]


def test_calls_without_parameters_do_not_need_help(admin: Admin, replay: Replay) -> None:
    admin("ready")
    admin("healthcheck_fail")
    assert replay.paths() == ["/ready", "/healthcheck/fail"]


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("healthcheck_fail", "/healthcheck/fail"),
        ("healthcheck_ok", "/healthcheck/ok"),
        ("reset_counters", "/reset_counters"),
        ("quit", "/quitquitquit"),
    ],
)
def test_control_endpoints_are_posts(admin: Admin, replay: Replay, name: str, path: str) -> None:
    assert admin(name) is None
    assert (replay.seen[-1].method, replay.seen[-1].url.path) == ("POST", path)


def test_drain_listeners_sends_flags(admin: Admin, replay: Replay) -> None:
    admin("drain_listeners", graceful=True, skip_exit=True)
    request = replay.seen[-1]
    assert (request.method, request.url.path) == ("POST", "/drain_listeners")
    assert sorted(request.url.params.multi_items()) == [("graceful", ""), ("skip_exit", "")]


def test_drain_listeners_inbound_only_spelling(kind: str) -> None:
    seen: list[httpx.Request] = []
    inner = Replay()

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/help":
            return inner(request)
        return httpx.Response(200, text="OK\n")

    make_admin(kind, handler)("drain_listeners", inbound_only=True)
    assert seen[-1].url.params.multi_items() == [("inboundonly", "")]


# --- the rest ------------------------------------------------------------------------------


def test_stats_text_and_prometheus_with_the_seed_filter(admin: Admin) -> None:
    text = admin("stats_text", filter=r"^http\.ingress_http")
    assert "http.ingress_http.downstream_rq_total: 5" in text.splitlines()
    prom_text = admin("prometheus_text", filter=r"^http\.ingress_http")
    assert "# TYPE envoy_http_downstream_rq_total counter" in prom_text
    prom = admin("prometheus", filter=r"^http\.ingress_http")
    assert prom.text == prom_text
    assert prom["envoy_http_downstream_rq"].type == "counter"  # prometheus_client drops _total
    labels = {"envoy_http_conn_manager_prefix": "ingress_http"}
    assert prom.value("envoy_http_downstream_rq_total", **labels) == 5


def test_config_dump_variants(admin: Admin) -> None:
    full = admin("config_dump")
    assert isinstance(full, ConfigDump) and full.listeners_version_info == "l1"
    only = admin("config_dump", resource="dynamic_listeners")
    assert set(only.dynamic_listeners) == {"dynamic_http"} and not only.static_listeners
    masked = admin("config_dump", resource="static_clusters", mask="cluster.name")
    assert set(masked.static_clusters["backend"].config) == {"@type", "name"}
    assert "backend" in admin("config_dump", include_eds=True).static_endpoints


def test_unknown_config_dump_resource_is_an_http_error(admin: Admin) -> None:
    with pytest.raises(AdminHTTPError, match="nope not found in config dump") as info:
        admin("config_dump", resource="nope")
    assert info.value.status == 404 and info.value.endpoint == "/config_dump"


def test_clusters_certs_memory_runtime(admin: Admin) -> None:
    assert not admin("clusters")["dead"].hosts[0].healthy
    assert {c.kind for c in admin("certs")} == {"cert_chain", "ca_cert"}
    assert admin("memory").allocated > 0
    assert admin("runtime").values["envoykit.test.knob"] == "42"


def test_runtime_modify_takes_dotted_keys_and_keywords(kind: str) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text="OK\n")

    make_admin(kind, handler)("runtime_modify", {"a.b": 1, "flag": True}, c="x")
    (request,) = seen  # no /help: runtime keys are free-form
    assert request.method == "POST" and request.url.path == "/runtime_modify"
    assert request.url.params.multi_items() == [("a.b", "1"), ("flag", "true"), ("c", "x")]


def test_logging_levels(admin: Admin, replay: Replay) -> None:
    assert admin("logging")["admin"] == "warning"
    levels = admin("set_component_log_levels", {"upstream": "debug", "connection": "trace"})
    assert (levels["upstream"], levels["connection"]) == ("debug", "trace")
    assert replay.seen[-1].url.params["paths"] == "upstream:debug,connection:trace"
    assert admin("set_log_level", "warning")["upstream"] == "warning"
    assert replay.seen[-1].method == "POST"


def test_set_component_log_levels_needs_a_logger(admin: Admin) -> None:
    with pytest.raises(ValueError, match="at least one logger"):
        admin("set_component_log_levels", {})


def test_set_log_level_checks_the_level_against_help(admin: Admin, replay: Replay) -> None:
    with pytest.raises(AdminParameterError, match="invalid value 'loud' for 'level'"):
        admin("set_log_level", "loud")
    assert replay.paths() == ["/help"]


def test_request_returns_any_status(admin: Admin) -> None:
    reply = admin("request", "GET", "/logging")
    assert reply.status == 405 and "POST required" in reply.text


def test_help_text(admin: Admin) -> None:
    assert "/quitquitquit (POST): exit the server" in admin("help")


# --- errors --------------------------------------------------------------------------------


def test_unknown_parameter_never_reaches_the_endpoint(admin: Admin, replay: Replay) -> None:
    with pytest.raises(AdminParameterError, match="unknown parameter 'verbose'"):
        admin("request", "GET", "/stats", {"verbose": "1"})
    with pytest.raises(AdminParameterError, match="'All', 'Counters'"):
        admin("stats", type="Foo")
    assert set(replay.paths()) == {"/help"}  # (the async runner makes a client per call)


def test_bad_regex_is_an_http_error_with_envoys_message(admin: Admin) -> None:
    with pytest.raises(AdminHTTPError, match=r"^/stats: HTTP 400: Invalid re2 regex"):
        admin("stats_text", filter="(")


def failing(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


def test_connect_error_names_the_endpoint(kind: str) -> None:
    admin = make_admin(kind, failing(httpx.ConnectError("refused")))
    with pytest.raises(AdminConnectError, match=r"^/ready: cannot connect") as info:
        admin("ready")
    assert info.value.endpoint == "/ready"
    assert isinstance(info.value, AdminTransportError)


def test_timeout_is_admin_timeout_and_timeout_error(kind: str) -> None:
    admin = make_admin(kind, failing(httpx.ReadTimeout("slow")), timeout=0.25)
    with pytest.raises(AdminTimeout, match=r"^/server_info: no answer .* within 0.25s"):
        admin("server_info")
    with pytest.raises(TimeoutError):
        admin("server_info")


def test_other_transport_failures(kind: str) -> None:
    admin = make_admin(kind, failing(httpx.RemoteProtocolError("closed")))
    with pytest.raises(AdminTransportError, match="/memory: request to"):
        admin("memory")


def test_non_json_answer_is_a_response_error(kind: str) -> None:
    admin = make_admin(kind, lambda request: httpx.Response(200, text="<html>"))
    with pytest.raises(AdminError, match=r"^/memory: expected JSON"):
        admin("memory")


@pytest.fixture
def refused_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        yield s.getsockname()[1]


def test_real_connection_refused(refused_port: int) -> None:
    with (
        AdminClient(("127.0.0.1", refused_port), timeout=2) as client,
        pytest.raises(AdminConnectError, match="is envoy running"),
    ):
        client.ready()

    async def go() -> None:
        async with AsyncAdminClient(f"127.0.0.1:{refused_port}", timeout=2) as aclient:
            await aclient.ready()

    with pytest.raises(AdminConnectError):
        asyncio.run(go())


# --- wait_for ------------------------------------------------------------------------------


def counting(start: int, step: int) -> Handler:
    """Answers ``/stats`` with a counter growing by ``step`` per request."""
    replay = Replay()
    value = [start]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/help":
            return replay(request)
        body: dict[str, Any] = {"stats": []}
        if request.url.params.get("type") == "Counters":
            body["stats"] = [{"name": "cluster.x.upstream_rq_total", "value": value[0]}]
            value[0] += step
        return httpx.Response(200, json=body)

    return handler


def test_wait_for_returns_the_value_that_satisfied_the_predicate(kind: str) -> None:
    admin = make_admin(kind, counting(0, 1))
    value = admin("wait_for", "cluster.x.upstream_rq_total", lambda v: v >= 3, 2.0, 0.001)
    assert value == 3


def test_wait_for_times_out_with_the_last_value(kind: str) -> None:
    admin = make_admin(kind, counting(1, 0))
    with pytest.raises(AdminTimeout, match=r"upstream_rq_total did not .* \(last value 1\)"):
        admin("wait_for", "cluster.x.upstream_rq_total", lambda v: v > 1, 0.05, 0.01)


def test_wait_for_a_stat_that_never_appears(kind: str) -> None:
    admin = make_admin(kind, counting(1, 0))
    with pytest.raises(AdminTimeout, match="never present"):
        admin("wait_for", "cluster.y.upstream_rq_total", bool, 0.05, 0.01)


def test_wait_for_sends_an_anchored_escaped_filter(kind: str) -> None:
    seen: list[httpx.Request] = []
    inner = counting(5, 0)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return inner(request)

    make_admin(kind, handler)("wait_for", "cluster.x.upstream_rq_total", bool, 1.0)
    assert seen[-1].url.params["filter"] == r"^cluster\.x\.upstream_rq_total$"


# --- the client objects --------------------------------------------------------------------


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(cls).items()
        if callable(member) and not name.startswith("_") and name not in ("close", "aclose")
    }


def test_sync_and_async_clients_have_the_same_methods_and_signatures() -> None:
    sync, asynch = public_methods(AdminClient), public_methods(AsyncAdminClient)
    assert sync.keys() == asynch.keys()
    required = {"ready", "server_info", "listeners", "stats", "healthcheck_fail", "quit"}
    assert required | {"drain_listeners", "config_dump", "wait_for"} <= sync.keys()
    for name, signature in sync.items():
        assert str(signature) == str(asynch[name]), name
        assert inspect.iscoroutinefunction(getattr(AsyncAdminClient, name)), name
        assert getattr(AdminClient, name).__doc__ == getattr(AsyncAdminClient, name).__doc__


def test_context_manager_closes_the_connection_pool(replay: Replay) -> None:
    with AdminClient("127.0.0.1:9901", transport=httpx.MockTransport(replay)) as client:
        assert client.ready()
    assert client._http.is_closed

    async def go() -> AsyncAdminClient:
        async with AsyncAdminClient(
            ("127.0.0.1", 9901), transport=httpx.MockTransport(replay)
        ) as c:
            assert await c.ready()
        return c

    assert asyncio.run(go())._http.is_closed


def test_unix_socket_address() -> None:
    client = AdminClient("unix:/run/envoy/admin.sock")
    assert client.base_url == "http://envoy-admin"
    assert repr(client) == "AdminClient('http://envoy-admin')"
    client.close()


def test_requests_are_logged_at_debug(replay: Replay, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="envoykit.admin")
    with AdminClient("127.0.0.1:9901", transport=httpx.MockTransport(replay)) as client:
        client.ready()
    (record,) = caplog.records
    assert record.name == "envoykit.admin"
    assert record.getMessage().startswith("GET /ready -> 200")


def test_without_help_parameters_go_unchecked_with_a_warning(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    replay = Replay()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/help":  # e.g. admin.allow_paths leaves /help out
            return httpx.Response(403, text="forbidden")
        return replay(request)

    snap = make_admin(kind, handler)("stats", type="Gauges")
    assert snap.gauges["server.live"] == 1
    assert "parameters are not checked" in caplog.text


def test_reprs_are_short(admin: Admin) -> None:
    assert repr(admin("stats", type="Gauges")).startswith("StatsSnapshot(counters=0, gauges=")
    dump = repr(admin("config_dump", resource="dynamic_listeners"))
    assert dump == "ConfigDump(resource='dynamic_listeners', sections=['ListenersConfigDump'])"
