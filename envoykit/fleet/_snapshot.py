"""Snapshots: the resources one group of nodes should run, serialized once, versioned.

A snapshot is built from a static config (an ``EdgeProxy``, a ``Bootstrap`` or a dict): its
listeners and clusters are split as for file xDS (route configs, endpoint sets and
certificates become resources of their own), but every reference points at ADS. Each
resource is converted to protobuf once and shared by every stream that sends it.

Versions are hashes of the deterministic serialization: one per resource (delta xDS), one
per type (state of the world) and one for the whole snapshot.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from envoykit.errors import Issue, SemanticError
from envoykit.fleet._proto import TYPE_PREFIX, digest, to_any
from envoykit.render import ConfigLike, to_dict
from envoykit.xds import KINDS, split_resources

__all__ = [
    "CLUSTER",
    "ENDPOINT",
    "LISTENER",
    "ROUTE",
    "SECRET",
    "TYPE_ORDER",
    "Resource",
    "Snapshot",
    "ads_source",
    "short_type",
]

CLUSTER = TYPE_PREFIX + "envoy.config.cluster.v3.Cluster"
ENDPOINT = TYPE_PREFIX + "envoy.config.endpoint.v3.ClusterLoadAssignment"
LISTENER = TYPE_PREFIX + "envoy.config.listener.v3.Listener"
ROUTE = TYPE_PREFIX + "envoy.config.route.v3.RouteConfiguration"
SECRET = TYPE_PREFIX + "envoy.extensions.transport_sockets.tls.v3.Secret"

TYPE_ORDER = (CLUSTER, ENDPOINT, SECRET, LISTENER, ROUTE)
"""The order Envoy wants updates in: clusters, their endpoints (and secrets), listeners,
their routes."""

KIND_TYPES = {"cluster": CLUSTER, "endpoints": ENDPOINT, "secret": SECRET,
              "listener": LISTENER, "route": ROUTE}
_SHORT = {CLUSTER: "clusters", ENDPOINT: "endpoints", SECRET: "secrets",
          LISTENER: "listeners", ROUTE: "routes"}


def short_type(type_url: str) -> str:
    """``clusters``, ``listeners``, ... for a resource type URL (the URL itself otherwise)."""
    return _SHORT.get(type_url, type_url)


def ads_source(kind: str = "", name: str = "") -> dict[str, Any]:
    """The ``ConfigSource`` of a resource fetched over the aggregated stream."""
    return {"ads": {}, "resource_api_version": "V3"}


@dataclass(frozen=True)
class Resource:
    """One resource: its name, its packed protobuf (``google.protobuf.Any``), its version
    (a hash of the serialized bytes) and its JSON form."""

    name: str
    packed: Any
    version: str
    data: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Snapshot:
    """What a group of nodes should run: resources by type URL, then by name."""

    resources: Mapping[str, Mapping[str, Resource]]

    @classmethod
    def from_config(cls, config: ConfigLike) -> Snapshot:
        """A snapshot of a static config's listeners, clusters, routes, endpoints and
        secrets (the bootstrap's other parts belong to :func:`fleet_member`)."""
        return cls.from_resources(split_resources(to_dict(config), ads_source))

    @classmethod
    def from_resources(cls, by_kind: Mapping[str, list[dict[str, Any]]]) -> Snapshot:
        """A snapshot of resources in JSON form by kind (``listener``, ``cluster``,
        ``route``, ``endpoints``, ``secret``); checked for consistency."""
        unknown = set(by_kind) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown resource kinds {sorted(unknown)}; known: {KINDS}")
        _check_references(by_kind)
        resources: dict[str, dict[str, Resource]] = {}
        for kind, items in by_kind.items():
            type_url = KIND_TYPES[kind]
            table = resources.setdefault(type_url, {})
            for item in items:
                name = _name(kind, item)
                if name in table:
                    raise SemanticError([Issue(f"{kind}[{name}]", "defined twice")])
                table[name] = _resource(kind, name, item)
        return cls({t: resources.get(t, {}) for t in TYPE_ORDER})

    @functools.cached_property
    def versions(self) -> dict[str, str]:
        """The version of each type (a hash of its resources' names and versions)."""
        return {t: _set_version(self.resources.get(t, {})) for t in TYPE_ORDER}

    @functools.cached_property
    def version(self) -> str:
        """The version of the whole snapshot."""
        return digest("|".join(self.versions[t] for t in TYPE_ORDER).encode("ascii"))

    def names(self, type_url: str) -> frozenset[str]:
        """The resource names of one type."""
        return frozenset(self.resources.get(type_url, {}))

    def of_type(self, type_url: str) -> Mapping[str, Resource]:
        """The resources of one type by name."""
        return self.resources.get(type_url, {})

    def count(self) -> int:
        """How many resources the snapshot holds."""
        return sum(len(r) for r in self.resources.values())


def _name(kind: str, item: Mapping[str, Any]) -> str:
    return str(item.get("cluster_name" if kind == "endpoints" else "name", ""))


def _resource(kind: str, name: str, item: dict[str, Any]) -> Resource:
    data = {"@type": KIND_TYPES[kind], **{k: v for k, v in item.items() if k != "@type"}}
    packed = to_any(data, f"{kind}[{name}]")
    return Resource(name, packed, digest(packed.value), data)


def _set_version(table: Mapping[str, Resource]) -> str:
    joined = "|".join(f"{name}={r.version}" for name, r in sorted(table.items()))
    return digest(joined.encode("utf-8"))


def _values(value: Any, key: str) -> Iterator[Any]:
    """Every value stored under ``key`` anywhere in JSON data."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k == key:
                yield v
            yield from _values(v, key)
    elif isinstance(value, list):
        for v in value:
            yield from _values(v, key)


def _eds_name(cluster: Mapping[str, Any]) -> str | None:
    eds = cluster.get("eds_cluster_config")
    if cluster.get("type") != "EDS" and eds is None:
        return None
    service = (eds or {}).get("service_name") if isinstance(eds, dict) else None
    return str(service or cluster.get("name", ""))


def _sds_names(resource: Mapping[str, Any]) -> Iterator[str]:
    for key in ("tls_certificate_sds_secret_configs", "validation_context_sds_secret_config"):
        for found in _values(resource, key):
            for ref in found if isinstance(found, list) else [found]:
                if isinstance(ref, dict) and "ads" in (ref.get("sds_config") or {}):
                    yield str(ref.get("name", ""))


def _check_references(by_kind: Mapping[str, list[dict[str, Any]]]) -> None:
    """Every route config named by a listener and every endpoint set by a cluster exists,
    and is named by one; every secret a resource fetches over ADS exists."""
    have = {kind: {_name(kind, r) for r in by_kind.get(kind, [])} for kind in KINDS}
    issues: list[Issue] = []
    named_routes: set[str] = set()
    for listener in by_kind.get("listener", []):
        for route in _values(listener, "route_config_name"):
            named_routes.add(str(route))
            if str(route) not in have["route"]:
                issues.append(Issue(f"listener[{_name('listener', listener)}]",
                                    f"names route config {route!r}, which is not in the "
                                    "snapshot"))
    named_endpoints: set[str] = set()
    for cluster in by_kind.get("cluster", []):
        service = _eds_name(cluster)
        if service is None:
            continue
        named_endpoints.add(service)
        if service not in have["endpoints"]:
            issues.append(Issue(f"cluster[{_name('cluster', cluster)}]",
                                f"takes endpoints {service!r} over EDS, which are not in "
                                "the snapshot"))
    issues += [Issue(f"route[{n}]", "no listener names this route config")
               for n in sorted(have["route"] - named_routes)]
    issues += [Issue(f"endpoints[{n}]", "no cluster takes these endpoints")
               for n in sorted(have["endpoints"] - named_endpoints)]
    for kind in ("listener", "cluster"):
        for resource in by_kind.get(kind, []):
            issues += [Issue(f"{kind}[{_name(kind, resource)}]",
                             f"fetches secret {secret!r} over ADS, which is not in the snapshot")
                       for secret in _sds_names(resource) if secret not in have["secret"]]
    if issues:
        raise SemanticError(issues)
