"""The builder's checks, issue by issue: the exact place and message of each, and the
boundaries of each rule (written from the surviving mutants of ``envoykit/builder/_checks.py``
and ``_intent.py``)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from envoykit import Cert, ConfigError, EdgeProxy, HttpRoute, RateLimit, UpstreamTLS
from envoykit.builder._checks import _clean_table, edge_issues, route_issues
from envoykit.builder._routes import Redirect, Retry
from envoykit.errors import Issue

SITE = "site('a.example.com')"
LOOP = "the redirect leads back to this same route (a redirect loop)"
DOMAINS = ["a.example.com", "www.a.example.com"]
TIMEOUT = timedelta(seconds=15)


@pytest.fixture(autouse=True)
def _judged_afresh() -> None:
    """A route table equal to one an earlier test judged would get the cached verdict: each
    test here judges its tables itself."""
    _clean_table.cache_clear()


def issues(*routes: HttpRoute, timeout: timedelta = TIMEOUT) -> list[Issue]:
    return route_issues(SITE, routes, DOMAINS, timeout)


# --- the edge as a whole ------------------------------------------------------------------


def test_an_empty_edge_names_what_is_missing() -> None:
    assert edge_issues(EdgeProxy().intent()) == [
        Issue("sites", "no site: call .site(host, upstream)"),
        Issue("listeners", "no listener: call .https(...) and/or .http(...)")]


def test_https_without_a_certificate_and_passthrough_or_redirect_without_https() -> None:
    edge = EdgeProxy().site("a.example.com", "127.0.0.1:1").https(0)
    assert edge_issues(edge.intent()) == [
        Issue(f"{SITE}.cert", "HTTPS is on: a certificate is needed")]
    edge = (EdgeProxy().site("a.example.com", "127.0.0.1:1").service("s", "127.0.0.1:2")
            .redirect_http(0).passthrough("b.example.com", "s"))
    assert edge_issues(edge.intent()) == [
        Issue("redirect_http", "redirect to HTTPS needs .https(...)"),
        Issue("passthrough", "TLS passthrough is served on the HTTPS listener: "
                             "call .https(...)")]


def test_http_and_https_on_one_port_clash(tmp_path: Path) -> None:
    cert = (str(tmp_path / "c.pem"), str(tmp_path / "k.pem"))
    for name in cert:
        Path(name).write_text("x")
    edge = EdgeProxy().site("a.example.com", "127.0.0.1:1", cert=cert).https(8443).http(8443)
    assert edge_issues(edge.intent()) == [
        Issue("listeners", "HTTP and HTTPS both on ('127.0.0.1', 8443)")]


def test_a_missing_certificate_file_and_a_directory_in_its_place(tmp_path: Path) -> None:
    edge = EdgeProxy().site("a.example.com", "127.0.0.1:1",
                            cert=(str(tmp_path), str(tmp_path / "nope.pem"))).https(0)
    assert edge_issues(edge.intent()) == [
        Issue(f"{SITE}.cert", f"not a file: {tmp_path}"),
        Issue(f"{SITE}.cert", f"no such file: {tmp_path / 'nope.pem'}")]
    inline = EdgeProxy().site("a.example.com", "127.0.0.1:1",
                              cert=Cert("PEM", "KEY", inline=True)).https(0)
    assert edge_issues(inline.intent()) == []


def test_a_domain_claimed_by_a_site_and_a_passthrough() -> None:
    edge = (EdgeProxy().site("a.example.com", "127.0.0.1:1").service("s", "127.0.0.1:2")
            .http(0).https(0).passthrough("a.example.com", "s"))
    found = [i for i in edge_issues(edge.intent()) if i.path == "sites"]
    assert found == [Issue("sites", "domain 'a.example.com' is claimed by two sites")]


def test_each_unknown_service_and_a_name_used_twice() -> None:
    edge = (EdgeProxy().site("a.example.com", "127.0.0.1:1")
            .service("a_example_com", "127.0.0.1:2").service("s", "127.0.0.1:3")
            .http(0).tcp(0, "nope", name="t").https(0).passthrough("b.example.com", "gone"))
    assert [i for i in edge_issues(edge.intent()) if not i.path.startswith("site(")] == [
        Issue("service('a_example_com')", "two services have this name (a site given "
                                          "'host:port' upstreams makes a service named after "
                                          "it)"),
        Issue("tcp('t')", "unknown service 'nope'"),
        Issue("passthrough('b.example.com')", "unknown service 'gone'")]


def test_a_name_used_three_times_is_one_issue() -> None:
    edge = (EdgeProxy().service("s", "127.0.0.1:1").service("s", "127.0.0.1:2")
            .service("s", "127.0.0.1:3").http(0).tcp(0, "s"))
    assert [i.path for i in edge_issues(edge.intent())] == ["service('s')"]


# --- one site's route table -----------------------------------------------------------------


def test_a_shadowed_route_names_the_route_that_hides_it() -> None:
    assert issues(HttpRoute("/api", to="a"), HttpRoute("/api/v1", to="b")) == [
        Issue(f"{SITE}.routes[1]", "unreachable: routes[0] (prefix='/api') matches every request "
                                   "this route would; put the more specific route first")]


def test_what_covers_what() -> None:
    def shadowed(first: HttpRoute, later: HttpRoute) -> bool:
        return any("unreachable" in i.message for i in issues(first, later))

    assert shadowed(HttpRoute("/", to="a"), HttpRoute(regex="/x.*", to="b"))
    assert not shadowed(HttpRoute("/x", to="a"), HttpRoute(regex="/x.*", to="b"))
    assert shadowed(HttpRoute(regex="/x.*", to="a"), HttpRoute(regex="/x.*", to="b"))
    assert not shadowed(HttpRoute(regex="/x.*", to="a"), HttpRoute(regex="/y.*", to="b"))
    assert shadowed(HttpRoute(regex="/x.*", to="a"), HttpRoute(path="/xy", to="b"))
    assert not shadowed(HttpRoute(regex="/x.*", to="a"), HttpRoute(path="/y", to="b"))
    assert not shadowed(HttpRoute(path="/x", to="a"), HttpRoute("/x", to="b"))


def test_bad_regexes_are_named_by_where_they_are() -> None:
    found = issues(HttpRoute("/", rewrite_regex=("(", "x"), to="a"))
    assert [i.path for i in found] == [f"{SITE}.routes[0].rewrite_regex"]
    found = issues(HttpRoute(regex="(", headers={"x": True}, to="a"))
    assert [i.path for i in found] == [f"{SITE}.routes[0].regex"]


def test_split_weights_and_a_service_twice() -> None:
    assert issues(HttpRoute("/", to={"a": 1, "b": 2})) == []
    assert issues(HttpRoute("/", to=[("a", 0), ("b", True), ("c", 1.5)])) == [
        Issue(f"{SITE}.routes[0].to['a']", "a split weight must be a positive integer, got 0"),
        Issue(f"{SITE}.routes[0].to['b']", "a split weight must be a positive integer, got True"),
        Issue(f"{SITE}.routes[0].to['c']", "a split weight must be a positive integer, got 1.5")]
    assert issues(HttpRoute("/", to=[("a", 1), ("b", 1), ("a", 2), ("b", 1), ("b", 1)])) == [
        Issue(f"{SITE}.routes[0].to", "service 'a' appears twice in the split"),
        Issue(f"{SITE}.routes[0].to", "service 'b' appears twice in the split")]


def test_every_route_of_a_table_with_issues_is_reported() -> None:
    assert issues(HttpRoute("/a", to=[("x", 0), ("x", 1), ("y", 1)]),
                  HttpRoute(path="/b", redirect=Redirect(path="/b", host="a.example.com")),
                  HttpRoute("/c", to={"x": 0})) == [
        Issue(f"{SITE}.routes[0].to['x']", "a split weight must be a positive integer, got 0"),
        Issue(f"{SITE}.routes[0].to", "service 'x' appears twice in the split"),
        Issue(f"{SITE}.routes[1]", LOOP),
        Issue(f"{SITE}.routes[2].to['x']", "a split weight must be a positive integer, got 0")]


def test_retries_that_cannot_fit_the_route_timeout() -> None:
    retry = Retry(attempts=2, per_try_timeout=timedelta(seconds=5))  # 3 tries: 15s
    assert issues(HttpRoute("/", to="a", retries=retry)) == []       # exactly fits 15s
    assert issues(HttpRoute("/", to="a", retries=retry, timeout="14s")) == [
        Issue(f"{SITE}.routes[0].retries",
              "3 tries of 5s need 15s, longer than the route timeout of 14s")]
    assert issues(HttpRoute("/", to="a", retries=retry), timeout=timedelta(seconds=14)) != []
    assert issues(HttpRoute("/", to="a", retries=retry, timeout=timedelta(microseconds=1))) != []
    assert issues(HttpRoute("/", to="a", retries=retry, timeout=0)) == []  # 0: no timeout
    long = Retry(attempts=2, per_try_timeout=timedelta(hours=12))
    assert issues(HttpRoute("/", to="a", retries=long, timeout="24h")) != []  # 36h > 24h


def test_a_route_holding_a_dict_is_judged_too() -> None:
    """A route with a filter config given as a dict cannot be a cache key: judged uncached."""
    buffer = {"envoy.filters.http.buffer": {"max_request_bytes": 1}}
    retry = Retry(attempts=2, per_try_timeout=timedelta(seconds=5))
    assert issues(HttpRoute("/", to="a", retries=retry, filters=buffer)) == []
    assert issues(HttpRoute("/", to="a", retries=retry, filters=buffer),
                  timeout=timedelta(seconds=14)) != []


@pytest.mark.parametrize(("route", "loops"), [
    (HttpRoute(path="/a", redirect=Redirect(path="/a?x=1")), True),
    (HttpRoute(path="/a", redirect=Redirect(path="/b?/a")), False),
    (HttpRoute(path="/a", redirect=Redirect(path="/a?x=1?y")), True),
    (HttpRoute(regex="/r.*", redirect=Redirect(code=302)), True),
    (HttpRoute(path="/a", redirect=Redirect(host="WWW.A.example.com")), True),
    (HttpRoute(path="/a", redirect=Redirect(host="b.example.com")), False),
    (HttpRoute("/old", redirect=Redirect(prefix="/old/x")), True),
    (HttpRoute("/old", redirect=Redirect(prefix="/new")), False),
    (HttpRoute(path="/p", redirect=Redirect(prefix="/p")), True),
    (HttpRoute(path="/p", redirect=Redirect(prefix="/q")), False),
    (HttpRoute(regex="/r.*", redirect=Redirect(path="/rx")), True),
    (HttpRoute(regex="/r.*", redirect=Redirect(path="/x")), False),
    (HttpRoute(regex="/r.*", redirect=Redirect(host="a.example.com")), True),
    (HttpRoute(regex="/r.*", redirect=Redirect(host="b.example.com")), False),
    (HttpRoute("/", redirect=Redirect(path="/elsewhere")), True),
    (HttpRoute("/", redirect=Redirect(scheme="https")), False),
], ids=lambda v: str(v) if isinstance(v, bool) else None)
def test_a_redirect_back_to_the_same_route_is_a_loop(route: HttpRoute, loops: bool) -> None:
    assert issues(route) == ([Issue(f"{SITE}.routes[0]", LOOP)] if loops else [])


# --- the intent values ---------------------------------------------------------------------


def test_a_rate_limit_needs_positive_integers_and_at_least_50ms() -> None:
    assert RateLimit(1, per=timedelta(milliseconds=50)).check("x") == RateLimit(
        1, timedelta(milliseconds=50))
    assert RateLimit(3, per="2s", burst=1).check("x") == RateLimit(  # type: ignore[arg-type]
        3, timedelta(seconds=2), 1)
    with pytest.raises(ConfigError) as info:
        RateLimit(0).check("x")
    assert str(info.value) == ("x(requests=0): must be a positive integer (a bucket of 0 "
                               "tokens would refuse every request)")
    with pytest.raises(ConfigError, match=r"^x\(requests=None\): must be"):
        RateLimit(None).check("x")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^x\(burst=0\): must be"):
        RateLimit(1, burst=0).check("x")
    with pytest.raises(ConfigError) as info:
        RateLimit(1, per=timedelta(milliseconds=49)).check("x")
    assert str(info.value) == ("x(per=datetime.timedelta(microseconds=49000)): envoy needs an "
                               "interval of at least 50ms")


def test_a_rate_limit_bucket_holds_the_burst() -> None:
    bucket = RateLimit(5, burst=20).bucket()
    assert (bucket.max_tokens, bucket.tokens_per_fill) == (20, 5)
    assert RateLimit(5).bucket().max_tokens == 5


def test_upstream_tls_offers_tls12_up_and_the_client_certificate(tmp_path: Path) -> None:
    context = UpstreamTLS("api.internal", verify=False,
                          client_cert=Cert("C", "K", inline=True)).context()
    common = context.common_tls_context
    assert common is not None and common.tls_params is not None
    assert common.tls_params.tls_minimum_protocol_version == "TLSv1_2"
    assert common.tls_certificates is not None and len(common.tls_certificates) == 1
    assert common.validation_context is None
    plain = UpstreamTLS("api.internal", verify=False).context().common_tls_context
    assert plain is not None and plain.tls_certificates is None
    with pytest.raises(ConfigError) as info:
        UpstreamTLS("api.internal").context()
    assert str(info.value) == ("upstream TLS for 'api.internal': verify=True needs ca= (a CA "
                               "bundle file); pass verify=False to skip verification (not "
                               "recommended)")


@pytest.mark.parametrize(("value", "message"), [
    (("127.0.0.1", 80, 1),
     "expected ('host', port) with an integer port, got ('127.0.0.1', 80, 1)"),
    ((1, 80), "expected ('host', port) with an integer port, got (1, 80)"),
    (80, "expected 'host:port' or ('host', port), got 80"),
    ("127.0.0.1", "expected 'host:port', got '127.0.0.1'"),
    ("127.0.0.1:65536", "port 65536 is out of range 1-65535"),
    ("127.0.0.1:0", "port 0 is out of range 1-65535"),
    (":80", "empty host in ':80'"),
])
def test_a_bad_upstream_is_named_with_what_was_given(value: object, message: str) -> None:
    from envoykit.builder._intent import parse_upstream

    with pytest.raises(ConfigError) as info:
        parse_upstream("site('a').upstreams[0]", value)  # type: ignore[arg-type]
    assert str(info.value) == f"site('a').upstreams[0]: {message}"


def test_an_upstream_keeps_ipv6_and_the_last_colon() -> None:
    from envoykit.builder._intent import parse_upstream

    assert parse_upstream("x", "[::1]:8080") == ("::1", 8080)
    assert parse_upstream("x", "127.0.0.1:65535") == ("127.0.0.1", 65535)
    assert parse_upstream("x", ("h", 1)) == ("h", 1)
    assert parse_upstream("x", "X.example:80") == ("X.example", 80)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("buffer_limit_bytes", 0, "must be a positive integer, got 0"),
    ("max_connections", True, "must be a positive integer, got True"),
    ("tls_profile", "old", "must be one of intermediate, modern; got 'old'"),
    ("stats", "none", "must be one of edge, all; got 'none'"),
    ("redirect_code", "FOUND",
     "must be one of MOVED_PERMANENTLY, PERMANENT_REDIRECT; got 'FOUND'"),
    ("listen_address", "localhost",
     "must be an IP address (envoy binds IPs), got 'localhost'"),
    ("alpn", "h2", "must be a tuple of protocol names such as ('h2', 'http/1.1'), got 'h2'"),
])
def test_a_bad_default_is_named_with_the_choices(field: str, value: object, message: str) -> None:
    from envoykit import EdgeDefaults

    with pytest.raises(ConfigError) as info:
        EdgeDefaults(**{field: value})  # type: ignore[arg-type]
    assert str(info.value) == f"EdgeDefaults.{field}: {message}"


def test_the_smallest_defaults_and_every_choice_are_accepted() -> None:
    from envoykit import EdgeDefaults

    one = EdgeDefaults(buffer_limit_bytes=1, max_concurrent_streams=1, max_connections=1,
                       initial_stream_window_size=1, initial_connection_window_size=1)
    assert one.max_connections == 1
    assert EdgeDefaults(stats="all").stats == "all"
    assert EdgeDefaults(redirect_code="PERMANENT_REDIRECT").redirect_code == "PERMANENT_REDIRECT"


def test_a_certificate_of_another_shape_is_named() -> None:
    from envoykit.builder._intent import as_cert

    with pytest.raises(ConfigError) as info:
        as_cert("site('a').cert", ("only-one.pem",))  # type: ignore[arg-type]
    assert str(info.value) == ("site('a').cert: expected ('cert.pem', 'key.pem') or Cert(...), "
                               "got ('only-one.pem',)")
