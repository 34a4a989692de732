"""The HTTP connection manager and the core HTTP filters (router, local rate limit)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from envoykit.config._base import Duration, EnvoyModel, Typed, TypedConfig
from envoykit.config.access_log import AccessLog
from envoykit.config.core import (
    ConfigSource,
    HeaderValueOption,
    Http1ProtocolOptions,
    Http2ProtocolOptions,
    HttpProtocolOptions,
    RuntimeFractionalPercent,
    TokenBucket,
)
from envoykit.config.route import RouteConfiguration

__all__ = [
    "HttpConnectionManager",
    "HttpFilter",
    "LocalRateLimit",
    "LocalRateLimitDescriptor",
    "Rds",
    "Router",
]


class HttpFilter(EnvoyModel):
    """One HTTP filter in the connection manager's chain (the router goes last)."""

    name: str = Field(min_length=1)
    typed_config: Typed | None = None
    is_optional: bool | None = None
    disabled: bool | None = None

    @classmethod
    def of(cls, config: TypedConfig, name: str | None = None) -> HttpFilter:
        """Wrap a filter config, naming it by its ``filter_name`` unless told otherwise."""
        return cls(name=config.extension_name(name), typed_config=config)


class Router(TypedConfig):
    """The terminal filter that forwards to the routed cluster."""

    type_url = "envoy.extensions.filters.http.router.v3.Router"
    filter_name = "envoy.filters.http.router"

    suppress_envoy_headers: bool | None = None
    dynamic_stats: bool | None = None
    start_child_span: bool | None = None


class LocalRateLimitDescriptor(EnvoyModel):
    """A token bucket for requests whose rate-limit descriptor matches ``entries``."""

    entries: list[dict[str, str]] = Field(min_length=1)
    token_bucket: TokenBucket


class LocalRateLimit(TypedConfig):
    """``envoy.filters.http.local_ratelimit``: token buckets in this envoy, no service.

    Envoy's defaults for ``filter_enabled``/``filter_enforced`` are 0 %: the filter then
    does nothing. Set both (the builder sets them to 100 %).
    """

    type_url = "envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit"
    filter_name = "envoy.filters.http.local_ratelimit"

    stat_prefix: str = Field(min_length=1)
    status: dict[str, Any] | None = None
    token_bucket: TokenBucket | None = None
    filter_enabled: RuntimeFractionalPercent | None = None
    filter_enforced: RuntimeFractionalPercent | None = None
    request_headers_to_add_when_not_enforced: list[HeaderValueOption] | None = None
    response_headers_to_add: list[HeaderValueOption] | None = None
    descriptors: list[LocalRateLimitDescriptor] | None = None
    stage: int | None = Field(default=None, ge=0, le=10)
    local_rate_limit_per_downstream_connection: bool | None = None
    enable_x_ratelimit_headers: Literal["OFF", "DRAFT_VERSION_03"] | None = None
    vh_rate_limits: Literal["OVERRIDE", "INCLUDE", "IGNORE"] | None = None
    always_consume_default_token_bucket: bool | None = None
    rate_limited_as_resource_exhausted: bool | None = None
    max_dynamic_descriptors: int | None = Field(default=None, ge=1)


class Rds(EnvoyModel):
    """Fetch the route table by name from a config source (e.g. a file)."""

    config_source: ConfigSource
    route_config_name: str = Field(min_length=1)


PathAction = Literal[
    "IMPLEMENTATION_SPECIFIC_DEFAULT",
    "KEEP_UNCHANGED",
    "REJECT_REQUEST",
    "UNESCAPE_AND_REDIRECT",
    "UNESCAPE_AND_FORWARD",
]


class HttpConnectionManager(TypedConfig):
    """``envoy.filters.network.http_connection_manager``: HTTP on a filter chain."""

    type_url = (
        "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
    )
    filter_name = "envoy.filters.network.http_connection_manager"

    codec_type: Literal["AUTO", "HTTP1", "HTTP2", "HTTP3"] | None = None
    stat_prefix: str = Field(min_length=1)
    rds: Rds | None = None
    route_config: RouteConfiguration | None = None
    http_filters: list[HttpFilter] | None = None
    access_log: list[AccessLog] | None = None
    use_remote_address: bool | None = None
    xff_num_trusted_hops: int | None = Field(default=None, ge=0)
    skip_xff_append: bool | None = None
    normalize_path: bool | None = None
    merge_slashes: bool | None = None
    path_with_escaped_slashes_action: PathAction | None = None
    strip_any_host_port: bool | None = None
    strip_matching_host_port: bool | None = None
    common_http_protocol_options: HttpProtocolOptions | None = None
    http_protocol_options: Http1ProtocolOptions | None = None
    http2_protocol_options: Http2ProtocolOptions | None = None
    request_timeout: Duration | None = None
    request_headers_timeout: Duration | None = None
    stream_idle_timeout: Duration | None = None
    drain_timeout: Duration | None = None
    delayed_close_timeout: Duration | None = None
    max_request_headers_kb: int | None = Field(default=None, ge=1, le=8192)
    server_name: str | None = None
    server_header_transformation: (
        Literal["OVERWRITE", "APPEND_IF_ABSENT", "PASS_THROUGH"] | None
    ) = None
    generate_request_id: bool | None = None
    preserve_external_request_id: bool | None = None
    always_set_request_id_in_response: bool | None = None
    add_user_agent: bool | None = None
    via: str | None = None
    upgrade_configs: list[dict[str, Any]] | None = None
    forward_client_cert_details: (
        Literal[
            "SANITIZE", "FORWARD_ONLY", "APPEND_FORWARD", "SANITIZE_SET", "ALWAYS_FORWARD_ONLY"
        ]
        | None
    ) = None
    set_current_client_cert_details: dict[str, Any] | None = None
    internal_address_config: dict[str, Any] | None = None
    local_reply_config: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _routes(self) -> HttpConnectionManager:
        self._exactly_one("rds", "route_config")
        return self
