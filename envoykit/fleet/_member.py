"""Bootstraps for fleet members: Envoys that take everything from the control plane."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envoykit._net import is_ip, is_loopback
from envoykit._util import split_host_port
from envoykit.render import ConfigLike, to_dict

__all__ = ["XDS_CLUSTER", "MemberTLS", "fleet_member"]

log = logging.getLogger("envoykit.fleet")

XDS_CLUSTER = "envoykit_xds"
_KEPT = ("admin", "layered_runtime", "overload_manager", "stats_config", "stats_sinks",
         "cluster_manager", "stats_flush_interval")


@dataclass(frozen=True)
class MemberTLS:
    """mTLS to the control plane: the CA that signed its certificate, the name it must
    present (SNI and SAN), and this Envoy's client certificate and key (PEM files)."""

    ca: str
    server_name: str
    cert: str | None = None
    key: str | None = None


def fleet_member(control_plane: str, *, node_id: str, cluster: str = "envoykit",
                 base: ConfigLike | None = None, delta: bool = False,
                 tls: MemberTLS | None = None, metadata: dict[str, Any] | None = None,
                 retry_max_s: float = 2.0) -> dict[str, Any]:
    """A bootstrap (dict, for :class:`~envoykit.Supervisor`) whose listeners, clusters,
    routes, endpoints and secrets all come over ADS from ``control_plane`` (``host:port``).

    ``base`` lends its admin, runtime, overload manager and stats settings (e.g. the same
    ``EdgeProxy`` the snapshot is built from); ``delta`` picks incremental xDS;
    ``retry_max_s`` caps the reconnect back-off, so a returning control plane is found
    within about that long. Admin defaults to 127.0.0.1 on a free port.
    """
    host, port = split_host_port(control_plane, "control plane address")
    boot: dict[str, Any] = {}
    if base is not None:
        given = to_dict(base)
        boot = {k: given[k] for k in _KEPT if k in given}
    boot.setdefault("admin", {"address": {"socket_address": {"address": "127.0.0.1",
                                                             "port_value": 0}}})
    node: dict[str, Any] = {"id": node_id, "cluster": cluster}
    if metadata:
        node["metadata"] = metadata
    boot["node"] = node
    boot["dynamic_resources"] = {
        "ads_config": {
            "api_type": "DELTA_GRPC" if delta else "GRPC",
            "transport_api_version": "V3",
            "set_node_on_first_message_only": True,
            "grpc_services": [{"envoy_grpc": {
                "cluster_name": XDS_CLUSTER,
                "retry_policy": {"retry_back_off": {
                    "base_interval": "0.1s", "max_interval": f"{retry_max_s:g}s"}}}}],
        },
        "cds_config": {"ads": {}, "resource_api_version": "V3"},
        "lds_config": {"ads": {}, "resource_api_version": "V3"},
    }
    boot["static_resources"] = {"clusters": [_xds_cluster(host, port, tls)]}
    return boot


def _xds_cluster(host: str, port: int, tls: MemberTLS | None) -> dict[str, Any]:
    cluster: dict[str, Any] = {
        "name": XDS_CLUSTER,
        "type": "STATIC" if is_ip(host) else "LOGICAL_DNS",
        "connect_timeout": "1s",
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3."
                         "HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {
                    "connection_keepalive": {"interval": "5s", "timeout": "5s"}}},
            }},
        "load_assignment": {"cluster_name": XDS_CLUSTER, "endpoints": [{"lb_endpoints": [
            {"endpoint": {"address": {"socket_address": {"address": host,
                                                         "port_value": port}}}}]}]},
    }
    if tls is None:
        if not is_loopback(host):
            log.warning(
                "the control plane at %s:%d is reached without TLS; pass tls=MemberTLS(...)",
                host, port)
        return cluster
    common: dict[str, Any] = {
        "tls_params": {"tls_minimum_protocol_version": "TLSv1_2"},
        "alpn_protocols": ["h2"],
        "validation_context": {
            "trusted_ca": {"filename": str(Path(tls.ca).resolve())},
            "match_typed_subject_alt_names": [
                {"san_type": "DNS", "matcher": {"exact": tls.server_name}}]},
    }
    if tls.cert and tls.key:
        common["tls_certificates"] = [{
            "certificate_chain": {"filename": str(Path(tls.cert).resolve())},
            "private_key": {"filename": str(Path(tls.key).resolve())}}]
    cluster["transport_socket"] = {"name": "envoy.transport_sockets.tls", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3."
                 "UpstreamTlsContext",
        "sni": tls.server_name, "common_tls_context": common}}
    return cluster

