"""The EdgeProxy builder: the company example, its secure defaults, and its errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from envoykit import Cert, ConfigError, EdgeDefaults, EdgeProxy, SemanticError, UpstreamTLS, check
from envoykit.config import DownstreamTlsContext, HttpConnectionManager, LocalRateLimit
from envoykit.testing.tls import TestCA


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Cert]:
    ca = TestCA(tmp_path_factory.mktemp("ca"))
    return {host: ca.issue(host).as_cert() for host in ("a.example.com", "b.example.com")}


def company(certs: dict[str, Cert]) -> EdgeProxy:
    return (
        EdgeProxy()
        .site("a.example.com", "127.0.0.20:8080", cert=certs["a.example.com"])
        .site("b.example.com", "127.0.0.21:8080", cert=certs["b.example.com"])
        .https(port=8443)
        .redirect_http(port=8080)
        .rate_limit(requests=100, per="1s")
        .admin(port=9901)
    )


def hcm_of(chain: Any) -> HttpConnectionManager:
    hcm = chain.filters[0].typed_config
    assert isinstance(hcm, HttpConnectionManager)
    return hcm


def test_company_edge_compiles_to_sni_chains_and_clusters(certs: dict[str, Cert]) -> None:
    boot = company(certs).build()
    https = boot.listener("https")
    assert [c.filter_chain_match.server_names for c in https.filter_chains or []
            if c.filter_chain_match] == [["a.example.com"], ["b.example.com"]]
    assert [f.name for f in https.listener_filters or []] == [
        "envoy.filters.listener.tls_inspector"]
    a = boot.cluster("a_example_com").to_dict()
    assert a["type"] == "STATIC"
    assert a["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"] == {
        "socket_address": {"address": "127.0.0.20", "port_value": 8080}}
    assert check(boot) == []


def test_secure_defaults_are_rendered(certs: dict[str, Cert]) -> None:
    boot = company(certs).build()
    https = boot.listener("https")
    assert https.per_connection_buffer_limit_bytes == 32768
    chain = (https.filter_chains or [])[0]
    hcm = hcm_of(chain).to_dict()
    assert hcm["use_remote_address"] is True
    assert hcm["normalize_path"] is True and hcm["merge_slashes"] is True
    assert hcm["strip_any_host_port"] is True
    assert hcm["path_with_escaped_slashes_action"] == "UNESCAPE_AND_REDIRECT"
    assert hcm["common_http_protocol_options"] == {
        "idle_timeout": "3600s", "headers_with_underscores_action": "REJECT_REQUEST"}
    assert hcm["request_headers_timeout"] == "10s"
    assert hcm["http_filters"][-1]["typed_config"]["suppress_envoy_headers"] is True
    assert hcm["stream_idle_timeout"] == "300s"
    assert hcm["http2_protocol_options"] == {"max_concurrent_streams": 100,
                                             "initial_stream_window_size": 65536,
                                             "initial_connection_window_size": 1048576}
    vhost = hcm["route_config"]["virtual_hosts"][0]
    assert vhost["response_headers_to_add"][0]["header"] == {
        "key": "strict-transport-security", "value": "max-age=63072000; includeSubDomains"}
    tls = chain.transport_socket.typed_config if chain.transport_socket else None
    assert isinstance(tls, DownstreamTlsContext)
    params = tls.to_dict()["common_tls_context"]["tls_params"]
    assert params["tls_minimum_protocol_version"] == "TLSv1_2"
    assert "ECDHE-RSA-AES128-GCM-SHA256" in params["cipher_suites"]
    assert tls.to_dict()["common_tls_context"]["alpn_protocols"] == ["h2", "http/1.1"]
    monitors = boot.to_dict()["overload_manager"]["resource_monitors"]
    assert monitors[0]["typed_config"]["max_active_downstream_connections"] == 50000
    assert boot.to_dict()["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"


def test_rate_limit_is_enabled_and_enforced_per_site(certs: dict[str, Cert]) -> None:
    boot = company(certs).build()
    chains = boot.listener("https").filter_chains or []
    limits = [hcm_of(c).http_filters[0].typed_config for c in chains]  # type: ignore[index]
    assert all(isinstance(x, LocalRateLimit) for x in limits)
    first = limits[0].to_dict()  # type: ignore[union-attr]
    assert first["filter_enabled"]["default_value"] == {"numerator": 100, "denominator": "HUNDRED"}
    assert first["filter_enforced"]["default_value"]["numerator"] == 100
    assert first["token_bucket"] == {"max_tokens": 100, "tokens_per_fill": 100,
                                     "fill_interval": "1s"}
    assert "enable_x_ratelimit_headers" not in first  # per-response headers: opt-in
    on_429 = {h["header"]["key"]: h["header"]["value"] for h in first["response_headers_to_add"]}
    assert on_429 == {"x-local-rate-limit": "true", "x-ratelimit-limit": "100",
                      "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1"}
    assert limits[0] is not limits[1]  # one bucket per site


def test_site_rate_limit_overrides_and_false_disables(certs: dict[str, Cert]) -> None:
    from envoykit import RateLimit

    edge = (EdgeProxy().site("a.example.com", "127.0.0.20:8080", cert=certs["a.example.com"],
                             rate_limit=RateLimit(5))
            .site("b.example.com", "127.0.0.21:8080", cert=certs["b.example.com"],
                  rate_limit=False)
            .https(8443).rate_limit(100))
    chains = edge.build().listener("https").filter_chains or []
    a_filters = [f.name for f in hcm_of(chains[0]).http_filters or []]
    b_filters = [f.name for f in hcm_of(chains[1]).http_filters or []]
    assert a_filters == ["envoy.filters.http.local_ratelimit", "envoy.filters.http.router"]
    assert b_filters == ["envoy.filters.http.router"]


def test_redirect_points_at_the_https_port(certs: dict[str, Cert]) -> None:
    http = company(certs).build().listener("http").to_dict()
    hcm = http["filter_chains"][0]["filters"][0]["typed_config"]
    vhost = hcm["route_config"]["virtual_hosts"][0]
    assert vhost["domains"] == ["a.example.com", "b.example.com"]
    assert vhost["routes"][0]["redirect"] == {
        "https_redirect": True, "port_redirect": 8443, "response_code": "MOVED_PERMANENTLY"}


def test_redirect_to_443_omits_the_port(certs: dict[str, Cert]) -> None:
    edge = company(certs).https(443)
    vhost = edge.build().listener("http").to_dict()["filter_chains"][0]["filters"][0][
        "typed_config"]["route_config"]["virtual_hosts"][0]
    assert "port_redirect" not in vhost["routes"][0]["redirect"]


def test_modern_profile_is_tls13_only(certs: dict[str, Cert]) -> None:
    edge = EdgeProxy(defaults=EdgeDefaults(tls_profile="modern"))
    edge.site("a.example.com", "127.0.0.20:8080", cert=certs["a.example.com"]).https(8443)
    chain = (edge.build().listener("https").filter_chains or [])[0]
    assert chain.transport_socket is not None and chain.transport_socket.typed_config
    params = chain.transport_socket.typed_config.to_dict()["common_tls_context"]["tls_params"]
    assert params == {"tls_minimum_protocol_version": "TLSv1_3"}


def test_defaults_are_overridable(certs: dict[str, Cert]) -> None:
    defaults = dataclasses.replace(EdgeDefaults(), buffer_limit_bytes=1 << 20, hsts=None,
                                   listen_address="0.0.0.0")
    edge = EdgeProxy(defaults=defaults).site("a.example.com", "127.0.0.20:80",
                                             cert=certs["a.example.com"]).https(443)
    listener = edge.build().listener("https").to_dict()
    assert listener["per_connection_buffer_limit_bytes"] == 1 << 20
    assert listener["address"]["socket_address"]["address"] == "0.0.0.0"
    assert "response_headers_to_add" not in str(listener)


def test_dns_upstreams_become_strict_dns() -> None:
    edge = EdgeProxy().site("a.example.com", "backend.internal:8080").http(8080)
    cluster = edge.build().cluster("a_example_com").to_dict()
    assert cluster["type"] == "STRICT_DNS"
    assert cluster["dns_lookup_family"] == "V4_PREFERRED"


def test_upstream_tls_verifies_ca_san_and_sni(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("ca")
    edge = EdgeProxy().site("a.example.com", "127.0.0.20:8443",
                            upstream_tls=UpstreamTLS(sni="internal.a", ca=str(ca))).http(8080)
    tls = edge.build().cluster("a_example_com").to_dict()["transport_socket"]["typed_config"]
    assert tls["sni"] == "internal.a"
    vc = tls["common_tls_context"]["validation_context"]
    assert vc["trusted_ca"] == {"filename": str(ca)}
    assert vc["match_typed_subject_alt_names"] == [
        {"san_type": "DNS", "matcher": {"exact": "internal.a"}}]


def test_upstream_tls_without_ca_must_opt_out_of_verification() -> None:
    edge = EdgeProxy().site("a.example.com", "127.0.0.20:8443",
                            upstream_tls=UpstreamTLS(sni="a")).http(8080)
    with pytest.raises(ConfigError, match="verify=True needs ca="):
        edge.build()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda e: e.site("not a host!", "127.0.0.1:1"), "not a valid host name"),
        (lambda e: e.site("a.example.com"), "at least one upstream"),
        (lambda e: e.site("a.example.com", "127.0.0.1"), "expected 'host:port'"),
        (lambda e: e.site("a.example.com", "127.0.0.1:0"), "out of range"),
        (lambda e: e.site("a.example.com", "127.0.0.1:1", timeout="-5s"), "negative"),
        (lambda e: e.https(port=70000), "port must be"),
        (lambda e: e.rate_limit(0), "positive integer"),
        (lambda e: e.rate_limit(10, per="10ms"), "at least 50ms"),
        (lambda e: e.rate_limit(10, per="soon"), "invalid duration"),
    ],
)
def test_bad_builder_calls_name_the_argument(call: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        call(EdgeProxy())


def test_intent_problems_are_reported_together(certs: dict[str, Cert]) -> None:
    edge = (EdgeProxy().site("a.example.com", "127.0.0.20:80")
            .site("b.example.com", "127.0.0.21:80", aliases=["a.example.com"])
            .https(8443))
    with pytest.raises(SemanticError) as info:
        edge.build()
    paths = [i.path for i in info.value.issues]
    assert "site('a.example.com').cert" in paths
    assert "sites" in paths  # a.example.com claimed twice


def test_same_host_twice_is_refused() -> None:
    edge = EdgeProxy().site("a.example.com", "127.0.0.20:80")
    with pytest.raises(ConfigError, match="already a site"):
        edge.site("A.example.com", "127.0.0.21:80")


def test_empty_edge_says_what_is_missing() -> None:
    with pytest.raises(SemanticError, match="no site"):
        EdgeProxy().build()


def test_admin_off_loopback_warns(caplog: pytest.LogCaptureFixture) -> None:
    EdgeProxy().admin(port=9901, address="0.0.0.0")
    assert "reachable from the network" in caplog.text


def test_build_is_deterministic(certs: dict[str, Cert]) -> None:
    from envoykit import to_yaml

    assert to_yaml(company(certs).build()) == to_yaml(company(certs).build())


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"tls_profile": "ancient"}, "tls_profile"), ({"alpn": "h2"}, "alpn"),
     ({"listen_address": "edge.local"}, "listen_address"),
     ({"max_connections": 0}, "max_connections"),
     ({"request_headers_timeout": "-1s"}, "request_headers_timeout")],
)
def test_bad_defaults_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=f"EdgeDefaults.{field}"):
        EdgeDefaults(**changes)


def test_defaults_accept_duration_text() -> None:
    from datetime import timedelta

    assert EdgeDefaults(request_headers_timeout="5s").request_headers_timeout == timedelta(  # type: ignore[arg-type]
        seconds=5)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda e: e.site(42, "127.0.0.1:1"), "must be a string"),
        (lambda e: e.site("a.example.com", ("127.0.0.1", "80")), "integer port"),
        (lambda e: e.site("a.example.com", "127.0.0.1:1", cert=("a.pem",)),
         r"site\('a.example.com'\).cert"),
        (lambda e: e.rate_limit(10, burst="5"), "burst"),
    ],
)
def test_wrong_types_are_config_errors(call: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        call(EdgeProxy())


def test_http_and_https_both_on_port_zero_are_fine() -> None:
    edge = (EdgeProxy().site("a.example.com", "127.0.0.1:80", cert=Cert("c", "k", inline=True))
            .https(0).http(0))
    assert {x.name for x in edge.build().static_resources.listeners or []} == {"https", "http"}  # type: ignore[union-attr]


def test_plain_http_default_bucket_is_the_listeners_and_own_limits_are_per_vhost() -> None:
    from envoykit import RateLimit

    edge = (EdgeProxy().site("a.example.com", "127.0.0.1:80", rate_limit=RateLimit(2))
            .site("b.example.com", "127.0.0.1:81", rate_limit=False)
            .site("c.example.com", "127.0.0.1:82").http(8080).rate_limit(9))
    hcm = edge.build().listener("http").to_dict()["filter_chains"][0]["filters"][0][
        "typed_config"]
    shared = hcm["http_filters"][0]["typed_config"]
    assert shared["stat_prefix"] == "http"
    assert shared["token_bucket"]["max_tokens"] == 9
    a, b, c = hcm["route_config"]["virtual_hosts"]
    own = a["typed_per_filter_config"]["envoy.filters.http.local_ratelimit"]
    assert own["stat_prefix"] == "http_a_example_com"
    assert own["token_bucket"]["max_tokens"] == 2
    exempt = b["typed_per_filter_config"]["envoy.filters.http.local_ratelimit"]
    assert exempt["filter_enabled"]["default_value"]["numerator"] == 0  # enabled for 0 %
    assert "typed_per_filter_config" not in c  # the listener's bucket


def test_extra_http_filters_go_before_the_router_on_chosen_sites(certs: dict[str, Cert]) -> None:
    from envoykit.config import Cors

    edge = company(certs).http_filter(Cors(), sites=["b.example.com"])
    chains = edge.build().listener("https").filter_chains or []
    names = [[f.name for f in hcm_of(c).http_filters or []] for c in chains]
    assert names[0] == ["envoy.filters.http.local_ratelimit", "envoy.filters.http.router"]
    assert names[1] == ["envoy.filters.http.local_ratelimit", "envoy.filters.http.cors",
                        "envoy.filters.http.router"]


def test_raw_http_filter_needs_a_name() -> None:
    raw = {"@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer",
           "max_request_bytes": 1024}
    with pytest.raises(ConfigError, match="http_filter"):
        EdgeProxy().http_filter(raw)
    edge = EdgeProxy().site("a.example.com", "127.0.0.1:80").http(80).http_filter(
        raw, name="envoy.filters.http.buffer")
    filters = edge.build().listener("http").to_dict()["filter_chains"][0]["filters"][0][
        "typed_config"]["http_filters"]
    assert filters[0] == {"name": "envoy.filters.http.buffer", "typed_config": raw}


def test_dns_family_per_site() -> None:
    edge = EdgeProxy().site("a.example.com", "backend:80", dns_lookup_family="V4_ONLY").http(80)
    assert edge.build().cluster("a_example_com").dns_lookup_family == "V4_ONLY"


def test_request_id_is_generated_only_where_something_reads_it(certs: dict[str, Cert]) -> None:
    def generate(edge: EdgeProxy) -> object:
        chain = (edge.build().listener("https").filter_chains or [])[0]
        return hcm_of(chain).to_dict().get("generate_request_id")

    assert generate(company(certs)) is False
    assert generate(company(certs).access_log()) is True
    forced = EdgeProxy(defaults=dataclasses.replace(EdgeDefaults(), request_id=True))
    forced.site("a.example.com", "127.0.0.20:8080", cert=certs["a.example.com"]).https(8443)
    assert generate(forced) is True


def test_hsts_only_over_https(certs: dict[str, Cert]) -> None:
    """Browsers ignore HSTS over plain HTTP (RFC 6797 8.1): the header is only on the HTTPS
    chains, not on the sites served over plain HTTP next to them."""
    boot = (EdgeProxy().site("a.example.com", "127.0.0.20:8080", cert=certs["a.example.com"])
            .https(8443).http(8080).build())
    https_vhosts = [hcm_of(c).to_dict()["route_config"]["virtual_hosts"][0]
                    for c in boot.listener("https").filter_chains or []]
    assert all(v["response_headers_to_add"][0]["header"]["key"] == "strict-transport-security"
               for v in https_vhosts)
    plain = hcm_of((boot.listener("http").filter_chains or [])[0]).to_dict()
    vhosts = plain["route_config"]["virtual_hosts"]
    assert [v["domains"] for v in vhosts] == [["a.example.com"]]  # the site, not a redirect
    assert all("response_headers_to_add" not in v for v in vhosts)


def test_router_dynamic_stats_only_where_they_are_a_sites_only_codes(
        certs: dict[str, Cert]) -> None:
    """``dynamic_stats="auto"``: off in each HTTPS site's own connection manager and in the
    redirect, on in the plain-HTTP one shared by the sites (whatever their number, so adding
    a site does not change the listener); ``True``/``False`` everywhere."""
    def routers(choice: object, redirect: bool) -> dict[str, list[object]]:
        edge = EdgeProxy(defaults=dataclasses.replace(EdgeDefaults(), dynamic_stats=choice))
        edge.site("a.example.com", "127.0.0.20:8080", cert=certs["a.example.com"]).https(8443)
        edge.redirect_http(8080) if redirect else edge.http(8080)
        boot = edge.build()
        return {name: [hcm_of(c).to_dict()["http_filters"][-1]["typed_config"]
                       .get("dynamic_stats") for c in boot.listener(name).filter_chains or []]
                for name in ("https", "http")}

    assert routers("auto", False) == {"https": [False], "http": [None]}
    assert routers("auto", True) == {"https": [False], "http": [False]}
    assert routers(True, False) == {"https": [None], "http": [None]}
    assert routers(False, False) == {"https": [False], "http": [False]}
    with pytest.raises(ConfigError, match=r"EdgeDefaults\.dynamic_stats: must be 'auto', True"):
        EdgeDefaults(dynamic_stats="on")  # type: ignore[arg-type]
