"""Listeners: ``envoy.config.listener.v3``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from envoykit.config._base import Duration, EnvoyModel, Resource, Typed, TypedConfig
from envoykit.config.access_log import AccessLog
from envoykit.config.core import Address, CidrRange, TransportSocket

__all__ = [
    "Filter",
    "FilterChain",
    "FilterChainMatch",
    "Listener",
    "ListenerFilter",
    "TcpProxy",
    "TlsInspector",
]


class Filter(EnvoyModel):
    """A network filter, e.g. the HTTP connection manager."""

    name: str = Field(min_length=1)
    typed_config: Typed | None = None

    @classmethod
    def of(cls, config: TypedConfig, name: str | None = None) -> Filter:
        """Wrap a network filter config under its ``filter_name``."""
        return cls(name=config.extension_name(name), typed_config=config)


class FilterChainMatch(EnvoyModel):
    """Which connections a filter chain takes: SNI names, transport, ALPN, ports, sources."""

    destination_port: int | None = Field(default=None, ge=1, le=65535)
    prefix_ranges: list[CidrRange] | None = None
    server_names: list[str] | None = None
    transport_protocol: str | None = None
    application_protocols: list[str] | None = None
    source_prefix_ranges: list[CidrRange] | None = None
    source_type: Literal["ANY", "SAME_IP_OR_LOOPBACK", "EXTERNAL"] | None = None


class FilterChain(EnvoyModel):
    """Network filters (and TLS) applied to the connections the match selects."""

    name: str | None = None
    filter_chain_match: FilterChainMatch | None = None
    filters: list[Filter] | None = None
    transport_socket: TransportSocket | None = None
    transport_socket_connect_timeout: Duration | None = None


class TlsInspector(TypedConfig):
    """Listener filter that reads SNI and ALPN so filter chains can match on them."""

    type_url = "envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"
    filter_name = "envoy.filters.listener.tls_inspector"

    enable_ja3_fingerprinting: bool | None = None


class ListenerFilter(EnvoyModel):
    """A listener filter (runs before a filter chain is chosen)."""

    name: str = Field(min_length=1)
    typed_config: Typed | None = None

    @classmethod
    def tls_inspector(cls) -> ListenerFilter:
        """The TLS inspector, needed to match filter chains by SNI."""
        return cls(name=TlsInspector.filter_name, typed_config=TlsInspector())


class Listener(Resource):
    """A named address envoy accepts connections on, and its filter chains."""

    type_url = "envoy.config.listener.v3.Listener"

    name: str = Field(min_length=1)
    address: Address
    stat_prefix: str | None = None
    filter_chains: list[FilterChain] | None = None
    default_filter_chain: FilterChain | None = None
    listener_filters: list[ListenerFilter] | None = None
    listener_filters_timeout: Duration | None = None
    continue_on_listener_filters_timeout: bool | None = None
    per_connection_buffer_limit_bytes: int | None = Field(default=None, ge=0)
    drain_type: Literal["DEFAULT", "MODIFY_ONLY"] | None = None
    enable_reuse_port: bool | None = None
    access_log: list[AccessLog] | None = None
    ignore_global_conn_limit: bool | None = None
    traffic_direction: Literal["UNSPECIFIED", "INBOUND", "OUTBOUND"] | None = None


class TcpProxy(TypedConfig):
    """The TCP proxy network filter: forward the connection's bytes to a cluster."""

    type_url = "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"
    filter_name = "envoy.filters.network.tcp_proxy"

    stat_prefix: str = Field(min_length=1)
    cluster: str | None = None
    idle_timeout: Duration | None = None
    max_connect_attempts: int | None = Field(default=None, ge=1)
    access_log: list[AccessLog] | None = None
