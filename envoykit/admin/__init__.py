"""A client for envoy's admin API: one sans-IO core, a sync and an async driver.

    from envoykit.admin import AdminClient

    with AdminClient("127.0.0.1:9901") as admin:
        admin.ready()                                   # True when LIVE
        snap = admin.stats(filter=r"^http\\.ingress_http")
        snap["http.ingress_http.downstream_rq_total"]
        admin.config_dump(resource="dynamic_listeners").dynamic_listeners
        assert admin.histogram("http.ingress_http.downstream_rq_time").percentile(99) < 50
        admin.prometheus().value("envoy_server_live")                # prometheus_client

``AsyncAdminClient`` has the same methods, awaited. Errors are :class:`AdminError`
subclasses that name the endpoint.
"""

from envoykit.admin._client import AdminClient, AsyncAdminClient
from envoykit.admin._config_dump import ConfigDump, ConfigResource
from envoykit.admin._models import (
    Certificate,
    ClusterStatus,
    HostStatus,
    MemoryInfo,
    RuntimeInfo,
    ServerInfo,
)
from envoykit.admin._prometheus import PrometheusMetrics, parse_prometheus
from envoykit.admin._protocol import Reply
from envoykit.admin._stats import Bucket, Histogram, StatsSnapshot, StatValue, parse_stats_json
from envoykit.errors import (
    AdminConnectError,
    AdminError,
    AdminHTTPError,
    AdminParameterError,
    AdminResponseError,
    AdminTimeout,
    AdminTransportError,
)

__all__ = [
    "AdminClient",
    "AdminConnectError",
    "AdminError",
    "AdminHTTPError",
    "AdminParameterError",
    "AdminResponseError",
    "AdminTimeout",
    "AdminTransportError",
    "AsyncAdminClient",
    "Bucket",
    "Certificate",
    "ClusterStatus",
    "ConfigDump",
    "ConfigResource",
    "Histogram",
    "HostStatus",
    "MemoryInfo",
    "PrometheusMetrics",
    "Reply",
    "RuntimeInfo",
    "ServerInfo",
    "StatValue",
    "StatsSnapshot",
    "parse_prometheus",
    "parse_stats_json",
]
