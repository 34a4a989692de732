"""``/config_dump`` with typed accessors for the common sections."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from envoykit.errors import AdminResponseError

__all__ = ["ConfigDump", "ConfigResource"]

_PREFIX = "type.googleapis.com/envoy.admin.v3."

# The field each repeated element of a section dump belongs to, when asked with ?resource=.
_DEFAULT_FIELD = {
    "BootstrapConfigDump": "bootstrap",
    "ListenersConfigDump.StaticListener": "static_listeners",
    "ListenersConfigDump.DynamicListener": "dynamic_listeners",
    "ClustersConfigDump.StaticCluster": "static_clusters",
    "ClustersConfigDump.DynamicCluster": "dynamic_active_clusters",
    "RoutesConfigDump.StaticRouteConfig": "static_route_configs",
    "RoutesConfigDump.DynamicRouteConfig": "dynamic_route_configs",
    "ScopedRoutesConfigDump.InlineScopedRouteConfigs": "inline_scoped_route_configs",
    "ScopedRoutesConfigDump.DynamicScopedRouteConfigs": "dynamic_scoped_route_configs",
    "SecretsConfigDump.StaticSecret": "static_secrets",
    "SecretsConfigDump.DynamicSecret": "dynamic_active_secrets",
    "EndpointsConfigDump.StaticEndpointConfig": "static_endpoint_configs",
    "EndpointsConfigDump.DynamicEndpointConfig": "dynamic_endpoint_configs",
}


@dataclass(frozen=True)
class ConfigResource:
    """One listener, cluster, route configuration, secret or endpoint assignment."""

    name: str
    config: Mapping[str, Any]
    version_info: str = ""
    last_updated: str = ""
    state: str = "static"
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


class ConfigDump:
    """A parsed ``/config_dump``; ``raw`` is envoy's JSON as returned.

    Works for the full dump and for ``?resource=`` dumps (which return the elements of one
    repeated field); fields cut away by ``mask`` simply read as empty.
    """

    def __init__(self, raw: Mapping[str, Any], *, resource: str | None = None) -> None:
        self.raw = raw
        self.resource = resource
        self.sections: dict[str, dict[str, Any]] = {}
        try:
            for item in raw.get("configs", []):
                self._add(item)
        except (TypeError, AttributeError) as exc:
            raise AdminResponseError(f"unexpected shape: {exc!r}", endpoint="/config_dump") from exc

    def __repr__(self) -> str:
        where = f"resource={self.resource!r}, " if self.resource else ""
        return f"ConfigDump({where}sections={sorted(self.sections)})"

    def _add(self, item: Mapping[str, Any]) -> None:
        type_name = str(item.get("@type", "")).removeprefix(_PREFIX)
        section, dot, _ = type_name.partition(".")
        if not dot:
            self.sections.setdefault(section, {}).update(item)
            return
        name = self.resource or _DEFAULT_FIELD.get(type_name, type_name)
        element = {k: v for k, v in item.items() if k != "@type"}
        self.sections.setdefault(section, {}).setdefault(name, []).append(element)

    def _section(self, name: str) -> dict[str, Any]:
        return self.sections.get(name, {})

    # --- bootstrap ---
    @property
    def bootstrap(self) -> Mapping[str, Any]:
        """The bootstrap envoy was started with (empty if not in this dump)."""
        value: Mapping[str, Any] = self._section("BootstrapConfigDump").get("bootstrap", {})
        return value

    # --- listeners ---
    @property
    def listeners_version_info(self) -> str:
        """The version of the last LDS update ("" for static only)."""
        return str(self._section("ListenersConfigDump").get("version_info", ""))

    @property
    def static_listeners(self) -> dict[str, ConfigResource]:
        """Listeners from the bootstrap, by name."""
        return self._static("ListenersConfigDump", "static_listeners", "listener")

    @property
    def dynamic_listeners(self) -> dict[str, ConfigResource]:
        """Active listeners delivered by LDS, by name."""
        return self._listener_states("active_state", "active")

    @property
    def warming_listeners(self) -> dict[str, ConfigResource]:
        """LDS listeners still warming, by name."""
        return self._listener_states("warming_state", "warming")

    @property
    def draining_listeners(self) -> dict[str, ConfigResource]:
        """LDS listeners being drained, by name."""
        return self._listener_states("draining_state", "draining")

    def _listener_states(self, key: str, state: str) -> dict[str, ConfigResource]:
        found: dict[str, ConfigResource] = {}
        for entry in self._section("ListenersConfigDump").get("dynamic_listeners", []):
            if key in entry:
                found[entry["name"]] = _resource(entry[key], "listener", state, entry["name"])
        return found

    # --- clusters ---
    @property
    def clusters_version_info(self) -> str:
        """The version of the last CDS update ("" for static only)."""
        return str(self._section("ClustersConfigDump").get("version_info", ""))

    @property
    def static_clusters(self) -> dict[str, ConfigResource]:
        """Clusters from the bootstrap, by name."""
        return self._static("ClustersConfigDump", "static_clusters", "cluster")

    @property
    def dynamic_clusters(self) -> dict[str, ConfigResource]:
        """Active clusters delivered by CDS, by name."""
        return self._dynamic("ClustersConfigDump", "dynamic_active_clusters", "cluster", "active")

    @property
    def warming_clusters(self) -> dict[str, ConfigResource]:
        """CDS clusters still warming, by name."""
        return self._dynamic("ClustersConfigDump", "dynamic_warming_clusters", "cluster", "warming")

    # --- routes ---
    @property
    def static_routes(self) -> dict[str, ConfigResource]:
        """Route configurations inlined in listeners, by name."""
        return self._static("RoutesConfigDump", "static_route_configs", "route_config")

    @property
    def dynamic_routes(self) -> dict[str, ConfigResource]:
        """Route configurations delivered by RDS, by name (each with its version_info)."""
        return self._dynamic("RoutesConfigDump", "dynamic_route_configs", "route_config", "active")

    # --- secrets ---
    @property
    def static_secrets(self) -> dict[str, ConfigResource]:
        """Secrets from the bootstrap, by name."""
        return self._static("SecretsConfigDump", "static_secrets", "secret")

    @property
    def dynamic_secrets(self) -> dict[str, ConfigResource]:
        """Active secrets delivered by SDS, by name."""
        return self._dynamic("SecretsConfigDump", "dynamic_active_secrets", "secret", "active")

    @property
    def warming_secrets(self) -> dict[str, ConfigResource]:
        """SDS secrets still warming, by name."""
        return self._dynamic("SecretsConfigDump", "dynamic_warming_secrets", "secret", "warming")

    # --- endpoints (only with include_eds=True) ---
    @property
    def static_endpoints(self) -> dict[str, ConfigResource]:
        """Load assignments of static clusters, by cluster name (needs ``include_eds``)."""
        return self._static("EndpointsConfigDump", "static_endpoint_configs", "endpoint_config")

    @property
    def dynamic_endpoints(self) -> dict[str, ConfigResource]:
        """Load assignments delivered by EDS, by cluster name (needs ``include_eds``)."""
        return self._dynamic(
            "EndpointsConfigDump", "dynamic_endpoint_configs", "endpoint_config", "active"
        )

    def _static(self, section: str, name: str, key: str) -> dict[str, ConfigResource]:
        entries = self._section(section).get(name, [])
        found = (_resource(entry, key, "static") for entry in entries)
        return {res.name: res for res in found}

    def _dynamic(self, section: str, name: str, key: str, state: str) -> dict[str, ConfigResource]:
        entries = self._section(section).get(name, [])
        found = (_resource(entry, key, state) for entry in entries)
        return {res.name: res for res in found}


def _resource(entry: Mapping[str, Any], key: str, state: str, name: str = "") -> ConfigResource:
    config: Mapping[str, Any] = entry.get(key, {})
    return ConfigResource(
        name=name or _name_of(entry, config),
        config=config,
        version_info=str(entry.get("version_info", "")),
        last_updated=str(entry.get("last_updated", "")),
        state=state,
        raw=entry,
    )


def _name_of(entry: Mapping[str, Any], config: Mapping[str, Any]) -> str:
    for source in (config, entry):
        for key in ("name", "cluster_name"):
            if key in source:
                return str(source[key])
    return ""
