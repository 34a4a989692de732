"""The stats an edge keeps by default (``EdgeDefaults.stats="edge"``).

Envoy creates about 110 stats per cluster; at 10,000 sites that is over a million, most of
which nobody reads (circuit-breaker gauges, load-balancer zone and subset counters, byte
and flow-control counters, per-connection histograms). They cost start time, memory, and
CPU on every request that updates them. The edge keeps what an operator watches and drops
the rest of the cluster family with an inclusion list:

- everything under ``server.``, ``listener.``, ``http.`` (per site over HTTPS: requests,
  response classes, latency, the auth filters' allowed/denied, route updates), the
  managers, the codecs' protocol errors, TLS and SDS; the rate-limited requests;
- per upstream cluster: requests, response codes and classes and latency (where the
  router computes them: ``EdgeDefaults.dynamic_stats``), active requests, retries,
  timeouts, overflows,
  connect failures, health (membership, health checks, outlier detection), config updates.

Cluster traffic stats are also created lazily (Envoy's ``enable_deferred_creation_stats``):
a site that never gets a request costs nothing. ``EdgeDefaults(stats="all")`` restores
Envoy's default of every stat.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "KEPT_INFIXES", "KEPT_PREFIXES", "KEPT_REGEXES", "KEPT_SUFFIXES", "edge_stats_matcher",
]

# Whole families (the first name segments).
KEPT_PREFIXES = (
    "server.", "listener_manager.", "cluster_manager.", "listener.", "http.", "overload.",
    "runtime.", "http1.", "http2.", "sds.", "tls_inspector.", "filesystem.", "control_plane.",
    "vhost.",
)

# Per upstream: ``cluster.<site>.<suffix>``.
KEPT_SUFFIXES = (
    ".upstream_rq_total", *(f".upstream_rq_{n}xx" for n in range(1, 6)), ".upstream_rq_time",
    ".upstream_rq_timeout", ".upstream_rq_per_try_timeout", ".upstream_rq_active",
    ".upstream_rq_retry", ".upstream_rq_retry_success", ".upstream_cx_active",
    ".upstream_rq_pending_overflow", ".upstream_cx_overflow",
    ".upstream_cx_connect_fail", ".upstream_cx_connect_timeout", ".upstream_cx_none_healthy",
    ".membership_healthy", ".membership_degraded", ".membership_total",
    ".ssl.connection_error", ".ssl.fail_verify_error", ".ssl.fail_verify_san",
    ".update_success", ".update_rejected", ".update_failure", ".version_text",
)

# Whole sub-families: the local rate limit's (``<site>.http_local_rate_limit.rate_limited``,
# at the top level), a cluster's health checks and outlier detection.
KEPT_INFIXES = (".http_local_rate_limit.", ".health_check.", ".outlier_detection.")

# Per upstream and response code (``cluster.<site>.upstream_rq_503``): what an incident
# is read from, and what Prometheus exports as ``envoy_response_code``.
KEPT_REGEXES = (r"^cluster\..+\.upstream_rq_[1-5][0-9][0-9]$",)


def edge_stats_matcher() -> dict[str, Any]:
    """The ``stats_config.stats_matcher`` inclusion list described above."""
    patterns = ([{"prefix": p} for p in KEPT_PREFIXES]
                + [{"suffix": s} for s in KEPT_SUFFIXES]
                + [{"contains": c} for c in KEPT_INFIXES]
                + [{"safe_regex": {"regex": r}} for r in KEPT_REGEXES])
    return {"inclusion_list": {"patterns": patterns}}
