"""The intent-level builder: say what the edge should do, get a secure Envoy bootstrap.

    edge = (
        EdgeProxy()
        .site("a.example.com", "127.0.0.20:8080", cert=("a.pem", "a-key.pem"))
        .site("b.example.com", "127.0.0.21:8080", cert=("b.pem", "b-key.pem"))
        .https(port=8443)
        .redirect_http(port=8080)
        .rate_limit(requests=100, per="1s")
        .admin(port=9901)
    )
    bootstrap = edge.build()

Every default is the one a careful operator would write (see ``docs/defaults.md``) and
every one can be overridden through :class:`EdgeDefaults` or a method argument.
"""

from __future__ import annotations

import logging
import math
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Literal

from envoykit._edge_stats import edge_stats_matcher
from envoykit._intent import (
    LOOPBACK,
    Cert,
    DnsFamily,
    EdgeDefaults,
    RateLimit,
    Site,
    UpstreamTLS,
    as_cert,
    as_duration,
    check_host,
    fail,
    parse_upstream,
)
from envoykit._net import is_ip, is_loopback
from envoykit.config import (
    AccessLog,
    Address,
    Admin,
    Bootstrap,
    CertificateValidationContext,
    Cluster,
    CommonTlsContext,
    DataSource,
    DownstreamConnectionsConfig,
    DownstreamTlsContext,
    Filter,
    FilterChain,
    FilterChainMatch,
    HeaderValue,
    HeaderValueOption,
    Http2ProtocolOptions,
    HttpConnectionManager,
    HttpFilter,
    HttpProtocolOptions,
    LayeredRuntime,
    Listener,
    ListenerFilter,
    LocalRateLimit,
    ModelError,
    OverloadManager,
    RedirectAction,
    ResourceMonitor,
    Route,
    RouteConfiguration,
    RouteMatch,
    Router,
    RuntimeFractionalPercent,
    RuntimeLayer,
    StaticResources,
    StatsConfig,
    SubstitutionFormatString,
    TlsParameters,
    TypedConfig,
    VirtualHost,
    gc_paused,
)
from envoykit.config.tls import INTERMEDIATE_CIPHERS, tls_transport_socket
from envoykit.errors import ConfigError, Issue, SemanticError

__all__ = ["Cert", "EdgeDefaults", "EdgeProxy", "RateLimit", "Site", "UpstreamTLS"]

log = logging.getLogger("envoykit.builder")

def _percent100() -> RuntimeFractionalPercent:
    return RuntimeFractionalPercent.percent(100)


def _header(key: str, value: str, *, overwrite: bool = True) -> HeaderValueOption:
    action = "OVERWRITE_IF_EXISTS_OR_ADD" if overwrite else "APPEND_IF_EXISTS_OR_ADD"
    return HeaderValueOption(header=HeaderValue(key=key, value=value), append_action=action)


def _limited_headers(limit: RateLimit) -> list[HeaderValueOption]:
    """``x-ratelimit-*`` on the 429s only (constant values, so no per-response work):
    the limit, nothing remaining, and the refill interval as the longest wait."""
    bucket = limit.bucket()
    reset = max(1, math.ceil(bucket.fill_interval.total_seconds()))
    return [_header("x-ratelimit-limit", str(bucket.max_tokens)),
            _header("x-ratelimit-remaining", "0"),
            _header("x-ratelimit-reset", str(reset))]


class EdgeProxy:
    """Build an edge proxy: sites by host name, HTTPS by SNI, redirect, rate limits, admin."""

    def __init__(self, name: str = "edge", *, defaults: EdgeDefaults | None = None) -> None:
        self.name = name
        self.defaults = defaults or EdgeDefaults()
        self.sites: list[Site] = []
        self._hosts: set[str] = set()
        self._https: tuple[str, int] | None = None
        self._http: tuple[str, int] | None = None
        self._redirect = False
        self._rate_limit: RateLimit | None = None
        self._admin: tuple[str, int] | None = (LOOPBACK, 9901)
        self._access_log: AccessLog | None = None
        self._runtime: dict[str, Any] = {}
        self._filters: list[tuple[HttpFilter, frozenset[str] | None]] = []

    # -- intent --------------------------------------------------------------------------

    def site(
        self,
        host: str,
        *upstreams: str | tuple[str, int],
        cert: Cert | tuple[str, str] | None = None,
        aliases: Sequence[str] = (),
        rate_limit: RateLimit | Literal[False] | None = None,
        upstream_tls: UpstreamTLS | None = None,
        client_ca: str | None = None,
        http2_upstream: bool = False,
        timeout: str | float | timedelta | None = None,
        prefix_rewrite: str | None = None,
        host_rewrite: str | None = None,
        dns_lookup_family: DnsFamily | None = None,
    ) -> EdgeProxy:
        """Serve ``host`` (and ``aliases``) from ``upstreams`` (``"ip:port"`` or names).

        ``cert`` is needed once HTTPS is on; ``client_ca`` requires client certificates
        (mTLS); ``rate_limit`` overrides the edge default for this site (``False``: none);
        ``dns_lookup_family`` applies to upstreams given by name (default ``V4_PREFERRED``).
        """
        where = f"site({host!r})"
        name = check_host(where, host)
        if name in self._hosts:
            raise fail(where, "this host is already a site")
        if not upstreams:
            raise fail(where, "give at least one upstream 'host:port'")
        parsed = tuple(parse_upstream(f"{where}.upstreams[{i}]", u)
                       for i, u in enumerate(upstreams))
        alias_names = tuple(check_host(f"{where}.aliases[{i}]", a) for i, a in enumerate(aliases))
        self._hosts.add(name)
        self.sites.append(Site(
            host=name, upstreams=parsed, cert=as_cert(f"{where}.cert", cert),
            aliases=alias_names, rate_limit=rate_limit, upstream_tls=upstream_tls,
            client_ca=os.path.abspath(client_ca) if client_ca else None,
            http2_upstream=http2_upstream,
            timeout=as_duration(f"{where}.timeout", timeout) if timeout is not None else None,
            prefix_rewrite=prefix_rewrite, host_rewrite=host_rewrite,
            dns_lookup_family=dns_lookup_family,
        ))
        return self

    def https(self, port: int = 443, *, address: str | None = None) -> EdgeProxy:
        """Terminate TLS on ``address:port``; each site gets its own SNI filter chain."""
        self._https = (address or self.defaults.listen_address, self._port("https", port))
        return self

    def http(self, port: int = 80, *, address: str | None = None) -> EdgeProxy:
        """Serve plain HTTP on ``address:port`` (the sites, or a redirect, see below)."""
        self._http = (address or self.defaults.listen_address, self._port("http", port))
        return self

    def redirect_http(self, port: int = 80, *, address: str | None = None) -> EdgeProxy:
        """Answer plain HTTP on ``port`` with a redirect to HTTPS (301 by default)."""
        self.http(port, address=address)
        self._redirect = True
        return self

    def rate_limit(self, requests: int, per: str | float | timedelta = "1s", *,
                   burst: int | None = None) -> EdgeProxy:
        """Default request limit: every site gets its own bucket of ``requests`` per ``per``."""
        self._rate_limit = self._limit("rate_limit", requests, per, burst)
        return self

    def admin(self, port: int = 9901, *, address: str = LOOPBACK) -> EdgeProxy:
        """The admin interface (loopback by default; a warning for anything else)."""
        if not is_loopback(address):
            log.warning("admin on %s:%s is reachable from the network; it is unauthenticated "
                        "and can shut envoy down", address, port)
        self._admin = (address, self._port("admin", port, allow_zero=True))
        return self

    def no_admin(self) -> EdgeProxy:
        """No admin interface at all."""
        self._admin = None
        return self

    def access_log(self, path: str | None = None, *, json: bool = True) -> EdgeProxy:
        """Log every request to stdout (or ``path``), as JSON lines by default."""
        fmt = SubstitutionFormatString.json_fields() if json else None
        self._access_log = AccessLog.file(path, fmt) if path else AccessLog.stdout(fmt)
        return self

    def http_filter(self, config: TypedConfig | Mapping[str, Any], *, name: str | None = None,
                    sites: Sequence[str] | None = None) -> EdgeProxy:
        """Add an HTTP filter (JWT, RBAC, OAuth2, CORS, or any ``@type`` dict) before the
        router, after the rate limit — on every site, or only on ``sites``.

        Over HTTPS each site has its own chain, so ``sites`` is exact; sites served together
        over plain HTTP share one chain, where a filter for any of them applies to all.
        """
        where = f"http_filter({name or type(config).__name__})"
        try:
            flt = (HttpFilter(name=config.extension_name(name), typed_config=config)
                   if isinstance(config, TypedConfig)
                   else HttpFilter(name=name or "", typed_config=dict(config)))
        except (ModelError, ValueError) as exc:
            raise fail(where, str(exc)) from None
        only = frozenset(check_host(f"{where}.sites[{i}]", h) for i, h in enumerate(sites)) \
            if sites is not None else None
        self._filters.append((flt, only))
        return self

    def runtime(self, **values: Any) -> EdgeProxy:
        """Static runtime values (a ``static_layer``)."""
        self._runtime.update(values)
        return self

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def _port(where: str, port: int, *, allow_zero: bool = True) -> int:
        if not isinstance(port, int) or not (0 if allow_zero else 1) <= port <= 65535:
            raise fail(f"{where}(port={port!r})", "port must be an integer in 0-65535")
        return port

    @staticmethod
    def _limit(where: str, requests: int, per: str | float | timedelta,
               burst: int | None) -> RateLimit:
        if not isinstance(requests, int) or requests < 1:
            raise fail(f"{where}(requests={requests!r})", "must be a positive integer "
                        "(a bucket of 0 tokens would refuse every request)")
        interval = as_duration(f"{where}(per={per!r})", per)
        if interval < timedelta(milliseconds=50):
            raise fail(f"{where}(per={per!r})", "envoy needs an interval of at least 50ms")
        if burst is not None and (not isinstance(burst, int) or burst < 1):
            raise fail(f"{where}(burst={burst!r})", "must be a positive integer")
        return RateLimit(requests=requests, per=interval, burst=burst)

    # -- compile -------------------------------------------------------------------------

    def build(self) -> Bootstrap:
        """Compile the intent into a :class:`Bootstrap` (raises :class:`ConfigError`)."""
        self._check_intent()
        try:
            with gc_paused():
                return self._compile()
        except ModelError as exc:
            raise ConfigError(f"edge {self.name!r} compiles to an invalid config:\n{exc}") from None

    def _compile(self) -> Bootstrap:
        return Bootstrap(
            admin=self._admin_model(),
            static_resources=StaticResources(
                listeners=self._listeners(), clusters=[self._cluster(s) for s in self.sites]
            ),
            layered_runtime=self._layered_runtime(),
            overload_manager=self._overload_manager(),
            **self._stats_options(),
        )

    def _stats_options(self) -> dict[str, Any]:
        """The edge's stats: what an operator reads, cluster traffic stats created on first
        use (see ``envoykit._edge_stats``); ``EdgeDefaults(stats="all")``: Envoy's default."""
        if self.defaults.stats == "all":
            return {}
        return {"stats_config": StatsConfig(stats_matcher=edge_stats_matcher()),
                "deferred_stat_options": {"enable_deferred_creation_stats": True}}

    def to_dict(self) -> dict[str, Any]:
        """The compiled bootstrap as Envoy JSON (so a builder renders like a model)."""
        return self.build().to_dict()

    def _check_intent(self) -> None:
        issues: list[Issue] = []
        if not self.sites:
            issues.append(Issue("sites", "no site: call .site(host, upstream)"))
        if self._https is None and self._http is None:
            issues.append(Issue("listeners", "no listener: call .https(...) and/or .http(...)"))
        if self._https is not None:
            issues += [Issue(f"site({s.host!r}).cert", "HTTPS is on: a certificate is needed")
                       for s in self.sites if s.cert is None]
        if self._redirect and self._https is None:
            issues.append(Issue("redirect_http", "redirect to HTTPS needs .https(...)"))
        if self._https and self._http and self._https == self._http and self._https[1] != 0:
            issues.append(Issue("listeners", f"HTTP and HTTPS both on {self._https}"))
        counts = Counter(d for s in self.sites for d in s.domains)
        issues += [Issue("sites", f"domain {d!r} is claimed by two sites")
                   for d in sorted(d for d, n in counts.items() if n > 1)]
        if issues:
            raise SemanticError(issues)

    def _admin_model(self) -> Admin | None:
        if self._admin is None:
            return None
        return Admin(address=Address.tcp(*self._admin))

    def _layered_runtime(self) -> LayeredRuntime:
        layers = [RuntimeLayer(name="admin", admin_layer={})]
        if self._runtime:
            layers.insert(0, RuntimeLayer(name="static", static_layer=dict(self._runtime)))
        return LayeredRuntime(layers=layers)

    def _overload_manager(self) -> OverloadManager:
        monitor = ResourceMonitor(
            name=DownstreamConnectionsConfig.filter_name,
            typed_config=DownstreamConnectionsConfig(
                max_active_downstream_connections=self.defaults.max_connections
            ),
        )
        return OverloadManager(resource_monitors=[monitor])

    def _listeners(self) -> list[Listener]:
        listeners = []
        if self._https is not None:
            listeners.append(self._https_listener(*self._https))
        if self._http is not None:
            listeners.append(self._http_listener(*self._http))
        return listeners

    def _https_listener(self, host: str, port: int) -> Listener:
        return Listener(
            name="https",
            address=Address.tcp(host, port),
            listener_filters=[ListenerFilter.tls_inspector()],
            filter_chains=[self._site_chain(site) for site in self.sites],
            per_connection_buffer_limit_bytes=self.defaults.buffer_limit_bytes,
        )

    def _site_chain(self, site: Site) -> FilterChain:
        prefix = f"https_{site.slug}"
        limit = self._limit_for(site)
        filters = [HttpFilter.of(self._rate_limit_filter(prefix, limit))] if limit else []
        hcm = self._hcm(prefix, [self._vhost(site, https=True)],
                        filters + self._extra_filters([site]))
        return FilterChain(
            name=site.host,
            filter_chain_match=FilterChainMatch(server_names=site.domains),
            transport_socket=tls_transport_socket(self._downstream_tls(site)),
            filters=[Filter.of(hcm)],
        )

    def _downstream_tls(self, site: Site) -> DownstreamTlsContext:
        assert site.cert is not None  # checked in _check_intent
        d = self.defaults
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

    def _http_listener(self, host: str, port: int) -> Listener:
        if self._redirect:
            limit = self._rate_limit
            filters = [HttpFilter.of(self._rate_limit_filter("http", limit))] if limit else []
            hcm = self._hcm("http", [self._redirect_vhost()], filters)
        else:
            hcm = self._plain_http_hcm()
        return Listener(
            name="http",
            address=Address.tcp(host, port),
            filter_chains=[FilterChain(filters=[Filter.of(hcm)])],
            per_connection_buffer_limit_bytes=self.defaults.buffer_limit_bytes,
        )

    def _redirect_vhost(self) -> VirtualHost:
        assert self._https is not None
        https_port = self._https[1]
        redirect = RedirectAction(
            https_redirect=True,
            port_redirect=https_port if https_port not in (0, 443) else None,
            response_code=self.defaults.redirect_code,
        )
        return VirtualHost(
            name="redirect_to_https",
            domains=[d for s in self.sites for d in s.domains],
            routes=[Route(match=RouteMatch(prefix="/"), redirect=redirect)],
        )

    def _plain_http_hcm(self) -> HttpConnectionManager:
        """Sites over plain HTTP share one connection manager, so the edge default is one
        bucket for the listener; a site with its own :class:`RateLimit` gets its own bucket
        (a per-virtual-host config) and ``rate_limit=False`` exempts a site."""
        default = self._rate_limit
        own = {s.slug: self._own_limit(s, default) for s in self.sites}
        vhosts = [self._vhost(s, own[s.slug]) for s in self.sites]
        if default is not None:
            filters = [HttpFilter.of(self._rate_limit_filter("http", default))]
        elif any(own.values()):
            filters = [HttpFilter.of(LocalRateLimit(stat_prefix="http"))]  # per-vhost only
        else:
            filters = []
        return self._hcm("http", vhosts, filters + self._extra_filters(self.sites))

    def _own_limit(self, site: Site, default: RateLimit | None) -> LocalRateLimit | None:
        """The per-virtual-host rate limit config of a site over plain HTTP, if it needs one."""
        prefix = f"http_{site.slug}"
        if isinstance(site.rate_limit, RateLimit):
            return self._rate_limit_filter(prefix, site.rate_limit)
        if site.rate_limit is False and default is not None:  # exempt: enabled for 0 %
            return LocalRateLimit(stat_prefix=prefix, token_bucket=RateLimit(1).bucket(),
                                  filter_enabled=RuntimeFractionalPercent.percent(0))
        return None

    def _vhost(self, site: Site, limit: LocalRateLimit | None = None, *,
               https: bool = False) -> VirtualHost:
        action = {
            "cluster": site.slug,
            "timeout": site.timeout or self.defaults.route_timeout,
            "prefix_rewrite": site.prefix_rewrite,
            "host_rewrite_literal": site.host_rewrite,
        }
        hsts = self.defaults.hsts if https else None  # browsers ignore it over plain HTTP
        vhost: VirtualHost = VirtualHost.from_dict({  # one validation pass per site (speed)
            "name": site.slug,
            "domains": site.domains,
            "routes": [{"match": {"prefix": "/"}, "route": action}],
            "response_headers_to_add": [_header("strict-transport-security", hsts)]
            if hsts else None,
            "typed_per_filter_config": {LocalRateLimit.filter_name: limit} if limit else None,
        })
        return vhost

    def _extra_filters(self, sites: Sequence[Site]) -> list[HttpFilter]:
        """The user's HTTP filters that apply to any of ``sites`` (in the order added)."""
        hosts = {s.host for s in sites}
        return [flt for flt, only in self._filters if only is None or hosts & only]

    def _limit_for(self, site: Site) -> RateLimit | None:
        if site.rate_limit is False:
            return None
        return site.rate_limit or self._rate_limit

    def _hcm(self, stat_prefix: str, vhosts: list[VirtualHost],
             filters: list[HttpFilter]) -> HttpConnectionManager:
        d = self.defaults
        return HttpConnectionManager(
            stat_prefix=stat_prefix,
            codec_type="AUTO",
            route_config=RouteConfiguration(name=stat_prefix, virtual_hosts=vhosts),
            http_filters=[*filters, HttpFilter.of(
                Router(suppress_envoy_headers=d.suppress_envoy_headers or None))],
            access_log=[self._access_log] if self._access_log else None,
            generate_request_id=self._request_id(),
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

    def _request_id(self) -> bool:
        """``x-request-id`` generation (a random UUID per request) only where something
        reads it: an access log, or ``EdgeDefaults(request_id=True)``."""
        wanted = self.defaults.request_id
        return self._access_log is not None if wanted is None else wanted

    def _rate_limit_filter(self, stat_prefix: str, limit: RateLimit) -> LocalRateLimit:
        d = self.defaults
        every = d.ratelimit_headers and d.ratelimit_headers_on_every_response
        return LocalRateLimit(
            stat_prefix=stat_prefix,
            token_bucket=limit.bucket(),
            filter_enabled=_percent100(),
            filter_enforced=_percent100(),
            response_headers_to_add=[_header("x-local-rate-limit", "true"),
                                     *(_limited_headers(limit) if d.ratelimit_headers
                                       and not every else [])],
            enable_x_ratelimit_headers="DRAFT_VERSION_03" if every else None,
        )

    def _cluster(self, site: Site) -> Cluster:
        all_ips = all(is_ip(h) for h, _ in site.upstreams)
        hosts = [{"endpoint": {"address": {"socket_address": {"address": h, "port_value": p}}}}
                 for h, p in site.upstreams]
        cluster: Cluster = Cluster.from_dict({  # one validation pass per site (speed)
            "name": site.slug,
            "type": "STATIC" if all_ips else "STRICT_DNS",
            "connect_timeout": self.defaults.connect_timeout,
            "lb_policy": "ROUND_ROBIN",
            "load_assignment": {"cluster_name": site.slug, "endpoints": [{"lb_endpoints": hosts}]},
            "per_connection_buffer_limit_bytes": self.defaults.buffer_limit_bytes,
            "transport_socket": (tls_transport_socket(site.upstream_tls.context())
                                 if site.upstream_tls else None),
            "typed_extension_protocol_options": (Cluster.http2_options()
                                                 if site.http2_upstream else None),
            "dns_lookup_family": None if all_ips else (site.dns_lookup_family or "V4_PREFERRED"),
        })
        return cluster
