"""Compile a site and its ordered routes into an Envoy virtual host."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from envoykit.builder._clusters import hash_policy
from envoykit.builder._intent import Edge, EdgeDefaults, RateLimit, Site
from envoykit.builder._routes import REDIRECT_CODES, Header, HttpRoute
from envoykit.builder._services import Service
from envoykit.config import (
    HeaderValue,
    HeaderValueOption,
    LocalRateLimit,
    RawConfig,
    RuntimeFractionalPercent,
    TypedConfig,
    VirtualHost,
)

__all__ = ["header", "rate_limit_filter", "route_dict", "vhost", "vhost_extras"]

CORS_FILTER = "envoy.filters.http.cors"


def header(key: str, value: str, *, overwrite: bool = True) -> HeaderValueOption:
    action = "OVERWRITE_IF_EXISTS_OR_ADD" if overwrite else "APPEND_IF_EXISTS_OR_ADD"
    return HeaderValueOption(header=HeaderValue(key=key, value=value), append_action=action)


def _limited_headers(limit: RateLimit) -> list[HeaderValueOption]:
    """``x-ratelimit-*`` on the 429s only (constant values, so no per-response work):
    the limit, nothing remaining, and the refill interval as the longest wait."""
    bucket = limit.bucket()
    reset = max(1, math.ceil(bucket.fill_interval.total_seconds()))
    return [header("x-ratelimit-limit", str(bucket.max_tokens)),
            header("x-ratelimit-remaining", "0"),
            header("x-ratelimit-reset", str(reset))]


def rate_limit_filter(stat_prefix: str, limit: RateLimit, defaults: EdgeDefaults
                      ) -> LocalRateLimit:
    """A local rate limit enforced on every request (Envoy's default is 0 %: off)."""
    every = defaults.ratelimit_headers and defaults.ratelimit_headers_on_every_response
    return LocalRateLimit(
        stat_prefix=stat_prefix,
        token_bucket=limit.bucket(),
        filter_enabled=RuntimeFractionalPercent.percent(100),
        filter_enforced=RuntimeFractionalPercent.percent(100),
        response_headers_to_add=[header("x-local-rate-limit", "true"),
                                 *(_limited_headers(limit) if defaults.ratelimit_headers
                                   and not every else [])],
        enable_x_ratelimit_headers="DRAFT_VERSION_03" if every else None,
    )


def exempt_filter(stat_prefix: str) -> LocalRateLimit:
    """A per-route/per-vhost config that turns an inherited limit off (enabled for 0 %)."""
    return LocalRateLimit(stat_prefix=stat_prefix, token_bucket=RateLimit(1).bucket(),
                          filter_enabled=RuntimeFractionalPercent.percent(0))


def vhost(site: Site, edge: Edge, *, tls: bool, stat_prefix: str,
          limit: LocalRateLimit | None = None) -> VirtualHost:
    """The virtual host of ``site`` (one validation pass over one dict, for speed)."""
    result: VirtualHost = VirtualHost.from_dict({
        "name": site.slug,
        "domains": site.domains,
        "routes": [route_dict(r, i, edge, f"{stat_prefix}_r{i}")
                   for i, r in enumerate(site.routes)],
        **vhost_extras(edge, tls=tls, limit=limit),
    })
    return result


def vhost_extras(edge: Edge, *, tls: bool, limit: LocalRateLimit | None) -> dict[str, Any]:
    """The fields of a virtual host after its routes."""
    hsts = edge.defaults.hsts if tls else None
    return {
        "response_headers_to_add": [header("strict-transport-security", hsts)] if hsts else None,
        # (HSTS only over HTTPS: browsers ignore it over plain HTTP)
        "typed_per_filter_config": {LocalRateLimit.filter_name: limit} if limit else None,
    }


def route_dict(route: HttpRoute, index: int, edge: Edge, stat_prefix: str,
               service_of: Callable[[str], Service | None] | None = None) -> dict[str, Any]:
    """The Envoy route of ``route`` (``service_of``: where the sticky sessions of the
    services it forwards to are read, by default the edge's services)."""
    out: dict[str, Any] = {"name": f"routes[{index}]", "match": _match(route)}
    if route.redirect is not None:
        out["redirect"] = _redirect(route)
    elif route.respond is not None:
        body = route.respond.body
        out["direct_response"] = {"status": route.respond.status,
                                  "body": {"inline_string": body} if body is not None else None}
    else:
        out["route"] = _action(route, edge, service_of or edge.service)
    out["request_headers_to_add"] = [header(k, v) for k, v in route.added_request_headers] \
        or None
    out["request_headers_to_remove"] = list(route.remove_request_headers) or None
    out["response_headers_to_add"] = [header(k, v) for k, v in route.added_response_headers] \
        or None
    out["response_headers_to_remove"] = list(route.remove_response_headers) or None
    out["typed_per_filter_config"] = _per_filter(route, edge, stat_prefix) or None
    return out


def _match(route: HttpRoute) -> dict[str, Any]:
    match: dict[str, Any] = {}
    if route.path is not None:
        match["path"] = route.path
    elif route.regex is not None:
        match["safe_regex"] = {"regex": route.regex}
    else:
        match["prefix"] = route.prefix
    headers = [_header_matcher(h) for h in route.header_matchers]
    methods = route.method_list
    if methods:
        headers.insert(0, {"name": ":method", "string_match": {"exact": methods[0]}}
                       if len(methods) == 1 else
                       {"name": ":method",
                        "string_match": {"safe_regex": {"regex": "|".join(methods)}}})
    if headers:
        match["headers"] = headers
    if route.query_matchers:
        match["query_parameters"] = [
            {"name": k, "present_match": True} if v is True
            else {"name": k, "string_match": {"exact": str(v)}}
            for k, v in route.query_matchers]
    return match


def _header_matcher(h: Header) -> dict[str, Any]:
    out: dict[str, Any] = {"name": h.name, "invert_match": h.invert or None}
    if h.exact is not None:
        out["string_match"] = {"exact": h.exact}
    elif h.regex is not None:
        out["string_match"] = {"safe_regex": {"regex": h.regex}}
    else:
        out["present_match"] = h.present
    return out


def _redirect(route: HttpRoute) -> dict[str, Any]:
    r = route.redirect
    assert r is not None
    return {"host_redirect": r.host, "path_redirect": r.path, "prefix_rewrite": r.prefix,
            "scheme_redirect": r.scheme, "port_redirect": r.port,
            "response_code": REDIRECT_CODES[r.code], "strip_query": r.strip_query or None}


def _action(route: HttpRoute, edge: Edge, service_of: Callable[[str], Service | None]
            ) -> dict[str, Any]:
    defaults = edge.defaults
    timeout: timedelta | None = route.timeout_value
    if timeout is None:  # an upgraded (WebSocket) stream lives beyond any request timeout
        timeout = defaults.route_timeout if not route.websocket else timedelta(0)
    action: dict[str, Any] = {
        "timeout": timeout,
        "idle_timeout": route.idle_timeout_value,
        "prefix_rewrite": route.rewrite_prefix,
        "regex_rewrite": {"pattern": {"regex": route.rewrite_regex[0]},
                          "substitution": route.rewrite_regex[1]}
        if route.rewrite_regex else None,
        "host_rewrite_literal": route.host_rewrite,
        "retry_policy": _retry(route),
        "upgrade_configs": [{"upgrade_type": "websocket"}] if route.websocket else None,
        "request_mirror_policies": [{"cluster": route.mirror}] if route.mirror else None,
    }
    if route.service is not None:
        action["cluster"] = route.service
        service = service_of(route.service)
        if service is not None and service.sticky is not None:
            action["hash_policy"] = [hash_policy(service.sticky)]
    else:
        action["weighted_clusters"] = {"clusters": [{"name": n, "weight": w}
                                                    for n, w in route.split]}
    return action


def _retry(route: HttpRoute) -> dict[str, Any] | None:
    retry = route.retries
    if retry is None:
        return None
    return {
        "retry_on": ",".join(retry.on),
        "num_retries": retry.attempts,
        "per_try_timeout": retry.per_try_timeout,
        "retriable_status_codes": list(retry.statuses) or None,
        "retry_back_off": {"base_interval": retry.backoff[0], "max_interval": retry.backoff[1]}
        if retry.backoff else None,
    }


def _per_filter(route: HttpRoute, edge: Edge, stat_prefix: str) -> dict[str, Any]:
    configs: dict[str, Any] = {}
    for name, config in route.filter_configs:
        configs[name] = config if isinstance(config, TypedConfig) else RawConfig.model_validate(
            dict(config) if isinstance(config, Mapping) else config)
    if isinstance(route.rate_limit, RateLimit):
        configs[LocalRateLimit.filter_name] = rate_limit_filter(stat_prefix, route.rate_limit,
                                                                edge.defaults)
    elif route.rate_limit is False:
        configs[LocalRateLimit.filter_name] = exempt_filter(stat_prefix)
    if route.cors is not None:
        configs[CORS_FILTER] = route.cors
    return configs
