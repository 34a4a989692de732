"""Turn a static bootstrap into a dynamic one: a small bootstrap plus resource files.

    dynamic = to_dynamic(EdgeProxy(...).build(), "/run/edge/xds")
    dynamic.bootstrap        # node, admin, runtime, overload manager + lds/cds from files
    dynamic.files            # lds.json, cds.json, one file per route/endpoints/secret

What moves where:

* listeners → ``lds/lds.json``; clusters → ``cds/cds.json``;
* every inline ``route_config`` → its own RDS file, so a route change rewrites one file
  and never touches the listener (no drain, no new connections);
* the endpoints of every ``STATIC`` cluster → its own EDS file (an endpoint change does not
  rebuild the cluster);
* every certificate (``tls_certificates`` in a TLS context, and static secrets) → its own
  SDS file with the PEM inlined, so rotating a certificate rewrites one file atomically.

Each file lives in a directory of its own, watched with ``watched_directory``: Envoy
re-reads a file when something is moved into its directory, and only that file.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envoykit.config import (
    TYPE_PREFIX,
    Cluster,
    ClusterLoadAssignment,
    DownstreamTlsContext,
    HttpConnectionManager,
    Listener,
    RouteConfiguration,
    Secret,
    UpstreamTlsContext,
)
from envoykit.errors import ConfigError
from envoykit.xds._files import XdsFile, config_source

__all__ = ["KINDS", "DynamicConfig", "SourceFor", "split_resources", "to_dynamic"]

KINDS = ("secret", "endpoints", "cluster", "route", "listener")
"""Resource kinds in dependency order: what a later kind references is written first."""

_TYPES = {
    "listener": TYPE_PREFIX + Listener.type_url,
    "cluster": TYPE_PREFIX + Cluster.type_url,
    "route": TYPE_PREFIX + RouteConfiguration.type_url,
    "endpoints": TYPE_PREFIX + ClusterLoadAssignment.type_url,
    "secret": TYPE_PREFIX + Secret.type_url,
}
_HCM = TYPE_PREFIX + HttpConnectionManager.type_url
_TLS = {TYPE_PREFIX + DownstreamTlsContext.type_url, TYPE_PREFIX + UpstreamTlsContext.type_url}
_SUBDIR = {"route": "rds", "endpoints": "eds", "secret": "sds"}
_FILE_FIELDS = ("certificate_chain", "private_key", "password", "ocsp_staple", "trusted_ca", "crl")
DEFAULT_NODE = {"id": "envoykit", "cluster": "envoykit"}

SourceFor = Callable[[str, str], dict[str, Any]]
"""Gives the ``ConfigSource`` a split-out resource is fetched from: ``(kind, name)``."""


@dataclass(frozen=True)
class DynamicConfig:
    """A static config split for filesystem xDS (see the module docs).

    ``bootstrap`` is what Envoy starts with, ``files`` the resource files in dependency
    order, ``static`` the equivalent static bootstrap (what ``envoy --mode validate``
    checks)."""

    directory: Path
    bootstrap: dict[str, Any]
    static: dict[str, Any]
    files: tuple[XdsFile, ...]

    def resources(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Every resource by (kind, name)."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for item in self.files:
            for resource in item.resources:
                found[(item.kind, resource_name(item.kind, resource))] = resource
        return found

    @functools.cached_property
    def hashes(self) -> dict[tuple[str, str], str]:
        """Every resource's content hash by (kind, name) (computed once per config)."""
        found: dict[tuple[str, str], str] = {}
        for item in self.files:
            for resource, digest in zip(item.resources, item.hashes, strict=True):
                found[(item.kind, resource_name(item.kind, resource))] = digest
        return found

    def by_path(self) -> dict[Path, XdsFile]:
        """The files by path."""
        return {item.path: item for item in self.files}

    def write(self) -> None:
        """Write every file (atomically, in dependency order)."""
        for item in self.files:
            item.write()


def resource_name(kind: str, resource: dict[str, Any]) -> str:
    """The name Envoy knows a resource by."""
    key = "cluster_name" if kind == "endpoints" else "name"
    return str(resource.get(key, ""))


def safe_name(name: str) -> str:
    """A file- and stat-safe form of a resource name (a hash keeps it unique)."""
    slug = re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip(".")[:80]
    if slug == name and slug:
        return slug
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return f"{slug or 'resource'}-{digest}"


def to_dynamic(static: dict[str, Any], directory: str | Path) -> DynamicConfig:
    """Split a static bootstrap (as a dict, e.g. ``Bootstrap.to_dict()``) for file xDS."""
    splitter = _Splitter(Path(directory))
    listeners, clusters = _split(static, splitter)
    files = splitter.files(listeners, clusters)
    return DynamicConfig(splitter.directory, splitter.bootstrap(static), static, files)


def split_resources(static: dict[str, Any], source: SourceFor) -> dict[str, list[dict[str, Any]]]:
    """Split a static bootstrap's resources as :func:`to_dynamic` does, each reference to a
    split-out route, endpoint set or secret pointing at ``source(kind, name)`` (e.g. ADS).

    Returns the resources by kind (``KINDS``), each with its ``@type``, sorted by name."""
    splitter = _Splitter(Path("."), source)
    listeners, clusters = _split(static, splitter)
    found = {
        "secret": list(splitter.secrets.values()), "endpoints": list(splitter.endpoints.values()),
        "cluster": clusters, "route": list(splitter.routes.values()), "listener": listeners,
    }
    return {kind: sorted(_typed(kind, found[kind]), key=lambda r: resource_name(kind, r))
            for kind in KINDS}


def _split(static: dict[str, Any],
           splitter: _Splitter) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if static.get("dynamic_resources"):
        raise ConfigError("dynamic_resources: the config is already dynamic; give envoykit "
                          "a static config (listeners and clusters in static_resources)")
    resources = static.get("static_resources") or {}
    splitter.load_static_secrets(resources.get("secrets") or [])
    listeners = [splitter.listener(_copy(x)) for x in resources.get("listeners") or []]
    clusters = [splitter.cluster(_copy(c)) for c in resources.get("clusters") or []]
    return listeners, clusters


class _Splitter:
    """Collects the resources pulled out of listeners and clusters."""

    def __init__(self, directory: Path, source: SourceFor | None = None) -> None:
        self.directory = directory
        self._source = source
        self.routes: dict[str, dict[str, Any]] = {}
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.secrets: dict[str, dict[str, Any]] = {}
        self.static_secrets: dict[str, dict[str, Any]] = {}

    # --- paths -----------------------------------------------------------------------
    def path(self, kind: str, name: str = "") -> Path:
        if kind == "listener":
            return self.directory / "lds" / "lds.json"
        if kind == "cluster":
            return self.directory / "cds" / "cds.json"
        sub = _SUBDIR[kind]
        return self.directory / sub / safe_name(name) / f"{sub}.json"

    def source(self, kind: str, name: str = "") -> dict[str, Any]:
        if self._source is not None:
            return self._source(kind, name)
        return config_source(self.path(kind, name))

    # --- the small bootstrap ---------------------------------------------------------
    def bootstrap(self, static: dict[str, Any]) -> dict[str, Any]:
        boot = {k: _copy(v) for k, v in static.items() if k != "static_resources"}
        boot["node"] = {**DEFAULT_NODE, **(boot.get("node") or {})}
        boot["dynamic_resources"] = {"lds_config": self.source("listener"),
                                     "cds_config": self.source("cluster")}
        return boot

    def files(self, listeners: list[dict[str, Any]],
              clusters: list[dict[str, Any]]) -> tuple[XdsFile, ...]:
        out = [self._one("secret", n, r) for n, r in sorted(self.secrets.items())]
        out += [self._one("endpoints", n, r) for n, r in sorted(self.endpoints.items())]
        out.append(XdsFile("cluster", "", self.path("cluster"), _typed("cluster", clusters)))
        out += [self._one("route", n, r) for n, r in sorted(self.routes.items())]
        out.append(XdsFile("listener", "", self.path("listener"), _typed("listener", listeners)))
        return tuple(out)

    def _one(self, kind: str, name: str, resource: dict[str, Any]) -> XdsFile:
        return XdsFile(kind, name, self.path(kind, name), _typed(kind, [resource]))

    # --- listeners -------------------------------------------------------------------
    def listener(self, listener: dict[str, Any]) -> dict[str, Any]:
        name = str(listener.get("name", ""))
        for label, chain in _chains(listener):
            where = f"{name}.{label}"
            socket = chain.get("transport_socket") or {}
            context = socket.get("typed_config") or {}
            if context.get("@type") in _TLS:
                self.tls_context(context, where)
            for hcm in _hcms(chain):
                self.route_config(hcm, where)
        return listener

    def route_config(self, hcm: dict[str, Any], where: str) -> None:
        config = hcm.pop("route_config", None)
        if config is None:
            return
        name = str(config.get("name") or where)
        if name in self.routes and self.routes[name] != {**config, "name": name}:
            name = f"{where}.{name}"
        config = {**config, "name": name}
        self.routes[name] = config
        hcm["rds"] = {"config_source": self.source("route", name), "route_config_name": name}

    # --- clusters --------------------------------------------------------------------
    def cluster(self, cluster: dict[str, Any]) -> dict[str, Any]:
        name = str(cluster.get("name", ""))
        socket = cluster.get("transport_socket") or {}
        context = socket.get("typed_config") or {}
        if context.get("@type") in _TLS:
            self.tls_context(context, f"cluster.{name}")
        static_type = cluster.get("type", "STATIC") == "STATIC" and "cluster_type" not in cluster
        if static_type and "load_assignment" in cluster:
            assignment = cluster.pop("load_assignment")
            self.endpoints[name] = {**assignment, "cluster_name": name}
            cluster["type"] = "EDS"
            cluster["eds_cluster_config"] = {"eds_config": self.source("endpoints", name),
                                             "service_name": name}
        return cluster

    # --- secrets ---------------------------------------------------------------------
    def load_static_secrets(self, secrets: list[dict[str, Any]]) -> None:
        for secret in secrets:
            plain = {k: v for k, v in secret.items() if k != "@type"}
            self.static_secrets[str(plain.get("name", ""))] = plain

    def tls_context(self, context: dict[str, Any], where: str) -> None:
        common = context.get("common_tls_context")
        if not isinstance(common, dict):
            return
        refs = [self.add_secret(f"{where}.cert{i}", {"tls_certificate": cert})
                for i, cert in enumerate(common.pop("tls_certificates", None) or [])]
        for ref in common.get("tls_certificate_sds_secret_configs") or []:
            refs.append(self.static_ref(ref))
        if refs:
            common["tls_certificate_sds_secret_configs"] = refs
        ref = common.get("validation_context_sds_secret_config")
        if isinstance(ref, dict):
            common["validation_context_sds_secret_config"] = self.static_ref(ref)

    def static_ref(self, ref: dict[str, Any]) -> dict[str, Any]:
        """An SDS reference to a static secret → a reference to its SDS file."""
        name = str(ref.get("name", ""))
        if "sds_config" in ref or name not in self.static_secrets:
            return ref
        body = {k: v for k, v in self.static_secrets[name].items() if k != "name"}
        return self.add_secret(name, body)

    def add_secret(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        name = safe_name(name)
        self.secrets[name] = {"name": name, **_inline_files(body)}
        return {"name": name, "sds_config": self.source("secret", name)}


def _copy(value: Any) -> Any:
    """A deep copy of JSON-like data (dicts, lists, scalars), several times faster than
    ``copy.deepcopy`` (the split must not change the static config it is given)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _typed(kind: str, resources: list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    type_url = _TYPES[kind]
    return tuple({"@type": type_url, **{k: v for k, v in r.items() if k != "@type"}}
                 for r in resources)


def _chains(listener: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for i, chain in enumerate(listener.get("filter_chains") or []):
        yield str(chain.get("name") or f"chain{i}"), chain
    default = listener.get("default_filter_chain")
    if isinstance(default, dict):
        yield "default", default


def _hcms(chain: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for item in chain.get("filters") or []:
        config = item.get("typed_config")
        if isinstance(config, dict) and config.get("@type") == _HCM:
            yield config


def _inline_files(body: dict[str, Any]) -> dict[str, Any]:
    """A copy of a secret body whose file data sources are inlined (so the SDS file alone
    defines the secret, and a changed file is a changed secret)."""
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key == "watched_directory":
            continue
        if key in _FILE_FIELDS and isinstance(value, dict) and "filename" in value:
            out[key] = _read(str(value["filename"]))
        elif isinstance(value, dict):
            out[key] = _inline_files(value)
        else:
            out[key] = _copy(value)
    return out


def _read(filename: str) -> dict[str, str]:
    try:
        data = Path(filename).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {filename} for an SDS secret: {exc}") from exc
    try:
        return {"inline_string": data.decode("utf-8")}
    except UnicodeDecodeError:
        import base64

        return {"inline_bytes": base64.b64encode(data).decode("ascii")}
