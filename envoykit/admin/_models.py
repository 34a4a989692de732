"""Typed views of admin answers (server info, listeners, clusters, certs, memory, runtime)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from envoykit.errors import AdminResponseError

__all__ = [
    "Certificate",
    "ClusterStatus",
    "HostStatus",
    "MemoryInfo",
    "RuntimeInfo",
    "ServerInfo",
    "parse_certs",
    "parse_clusters",
    "parse_listeners",
    "parse_logging",
    "parse_memory",
    "parse_runtime",
    "parse_server_info",
]


def _seconds(duration: str) -> float:
    """A protobuf JSON Duration (``"4s"``, ``"1.500s"``) in seconds."""
    return float(duration.removesuffix("s"))


@dataclass(frozen=True)
class ServerInfo:
    """``/server_info``: version, state, hot-restart epoch, uptimes, command-line options."""

    version: str
    state: str
    restart_epoch: int
    uptime_current_epoch: float
    uptime_all_epochs: float
    hot_restart_version: str
    command_line_options: Mapping[str, Any] = field(default_factory=dict)
    node: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_live(self) -> bool:
        """True when the server state is LIVE."""
        return self.state == "LIVE"

    @property
    def version_number(self) -> str:
        """The release number from the version string, e.g. ``"1.40.0"``."""
        parts = self.version.split("/")
        return parts[1] if len(parts) > 1 else self.version


def parse_server_info(data: Any) -> ServerInfo:
    """Build a :class:`ServerInfo` from the JSON of ``/server_info``."""
    try:
        options = data.get("command_line_options", {})
        return ServerInfo(
            version=data["version"],
            state=data["state"],
            restart_epoch=int(options.get("restart_epoch", 0)),
            uptime_current_epoch=_seconds(data["uptime_current_epoch"]),
            uptime_all_epochs=_seconds(data["uptime_all_epochs"]),
            hot_restart_version=data.get("hot_restart_version", ""),
            command_line_options=options,
            node=data.get("node", {}),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise AdminResponseError(f"unexpected shape: {exc!r}", endpoint="/server_info") from exc


def socket_address(address: Mapping[str, Any]) -> tuple[str, int]:
    """An envoy ``Address`` as (host, port); a pipe becomes (path, 0)."""
    if "socket_address" in address:
        sock = address["socket_address"]
        return sock.get("address", ""), int(sock.get("port_value", 0))
    if "pipe" in address:
        return address["pipe"]["path"], 0
    if "envoy_internal_address" in address:
        return address["envoy_internal_address"].get("server_listener_name", ""), 0
    raise ValueError(f"unknown address kind: {sorted(address)}")


def parse_listeners(data: Any) -> dict[str, tuple[str, int]]:
    """``/listeners?format=json`` → listener name → bound (host, port)."""
    try:
        return {
            status["name"]: socket_address(status["local_address"])
            for status in data.get("listener_statuses", [])
        }
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise AdminResponseError(f"unexpected shape: {exc!r}", endpoint="/listeners") from exc


# --- clusters -----------------------------------------------------------------------------

_FAILING_FLAGS = frozenset(
    {
        "failed_active_health_check",
        "failed_outlier_check",
        "failed_eds_health",
        "excluded_via_immediate_hc_fail",
        "active_hc_timeout",
    }
)
_BAD_EDS = frozenset({"UNHEALTHY", "DRAINING", "TIMEOUT"})


@dataclass(frozen=True)
class HostStatus:
    """One upstream host of a cluster: address, health flags and per-host stats."""

    address: tuple[str, int]
    eds_health_status: str
    health_flags: frozenset[str]
    stats: Mapping[str, int]
    weight: int = 1
    hostname: str = ""
    priority: int = 0
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def healthy(self) -> bool:
        """False when a health check, outlier detection or EDS marks the host bad."""
        return self.eds_health_status not in _BAD_EDS and not (self.health_flags & _FAILING_FLAGS)


@dataclass(frozen=True)
class ClusterStatus:
    """One cluster from ``/clusters?format=json``."""

    name: str
    hosts: tuple[HostStatus, ...]
    added_via_api: bool = False
    observability_name: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def healthy_hosts(self) -> tuple[HostStatus, ...]:
        """The hosts that are currently healthy."""
        return tuple(host for host in self.hosts if host.healthy)


def _host(data: Mapping[str, Any]) -> HostStatus:
    health = data.get("health_status", {})
    flags = frozenset(k for k, v in health.items() if v is True)
    stats = {s["name"]: int(s.get("value", 0)) for s in data.get("stats", [])}
    return HostStatus(
        address=socket_address(data["address"]),
        eds_health_status=health.get("eds_health_status", ""),
        health_flags=flags,
        stats=stats,
        weight=int(data.get("weight", 1)),
        hostname=data.get("hostname", ""),
        priority=int(data.get("priority", 0)),
        raw=data,
    )


def parse_clusters(data: Any) -> dict[str, ClusterStatus]:
    """``/clusters?format=json`` → cluster name → :class:`ClusterStatus`."""
    try:
        return {c["name"]: _cluster(c) for c in data.get("cluster_statuses", [])}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise AdminResponseError(f"unexpected shape: {exc!r}", endpoint="/clusters") from exc


def _cluster(data: Mapping[str, Any]) -> ClusterStatus:
    return ClusterStatus(
        name=data["name"],
        hosts=tuple(_host(h) for h in data.get("host_statuses", [])),
        added_via_api=bool(data.get("added_via_api", False)),
        observability_name=data.get("observability_name", ""),
        raw=data,
    )


# --- certs, memory, runtime, logging --------------------------------------------------------


@dataclass(frozen=True)
class Certificate:
    """One certificate envoy has loaded (``/certs``); ``kind`` is "cert_chain" or "ca_cert"."""

    kind: str
    path: str
    serial_number: str
    days_until_expiration: int
    valid_from: str
    expiration_time: str
    subject_alt_names: tuple[str, ...] = ()


def parse_certs(data: Any) -> list[Certificate]:
    """``/certs`` → every loaded certificate (chains and CAs) with its days until expiry."""
    try:
        return [
            _cert(kind, detail)
            for context in data.get("certificates", [])
            for kind in ("cert_chain", "ca_cert")
            for detail in context.get(kind, [])
        ]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise AdminResponseError(f"unexpected shape: {exc!r}", endpoint="/certs") from exc


def _cert(kind: str, detail: Mapping[str, Any]) -> Certificate:
    sans = tuple(
        str(value) for san in detail.get("subject_alt_names", []) for value in san.values()
    )
    return Certificate(
        kind=kind,
        path=detail.get("path", ""),
        serial_number=detail.get("serial_number", ""),
        days_until_expiration=int(detail.get("days_until_expiration", 0)),
        valid_from=detail.get("valid_from", ""),
        expiration_time=detail.get("expiration_time", ""),
        subject_alt_names=sans,
    )


@dataclass(frozen=True)
class MemoryInfo:
    """``/memory``: allocator figures in bytes."""

    allocated: int
    heap_size: int
    pageheap_unmapped: int
    pageheap_free: int
    total_thread_cache: int
    total_physical_bytes: int


def parse_memory(data: Any) -> MemoryInfo:
    """``/memory`` (numbers are sent as strings) → :class:`MemoryInfo`."""
    try:
        return MemoryInfo(**{name: int(data.get(name, 0)) for name in _MEMORY_FIELDS})
    except (TypeError, ValueError, AttributeError) as exc:
        raise AdminResponseError(f"unexpected shape: {exc!r}", endpoint="/memory") from exc


_MEMORY_FIELDS = (
    "allocated",
    "heap_size",
    "pageheap_unmapped",
    "pageheap_free",
    "total_thread_cache",
    "total_physical_bytes",
)


@dataclass(frozen=True)
class RuntimeInfo:
    """``/runtime``: layer names and each key's final value (and its value per layer)."""

    layers: tuple[str, ...]
    values: Mapping[str, str]
    layer_values: Mapping[str, tuple[str, ...]]


def parse_runtime(data: Any) -> RuntimeInfo:
    """``/runtime`` → :class:`RuntimeInfo`."""
    try:
        entries = data.get("entries", {})
        return RuntimeInfo(
            layers=tuple(data.get("layers", [])),
            values={k: str(v.get("final_value", "")) for k, v in entries.items()},
            layer_values={k: tuple(v.get("layer_values", [])) for k, v in entries.items()},
        )
    except (TypeError, AttributeError) as exc:
        raise AdminResponseError(f"unexpected shape: {exc!r}", endpoint="/runtime") from exc


def parse_logging(text: str) -> dict[str, str]:
    """The ``active loggers:`` listing of ``/logging`` → logger name → level."""
    levels: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, level = line.strip().partition(": ")
        if sep and line.startswith("  "):
            levels[name] = level.strip()
    if not levels:
        head = text[:80]
        raise AdminResponseError(f"no 'active loggers' listing in {head!r}", endpoint="/logging")
    return levels
