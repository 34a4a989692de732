"""The bootstrap: ``envoy.config.bootstrap.v3.Bootstrap``, the root of an envoy config."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from envoykit.config._base import Duration, EnvoyModel, Typed, TypedConfig
from envoykit.config.access_log import AccessLog
from envoykit.config.cluster import Cluster
from envoykit.config.core import Address, ConfigSource, Node
from envoykit.config.listener import Listener
from envoykit.config.tls import Secret

__all__ = [
    "Admin",
    "Bootstrap",
    "DownstreamConnectionsConfig",
    "DynamicResources",
    "LayeredRuntime",
    "OverloadManager",
    "ResourceMonitor",
    "RuntimeLayer",
    "StaticResources",
    "StatsConfig",
]


class Admin(EnvoyModel):
    """The admin interface: keep it on loopback or a 0600 unix socket."""

    address: Address | None = None
    access_log: list[AccessLog] | None = None
    profile_path: str | None = None
    socket_options: list[dict[str, Any]] | None = None
    ignore_global_conn_limit: bool | None = None


class StaticResources(EnvoyModel):
    """Listeners, clusters and secrets given in the bootstrap itself."""

    listeners: list[Listener] | None = None
    clusters: list[Cluster] | None = None
    secrets: list[Secret] | None = None


class DynamicResources(EnvoyModel):
    """Where listeners and clusters come from when they are dynamic (files or ADS)."""

    lds_config: ConfigSource | None = None
    cds_config: ConfigSource | None = None
    ads_config: dict[str, Any] | None = None


class RuntimeLayer(EnvoyModel):
    """One runtime layer: static values, a disk directory, admin overrides or RTDS."""

    name: str = Field(min_length=1)
    static_layer: dict[str, Any] | None = None
    disk_layer: dict[str, Any] | None = None
    admin_layer: dict[str, Any] | None = None
    rtds_layer: dict[str, Any] | None = None


class LayeredRuntime(EnvoyModel):
    """Runtime layers, later ones override earlier ones."""

    layers: list[RuntimeLayer] | None = None


class DownstreamConnectionsConfig(TypedConfig):
    """The global downstream connection limit resource monitor."""

    type_url = (
        "envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig"
    )
    filter_name = "envoy.resource_monitors.global_downstream_max_connections"

    max_active_downstream_connections: int = Field(ge=1)


class ResourceMonitor(EnvoyModel):
    """A resource the overload manager watches."""

    name: str = Field(min_length=1)
    typed_config: Typed | None = None


class OverloadManager(EnvoyModel):
    """Protects envoy under resource pressure (e.g. a global connection limit)."""

    refresh_interval: Duration | None = None
    resource_monitors: list[ResourceMonitor] | None = None
    actions: list[dict[str, Any]] | None = None
    loadshed_points: list[dict[str, Any]] | None = None
    buffer_factory_config: dict[str, Any] | None = None


class StatsConfig(EnvoyModel):
    """Stat tags and which stats to keep (``stats_matcher``)."""

    stats_tags: list[dict[str, Any]] | None = None
    use_all_default_tags: bool | None = None
    stats_matcher: dict[str, Any] | None = None


class Bootstrap(EnvoyModel):
    """The root of an envoy config: what ``envoy -c`` reads."""

    node: Node | None = None
    static_resources: StaticResources | None = None
    dynamic_resources: DynamicResources | None = None
    admin: Admin | None = None
    layered_runtime: LayeredRuntime | None = None
    overload_manager: OverloadManager | None = None
    stats_config: StatsConfig | None = None
    deferred_stat_options: dict[str, Any] | None = None
    stats_flush_interval: Duration | None = None
    cluster_manager: dict[str, Any] | None = None
    watchdogs: dict[str, Any] | None = None
    bootstrap_extensions: list[dict[str, Any]] | None = None
    default_regex_engine: dict[str, Any] | None = None
    stats_sinks: list[dict[str, Any]] | None = None
    tracing: dict[str, Any] | None = None
    application_log_config: dict[str, Any] | None = None
    default_socket_interface: str | None = None

    def listener(self, name: str) -> Listener:
        """The static listener called ``name`` (KeyError if there is none)."""
        for item in (self.static_resources and self.static_resources.listeners) or []:
            if item.name == name:
                return item
        raise KeyError(f"no static listener named {name!r}")

    def cluster(self, name: str) -> Cluster:
        """The static cluster called ``name`` (KeyError if there is none)."""
        for item in (self.static_resources and self.static_resources.clusters) or []:
            if item.name == name:
                return item
        raise KeyError(f"no static cluster named {name!r}")


LogLevel = Literal["trace", "debug", "info", "warning", "warn", "error", "critical", "off"]
