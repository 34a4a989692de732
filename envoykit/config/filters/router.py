"""The router: ``envoy.extensions.filters.http.router.v3.Router`` (filter
``envoy.filters.http.router``), the terminal filter of every HTTP chain."""

from __future__ import annotations

from envoykit.config._base import TypedConfig

__all__ = ["Router"]


class Router(TypedConfig):
    """The terminal filter that forwards to the routed cluster."""

    type_url = "envoy.extensions.filters.http.router.v3.Router"
    filter_name = "envoy.filters.http.router"

    suppress_envoy_headers: bool | None = None
    dynamic_stats: bool | None = None
    start_child_span: bool | None = None
