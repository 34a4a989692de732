"""Services and routes in the builder: what they compile to, the mistakes caught before
Envoy sees them (each named by its route), and resolve() answering in Python."""

from __future__ import annotations

from typing import Any

import pytest

from envoykit import (
    Backend,
    Cert,
    ConfigError,
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
)

CERT = Cert("cert", "key", inline=True)


def shop(*routes: HttpRoute, **services: str) -> EdgeProxy:
    edge = EdgeProxy().http(8080)
    for name, address in (services or {"api": "127.0.0.20:80", "web": "127.0.0.21:80"}).items():
        edge.service(name, address)
    return edge.site("shop.example.com", routes=list(routes))


def vhost_routes(edge: EdgeProxy) -> list[dict[str, Any]]:
    hcm = edge.to_dict()["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    routes: list[dict[str, Any]] = hcm["typed_config"]["route_config"]["virtual_hosts"][0][
        "routes"]
    return routes


def clusters(edge: EdgeProxy) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in edge.to_dict()["static_resources"]["clusters"]}


# -- compile ---------------------------------------------------------------------------------

def test_routes_compile_in_order_with_their_matchers_and_actions() -> None:
    edge = shop(
        HttpRoute("/api/", methods=["GET", "POST"], headers={"x-canary": "1", "x-debug": True},
              query={"v": "2"}, to={"api": 90, "web": 10}),
        HttpRoute(path="/old", redirect=Redirect(path="/new", code=308)),
        HttpRoute(regex="/static/.*", respond=Respond(404, "gone")),
        HttpRoute("/", to="web"),
    )
    r = vhost_routes(edge)
    assert [x["name"] for x in r] == ["routes[0]", "routes[1]", "routes[2]", "routes[3]"]
    assert r[0]["match"] == {
        "prefix": "/api/",
        "headers": [{"name": ":method", "string_match": {"safe_regex": {"regex": "GET|POST"}}},
                    {"name": "x-canary", "string_match": {"exact": "1"}},
                    {"name": "x-debug", "present_match": True}],
        "query_parameters": [{"name": "v", "string_match": {"exact": "2"}}]}
    assert r[0]["route"]["weighted_clusters"] == {"clusters": [{"name": "api", "weight": 90},
                                                               {"name": "web", "weight": 10}]}
    assert r[1] == {"name": "routes[1]", "match": {"path": "/old"},
                    "redirect": {"path_redirect": "/new", "response_code": "PERMANENT_REDIRECT"}}
    assert r[2]["match"] == {"safe_regex": {"regex": "/static/.*"}}
    assert r[2]["direct_response"] == {"status": 404, "body": {"inline_string": "gone"}}
    assert r[3]["route"] == {"cluster": "web", "timeout": "15s"}


def test_route_options_compile() -> None:
    route = vhost_routes(shop(HttpRoute(
        "/api/", to="api", timeout="5s", idle_timeout="30s",
        retries=Retry(attempts=2, per_try_timeout="1s", statuses=(503,),
                      backoff=("10ms", "100ms")),
        rewrite_regex=("^/api/(.*)$", "/\\1"), host_rewrite="api.internal",
        request_headers={"x-a": "b"}, remove_request_headers=["Cookie"],
        response_headers={"x-c": "d"}, remove_response_headers=["server"],
        websocket=True, mirror="web")))[0]
    action = route["route"]
    assert action["retry_policy"] == {
        "retry_on": "reset,connect-failure,refused-stream,retriable-status-codes",
        "num_retries": 2, "per_try_timeout": "1s", "retriable_status_codes": [503],
        "retry_back_off": {"base_interval": "0.01s", "max_interval": "0.1s"}}
    assert action["timeout"] == "5s" and action["idle_timeout"] == "30s"
    assert action["regex_rewrite"] == {"pattern": {"regex": "^/api/(.*)$"},
                                       "substitution": "/\\1"}
    assert action["upgrade_configs"] == [{"upgrade_type": "websocket"}]
    assert action["request_mirror_policies"] == [{"cluster": "web"}]
    assert route["request_headers_to_remove"] == ["cookie"]
    assert route["response_headers_to_add"][0]["header"] == {"key": "x-c", "value": "d"}


def test_websocket_route_has_no_request_timeout_unless_given() -> None:
    route = vhost_routes(shop(HttpRoute("/ws", to="web", websocket=True)))[0]
    assert route["route"]["timeout"] == "0s"


def test_services_compile_to_clusters() -> None:
    edge = (EdgeProxy().http(80)
            .service("api", "127.0.0.20:80", Backend("127.0.0.21", 80, weight=3),
                     lb="least_request",
                     health=Health.http("/healthz", expect=(200, 204), interval="1s",
                                        timeout="500ms", unhealthy=2, healthy=1),
                     outlier=Outlier(consecutive_5xx=3), limits=Limits(max_retries=5))
            .service("db", "127.0.0.22:5432", health=Health.tcp())
            .service("web", "web.internal:80", sticky=Sticky.cookie("sid", ttl="1h"))
            .site("a.example.com", routes=[HttpRoute("/", to="web")]))
    c = clusters(edge)
    api = c["api"]
    assert api["lb_policy"] == "LEAST_REQUEST" and api["type"] == "STATIC"
    assert api["load_assignment"]["endpoints"][0]["lb_endpoints"][1][
        "load_balancing_weight"] == 3
    assert api["health_checks"] == [{
        "timeout": "0.5s", "interval": "1s", "unhealthy_threshold": 2, "healthy_threshold": 1,
        "no_traffic_interval": "1s",
        "http_health_check": {"path": "/healthz", "expected_statuses": [
            {"start": 200, "end": 201}, {"start": 204, "end": 205}]}}]
    assert api["outlier_detection"]["consecutive_5xx"] == 3
    assert api["circuit_breakers"] == {"thresholds": [{"max_retries": 5}]}
    assert c["db"]["health_checks"][0]["tcp_health_check"] == {}
    assert c["web"]["lb_policy"] == "RING_HASH" and c["web"]["type"] == "STRICT_DNS"
    route = vhost_routes(edge)[0]["route"]
    assert route["hash_policy"] == [{"cookie": {"name": "sid", "ttl": "3600s", "path": "/"}}]


def test_site_shortcut_is_a_service_named_after_the_site() -> None:
    edge = EdgeProxy().http(80).site("a.example.com", "127.0.0.1:80", timeout="3s")
    assert list(clusters(edge)) == ["a_example_com"]
    assert vhost_routes(edge)[0]["route"] == {"cluster": "a_example_com", "timeout": "3s"}
    assert edge.sites[0].upstreams == (("127.0.0.1", 80),)


def test_tcp_and_passthrough_listeners() -> None:
    edge = (EdgeProxy().service("echo", "127.0.0.1:7")
            .site("a.example.com", "127.0.0.1:80", cert=CERT)
            .https(8443).passthrough("pass.example.com", "echo").tcp(9000, "echo", name="raw"))
    listeners = {x["name"]: x for x in edge.to_dict()["static_resources"]["listeners"]}
    chain = listeners["https"]["filter_chains"][1]
    assert chain["filter_chain_match"] == {"server_names": ["pass.example.com"]}
    assert "transport_socket" not in chain
    assert chain["filters"][0]["typed_config"]["cluster"] == "echo"
    raw = listeners["raw"]
    assert raw["address"]["socket_address"]["port_value"] == 9000
    assert raw["filter_chains"][0]["filters"][0]["name"] == "envoy.filters.network.tcp_proxy"


# -- mistakes, each named by its route ----------------------------------------------------

@pytest.mark.parametrize(("routes", "where", "message"), [
    ([HttpRoute("/", to="web"), HttpRoute("/api/", to="api")], "routes[1]",
     "unreachable: routes[0]"),
    ([HttpRoute("/api/", to="api"), HttpRoute(path="/api/x", to="web")], "routes[1]",
     "unreachable"),
    ([HttpRoute(regex="/a+", to="api"), HttpRoute(path="/aaa", to="web")], "routes[1]",
     "unreachable"),
    ([HttpRoute("/", to={"api": 0, "web": 10})], "routes[0].to['api']", "positive integer"),
    ([HttpRoute(regex="/(a)\\1", to="api")], "routes[0].regex", "not a valid RE2 regex"),
    ([HttpRoute("/", headers=[Header("x", regex="(?=a)")], to="api")],
     "routes[0].headers['x'].regex", "RE2"),
    ([HttpRoute("/old", redirect=Redirect(prefix="/old/new"))], "routes[0]", "redirect loop"),
    ([HttpRoute(path="/a", redirect=Redirect(host="shop.example.com"))], "routes[0]",
     "redirect loop"),
    ([HttpRoute("/", to="api", timeout="2s", retries=Retry(attempts=2, per_try_timeout="1s"))],
     "routes[0].retries", "longer than the route timeout of 2s"),
])
def test_route_mistakes_are_named_by_route(routes: list[HttpRoute], where: str,
                                           message: str) -> None:
    with pytest.raises(SemanticError) as info:
        shop(*routes)
    text = str(info.value)
    assert f"site('shop.example.com').{where}" in text and message in text, text


def test_routes_that_are_fine_are_not_flagged() -> None:
    shop(HttpRoute("/api/", headers={"x-canary": "1"}, to="api"), HttpRoute("/api/", to="web"),
         HttpRoute(path="/old", redirect=Redirect(path="/new")),
         HttpRoute("/http", redirect=Redirect(scheme="https")),
         HttpRoute("/", to="web", timeout="3s", retries=Retry(attempts=2, per_try_timeout="1s")))


def test_unknown_services_are_named_at_build() -> None:
    edge = shop(HttpRoute("/", to={"api": 1, "nope": 1}, mirror="ghost"))
    with pytest.raises(SemanticError) as info:
        edge.build()
    text = str(info.value)
    assert "site('shop.example.com').routes[0]: unknown service 'nope'" in text
    assert "unknown service 'ghost'" in text


@pytest.mark.parametrize(("call", "message"), [
    (lambda: Health.http("healthz"), "not a path|must be a URL path"),
    (lambda: Health.http("/a b"), "must be a URL path"),
    (lambda: Health.http("/", expect=(700,)), "not an HTTP status"),
    (lambda: Retry(on=("sometimes",)), "not a retry condition"),
    (lambda: HttpRoute("/", to="a", respond=Respond(200)), "exactly one action"),
    (lambda: HttpRoute("api", to="a"), "must start with '/'"),
    (lambda: Redirect(code=200), "Redirect.code"),
    (lambda: EdgeProxy().service("s", "127.0.0.1:1", sticky=Sticky.header("x"),
                                 lb="round_robin"), "sticky sessions need"),
])
def test_bad_values_name_the_argument(call: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        call()


def test_a_negative_rate_limit_fails_at_site_naming_site_and_argument() -> None:
    with pytest.raises(ConfigError) as info:
        EdgeProxy().site("a.example.com", "127.0.0.1:80", rate_limit=RateLimit(-1))
    assert str(info.value).startswith("site('a.example.com').rate_limit(requests=-1): ")


# -- resolve ------------------------------------------------------------------------------

def test_resolve_answers_which_route_and_service() -> None:
    edge = shop(
        HttpRoute("/api/", headers={"x-canary": "1"}, to="web"),
        HttpRoute("/api/", methods=["GET"], to={"api": 9, "web": 1}),
        HttpRoute(path="/old", redirect=Redirect(path="/new", code=302)),
        HttpRoute(path="/ping", respond=Respond(200, "pong")),
    ).site("b.example.com", "127.0.0.1:80", aliases=["*.b.example.com"])
    assert edge.resolve("shop.example.com", "/api/x", headers={"x-canary": "1"}).service \
        == "web"
    split = edge.resolve("SHOP.example.com:8443", "/api/x")
    assert (split.action, split.route, split.split) == ("split", 1, (("api", 9), ("web", 1)))
    assert edge.resolve("shop.example.com", "/api/x", "POST").action == "not_found"
    moved = edge.resolve("shop.example.com", "/old?a=1")
    assert (moved.status, moved.location) == (302, "http://shop.example.com/new?a=1")
    assert edge.resolve("shop.example.com", "/ping").body == "pong"
    assert edge.resolve("x.b.example.com", "/").service == "b_example_com"
    assert edge.resolve("c.example.com", "/").where == "(no site)"
    assert edge.resolve("shop.example.com", "/api/x").where == "site('shop.example.com').routes[1]"


def test_per_route_filters_cors_and_rate_limits() -> None:
    from envoykit.config import RBACPerRoute, StringMatcher
    from envoykit.config.filters.cors import CorsPolicy

    deny = {"@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute"}
    edge = shop(
        HttpRoute("/admin", to="api", filters={"envoy.filters.http.rbac": deny}),
        HttpRoute("/api/", to="api", rate_limit=RateLimit(5),
                  cors=CorsPolicy(allow_origin_string_match=[StringMatcher(exact="https://x")])),
        HttpRoute("/", to="web", rate_limit=False),
    )
    assert RBACPerRoute.type_url.endswith("RBACPerRoute")
    r = vhost_routes(edge)
    assert r[0]["typed_per_filter_config"]["envoy.filters.http.rbac"]["@type"].endswith(
        "RBACPerRoute")
    api = r[1]["typed_per_filter_config"]
    assert api["envoy.filters.http.local_ratelimit"]["token_bucket"]["max_tokens"] == 5
    assert api["envoy.filters.http.cors"]["allow_origin_string_match"] == [{"exact": "https://x"}]
    exempt = r[2]["typed_per_filter_config"]["envoy.filters.http.local_ratelimit"]
    assert exempt["filter_enabled"]["default_value"]["numerator"] == 0
    hcm = edge.to_dict()["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    names = [f["name"] for f in hcm["typed_config"]["http_filters"]]
    assert names == ["envoy.filters.http.cors", "envoy.filters.http.local_ratelimit",
                     "envoy.filters.http.router"]  # what the per-route configs need


def test_a_route_table_shared_by_sites_is_still_judged_per_site() -> None:
    """Sites sharing an equal table reuse its verdict, but a redirect loop depends on the
    site's own host, and a bad table is reported for every site that uses it."""
    table = [HttpRoute(path="/a", redirect=Redirect(host="b.example.com")),
             HttpRoute("/", to="web")]
    edge = EdgeProxy().http(8080).service("web", "127.0.0.21:80")
    edge.site("a.example.com", routes=table)  # clean here: redirects to another host
    with pytest.raises(SemanticError, match=r"site\('b.example.com'\).routes\[0\].*loop"):
        edge.site("b.example.com", routes=table)
    shadowed = [HttpRoute("/", to="web"), HttpRoute("/x", to="web")]
    for host in ("c.example.com", "d.example.com"):
        with pytest.raises(SemanticError, match=rf"site\('{host}'\).routes\[1\].*unreachable"):
            edge.site(host, routes=shadowed)
