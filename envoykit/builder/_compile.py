"""Compile an :class:`Edge` (the recorded intent) into an Envoy :class:`Bootstrap`:
listeners (HTTPS by SNI, plain HTTP or a redirect, TCP), connection managers, TLS, clusters."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

from envoykit._edge_stats import edge_stats_matcher
from envoykit._redirect_ports import port_mark
from envoykit.builder._clusters import cluster
from envoykit.builder._intent import Edge, Passthrough, RateLimit, Site, TcpService
from envoykit.builder._routes import HttpRoute
from envoykit.builder._vhosts import CORS_FILTER, exempt_filter, rate_limit_filter, vhost
from envoykit.config import (
    Address,
    Admin,
    Bootstrap,
    CertificateValidationContext,
    Cluster,
    CommonTlsContext,
    Cors,
    DataSource,
    DownstreamConnectionsConfig,
    DownstreamTlsContext,
    Filter,
    FilterChain,
    FilterChainMatch,
    Http2ProtocolOptions,
    HttpConnectionManager,
    HttpFilter,
    HttpProtocolOptions,
    LayeredRuntime,
    Listener,
    ListenerFilter,
    LocalRateLimit,
    OverloadManager,
    RedirectAction,
    ResourceMonitor,
    Route,
    RouteConfiguration,
    RouteMatch,
    Router,
    RuntimeLayer,
    StaticResources,
    StatsConfig,
    TcpProxy,
    TlsParameters,
    VirtualHost,
)
from envoykit.config.tls import INTERMEDIATE_CIPHERS, tls_transport_socket

__all__ = ["VhostSpec", "VhostsOf", "compile_edge"]

VhostSpec = tuple[Site, bool, str, LocalRateLimit | None]
"""What one virtual host is made of: the site, over TLS or not, its stat prefix, and its own
rate limit (a per-virtual-host config over plain HTTP)."""
VhostsOf = Callable[[list[VhostSpec]], list[VirtualHost]]
"""Makes the virtual hosts of one connection manager (the fast render puts placeholders)."""


def compile_edge(edge: Edge, *, vhosts: VhostsOf | None = None,
                 clusters: list[Cluster] | None = None) -> Bootstrap:
    """The bootstrap of ``edge`` (the intent was checked before; models validate the rest).
    ``vhosts`` and ``clusters`` replace the compiled virtual hosts and clusters (the fast
    render compiles those itself and splices them into the rendered text)."""
    make = vhosts or (lambda specs: [vhost(s, edge, tls=tls, stat_prefix=p, limit=limit)
                                     for s, tls, p, limit in specs])
    return Bootstrap(
        admin=Admin(address=Address.tcp(*edge.admin)) if edge.admin else None,
        static_resources=StaticResources(
            listeners=_listeners(edge, make),
            clusters=clusters if clusters is not None
            else [cluster(s, edge.defaults) for s in edge.services],
        ),
        layered_runtime=_layered_runtime(edge),
        overload_manager=_overload_manager(edge),
        **_stats_options(edge),
    )


def _stats_options(edge: Edge) -> dict[str, Any]:
    """The edge's stats: what an operator reads, cluster traffic stats created on first
    use (see ``envoykit._edge_stats``); ``EdgeDefaults(stats="all")``: Envoy's default."""
    if edge.defaults.stats == "all":
        return {}
    return {"stats_config": StatsConfig(stats_matcher=edge_stats_matcher()),
            "deferred_stat_options": {"enable_deferred_creation_stats": True}}


def _request_id(edge: Edge) -> bool:
    """``x-request-id`` generation (a random UUID per request) only where something
    reads it: an access log, or ``EdgeDefaults(request_id=True)``."""
    wanted = edge.defaults.request_id
    return edge.access_log is not None if wanted is None else wanted


def _layered_runtime(edge: Edge) -> LayeredRuntime:
    layers = [RuntimeLayer(name="admin", admin_layer={})]
    if edge.runtime:
        layers.insert(0, RuntimeLayer(name="static", static_layer=dict(edge.runtime)))
    return LayeredRuntime(layers=layers)


def _overload_manager(edge: Edge) -> OverloadManager:
    monitor = ResourceMonitor(
        name=DownstreamConnectionsConfig.filter_name,
        typed_config=DownstreamConnectionsConfig(
            max_active_downstream_connections=edge.defaults.max_connections),
    )
    return OverloadManager(resource_monitors=[monitor])


def _listeners(edge: Edge, make: VhostsOf) -> list[Listener]:
    listeners = []
    if edge.https is not None:
        listeners.append(_https_listener(edge, make, *edge.https))
    if edge.http is not None:
        listeners.append(_http_listener(edge, make, *edge.http))
    listeners += [_tcp_listener(edge, t) for t in edge.tcp]
    return listeners


# -- HTTPS: one filter chain per site (SNI), TLS passthrough chains beside them -------------

def _https_listener(edge: Edge, make: VhostsOf, host: str, port: int) -> Listener:
    chains = [_site_chain(edge, make, site) for site in edge.sites]
    chains += [_passthrough_chain(edge, p) for p in edge.passthrough]
    return Listener(
        name="https",
        address=Address.tcp(host, port),
        listener_filters=[ListenerFilter.tls_inspector()],
        filter_chains=chains,
        per_connection_buffer_limit_bytes=edge.defaults.buffer_limit_bytes,
    )


def _site_chain(edge: Edge, make: VhostsOf, site: Site) -> FilterChain:
    prefix = f"https_{site.slug}"
    limit = _limit_for(edge, site)
    filters = [HttpFilter.of(rate_limit_filter(prefix, limit, edge.defaults))] if limit else []
    hcm = _hcm(edge, prefix, make([(site, True, prefix, None)]),
               _route_filters([site.routes], filters) + _extra_filters(edge, [site]))
    return FilterChain(
        name=site.host,
        filter_chain_match=FilterChainMatch(server_names=site.domains),
        transport_socket=tls_transport_socket(_downstream_tls(edge, site)),
        filters=[Filter.of(hcm)],
    )


def _passthrough_chain(edge: Edge, passthrough: Passthrough) -> FilterChain:
    slug = passthrough.host.replace(".", "_").replace("*", "wildcard")
    return FilterChain(
        name=f"passthrough:{passthrough.host}",
        filter_chain_match=FilterChainMatch(server_names=[passthrough.host]),
        filters=[Filter.of(TcpProxy(stat_prefix=f"passthrough_{slug}",
                                    cluster=passthrough.service,
                                    access_log=[edge.access_log] if edge.access_log else None))],
    )


def _downstream_tls(edge: Edge, site: Site) -> DownstreamTlsContext:
    assert site.cert is not None  # checked before compiling
    d = edge.defaults
    params = (TlsParameters(tls_minimum_protocol_version="TLSv1_3")
              if d.tls_profile == "modern"
              else TlsParameters(tls_minimum_protocol_version="TLSv1_2",
                                 cipher_suites=list(INTERMEDIATE_CIPHERS)))
    validation = (CertificateValidationContext(trusted_ca=DataSource(filename=site.client_ca))
                  if site.client_ca else None)
    common = CommonTlsContext(tls_params=params, tls_certificates=[site.cert.to_model()],
                              validation_context=validation, alpn_protocols=list(d.alpn))
    return DownstreamTlsContext(common_tls_context=common,
                                require_client_certificate=True if site.client_ca else None)


# -- plain HTTP: the sites, or a redirect to HTTPS ----------------------------------------

def _http_listener(edge: Edge, make: VhostsOf, host: str, port: int) -> Listener:
    if edge.redirect:
        limit = edge.rate_limit
        filters = [HttpFilter.of(rate_limit_filter("http", limit, edge.defaults))] \
            if limit else []
        hcm = _hcm(edge, "http", [_redirect_vhost(edge)], filters)
    else:
        hcm = _plain_http_hcm(edge, make)
    return Listener(
        name="http",
        address=Address.tcp(host, port),
        filter_chains=[FilterChain(filters=[Filter.of(hcm)])],
        per_connection_buffer_limit_bytes=edge.defaults.buffer_limit_bytes,
    )


def _redirect_vhost(edge: Edge) -> VirtualHost:
    assert edge.https is not None
    https_port = edge.https[1]
    redirect = RedirectAction(
        https_redirect=True,
        port_redirect=https_port if https_port not in (0, 443) else None,
        response_code=edge.defaults.redirect_code,
    )
    # port 0: Envoy picks the port; the Supervisor fills it in (see envoykit._redirect_ports)
    mark = port_mark("https") if https_port == 0 else None
    return VirtualHost(
        name="redirect_to_https",
        domains=[d for s in edge.sites for d in s.domains],
        routes=[Route(match=RouteMatch(prefix="/"), redirect=redirect, metadata=mark)],
    )


def _plain_http_hcm(edge: Edge, make: VhostsOf) -> HttpConnectionManager:
    """Sites over plain HTTP share one connection manager, so the edge default is one
    bucket for the listener; a site with its own :class:`RateLimit` gets its own bucket
    (a per-virtual-host config) and ``rate_limit=False`` exempts a site."""
    default = edge.rate_limit
    own = {s.slug: _own_limit(edge, s) for s in edge.sites}
    vhosts = make([(s, False, f"http_{s.slug}", own[s.slug]) for s in edge.sites])
    if default is not None:
        filters = [HttpFilter.of(rate_limit_filter("http", default, edge.defaults))]
    elif any(own.values()):
        filters = [HttpFilter.of(LocalRateLimit(stat_prefix="http"))]  # per-vhost only
    else:
        filters = []
    filters = _route_filters(edge.tables.values(), filters)
    return _hcm(edge, "http", vhosts, filters + _extra_filters(edge, edge.sites),
                shared=True)


def _own_limit(edge: Edge, site: Site) -> LocalRateLimit | None:
    """The per-virtual-host rate limit config of a site over plain HTTP, if it needs one."""
    prefix = f"http_{site.slug}"
    if isinstance(site.rate_limit, RateLimit):
        return rate_limit_filter(prefix, site.rate_limit, edge.defaults)
    if site.rate_limit is False and edge.rate_limit is not None:
        return exempt_filter(prefix)
    return None


def _route_filters(tables: Iterable[tuple[HttpRoute, ...]], filters: list[HttpFilter]
                   ) -> list[HttpFilter]:
    """``filters`` plus what per-route settings of ``tables`` need in the chain: the CORS
    filter, and a rate-limit filter that only per-route buckets configure."""
    routes = [r for table in tables for r in table]
    out = list(filters)
    if any(r.cors is not None for r in routes):
        out.insert(0, HttpFilter(name=CORS_FILTER, typed_config=Cors()))
    has_limit = any(f.name == LocalRateLimit.filter_name for f in filters)
    if not has_limit and any(isinstance(r.rate_limit, RateLimit) for r in routes):
        out.append(HttpFilter.of(LocalRateLimit(stat_prefix="routes")))
    return out


def _extra_filters(edge: Edge, sites: Sequence[Site]) -> list[HttpFilter]:
    """The user's HTTP filters that apply to any of ``sites`` (in the order added)."""
    hosts = {s.host for s in sites}
    return [flt for flt, only in edge.filters if only is None or hosts & only]


def _limit_for(edge: Edge, site: Site) -> RateLimit | None:
    if site.rate_limit is False:
        return None
    return site.rate_limit or edge.rate_limit


def _hcm(edge: Edge, stat_prefix: str, vhosts: list[VirtualHost],
         filters: list[HttpFilter], *, shared: bool = False) -> HttpConnectionManager:
    """``shared``: the connection manager forwards for all the sites (plain HTTP), so its
    own stats are not per site (even with one site today: adding a site must not change
    the listener, which would drain its connections)."""
    d = edge.defaults
    return HttpConnectionManager(
        stat_prefix=stat_prefix,
        codec_type="AUTO",
        route_config=RouteConfiguration(name=stat_prefix, virtual_hosts=vhosts),
        http_filters=[*filters, HttpFilter.of(
            Router(suppress_envoy_headers=d.suppress_envoy_headers or None,
                   dynamic_stats=_dynamic_stats(d.dynamic_stats, shared)))],
        access_log=[edge.access_log] if edge.access_log else None,
        generate_request_id=_request_id(edge),
        use_remote_address=d.use_remote_address,
        normalize_path=True,
        merge_slashes=True,
        path_with_escaped_slashes_action=d.path_with_escaped_slashes_action,
        strip_any_host_port=d.strip_any_host_port,
        request_headers_timeout=d.request_headers_timeout,
        stream_idle_timeout=d.stream_idle_timeout,
        common_http_protocol_options=HttpProtocolOptions(
            idle_timeout=d.idle_timeout,
            headers_with_underscores_action=d.headers_with_underscores_action,
        ),
        http2_protocol_options=Http2ProtocolOptions(
            max_concurrent_streams=d.max_concurrent_streams,
            initial_stream_window_size=d.initial_stream_window_size,
            initial_connection_window_size=d.initial_connection_window_size,
        ),
    )


def _dynamic_stats(choice: Literal["auto"] | bool, shared: bool) -> bool | None:
    """The router's per-upstream response-code counters and latency histograms (Envoy's
    default: on). ``"auto"`` keeps them only where they are a site's only per-site codes:
    in the plain-HTTP connection manager that forwards for every site. A site's own
    connection manager (each HTTPS site has one) counts its answers and latency itself
    (``http.<prefix>.downstream_rq_<class>``, ``downstream_rq_time``), and the router's
    copies cost a few µs per request (docs/performance.md)."""
    on = shared if choice == "auto" else choice
    return None if on else False


# -- TCP --------------------------------------------------------------------------------

def _tcp_listener(edge: Edge, tcp: TcpService) -> Listener:
    proxy = TcpProxy(stat_prefix=f"tcp_{tcp.name}", cluster=tcp.service,
                     idle_timeout=tcp.idle_timeout,
                     access_log=[edge.access_log] if edge.access_log else None)
    return Listener(
        name=tcp.name,
        address=Address.tcp(tcp.address, tcp.port),
        filter_chains=[FilterChain(filters=[Filter.of(proxy)])],
        per_connection_buffer_limit_bytes=edge.defaults.buffer_limit_bytes,
    )
