"""Envoy's Jinja config generator, the front-proxy scenario, written as a Python loop.

    python examples/front_proxy_generator.py

The seed: "Envoy's configuration is relatively complex; there is a Jinja-based generator
(configs/configgen.py) and three example templates". Its front-proxy template routes several
internal services: a dict of services with options (``front_envoy_clusters``), a cluster
macro per service (LEAST_REQUEST, HTTP health checks on /healthcheck, outlier detection,
circuit breakers from the options), virtual hosts with prefix/path routes that retry on 5xx,
a redirect host, and HTTP filters (health check, buffer). Here the same structure is data
plus a loop over typed objects instead of text templates: a typo is an error with a field
path, not broken YAML. Filters envoykit does not model (health_check, buffer) go in as raw
``@type`` dicts. The script renders the config, validates it, then runs it against three
local services and checks every route.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import httpx
from _common import http_manager, save_config, show, title, workdir

from envoykit import EdgeProxy, to_yaml, validate
from envoykit.config import (
    AccessLog,
    Bootstrap,
    CircuitBreakers,
    FileAccessLog,
    HealthCheck,
    HttpFilter,
    HttpHealthCheck,
    OutlierDetection,
    RedirectAction,
    RetryPolicy,
    Route,
    RouteAction,
    RouteMatch,
    Thresholds,
    VirtualHost,
)
from envoykit.process import Supervisor
from envoykit.testing.upstream import Upstream

# configgen.py: the services the front proxy routes to, with per-service options
SERVICES: dict[str, dict[str, Any]] = {
    "service1": {},
    "service2": {"max_requests": 100},  # → circuit breaker
    "service3": {"timeout": "5s"},  # → route timeout
}
# envoy_router.template.yaml: virtual hosts → routes ("/x" prefix, "=/x" exact path)
VIRTUAL_HOSTS: dict[str, list[tuple[str, str]]] = {
    "www.yourcompany.test": [("/foo/bar", "service2"), ("/", "service1")],
    "api.yourcompany.test": [("=/foo/bar", "service3"), ("/", "service1")],
}
REDIRECTS = {"wwww.yourcompany.test": "www.yourcompany.test"}  # the www_redirect host

# HTTP filters of the template that envoykit does not model: raw typed configs
HEALTH_CHECK_FILTER = {
    "name": "envoy.filters.http.health_check",
    "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck",
        "pass_through_mode": False,
        "headers": [{"name": ":path", "string_match": {"exact": "/healthcheck"}}],
    },
}
BUFFER_FILTER = {
    "name": "envoy.filters.http.buffer",
    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer",
                     "max_request_bytes": 5242880},
}


def route(match: str, service: str) -> Route:
    """``helper.make_route(service)``: the route, its timeout option, retries on 5xx."""
    on = RouteMatch(path=match[1:]) if match.startswith("=") else RouteMatch(prefix=match)
    return Route(match=on, route=RouteAction(
        cluster=service, timeout=SERVICES[service].get("timeout"),
        retry_policy=RetryPolicy(retry_on="5xx")))


def front_proxy(addresses: dict[str, str]) -> EdgeProxy:
    """The builder part: one site (cluster + internal virtual host) per service."""
    edge = EdgeProxy("front-proxy").http(0).admin(0)
    for service in SERVICES:  # {% for service, options in clusters.items() %}
        edge.site(service, addresses[service])
    return edge


def generate(addresses: dict[str, str], error_log: str) -> Bootstrap:
    """The whole front-proxy config: builder output, then the template's extras."""
    bootstrap = front_proxy(addresses).build()
    for service, options in SERVICES.items():  # helper.internal_cluster_definition
        cluster = bootstrap.cluster(service)
        cluster.lb_policy = "LEAST_REQUEST"
        cluster.health_checks = [HealthCheck(
            timeout="2s", interval="5s", unhealthy_threshold=2, healthy_threshold=2,
            http_health_check=HttpHealthCheck(path="/healthcheck"))]
        cluster.outlier_detection = OutlierDetection(consecutive_5xx=5)
        if "max_requests" in options:
            cluster.circuit_breakers = CircuitBreakers(thresholds=[
                Thresholds(priority="DEFAULT", max_requests=options["max_requests"])])

    hcm = http_manager(bootstrap, "http")
    assert hcm.route_config is not None and hcm.route_config.virtual_hosts is not None
    for domain, routes in VIRTUAL_HOSTS.items():  # envoy_router.template.yaml
        hcm.route_config.virtual_hosts.append(VirtualHost(
            name=domain.split(".")[0], domains=[domain],
            routes=[route(match, service) for match, service in routes]))
    for domain, target in REDIRECTS.items():
        hcm.route_config.virtual_hosts.append(VirtualHost(
            name=domain.split(".")[0] + "_redirect", domains=[domain],
            routes=[Route(match=RouteMatch(prefix="/"),
                          redirect=RedirectAction(host_redirect=target))]))
    raw = [HttpFilter.from_dict(HEALTH_CHECK_FILTER), HttpFilter.from_dict(BUFFER_FILTER)]
    hcm.http_filters = [*raw, *(hcm.http_filters or [])]  # the router stays last
    hcm.add_user_agent = True
    # the template's access_error.log: only 5xx or slow (>= 1 s) requests
    hcm.access_log = [AccessLog(
        name="envoy.access_loggers.file",
        typed_config=FileAccessLog(path=error_log),
        filter={"or_filter": {"filters": [
            {"status_code_filter": {"comparison": {
                "op": "GE", "value": {"default_value": 500, "runtime_key": "access_log.status"}}}},
            {"duration_filter": {"comparison": {
                "op": "GE", "value": {"default_value": 1000, "runtime_key": "access_log.ms"}}}},
        ]}},
    )]
    return bootstrap


def main() -> int:
    with contextlib.ExitStack() as stack:
        work = stack.enter_context(workdir("front_proxy_generator"))
        services = {name: stack.enter_context(Upstream(name)) for name in SERVICES}

        title("generate: python objects in a loop instead of jinja templates")
        addresses = {name: up.address for name, up in services.items()}
        bootstrap = generate(addresses, str(work / "access_error.log"))
        path = save_config(work, "envoy_front_proxy", bootstrap)
        show(path.name, f"{len(to_yaml(bootstrap).splitlines())} lines of YAML")
        validate(bootstrap)  # our checks, then envoy --mode validate
        show("envoy --mode validate", "OK")

        title("run it: each request and the service that answered")
        cases = [  # (host, path, expected answer)
            ("www.yourcompany.test", "/foo/bar/baz", "service2"),
            ("www.yourcompany.test", "/index.html", "service1"),
            ("api.yourcompany.test", "/foo/bar", "service3"),
            ("api.yourcompany.test", "/foo/bar/baz", "service1"),
            ("wwww.yourcompany.test", "/typo", "301 → http://www.yourcompany.test/typo"),
            ("www.yourcompany.test", "/healthcheck", "200 from envoy"),
            ("service3", "/direct", "service3"),
        ]
        with Supervisor(bootstrap, log_level="warning") as envoy, httpx.Client() as client:
            url = envoy.url_of("http")
            for host, path_, expected in cases:
                reply = client.get(url + path_, headers={"host": host})
                if reply.status_code == 301:
                    got = f"301 → {reply.headers['location']}"
                else:
                    got = reply.headers.get("x-upstream", f"{reply.status_code} from envoy")
                show(f"{host}{path_}", got)
                assert got == expected, (host, path_, got)

            title("active health checks of each service cluster")
            with envoy.admin() as admin:
                for name, status in admin.clusters().items():
                    healthy = len(status.healthy_hosts)
                    show(name, f"{healthy}/{len(status.hosts)} hosts healthy")
                    assert healthy == len(status.hosts) == 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
