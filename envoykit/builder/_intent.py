"""The intent of an edge, as plain frozen values: certificates, limits, sites, defaults.

:class:`envoykit.builder.EdgeProxy` records these; ``_compile`` turns them into Envoy config.
This module holds the value types and the checks of the arguments a user gives (each error
names the argument). Services are in ``_services``, routes in ``_routes``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from envoykit._net import is_ip
from envoykit.config import (
    CertificateValidationContext,
    CommonTlsContext,
    DataSource,
    StringMatcher,
    SubjectAltNameMatcher,
    TlsCertificate,
    TlsParameters,
    TokenBucket,
    UpstreamTlsContext,
    parse_duration,
)
from envoykit.errors import ConfigError

if TYPE_CHECKING:
    from envoykit.builder._routes import HttpRoute
    from envoykit.builder._services import Service
    from envoykit.config import AccessLog, HttpFilter

HSTS = "max-age=63072000; includeSubDomains"
LOOPBACK = "127.0.0.1"
DnsFamily = Literal["AUTO", "V4_ONLY", "V6_ONLY", "V4_PREFERRED", "ALL"]
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOST_RE = re.compile(rf"^(\*\.)?({_LABEL}\.)*{_LABEL}$")


@dataclass(frozen=True)
class Cert:
    """A certificate chain and private key: file paths, or PEM text (``inline=True``)."""

    cert: str
    key: str
    inline: bool = False

    def to_model(self) -> TlsCertificate:
        if self.inline:
            return TlsCertificate(certificate_chain=DataSource(inline_string=self.cert),
                                  private_key=DataSource(inline_string=self.key))
        return TlsCertificate.from_files(os.path.abspath(self.cert), os.path.abspath(self.key))


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: ``requests`` per ``per`` (burst up to ``burst``, default ``requests``)."""

    requests: int
    per: timedelta = timedelta(seconds=1)
    burst: int | None = None

    def check(self, where: str) -> RateLimit:
        """This limit, or an error naming ``where`` (e.g. ``site('a.example.com').rate_limit``)."""
        for name in ("requests", "burst"):
            value = getattr(self, name)
            if (value is not None or name == "requests") and (
                    not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise fail(f"{where}({name}={value!r})", "must be a positive integer (a bucket "
                                                         "of 0 tokens would refuse every request)")
        per = as_duration(f"{where}(per={self.per!r})", self.per)
        if per < timedelta(milliseconds=50):
            raise fail(f"{where}(per={self.per!r})", "envoy needs an interval of at least 50ms")
        return RateLimit(self.requests, per, self.burst)

    def bucket(self) -> TokenBucket:
        return TokenBucket(max_tokens=self.burst if self.burst is not None else self.requests,
                           tokens_per_fill=self.requests, fill_interval=self.per)


@dataclass(frozen=True)
class UpstreamTLS:
    """TLS towards a site's upstream. Verifies the peer unless ``verify=False``:
    the CA in ``ca`` (a PEM file), the name in ``san`` (default: ``sni``) and SNI."""

    sni: str
    ca: str | None = None
    san: str | None = None
    verify: bool = True
    client_cert: Cert | None = None

    def context(self) -> UpstreamTlsContext:
        common = CommonTlsContext(
            tls_params=TlsParameters(tls_minimum_protocol_version="TLSv1_2"),
            tls_certificates=[self.client_cert.to_model()] if self.client_cert else None,
            validation_context=self._validation(),
        )
        return UpstreamTlsContext(sni=self.sni, common_tls_context=common)

    def _validation(self) -> CertificateValidationContext | None:
        if not self.verify:
            return None
        if self.ca is None:
            raise ConfigError(
                f"upstream TLS for {self.sni!r}: verify=True needs ca= (a CA bundle file); "
                "pass verify=False to skip verification (not recommended)"
            )
        san = SubjectAltNameMatcher(san_type="DNS",
                                    matcher=StringMatcher(exact=self.san or self.sni))
        ca = DataSource(filename=os.path.abspath(self.ca))
        return CertificateValidationContext(trusted_ca=ca, match_typed_subject_alt_names=[san])


@dataclass(frozen=True)
class Site:
    """One public host name (and its aliases), served by its ordered routes.

    ``upstreams`` are the endpoints of the one-service shortcut ``site(host, "ip:port")``
    (empty when the site was given ``routes=``).
    """

    host: str
    routes: tuple[HttpRoute, ...]
    upstreams: tuple[tuple[str, int], ...] = ()
    cert: Cert | None = None
    aliases: tuple[str, ...] = ()
    rate_limit: RateLimit | Literal[False] | None = None
    client_ca: str | None = None

    slug: str = dataclasses.field(init=False, repr=False, compare=False)
    """A stat- and name-safe form of the host: ``a.example.com`` → ``a_example_com``."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "slug", slug(self.host))

    @property
    def domains(self) -> list[str]:
        return [self.host, *self.aliases]

    @property
    def where(self) -> str:
        return f"site({self.host!r})"


@dataclass(frozen=True)
class TcpService:
    """A TCP listener whose connections go to a service (``tcp_proxy``)."""

    name: str
    address: str
    port: int
    service: str
    idle_timeout: timedelta | None = None


@dataclass(frozen=True)
class Passthrough:
    """TLS for ``host`` passed through untouched (routed by SNI) to a service."""

    host: str
    service: str


@dataclass(frozen=True)
class Edge:
    """Everything an :class:`EdgeProxy` recorded: what ``_compile`` turns into a bootstrap."""

    name: str
    defaults: EdgeDefaults
    sites: tuple[Site, ...]
    services: tuple[Service, ...]
    https: tuple[str, int] | None
    http: tuple[str, int] | None
    redirect: bool
    rate_limit: RateLimit | None
    admin: tuple[str, int] | None
    access_log: AccessLog | None
    runtime: tuple[tuple[str, Any], ...]
    filters: tuple[tuple[HttpFilter, frozenset[str] | None], ...]
    tcp: tuple[TcpService, ...] = ()
    passthrough: tuple[Passthrough, ...] = ()

    def service(self, name: str) -> Service | None:
        return self._service_map.get(name)

    @functools.cached_property
    def _service_map(self) -> dict[str, Service]:
        return {s.name: s for s in self.services}

    @functools.cached_property
    def tables(self) -> dict[int, tuple[HttpRoute, ...]]:
        """The distinct route tables of the sites (many sites share one), by identity."""
        return {id(s.routes): s.routes for s in self.sites}


@dataclass(frozen=True)
class EdgeDefaults:
    """The secure production defaults; replace any with ``dataclasses.replace``."""

    listen_address: str = LOOPBACK
    connect_timeout: timedelta = timedelta(seconds=5)
    request_headers_timeout: timedelta = timedelta(seconds=10)
    stream_idle_timeout: timedelta = timedelta(seconds=300)
    idle_timeout: timedelta = timedelta(seconds=3600)
    route_timeout: timedelta = timedelta(seconds=15)
    buffer_limit_bytes: int = 32768
    max_concurrent_streams: int = 100
    initial_stream_window_size: int = 65536
    initial_connection_window_size: int = 1048576
    max_connections: int = 50000
    tls_profile: Literal["intermediate", "modern"] = "intermediate"
    alpn: tuple[str, ...] = ("h2", "http/1.1")
    hsts: str | None = HSTS
    redirect_code: Literal["MOVED_PERMANENTLY", "PERMANENT_REDIRECT"] = "MOVED_PERMANENTLY"
    path_with_escaped_slashes_action: Literal[
        "KEEP_UNCHANGED", "REJECT_REQUEST", "UNESCAPE_AND_REDIRECT", "UNESCAPE_AND_FORWARD"
    ] = "UNESCAPE_AND_REDIRECT"
    headers_with_underscores_action: Literal["ALLOW", "REJECT_REQUEST", "DROP_HEADER"] = (
        "REJECT_REQUEST"
    )
    use_remote_address: bool = True
    strip_any_host_port: bool = True
    suppress_envoy_headers: bool = True
    ratelimit_headers: bool = True
    ratelimit_headers_on_every_response: bool = False
    request_id: bool | None = None
    stats: Literal["edge", "all"] = "edge"
    dynamic_stats: Literal["auto"] | bool = "auto"

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "request_headers_timeout", "stream_idle_timeout",
                     "idle_timeout", "route_timeout"):
            object.__setattr__(self, name, as_duration(f"EdgeDefaults.{name}", getattr(self, name)))
        for name in ("buffer_limit_bytes", "max_concurrent_streams", "max_connections",
                     "initial_stream_window_size", "initial_connection_window_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise fail(f"EdgeDefaults.{name}", f"must be a positive integer, got {value!r}")
        check_choice("EdgeDefaults.tls_profile", self.tls_profile, ("intermediate", "modern"))
        check_choice("EdgeDefaults.stats", self.stats, ("edge", "all"))
        if self.dynamic_stats not in ("auto", True, False):
            raise fail("EdgeDefaults.dynamic_stats",
                       f"must be 'auto', True or False, got {self.dynamic_stats!r}")
        check_choice("EdgeDefaults.redirect_code", self.redirect_code,
                      ("MOVED_PERMANENTLY", "PERMANENT_REDIRECT"))
        if isinstance(self.alpn, str) or not all(isinstance(p, str) for p in self.alpn):
            raise fail("EdgeDefaults.alpn", f"must be a tuple of protocol names such as "
                        f"('h2', 'http/1.1'), got {self.alpn!r}")
        if not is_ip(str(self.listen_address)):
            raise fail("EdgeDefaults.listen_address",
                        f"must be an IP address (envoy binds IPs), got {self.listen_address!r}")


_NOT_SLUG = re.compile(r"[^a-z0-9]+")


@functools.lru_cache(maxsize=65536)
def slug(host: str) -> str:
    return _NOT_SLUG.sub("_", host.lower()).strip("_")


def check_choice(where: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise fail(where, f"must be one of {', '.join(choices)}; got {value!r}")


def fail(where: str, message: str) -> ConfigError:
    return ConfigError(f"{where}: {message}")


def parse_upstream(where: str, value: str | tuple[str, int]) -> tuple[str, int]:
    if isinstance(value, tuple):
        if len(value) != 2 or not isinstance(value[0], str) or not isinstance(value[1], int) \
                or isinstance(value[1], bool):
            raise fail(where, f"expected ('host', port) with an integer port, got {value!r}")
        host, port = value
    elif not isinstance(value, str):
        raise fail(where, f"expected 'host:port' or ('host', port), got {value!r}")
    else:
        host, sep, port_text = value.rpartition(":")
        if not sep or not port_text.isdigit():
            raise fail(where, f"expected 'host:port', got {value!r}")
        host, port = host.strip("[]"), int(port_text)
    if not 0 < port < 65536:
        raise fail(where, f"port {port} is out of range 1-65535")
    if not host:
        raise fail(where, f"empty host in {value!r}")
    return host, port


def check_host(where: str, host: str) -> str:
    if not isinstance(host, str):
        raise fail(where, f"a host name must be a string, got {host!r}")
    name = host.strip().lower()
    if not _HOST_RE.match(name):
        raise fail(where, f"{host!r} is not a valid host name")
    return name


def as_cert(where: str, cert: Cert | tuple[str, str] | None) -> Cert | None:
    """A :class:`Cert` whose file paths are absolute (envoy may run from another cwd)."""
    if cert is None or (isinstance(cert, Cert) and cert.inline):
        return cert
    if isinstance(cert, Cert):
        return Cert(os.path.abspath(cert.cert), os.path.abspath(cert.key))
    if isinstance(cert, tuple) and len(cert) == 2 and all(isinstance(p, str) for p in cert):
        return Cert(os.path.abspath(cert[0]), os.path.abspath(cert[1]))
    raise fail(where, f"expected ('cert.pem', 'key.pem') or Cert(...), got {cert!r}")


def as_duration(where: str, value: str | float | timedelta) -> timedelta:
    try:
        return parse_duration(value)
    except Exception as exc:  # pydantic_core.PydanticCustomError
        raise fail(where, str(exc)) from None
