"""Compile a :class:`Service` into an Envoy cluster (and the hash policy of routes to it)."""

from __future__ import annotations

from typing import Any

from envoykit.builder._intent import EdgeDefaults
from envoykit.builder._services import Health, Limits, Outlier, Service, Sticky
from envoykit.config import Cluster, HashPolicy
from envoykit.config.tls import tls_transport_socket

__all__ = ["cluster", "hash_policy"]


def cluster(service: Service, defaults: EdgeDefaults) -> Cluster:
    """The cluster of one service (built from one dict: one validation pass, for speed)."""
    all_ips = service.all_ips
    hosts = [_endpoint(e.host, e.port, e.weight) for e in service.endpoints]
    result: Cluster = Cluster.from_dict({
        "name": service.name,
        "type": "STATIC" if all_ips else "STRICT_DNS",
        "connect_timeout": service.connect_timeout or defaults.connect_timeout,
        "lb_policy": service.lb.upper(),
        "load_assignment": {"cluster_name": service.name,
                            "endpoints": [{"lb_endpoints": hosts}]},
        "per_connection_buffer_limit_bytes": defaults.buffer_limit_bytes,
        "transport_socket": tls_transport_socket(service.tls.context()) if service.tls else None,
        "typed_extension_protocol_options": Cluster.http2_options() if service.http2 else None,
        "dns_lookup_family": None if all_ips else (service.dns_lookup_family or "V4_PREFERRED"),
        "health_checks": [_health(service.health)] if service.health else None,
        "outlier_detection": _outlier(service.outlier) if service.outlier else None,
        "circuit_breakers": _limits(service.limits) if service.limits else None,
    })
    return result


def _endpoint(host: str, port: int, weight: int | None) -> dict[str, Any]:
    endpoint: dict[str, Any] = {
        "endpoint": {"address": {"socket_address": {"address": host, "port_value": port}}}}
    if weight is not None:
        endpoint["load_balancing_weight"] = weight
    return endpoint


def _health(health: Health) -> dict[str, Any]:
    check: dict[str, Any] = {
        "timeout": health.timeout, "interval": health.interval,
        "unhealthy_threshold": health.unhealthy, "healthy_threshold": health.healthy,
        "no_traffic_interval": health.interval,  # check at the set pace even when idle
    }
    if health.path is None:
        check["tcp_health_check"] = {}
    else:
        check["http_health_check"] = {
            "path": health.path, "host": health.host,
            "expected_statuses": [{"start": c, "end": c + 1} for c in health.expect],
        }
    return check


def _outlier(outlier: Outlier) -> dict[str, Any]:
    return {"consecutive_5xx": outlier.consecutive_5xx, "interval": outlier.interval,
            "base_ejection_time": outlier.ejection,
            "max_ejection_percent": outlier.max_percent}


def _limits(limits: Limits) -> dict[str, Any]:
    return {"thresholds": [{
        "max_connections": limits.max_connections, "max_pending_requests": limits.max_pending,
        "max_requests": limits.max_requests, "max_retries": limits.max_retries}]}


def hash_policy(sticky: Sticky) -> HashPolicy:
    """What a route to a sticky service hashes on."""
    if sticky.kind == "header":
        return HashPolicy(header={"header_name": sticky.name})
    if sticky.kind == "cookie":
        cookie: dict[str, Any] = {"name": sticky.name}
        if sticky.ttl is not None:
            cookie["ttl"] = f"{sticky.ttl.total_seconds():g}s"
        if sticky.path is not None:
            cookie["path"] = sticky.path
        return HashPolicy(cookie=cookie)
    return HashPolicy(connection_properties={"source_ip": True})
