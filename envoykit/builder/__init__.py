"""The intent-level builder: say what the edge should do, get a secure Envoy bootstrap.

    edge = (
        EdgeProxy()
        .service("api", "127.0.0.20:8080", "127.0.0.21:8080", health=Health.http("/healthz"))
        .service("web", "127.0.0.22:8080")
        .site("shop.example.com", cert=("shop.pem", "shop-key.pem"), routes=[
            HttpRoute("/api/", to="api", retries=Retry(attempts=1)),
            HttpRoute("/", to="web"),
        ])
        .site("b.example.com", "127.0.0.23:8080", cert=("b.pem", "b-key.pem"))  # shortcut
        .https(port=8443)
        .redirect_http(port=8080)
        .rate_limit(requests=100, per="1s")
    )
    bootstrap = edge.build()
    edge.resolve("shop.example.com", "/api/orders")   # which route and service, no Envoy

:class:`EdgeProxy` records frozen intent values (:class:`Site`, :class:`Service`,
:class:`HttpRoute`, ...); ``build()`` checks them and compiles them (``_compile``). Every default
is the one a careful operator would write (see ``docs/defaults.md``) and every one can be
overridden through :class:`EdgeDefaults` or an argument.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Literal

import pydantic

from envoykit._net import is_loopback
from envoykit.builder._checks import (
    LoopPlan,
    edge_issues,
    loop_plan,
    route_issues,
    table_is_clean,
)
from envoykit.builder._compile import compile_edge
from envoykit.builder._intent import (
    LOOPBACK,
    Cert,
    DnsFamily,
    Edge,
    EdgeDefaults,
    Passthrough,
    RateLimit,
    Site,
    TcpService,
    UpstreamTLS,
    as_cert,
    as_duration,
    check_host,
    fail,
    parse_upstream,
    slug,
)
from envoykit.builder._render import Unspliceable, check_edge, render_edge
from envoykit.builder._resolve import Resolution, resolve
from envoykit.builder._routes import (
    Header,
    HttpRoute,
    Redirect,
    Respond,
    Retry,
    forward_route,
)
from envoykit.builder._services import (
    Backend,
    Health,
    LbPolicy,
    Limits,
    Outlier,
    Service,
    Sticky,
)
from envoykit.config import (
    AccessLog,
    Bootstrap,
    HttpFilter,
    ModelError,
    SubstitutionFormatString,
    TypedConfig,
    gc_paused,
)
from envoykit.errors import ConfigError, Issue, SemanticError
from envoykit.validation import check

__all__ = [
    "Backend",
    "Cert",
    "EdgeDefaults",
    "EdgeProxy",
    "Header",
    "Health",
    "HttpRoute",
    "Limits",
    "Outlier",
    "RateLimit",
    "Redirect",
    "Resolution",
    "Respond",
    "Retry",
    "Service",
    "Site",
    "Sticky",
    "UpstreamTLS",
]

log = logging.getLogger("envoykit.builder")

_Judged = tuple[tuple[HttpRoute, ...], bool, LoopPlan, timedelta]
"""A route table given to ``site()``, whether it is clean and its loop plan (see ``_checks``)
under the default route timeout that follows."""


class EdgeProxy:
    """Build an edge proxy: services, sites by host name with ordered routes, HTTPS by SNI,
    redirect, rate limits, TCP and TLS passthrough, admin."""

    def __init__(self, name: str = "edge", *, defaults: EdgeDefaults | None = None) -> None:
        self.name = name
        self.defaults = defaults or EdgeDefaults()
        self.sites: list[Site] = []
        self._hosts: set[str] = set()
        self.services: list[Service] = []
        self._https: tuple[str, int] | None = None
        self._http: tuple[str, int] | None = None
        self._redirect = False
        self._rate_limit: RateLimit | None = None
        self._admin: tuple[str, int] | None = (LOOPBACK, 9901)
        self._access_log: AccessLog | None = None
        self._runtime: dict[str, Any] = {}
        self._filters: list[tuple[HttpFilter, frozenset[str] | None]] = []
        self._tcp: list[TcpService] = []
        self._passthrough: list[Passthrough] = []
        # the route tables given to site(), each judged once: by value (an equal table is the
        # same table, made into one tuple shared by its sites), or by the identity of its
        # routes when one holds an unhashable value (the entry keeps them alive: ids stay
        # unique); each with whether it is clean and its loop plan (see _checks)
        self._tables: dict[tuple[HttpRoute, ...], _Judged] = {}
        self._unhashable: dict[tuple[int, ...], _Judged] = {}

    # -- services and sites ----------------------------------------------------------------

    def service(
        self,
        name: str,
        *endpoints: str | tuple[str, int] | Backend,
        lb: LbPolicy | None = None,
        sticky: Sticky | None = None,
        health: Health | None = None,
        outlier: Outlier | None = None,
        limits: Limits | None = None,
        http2: bool = False,
        tls: UpstreamTLS | None = None,
        connect_timeout: str | float | timedelta | None = None,
        dns_lookup_family: DnsFamily | None = None,
    ) -> EdgeProxy:
        """A named group of upstream endpoints (``"ip:port"``, ``"name:port"`` or
        :class:`Backend` with a weight) that routes of any site can send traffic to.

        ``lb``: ``round_robin`` (default), ``least_request``, ``random``, or ``ring_hash`` /
        ``maglev`` (the default with ``sticky``); ``health``: an active check; ``outlier``:
        eject endpoints that fail; ``limits``: circuit breakers; ``http2``: speak HTTP/2
        upstream; ``tls``: TLS to the endpoints (verified by default).
        """
        self.services.append(Service(
            name=name, endpoints=tuple(endpoints),  # type: ignore[arg-type]  # normalised
            lb=lb or ("ring_hash" if sticky else "round_robin"), sticky=sticky, health=health,
            outlier=outlier, limits=limits, http2=http2, tls=tls,
            connect_timeout=connect_timeout,  # type: ignore[arg-type]  # normalised
            dns_lookup_family=dns_lookup_family,
        ))
        return self

    def site(
        self,
        host: str,
        *upstreams: str | tuple[str, int],
        routes: Sequence[HttpRoute] = (),
        cert: Cert | tuple[str, str] | None = None,
        aliases: Sequence[str] = (),
        rate_limit: RateLimit | Literal[False] | None = None,
        client_ca: str | None = None,
        upstream_tls: UpstreamTLS | None = None,
        http2_upstream: bool = False,
        timeout: str | float | timedelta | None = None,
        prefix_rewrite: str | None = None,
        host_rewrite: str | None = None,
        dns_lookup_family: DnsFamily | None = None,
    ) -> EdgeProxy:
        """Serve ``host`` (and ``aliases``) by its ordered ``routes`` (first match wins).

        The shortcut ``site(host, "ip:port", ...)`` makes a service named after the site
        (``upstream_tls``, ``http2_upstream``, ``dns_lookup_family`` are its options) and one
        route ``/`` to it (``timeout``, ``prefix_rewrite``, ``host_rewrite`` are the route's).
        ``cert`` is needed once HTTPS is on; ``client_ca`` requires client certificates
        (mTLS); ``rate_limit`` overrides the edge default for this site (``False``: none).
        """
        where = f"site({host!r})"
        name = check_host(where, host)
        if name in self._hosts:
            raise fail(where, "this host is already a site")
        if upstreams and routes:
            raise fail(where, "give upstreams (one service for the whole site) or routes=, "
                              "not both")
        if not upstreams and not routes:
            raise fail(where, "give at least one upstream 'host:port', "
                              "or routes=[HttpRoute(...), ...]")
        if rate_limit is not None and rate_limit is not False:
            if not isinstance(rate_limit, RateLimit):
                raise fail(f"{where}.rate_limit", f"expected RateLimit(...) or False, "
                                                  f"got {rate_limit!r}")
            rate_limit = rate_limit.check(f"{where}.rate_limit")
        parsed = tuple([parse_upstream(f"{where}.upstreams[{i}]", u)
                        for i, u in enumerate(upstreams)]) if upstreams else ()
        if routes and (timeout is not None or prefix_rewrite is not None
                       or host_rewrite is not None):
            raise fail(where, "timeout=, prefix_rewrite= and host_rewrite= belong to each "
                              "HttpRoute(...) when routes= is given")
        judged = self._judged(where, routes) if routes else None
        site = Site(
            host=name,
            routes=judged[0] if judged else self._own_route(where, name, timeout,
                                                            prefix_rewrite, host_rewrite),
            upstreams=parsed, cert=as_cert(f"{where}.cert", cert) if cert is not None else None,
            aliases=tuple([check_host(f"{where}.aliases[{i}]", a) for i, a in enumerate(aliases)])
            if aliases else (),
            rate_limit=rate_limit, client_ca=os.path.abspath(client_ca) if client_ca else None,
        )
        if judged and not (judged[1] and not judged[2]):  # (a clean table without a
            # redirect that could loop, or the shortcut's one route: nothing to find)
            issues = route_issues(where, site.routes, site.domains, self.defaults.route_timeout,
                                  clean=judged[1], plan=judged[2])
            if issues:
                raise SemanticError(issues)
        if parsed:
            self.service(site.slug, *parsed, tls=upstream_tls, http2=http2_upstream,
                         dns_lookup_family=dns_lookup_family)
        self.sites.append(site)
        self._hosts.add(name)
        return self

    @staticmethod
    def _own_route(where: str, host: str, timeout: str | float | timedelta | None,
                   prefix_rewrite: str | None, host_rewrite: str | None
                   ) -> tuple[HttpRoute, ...]:
        """The one route of the shortcut ``site(host, "ip:port")`` (made unshared: no other
        site's route is equal)."""
        return (forward_route(slug(host), rewrite_prefix=prefix_rewrite,
                              host_rewrite=host_rewrite,
                              timeout=as_duration(f"{where}.timeout", timeout)
                              if timeout is not None else None),)

    def _judged(self, where: str, routes: Sequence[HttpRoute]) -> _Judged:
        """The table of ``routes`` (the one tuple of all equal tables given so far), whether
        it is clean and its loop plan; its values' types are checked at its first sight."""
        table = tuple(routes)
        by_id: tuple[int, ...] | None = None
        try:
            known = self._tables.get(table)
        except TypeError:  # a route holding an unhashable value (a typed config)
            by_id = tuple(map(id, table))
            known = self._unhashable.get(by_id)
        timeout = self.defaults.route_timeout
        if known is not None:
            if known[3] == timeout:
                return known
            table = known[0]  # (the defaults were replaced since: judged again)
        else:
            for i, route in enumerate(table):
                if not isinstance(route, HttpRoute):
                    raise fail(f"{where}.routes[{i}]", f"expected HttpRoute(...), got {route!r}")
                if isinstance(route.rate_limit, RateLimit):
                    route.rate_limit.check(f"{where}.routes[{i}].rate_limit")
        judged = (table, table_is_clean(table, timeout), loop_plan(table), timeout)
        if by_id is None:
            self._tables[table] = judged
        else:
            self._unhashable[by_id] = judged
        return judged

    # -- listeners ---------------------------------------------------------------------------

    def https(self, port: int = 443, *, address: str | None = None) -> EdgeProxy:
        """Terminate TLS on ``address:port``; each site gets its own SNI filter chain."""
        self._https = (address or self.defaults.listen_address, self._port("https", port))
        return self

    def http(self, port: int = 80, *, address: str | None = None) -> EdgeProxy:
        """Serve plain HTTP on ``address:port`` (the sites, or a redirect, see below)."""
        self._http = (address or self.defaults.listen_address, self._port("http", port))
        return self

    def redirect_http(self, port: int = 80, *, address: str | None = None) -> EdgeProxy:
        """Answer plain HTTP on ``port`` with a redirect to HTTPS (301 by default).

        With ``https(port=0)`` the redirect names the listener ``https`` instead of a port
        (route metadata); the :class:`~envoykit.process.Supervisor` fills in the port envoy
        bound, and keeps it through hot restarts (docs/builder.md)."""
        self.http(port, address=address)
        self._redirect = True
        return self

    def tcp(self, port: int, service: str, *, address: str | None = None,
            name: str | None = None, idle_timeout: str | float | timedelta | None = None
            ) -> EdgeProxy:
        """A TCP listener on ``address:port`` whose connections go to ``service``."""
        where = f"tcp(port={port!r})"
        self._tcp.append(TcpService(
            name=name or f"tcp_{len(self._tcp)}", address=address or self.defaults.listen_address,
            port=self._port("tcp", port), service=service,
            idle_timeout=as_duration(f"{where}.idle_timeout", idle_timeout)
            if idle_timeout is not None else None))
        return self

    def passthrough(self, host: str, service: str) -> EdgeProxy:
        """TLS for ``host`` is not terminated here: the connection (routed by its SNI name)
        goes untouched to ``service``, which presents its own certificate."""
        self._passthrough.append(Passthrough(check_host(f"passthrough({host!r})", host),
                                             service))
        return self

    # -- edge-wide settings ------------------------------------------------------------------

    def rate_limit(self, requests: int, per: str | float | timedelta = "1s", *,
                   burst: int | None = None) -> EdgeProxy:
        """Default request limit: every site gets its own bucket of ``requests`` per ``per``."""
        self._rate_limit = RateLimit(requests, per, burst).check(  # type: ignore[arg-type]
            "rate_limit")
        return self

    def admin(self, port: int = 9901, *, address: str = LOOPBACK) -> EdgeProxy:
        """The admin interface (loopback by default; a warning for anything else)."""
        if not is_loopback(address):
            log.warning("admin on %s:%s is reachable from the network; it is unauthenticated "
                        "and can shut envoy down", address, port)
        self._admin = (address, self._port("admin", port))
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
        A route can configure or narrow it with ``HttpRoute(filters={name: per_route_config})``.
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

    @staticmethod
    def _port(where: str, port: int) -> int:
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
            raise fail(f"{where}(port={port!r})", "port must be an integer in 0-65535")
        return port

    # -- compile -----------------------------------------------------------------------------

    def intent(self) -> Edge:
        """The recorded intent as one frozen value (what :meth:`build` compiles)."""
        return Edge(
            name=self.name, defaults=self.defaults, sites=tuple(self.sites),
            services=tuple(self.services), https=self._https, http=self._http,
            redirect=self._redirect, rate_limit=self._rate_limit, admin=self._admin,
            access_log=self._access_log, runtime=tuple(self._runtime.items()),
            filters=tuple(self._filters), tcp=tuple(self._tcp),
            passthrough=tuple(self._passthrough),
        )

    def build(self) -> Bootstrap:
        """Compile the intent into a :class:`Bootstrap` (raises :class:`ConfigError`)."""
        edge = self.intent()
        issues = edge_issues(edge)
        if issues:
            raise SemanticError(issues)
        try:
            with gc_paused(settle=True):
                return compile_edge(edge)
        except ModelError as exc:
            raise ConfigError(f"edge {self.name!r} compiles to an invalid config:\n{exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """The compiled bootstrap as Envoy JSON (so a builder renders like a model)."""
        result: dict[str, Any] = json.loads(self.render_json(None))
        return result

    def check(self) -> list[Issue]:
        """What is wrong with this edge: the builder's own checks (as a list, where
        :meth:`build` raises them) or else ``check(self.build())``'s issues, found without
        compiling every route (``envoykit.check(edge)`` calls this)."""
        edge = self.intent()
        issues = edge_issues(edge)
        if issues:
            return issues
        try:
            with gc_paused():
                return check_edge(edge)
        except (ModelError, pydantic.ValidationError):
            return check(self.build())  # raises the model path's error

    def render_json(self, indent: int | None = 2) -> str:
        """The compiled bootstrap's Envoy JSON (what ``to_json(self)`` writes, without its
        last newline), byte for byte ``to_json(self.build())``: rendered without building
        the typed model of every site (``envoykit.builder._render``)."""
        edge = self.intent()
        issues = edge_issues(edge)
        if issues:
            raise SemanticError(issues)
        try:
            with gc_paused():
                return render_edge(edge, indent)
        except (ModelError, pydantic.ValidationError, Unspliceable) as exc:
            log.debug("edge %r: rendered by the model path (%s)", self.name, exc)
        return self.build().model_dump_json(indent=indent, exclude_none=True, by_alias=True)

    def resolve(self, host: str, path: str, method: str = "GET",
                headers: Mapping[str, str] | None = None) -> Resolution:
        """What Envoy will do with this request, answered in Python (no Envoy): the site,
        the route (its index), and the service, split, redirect, direct answer or 404."""
        return resolve(self.intent(), host, path, method, headers or {})
