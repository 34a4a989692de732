"""The HTTP connection manager (``envoy.filters.network.http_connection_manager``) and the
:class:`HttpFilter` entries of its chain. The HTTP filters themselves are in
:mod:`envoykit.config.filters`, one module per filter."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from envoykit.config._base import Duration, EnvoyModel, Typed, TypedConfig
from envoykit.config.access_log import AccessLog
from envoykit.config.core import (
    ConfigSource,
    Http1ProtocolOptions,
    Http2ProtocolOptions,
    HttpProtocolOptions,
)
from envoykit.config.route import RouteConfiguration

__all__ = ["HttpConnectionManager", "HttpFilter", "Rds"]


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
