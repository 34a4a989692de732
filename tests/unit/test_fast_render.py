"""The fast render path of an EdgeProxy (``envoykit.builder._render``) writes byte for byte
what the model path writes (``to_json(edge.build())``), and ``check(edge)`` finds what
``check(edge.build())`` finds: on the golden edge, the bench's edges and random edges."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from envoykit import (
    Backend,
    Cert,
    ConfigError,
    EdgeDefaults,
    EdgeProxy,
    Header,
    Health,
    HttpRoute,
    Limits,
    Outlier,
    RateLimit,
    Redirect,
    Respond,
    Retry,
    SemanticError,
    Sticky,
    UpstreamTLS,
    check,
    to_json,
    to_yaml,
)
from envoykit.builder import _render
from envoykit.config import StringMatcher
from envoykit.config.filters.cors import CorsPolicy

sys.path.insert(0, str(Path(__file__).parent))
from test_render_golden import golden_edge

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
from render import routed_edge, simple_edge  # type: ignore[import-not-found]

RBAC = {"@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute"}


def model_json(edge: EdgeProxy, indent: int | None) -> str:
    return to_json(edge.build(), indent=indent)


def assert_same_render(edge: EdgeProxy) -> None:
    """Fast and model path agree: JSON compact and indented, YAML, dict, issues."""
    built = edge.build()
    for indent in (None, 2, 4):
        assert to_json(edge, indent=indent) == to_json(built, indent=indent)
    assert to_yaml(edge) == to_yaml(built)
    assert edge.to_dict() == built.to_dict()
    assert check(edge) == check(built)


@pytest.mark.parametrize("make", [golden_edge, lambda: simple_edge(150),
                                  lambda: routed_edge(150)],
                         ids=["golden", "bench-1-route", "bench-5-routes"])
def test_fast_render_is_the_model_render(make: Any) -> None:
    assert_same_render(make())


@pytest.mark.parametrize("make", [golden_edge, lambda: simple_edge(20),
                                  lambda: routed_edge(20)],
                         ids=["golden", "bench-1-route", "bench-5-routes"])
def test_these_edges_take_the_fast_path(make: Any) -> None:
    edge = make()
    expected = model_json(edge, 2), edge.build().to_dict()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(EdgeProxy, "build", lambda self: pytest.fail("fell back to build()"))
        assert (to_json(edge, indent=2), edge.to_dict()) == expected
        check(edge)


def test_a_shared_route_table_is_compiled_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """100 sites with equal tables of 3 routes: 3 routes validated (and the one placeholder
    route of the virtual host frame), not 300."""
    validated = []
    real = _render.Route.model_validate
    monkeypatch.setattr(_render.Route, "model_validate",
                        lambda data: validated.append(data) or real(data))
    edge = EdgeProxy().http(8080).service("api", "127.0.0.2:80").service("web", "127.0.0.3:80")
    for i in range(100):
        edge.site(f"s{i}.example.com", routes=[HttpRoute("/api/", to="api"),
                                               HttpRoute(path="/ok", respond=Respond(200)),
                                               HttpRoute("/", to="web")])
    text = to_json(edge, indent=None)
    assert len(validated) == 4
    assert text == model_json(edge, None)


def test_routes_differing_only_by_service_share_one_template(
        monkeypatch: pytest.MonkeyPatch) -> None:
    validated = []
    real = _render.Route.model_validate
    monkeypatch.setattr(_render.Route, "model_validate",
                        lambda data: validated.append(data) or real(data))
    edge = simple_edge(50)
    assert to_json(edge, indent=2) == model_json(edge, 2)
    assert len(validated) == 2  # the template and the frame's placeholder


def test_a_config_the_models_refuse_fails_as_build_fails() -> None:
    """(A per-route config without '@type' is refused by the model, not the builder.)"""
    edge = EdgeProxy().http(8080).service("s", "127.0.0.2:80").site(
        "a.example.com", routes=[HttpRoute("/", to="s", filters={"x": {"no": "type"}})])
    with pytest.raises(Exception) as built:  # whatever build() raises
        edge.build()
    with pytest.raises(type(built.value)) as rendered:
        to_json(edge)
    assert str(rendered.value) == str(built.value)


def test_check_of_an_edge_lists_the_builder_issues_build_raises() -> None:
    edge = EdgeProxy().http(8080).site("a.example.com", routes=[HttpRoute("/", to="nowhere")])
    issues = check(edge)
    assert [i.path for i in issues] == ["site('a.example.com').routes[0]"]
    assert "unknown service 'nowhere'" in issues[0].message


def test_a_table_list_given_again_is_one_tuple_unless_it_changed() -> None:
    """site() converts and judges a shared list once; a list edited between calls is
    converted and judged again (appended to, or an element replaced)."""
    edge = EdgeProxy().http(8080).service("s", "127.0.0.2:80")
    table = [HttpRoute("/a", to="s"), HttpRoute("/", to="s")]
    edge.site("a.example.com", routes=table).site("b.example.com", routes=table)
    assert edge.sites[0].routes is edge.sites[1].routes
    table[0] = HttpRoute("/", to="s")  # same length, one element replaced: shadows [1]
    with pytest.raises(SemanticError, match=r"site\('c.example.com'\).routes\[1\].*unreachable"):
        edge.site("c.example.com", routes=table)
    table[0] = HttpRoute("/a", to="s")
    edge.site("d.example.com", routes=table)
    table.append(HttpRoute("/late", to="s"))  # appended to, after the catch-all
    with pytest.raises(SemanticError, match=r"site\('e.example.com'\).routes\[2\].*unreachable"):
        edge.site("e.example.com", routes=table)
    assert to_json(edge) == to_json(edge.build())


def _slug_clash() -> EdgeProxy:
    edge = EdgeProxy().http(8080).service("s", "127.0.0.2:80")
    for host in ("a-b.example.com", "a.b.example.com"):  # both virtual hosts a_b_example_com
        edge.site(host, routes=[HttpRoute("/", to="s")])
    return edge


def _missing_upstream_ca() -> EdgeProxy:
    return (EdgeProxy().http(8080).service("plain", "127.0.0.2:80")
            .service("tls", "127.0.0.3:443", tls=UpstreamTLS("api.test", ca="/nonexistent/ca"))
            .site("a.example.com", routes=[HttpRoute("/a", to="plain"), HttpRoute("/", to="tls")]))


@pytest.mark.parametrize(("make", "path"), [
    (_slug_clash, "route_config.virtual_hosts[1].name"),
    (_missing_upstream_ca, "static_resources.clusters[1].transport_socket"),
], ids=["virtual-host-names", "upstream-ca-file"])
def test_check_of_an_edge_finds_what_check_of_its_model_finds(make: Any, path: str) -> None:
    edge = make()
    issues = check(edge)
    assert issues == check(edge.build())
    assert len(issues) == 1 and path in issues[0].path


# -- random edges ---------------------------------------------------------------------------

LABEL = st.from_regex(r"\A[a-z][a-z0-9-]{0,6}[a-z0-9]\Z")
HOST = st.builds(lambda a, b: f"{a}.{b}.test", LABEL, LABEL)
IP = st.builds(lambda b, c: f"127.0.{b}.{c}", st.integers(0, 3), st.integers(1, 9))
ENDPOINT = st.one_of(
    st.builds(lambda h, p: f"{h}:{p}", IP | st.sampled_from(["db.internal", "api.test"]),
              st.sampled_from([80, 8080])),
    st.builds(Backend, IP, st.just(80), st.none() | st.integers(1, 5)))
DURATION = st.sampled_from(["250ms", "1s", "5s"])
SERVICES = ["api", "web", "canary"]


@st.composite
def services(draw: st.DrawFn, edge: EdgeProxy, ca: str) -> None:
    for name in SERVICES:
        sticky = draw(st.none() | st.sampled_from([Sticky.header("x-user"),
                                                   Sticky.cookie("sid", ttl="1h"),
                                                   Sticky.source_ip()]))
        edge.service(
            name, *draw(st.lists(ENDPOINT, min_size=1, max_size=3)), sticky=sticky,
            lb=draw(st.sampled_from(["ring_hash", "maglev"]) if sticky
                    else st.sampled_from(["round_robin", "least_request", "random"])),
            health=draw(st.none() | st.sampled_from([Health.http("/healthz", expect=(200, 204)),
                                                     Health.tcp()])),
            outlier=draw(st.none() | st.just(Outlier(consecutive_5xx=3))),
            limits=draw(st.none() | st.just(Limits(max_retries=5))),
            http2=draw(st.booleans()),
            tls=draw(st.none() | st.sampled_from([UpstreamTLS("api.test", verify=False),
                                                  UpstreamTLS("api.test", ca=ca)])),
            connect_timeout=draw(st.none() | DURATION))


@st.composite
def routes(draw: st.DrawFn) -> list[HttpRoute]:
    out = []
    for _ in range(draw(st.integers(1, 4))):
        match = draw(st.sampled_from([{"prefix": "/api/"}, {"path": "/exact"},
                                      {"regex": "/r/[0-9]+"}, {"prefix": "/ws"}]))
        action = draw(st.sampled_from(["to", "split", "redirect", "respond"]))
        kw: dict[str, Any] = dict(match)
        if action == "to":
            kw["to"] = draw(st.sampled_from(SERVICES))
            kw["websocket"] = draw(st.booleans())
            kw["mirror"] = draw(st.none() | st.sampled_from(SERVICES))
        elif action == "split":
            kw["to"] = {"api": draw(st.integers(1, 99)), "canary": draw(st.integers(1, 9))}
        elif action == "redirect":
            kw["redirect"] = Redirect(host="elsewhere.test", path="/new", code=308)
        else:
            kw["respond"] = Respond(draw(st.sampled_from([200, 404, 503])),
                                    draw(st.none() | st.just("ok\n\u00e9\"")))
        if action in ("to", "split"):
            kw["retries"] = draw(st.none() | st.just(Retry(attempts=1, statuses=(503,))))
            kw["timeout"] = draw(st.none() | DURATION)
            kw["host_rewrite"] = draw(st.none() | st.just("inner"))
            kw["rewrite_prefix"] = draw(st.none() | st.just("/v1/")) \
                if "prefix" in match else None
        kw["methods"] = draw(st.sampled_from([(), ("GET",), ("GET", "POST")]))
        kw["headers"] = draw(st.sampled_from([{}, {"x-canary": "1"},
                                              [Header("x-env", regex="stag.*", invert=True)]]))
        kw["query"] = draw(st.sampled_from([{}, {"v": "2", "debug": True}]))
        kw["request_headers"] = draw(st.sampled_from([{}, {"x-a": "b"}]))
        kw["remove_response_headers"] = draw(st.sampled_from([(), ("server",)]))
        kw["rate_limit"] = draw(st.none() | st.just(False) | st.just(RateLimit(5)))
        kw["filters"] = draw(st.sampled_from([{}, {"envoy.filters.http.rbac": RBAC}]))
        kw["cors"] = draw(st.none() | st.just(CorsPolicy(
            allow_origin_string_match=[StringMatcher(exact="https://x.test")])))
        out.append(HttpRoute(**kw))
    return out


@st.composite
def edges(draw: st.DrawFn, files: tuple[str, str, str]) -> EdgeProxy:
    cert_file, key_file, ca = files
    defaults = EdgeDefaults(
        hsts=draw(st.sampled_from([None, "max-age=1"])) if draw(st.booleans()) else
        EdgeDefaults().hsts,
        request_id=draw(st.none() | st.booleans()), stats=draw(st.sampled_from(["edge", "all"])),
        tls_profile=draw(st.sampled_from(["intermediate", "modern"])),
        ratelimit_headers_on_every_response=draw(st.booleans()))
    edge = EdgeProxy("random", defaults=defaults)
    draw(services(edge, ca))
    https, plain = draw(st.booleans()), draw(st.booleans())
    tables = [draw(routes()) for _ in range(draw(st.integers(1, 2)))]  # shared by sites
    hosts = draw(st.lists(HOST, min_size=1, max_size=5, unique=True))
    for k, host in enumerate(hosts):
        cert = draw(st.sampled_from([(cert_file, key_file), Cert("C", "K", inline=True)]))
        limit = draw(st.none() | st.just(False) | st.just(RateLimit(7, "2s", burst=9)))
        common: dict[str, Any] = {"cert": cert if https else None, "rate_limit": limit,
                                  "aliases": draw(st.sampled_from([(), (f"www.{host}",)])),
                                  "client_ca": draw(st.none() | st.just(ca)) if https else None}
        if draw(st.booleans()):
            edge.site(host, *draw(st.lists(ENDPOINT, min_size=1, max_size=2)),
                      timeout=draw(st.none() | DURATION), **common)
        else:
            edge.site(host, routes=tables[k % len(tables)], **common)
    if https:
        edge.https(8443)
        if draw(st.booleans()):
            edge.passthrough("pass.test", "api")
    if plain or not https:
        (edge.redirect_http if https and draw(st.booleans()) else edge.http)(8080)
    if draw(st.booleans()):
        edge.rate_limit(draw(st.integers(1, 1000)))
    if draw(st.booleans()):
        edge.tcp(9000, "web", idle_timeout="1m")
    if draw(st.booleans()):
        edge.access_log()
    if draw(st.booleans()):
        edge.http_filter(RBAC, name="envoy.filters.http.rbac", sites=hosts[:1])
    if draw(st.booleans()):
        edge.admin(0)
    return edge


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, str]:
    from envoykit.testing.tls import TestCA

    ca = TestCA(tmp_path_factory.mktemp("ca"))
    files = ca.issue("fast.test")
    return files.cert, files.key, ca.ca_file


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_random_edges_render_the_same_on_both_paths(data: st.DataObject,
                                                    tls_files: tuple[str, str, str]) -> None:
    try:
        edge = data.draw(edges(tls_files))
    except ConfigError:
        event("refused while recording")
        return  # refused by the builder while recording: nothing to render
    try:
        built = edge.build()
    except ConfigError as exc:  # refused at build: the fast path refuses the same way
        with pytest.raises(type(exc)) as info:
            to_json(edge)
        assert str(info.value) == str(exc)
        event("refused at build")
        return
    event("built and compared")
    for indent in (None, 2):
        assert to_json(edge, indent=indent) == to_json(built, indent=indent)
    assert to_yaml(edge) == to_yaml(built)
    assert check(edge) == check(built)
