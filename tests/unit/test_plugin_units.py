"""Pure parts of the pytest plugin: settings, schemes, factories, report sections (no envoy)."""

from __future__ import annotations

from typing import Any, cast

import httpx
import pytest

import envoykit.testing
from envoykit.errors import StartupError
from envoykit.process import SupervisorState
from envoykit.testing import _fixtures, _proxy
from envoykit.testing._fixtures import (
    ClientFactory,
    EnvoyProxyFactory,
    FailedStart,
    UpstreamFactory,
    check_loopback,
    log_sections,
    record,
    resolve_config,
)
from envoykit.testing._proxy import EnvoyProxy, ephemeral_admin, listener_schemes
from envoykit.testing._settings import PluginSettings, parse_bool
from envoykit.testing.http import hosts_map

TLS = {"name": "envoy.transport_sockets.tls", "typed_config": {
    "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"}}


def config(admin_port: int = 9901) -> dict[str, Any]:
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1",
                                                 "port_value": admin_port}}},
        "static_resources": {"listeners": [
            {"name": "https", "filter_chains": [{"filters": []}, {"transport_socket": TLS}]},
            {"name": "plain", "filter_chains": [{"filters": []}]},
            {"name": "fallback", "default_filter_chain": {"transport_socket": TLS}},
            {"filter_chains": []},
        ]},
    }


# --- config helpers ---------------------------------------------------------------------
def test_listener_schemes_follow_tls_termination() -> None:
    assert listener_schemes(config()) == {
        "https": "https", "plain": "http", "fallback": "https", "listener_3": "http"}
    assert listener_schemes({}) == {}


def test_ephemeral_admin_zeroes_a_fixed_port_on_a_copy() -> None:
    original = config(9901)
    data = ephemeral_admin(original)
    assert data["admin"]["address"]["socket_address"]["port_value"] == 0
    assert original["admin"]["address"]["socket_address"]["port_value"] == 9901
    assert ephemeral_admin({"static_resources": {}}) == {"static_resources": {}}


# --- settings ---------------------------------------------------------------------------
def settings(options: dict[str, Any], ini: dict[str, str]) -> PluginSettings:
    defaults = {"envoy_binary": None, "envoy_required": False, "envoy_log_level": None}
    return PluginSettings.from_options({**defaults, **options}.__getitem__, ini.get)


def test_flags_win_over_ini_values() -> None:
    ini = {"envoy_binary": "/ini/envoy", "envoy_required": "yes", "envoy_log_level": "debug",
           "envoy_startup_timeout": "5", "envoy_log_tail": "7"}
    assert settings({}, ini) == PluginSettings("/ini/envoy", True, "debug", 5.0, 7)
    flagged = settings({"envoy_binary": "/flag/envoy", "envoy_log_level": "trace"}, ini)
    assert (flagged.binary, flagged.log_level) == ("/flag/envoy", "trace")
    assert settings({"envoy_required": True}, {"envoy_required": "false"}).required


def test_empty_options_give_the_defaults() -> None:
    assert settings({}, {}) == PluginSettings()
    assert PluginSettings().supervisor_defaults() == {
        "log_level": "info", "startup_timeout": 30.0, "restart_on_crash": False}


@pytest.mark.parametrize(("ini", "message"), [
    ({"envoy_required": "maybe"}, "envoy_required: expected true or false"),
    ({"envoy_startup_timeout": "soon"}, "envoy_startup_timeout: expected a number"),
    ({"envoy_log_tail": "0"}, "envoy_log_tail: must be positive"),
])
def test_bad_ini_values_name_the_option(ini: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        settings({}, ini)


def test_parse_bool_words() -> None:
    assert [parse_bool("x", v) for v in ("ON", "1", "true", "no", "0", "")] == [
        True, True, True, False, False, False]


# --- factories --------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.20", "::1"])
def test_loopback_hosts_are_accepted(host: str) -> None:
    assert check_loopback(host) == host


@pytest.mark.parametrize(("host", "message"), [
    ("10.0.0.1", "must be a loopback address"),
    ("0.0.0.0", "must be a loopback address"),
    ("localhost", "must be a loopback IP address"),
])
def test_other_hosts_are_refused(host: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_loopback(host)


def test_upstream_factory_finds_by_name_and_closes_all() -> None:
    factory = UpstreamFactory()
    first, second = factory("A", host="127.0.0.20"), factory("B")
    assert factory["A"] is first and factory["B"] is second
    reply = httpx.get(f"http://{first.address}/x")
    assert reply.headers["x-upstream"] == "A" and first.requests[0].path == "/x"
    with pytest.raises(KeyError, match="started: \\['A', 'B'\\]"):
        factory["C"]
    factory.close()
    assert factory.upstreams == []
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://{first.address}/x", timeout=1)
    with pytest.raises(ValueError, match="loopback"):
        factory("net", host="192.0.2.1")


def test_hosts_map_forms() -> None:
    assert hosts_map("a.example.com", "127.0.0.9") == {"a.example.com": "127.0.0.9"}
    assert hosts_map(["a", "b"], "::1") == {"a": "::1", "b": "::1"}
    assert hosts_map({"a": "127.0.0.2"}, "ignored") == {"a": "127.0.0.2"}


def test_client_factory_asks_for_the_ca_only_when_needed() -> None:
    asked: list[bool] = []

    def ca_file() -> str:
        asked.append(True)
        raise RuntimeError("no CA in this test")

    factory = ClientFactory(ca_file)
    client = factory(["a.example.com"], verify=False)
    assert asked == [] and not client.is_closed
    with pytest.raises(RuntimeError, match="no CA"):
        factory("b.example.com")
    factory.close()
    assert client.is_closed


def test_resolve_config_calls_with_fixtures_by_name() -> None:
    class Request:
        def getfixturevalue(self, name: str) -> str:
            return f"<{name}>"

    request = cast(pytest.FixtureRequest, Request())
    assert resolve_config(lambda upstream, request: {"u": upstream, "r": request},
                          request) == {"u": "<upstream>", "r": request}
    assert resolve_config({"admin": {}}, request) == {"admin": {}}
    assert resolve_config("static_resources: {}", request) == "static_resources: {}"


# --- report sections --------------------------------------------------------------------
class Node:
    def __init__(self, parent: Node | None = None) -> None:
        self.stash = pytest.Stash()
        self.parent = parent

    def listchain(self) -> list[Node]:
        return [*(self.parent.listchain() if self.parent else []), self]


def test_log_sections_cover_the_item_and_the_nodes_above() -> None:
    module = Node()
    item = Node(module)
    record(cast(pytest.Collector, module), FailedStart("shared", 1, ["a", "b", "c"]))
    record(cast(pytest.Item, item), FailedStart("mine", None, []))
    sections = log_sections(cast(pytest.Item, item), count=2)
    assert sections == [("envoy log: shared (failed to start, exit code 1)", "b\nc"),
                        ("envoy log: mine (failed to start)", "(no output)")]
    assert log_sections(cast(pytest.Item, Node()), count=5) == []


def test_a_failed_start_is_recorded_and_reraised(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> EnvoyProxy:
        assert kwargs["log_level"] == "debug" and kwargs["binary"] == "/bin/envoy"
        raise StartupError("envoy failed to start", returncode=1, output_tail=["bad field"])

    monkeypatch.setattr(_proxy.EnvoyProxy, "start", fail)
    node = Node()
    factory = EnvoyProxyFactory(binary="/bin/envoy", defaults={"log_level": "info"},
                                node=cast(pytest.Item, node))
    with pytest.raises(StartupError) as caught:
        factory({}, log_level="debug")
    assert [entry.name for entry in caught.traceback][-1] == "__call__"  # not the internals
    assert log_sections(cast(pytest.Item, node), 10) == [
        ("envoy log: envoy-1 (failed to start, exit code 1)", "bad field")]
    assert factory.proxies == []


def test_close_stops_every_proxy_even_when_one_fails() -> None:
    stopped: list[str] = []

    class Proxy:
        def __init__(self, name: str) -> None:
            self.name = name

        def stop(self) -> None:
            stopped.append(self.name)
            if self.name == "b":
                raise RuntimeError("b would not stop")

    factory = EnvoyProxyFactory()
    factory.proxies.extend(cast(list[EnvoyProxy], [Proxy("a"), Proxy("b"), Proxy("c")]))
    with pytest.raises(RuntimeError, match="b would not stop"):
        factory.close()
    assert stopped == ["c", "b", "a"] and factory.proxies == []


# --- the proxy handle -------------------------------------------------------------------
class FakeSupervisor:
    output_lines = 3

    def __init__(self) -> None:
        self.config = config()
        self.pid: int | None = 4242
        self.state = SupervisorState.LIVE
        self.lines = ["one", "two", "three"]
        self.stops: list[bool] = []

    def url_of(self, listener: str, scheme: str) -> str:
        return f"{scheme}://127.0.0.1:{self.address_of(listener)[1]}"

    def address_of(self, listener: str) -> tuple[str, int]:
        return ("127.0.0.1", {"https": 8443, "plain": 8080}[listener])

    def output_tail(self, count: int) -> list[str]:
        return self.lines[-count:]

    def stop(self, graceful: bool = True) -> None:
        self.stops.append(graceful)
        self.pid, self.lines, self.state = None, [], SupervisorState.STOPPED


def test_proxy_urls_by_listener_name() -> None:
    proxy = EnvoyProxy(cast(Any, FakeSupervisor()), name="edge")
    assert proxy.url("https") == "https://127.0.0.1:8443"
    assert proxy.url("plain", "/x") == "http://127.0.0.1:8080/x"
    assert proxy.url("https", "/", host="a.example.com") == "https://a.example.com:8443/"
    assert proxy.url("plain", scheme="ws", host="::1") == "ws://[::1]:8080"
    assert proxy.port("https") == 8443


def test_proxy_keeps_its_logs_and_pid_after_stop() -> None:
    supervisor = FakeSupervisor()
    proxy = EnvoyProxy(cast(Any, supervisor), name="edge")
    assert proxy.log_tail(2) == ["two", "three"] and proxy.running
    proxy.stop()
    proxy.stop()
    assert supervisor.stops == [False, False]
    assert proxy.logs == ["one", "two", "three"] and proxy.log_tail(0) == []
    assert (proxy.pid, proxy.running) == (4242, False)
    assert repr(proxy) == "<EnvoyProxy 'edge' pid=4242 state=stopped>"


# --- public names -----------------------------------------------------------------------
def test_public_names_load_lazily() -> None:
    assert envoykit.testing.__all__ == sorted(envoykit.testing.__all__)
    for name in envoykit.testing.__all__:
        assert getattr(envoykit.testing, name) is not None
    assert envoykit.testing.EnvoyProxy is EnvoyProxy
    assert envoykit.testing.envoy_proxy_fixture is _fixtures.envoy_proxy_fixture
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        envoykit.testing.nothing  # noqa: B018


def test_resolving_client_has_one_signature_for_the_fixture_and_the_function() -> None:
    """The fixture and ``envoykit.testing.http.resolving_client`` take the same arguments;
    only ``verify``'s default (the test CA) and the clean-up differ."""
    import inspect

    from envoykit.testing.http import resolving_client

    function = inspect.signature(resolving_client).parameters
    fixture = inspect.signature(ClientFactory.__call__).parameters
    assert [n for n in fixture if n != "self"] == list(function)
    assert fixture["to"].default == function["to"].default == "127.0.0.1"
    with resolving_client(["a.example.com"], to="127.0.0.9", verify=False) as client:
        assert client is not None  # names without addresses, as the fixture takes them
