"""The typed model: durations, typed configs, the raw escape hatch, oneofs, error paths."""

from __future__ import annotations

from datetime import timedelta

import pytest

from envoykit.config import (
    Address,
    Bootstrap,
    Cluster,
    ClusterLoadAssignment,
    HttpConnectionManager,
    HttpFilter,
    LocalRateLimit,
    ModelError,
    RawConfig,
    Route,
    RouteAction,
    RouteMatch,
    Router,
    StringMatcher,
    TokenBucket,
    registered_types,
)


@pytest.mark.parametrize(
    ("given", "rendered"),
    [("5s", "5s"), ("250ms", "0.25s"), ("1.5s", "1.5s"), ("2m", "120s"), (3, "3s"),
     (0.5, "0.5s"), (timedelta(seconds=10), "10s"), ({"seconds": 1, "nanos": 500000000}, "1.5s")],
)
def test_durations_accept_text_numbers_and_timedelta(given: object, rendered: str) -> None:
    cluster = Cluster(name="c", connect_timeout=given)  # type: ignore[arg-type]
    assert cluster.to_dict()["connect_timeout"] == rendered


@pytest.mark.parametrize("bad", ["-1s", "5 parsecs", "", True, [1]])
def test_bad_durations_name_the_field(bad: object) -> None:
    with pytest.raises(ModelError) as info:
        Cluster(name="c", connect_timeout=bad)  # type: ignore[arg-type]
    assert info.value.issues[0].path == "connect_timeout"


def test_typed_configs_render_their_type_url_first() -> None:
    flt = HttpFilter.of(Router())
    assert flt.to_dict() == {
        "name": "envoy.filters.http.router",
        "typed_config": {"@type": "type.googleapis.com/" + Router.type_url},
    }


def test_a_dict_with_a_known_type_becomes_the_typed_model() -> None:
    flt = HttpFilter.model_validate({"name": "x", "typed_config": {
        "@type": "type.googleapis.com/" + LocalRateLimit.type_url,
        "stat_prefix": "rl"}})
    assert isinstance(flt.typed_config, LocalRateLimit)
    assert flt.typed_config.stat_prefix == "rl"


def test_unknown_type_is_kept_verbatim_as_raw_config() -> None:
    raw = {"@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer",
           "max_request_bytes": 1024, "nested": {"a": [1, 2]}}
    flt = HttpFilter(name="envoy.filters.http.buffer", typed_config=raw)  # type: ignore[arg-type]
    assert isinstance(flt.typed_config, RawConfig)
    assert flt.to_dict()["typed_config"] == raw


def test_v2_type_urls_are_refused() -> None:
    with pytest.raises(ModelError, match="v2"):
        HttpFilter(name="x", typed_config={  # type: ignore[arg-type]
            "@type": "type.googleapis.com/envoy.config.filter.http.router.v2.Router"})


def test_unknown_field_inside_typed_config_names_the_full_path() -> None:
    data = {"static_resources": {"listeners": [{
        "name": "l", "address": {"socket_address": {"address": "127.0.0.1", "port_value": 1}},
        "filter_chains": [{"filters": [{"name": "hcm", "typed_config": {
            "@type": "type.googleapis.com/" + HttpConnectionManager.type_url,
            "stat_prefix": "x", "route_config": {}, "bogus_field": 1}}]}]}]}}
    with pytest.raises(ModelError) as info:
        Bootstrap.from_dict(data)
    paths = [i.path for i in info.value.issues]
    assert "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.bogus_field" \
        in paths


def test_oneof_route_action_needs_exactly_one_target() -> None:
    with pytest.raises(ModelError, match="exactly one of cluster"):
        RouteAction()
    with pytest.raises(ModelError, match="exactly one"):
        Route(match=RouteMatch(prefix="/"))
    with pytest.raises(ModelError, match="exactly one"):
        StringMatcher(exact="a", prefix="b")


def test_ports_and_token_buckets_are_range_checked() -> None:
    with pytest.raises(ModelError) as info:
        Address.tcp("127.0.0.1", 70000)
    assert info.value.issues[0].path == "port_value"
    with pytest.raises(ModelError) as info:
        Bootstrap.from_dict({"admin": {"address": {"socket_address": {
            "address": "127.0.0.1", "port_value": -1}}}})
    assert info.value.issues[0].path == "admin.address.socket_address.port_value"
    with pytest.raises(ModelError, match="at least 50ms"):
        TokenBucket(max_tokens=1, fill_interval="10ms")


def test_invalid_regex_names_the_field() -> None:
    with pytest.raises(ModelError) as info:
        RouteMatch.from_dict({"safe_regex": {"regex": "(unclosed"}})
    assert info.value.issues[0].path == "safe_regex.regex"
    assert "invalid regular expression" in str(info.value)


def test_load_assignment_shorthand() -> None:
    cla = ClusterLoadAssignment.of("web", ("127.0.0.20", 8080), ("127.0.0.21", 8081))
    hosts = cla.to_dict()["endpoints"][0]["lb_endpoints"]
    assert [h["endpoint"]["address"]["socket_address"]["port_value"] for h in hosts] == [8080, 8081]


def test_xds_resources_have_no_type_inline_but_do_as_resources() -> None:
    cluster = Cluster(name="c")
    assert "@type" not in cluster.to_dict()
    assert cluster.to_resource()["@type"].endswith("envoy.config.cluster.v3.Cluster")


def test_registry_knows_the_modelled_types() -> None:
    urls = registered_types()
    assert "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" in urls
    assert "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext" \
        in urls


def test_http2_upstream_uses_typed_extension_protocol_options() -> None:
    cluster = Cluster(name="c", typed_extension_protocol_options=Cluster.http2_options())
    opts = cluster.to_dict()["typed_extension_protocol_options"]
    (key, value), = opts.items()
    assert key == "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
    assert value["explicit_http_config"] == {"http2_protocol_options": {}}


def test_each_http_filter_has_one_module_under_config_filters() -> None:
    """Derived from the registry: every HTTP filter's typed configs (filter and per-route)
    live in one module of ``envoykit.config.filters``, and that module holds no other filter."""
    import envoykit.config.filters

    modules: dict[str, set[str]] = {}
    for cls in registered_types().values():
        if cls.filter_name.startswith("envoy.filters.http."):
            modules.setdefault(cls.filter_name, set()).add(cls.__module__)
    assert "envoy.filters.http.router" in modules and len(modules) >= 6
    for name, where in modules.items():
        assert len(where) == 1, f"{name} is modelled in {sorted(where)}"
        (module,) = where
        assert module.startswith(envoykit.config.filters.__name__ + "."), (name, module)
    owners = [next(iter(where)) for where in modules.values()]
    assert len(owners) == len(set(owners)), "a module holds two filters"
