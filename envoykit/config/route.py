"""Routing: ``envoy.config.route.v3`` route configurations, virtual hosts and routes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from envoykit.config._base import Duration, EnvoyModel, Resource, Typed
from envoykit.config.core import DataSource, HeaderMatcher, HeaderValueOption, RegexMatcher

__all__ = [
    "ClusterWeight",
    "DirectResponseAction",
    "HashPolicy",
    "QueryParameterMatcher",
    "RedirectAction",
    "RegexMatchAndSubstitute",
    "RequestMirrorPolicy",
    "RetryBackOff",
    "RetryPolicy",
    "Route",
    "RouteAction",
    "RouteConfiguration",
    "RouteMatch",
    "RouteRateLimit",
    "VirtualHost",
    "WeightedCluster",
]


class QueryParameterMatcher(EnvoyModel):
    """Match a query parameter by name (present, or by value)."""

    name: str
    string_match: dict[str, Any] | None = None
    present_match: bool | None = None


class RouteMatch(EnvoyModel):
    """What a route matches: exactly one of prefix, path, safe_regex, path_separated_prefix."""

    prefix: str | None = None
    path: str | None = None
    safe_regex: RegexMatcher | None = None
    path_separated_prefix: str | None = None
    case_sensitive: bool | None = None
    headers: list[HeaderMatcher] | None = None
    query_parameters: list[QueryParameterMatcher] | None = None
    grpc: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one(self) -> RouteMatch:
        self._exactly_one("prefix", "path", "safe_regex", "path_separated_prefix")
        return self


class RegexMatchAndSubstitute(EnvoyModel):
    """Rewrite the path with a regex and a substitution."""

    pattern: RegexMatcher
    substitution: str


class RetryBackOff(EnvoyModel):
    """Exponential back-off between retries (Envoy's default: 25 ms base, 10x max)."""

    base_interval: Duration
    max_interval: Duration | None = None


class RetryPolicy(EnvoyModel):
    """When and how often to retry upstream requests."""

    retry_on: str | None = None
    num_retries: int | None = Field(default=None, ge=0)
    per_try_timeout: Duration | None = None
    per_try_idle_timeout: Duration | None = None
    retry_back_off: RetryBackOff | None = None
    retriable_status_codes: list[int] | None = None
    host_selection_retry_max_attempts: int | None = None


class HashPolicy(EnvoyModel):
    """What a ring-hash / maglev cluster hashes on: a header, a cookie or the source IP
    (``header``, ``cookie``, ``connection_properties`` as Envoy dicts; exactly one)."""

    header: dict[str, Any] | None = None
    cookie: dict[str, Any] | None = None
    connection_properties: dict[str, Any] | None = None
    query_parameter: dict[str, Any] | None = None
    terminal: bool | None = None

    @model_validator(mode="after")
    def _one(self) -> HashPolicy:
        self._exactly_one("header", "cookie", "connection_properties", "query_parameter")
        return self


class RequestMirrorPolicy(EnvoyModel):
    """Send a copy of each request to another cluster (shadow traffic; answers ignored)."""

    cluster: str = Field(min_length=1)
    runtime_fraction: dict[str, Any] | None = None
    trace_sampled: bool | None = None


class RouteRateLimit(EnvoyModel):
    """A rate limit descriptor producer (``actions`` as Envoy dicts)."""

    stage: int | None = Field(default=None, ge=0, le=10)
    actions: list[dict[str, Any]]
    disable_key: str | None = None


class ClusterWeight(EnvoyModel):
    """One cluster of a weighted split."""

    name: str = Field(min_length=1)
    weight: int = Field(ge=0)
    request_headers_to_add: list[HeaderValueOption] | None = None
    response_headers_to_add: list[HeaderValueOption] | None = None
    host_rewrite_literal: str | None = None


class WeightedCluster(EnvoyModel):
    """Split traffic across clusters by weight."""

    clusters: list[ClusterWeight] = Field(min_length=1)
    runtime_key_prefix: str | None = None
    total_weight: int | None = Field(default=None, deprecated="weights need not sum to a total")


class RouteAction(EnvoyModel):
    """Forward to a cluster (or a weighted set), with rewrites, timeouts and retries."""

    cluster: str | None = None
    weighted_clusters: WeightedCluster | None = None
    cluster_header: str | None = None
    prefix_rewrite: str | None = None
    regex_rewrite: RegexMatchAndSubstitute | None = None
    host_rewrite_literal: str | None = None
    auto_host_rewrite: bool | None = None
    timeout: Duration | None = None
    idle_timeout: Duration | None = None
    retry_policy: RetryPolicy | None = None
    rate_limits: list[RouteRateLimit] | None = None
    hash_policy: list[HashPolicy] | None = None
    request_mirror_policies: list[RequestMirrorPolicy] | None = None
    max_stream_duration: dict[str, Any] | None = None
    upgrade_configs: list[dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _one(self) -> RouteAction:
        self._exactly_one("cluster", "weighted_clusters", "cluster_header")
        return self


RedirectCode = Literal[
    "MOVED_PERMANENTLY", "FOUND", "SEE_OTHER", "TEMPORARY_REDIRECT", "PERMANENT_REDIRECT"
]


class RedirectAction(EnvoyModel):
    """Answer with a redirect (e.g. HTTP → HTTPS)."""

    https_redirect: bool | None = None
    scheme_redirect: str | None = None
    host_redirect: str | None = None
    port_redirect: int | None = Field(default=None, ge=0, le=65535)
    path_redirect: str | None = None
    prefix_rewrite: str | None = None
    regex_rewrite: RegexMatchAndSubstitute | None = None
    response_code: RedirectCode | None = None
    strip_query: bool | None = None

    @model_validator(mode="after")
    def _scheme(self) -> RedirectAction:
        if self.https_redirect and self.scheme_redirect is not None:
            raise ValueError("set https_redirect or scheme_redirect, not both")
        return self


class DirectResponseAction(EnvoyModel):
    """Answer directly with a status and an optional body."""

    status: int = Field(ge=100, le=599)
    body: DataSource | None = None


class Route(EnvoyModel):
    """A match and exactly one action: route, redirect or direct_response."""

    name: str | None = None
    match: RouteMatch
    route: RouteAction | None = None
    redirect: RedirectAction | None = None
    direct_response: DirectResponseAction | None = None
    request_headers_to_add: list[HeaderValueOption] | None = None
    request_headers_to_remove: list[str] | None = None
    response_headers_to_add: list[HeaderValueOption] | None = None
    response_headers_to_remove: list[str] | None = None
    typed_per_filter_config: dict[str, Typed] | None = None
    decorator: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None  # core.v3.Metadata: ``{"filter_metadata": {...}}``

    @model_validator(mode="after")
    def _one(self) -> Route:
        self._exactly_one("route", "redirect", "direct_response")
        return self


class VirtualHost(EnvoyModel):
    """A set of domains and the routes that serve them."""

    name: str = Field(min_length=1)
    domains: list[str] = Field(min_length=1)
    routes: list[Route] | None = None
    require_tls: Literal["NONE", "EXTERNAL_ONLY", "ALL"] | None = None
    request_headers_to_add: list[HeaderValueOption] | None = None
    request_headers_to_remove: list[str] | None = None
    response_headers_to_add: list[HeaderValueOption] | None = None
    response_headers_to_remove: list[str] | None = None
    retry_policy: RetryPolicy | None = None
    rate_limits: list[RouteRateLimit] | None = None
    typed_per_filter_config: dict[str, Typed] | None = None
    include_request_attempt_count: bool | None = None


class RouteConfiguration(Resource):
    """A named route table (static inside an HCM, or an RDS resource)."""

    type_url = "envoy.config.route.v3.RouteConfiguration"

    name: str | None = None
    virtual_hosts: list[VirtualHost] | None = None
    internal_only_headers: list[str] | None = None
    request_headers_to_add: list[HeaderValueOption] | None = None
    response_headers_to_add: list[HeaderValueOption] | None = None
    response_headers_to_remove: list[str] | None = None
    validate_clusters: bool | None = None
    max_direct_response_body_size_bytes: int | None = None
