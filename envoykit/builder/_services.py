"""Services: named groups of upstream endpoints, how to balance over them, how to check
them, and how to reach them. Frozen values; ``_clusters`` compiles them to clusters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from envoykit._net import is_ip
from envoykit.builder._intent import (
    DnsFamily,
    UpstreamTLS,
    as_duration,
    check_choice,
    fail,
    parse_upstream,
)
from envoykit.builder._shared import fast_init

__all__ = ["Backend", "Health", "LbPolicy", "Limits", "Outlier", "Service", "Sticky"]

LbPolicy = Literal["round_robin", "least_request", "ring_hash", "maglev", "random"]
LB_POLICIES: tuple[str, ...] = ("round_robin", "least_request", "ring_hash", "maglev", "random")
HASHING: tuple[str, ...] = ("ring_hash", "maglev")
_SERVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_HC_PATH = re.compile(r"^/[\x21-\x7e]*$")


def _positive(where: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise fail(where, f"must be a positive integer, got {value!r}")
    return value


def _duration(where: str, value: str | float | timedelta) -> timedelta:
    result = as_duration(where, value)
    if result <= timedelta(0):
        raise fail(where, f"must be positive, got {value!r}")
    return result


@dataclass(frozen=True)
class Backend:
    """One upstream host: an IP or DNS name, a port, and an optional load-balancing weight."""

    host: str
    port: int
    weight: int | None = None

    @classmethod
    def parse(cls, where: str, value: str | tuple[str, int] | Backend) -> Backend:
        if isinstance(value, Backend):
            if value.weight is not None:
                _positive(f"{where}.weight", value.weight)
            host, port = parse_upstream(where, (value.host, value.port))
            return cls(host, port, value.weight)
        return cls(*parse_upstream(where, value))


@dataclass(frozen=True)
class Health:
    """An active health check: HTTP ``GET path`` expecting one of ``expect``, or TCP connect.

    An endpoint is taken out after ``unhealthy`` failed checks in a row and back in after
    ``healthy`` good ones; checks run every ``interval`` and each may take ``timeout``.
    """

    path: str | None = None
    expect: tuple[int, ...] = (200,)
    interval: timedelta = timedelta(seconds=5)
    timeout: timedelta = timedelta(seconds=2)
    unhealthy: int = 3
    healthy: int = 2
    host: str | None = None

    @classmethod
    def http(cls, path: str = "/healthz", *, expect: tuple[int, ...] | list[int] = (200,),
             interval: str | float | timedelta = "5s", timeout: str | float | timedelta = "2s",
             unhealthy: int = 3, healthy: int = 2, host: str | None = None) -> Health:
        """``GET path`` must answer one of ``expect``."""
        where = f"Health.http({path!r})"
        if not isinstance(path, str) or not _HC_PATH.match(path):
            raise fail(where, "the health check path must be a URL path starting with '/' "
                              f"and without spaces, got {path!r}")
        codes = tuple(expect)
        for code in codes:
            if not isinstance(code, int) or not 100 <= code <= 599:
                raise fail(f"{where}.expect", f"{code!r} is not an HTTP status (100-599)")
        if not codes:
            raise fail(f"{where}.expect", "give at least one expected status")
        return cls(path, codes, _duration(f"{where}.interval", interval),
                   _duration(f"{where}.timeout", timeout),
                   _positive(f"{where}.unhealthy", unhealthy),
                   _positive(f"{where}.healthy", healthy), host)

    @classmethod
    def tcp(cls, *, interval: str | float | timedelta = "5s",
            timeout: str | float | timedelta = "2s", unhealthy: int = 3,
            healthy: int = 2) -> Health:
        """A TCP connect must succeed."""
        where = "Health.tcp()"
        return cls(None, (), _duration(f"{where}.interval", interval),
                   _duration(f"{where}.timeout", timeout),
                   _positive(f"{where}.unhealthy", unhealthy),
                   _positive(f"{where}.healthy", healthy))


@dataclass(frozen=True)
class Outlier:
    """Passive health: eject an endpoint after ``consecutive_5xx`` errors in a row for
    ``ejection`` (growing with each ejection), never more than ``max_percent`` of them."""

    consecutive_5xx: int = 5
    interval: timedelta = timedelta(seconds=10)
    ejection: timedelta = timedelta(seconds=30)
    max_percent: int = 50

    def __post_init__(self) -> None:
        _positive("Outlier.consecutive_5xx", self.consecutive_5xx)
        object.__setattr__(self, "interval", _duration("Outlier.interval", self.interval))
        object.__setattr__(self, "ejection", _duration("Outlier.ejection", self.ejection))
        if not isinstance(self.max_percent, int) or not 0 <= self.max_percent <= 100:
            raise fail("Outlier.max_percent", f"must be 0-100, got {self.max_percent!r}")


@dataclass(frozen=True)
class Limits:
    """Circuit breakers: the most connections, queued requests, requests and concurrent
    retries Envoy opens towards a service (Envoy's own defaults are 1024, 1024, 1024, 3)."""

    max_connections: int | None = None
    max_pending: int | None = None
    max_requests: int | None = None
    max_retries: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_connections", "max_pending", "max_requests", "max_retries"):
            value = getattr(self, name)
            if value is not None:
                _positive(f"Limits.{name}", value)


@dataclass(frozen=True)
class Sticky:
    """Sticky sessions: the same value of a header, a cookie or the client IP reaches the same
    endpoint (needs ``lb="ring_hash"`` or ``"maglev"``, the default when ``sticky`` is set)."""

    kind: Literal["header", "cookie", "source_ip"]
    name: str = ""
    ttl: timedelta | None = None
    path: str | None = None

    @classmethod
    def header(cls, name: str) -> Sticky:
        return cls("header", _token("Sticky.header", name))

    @classmethod
    def cookie(cls, name: str, *, ttl: str | float | timedelta | None = None,
               path: str | None = "/") -> Sticky:
        """Hash on cookie ``name``; with ``ttl`` Envoy sets the cookie when it is missing."""
        where = f"Sticky.cookie({name!r})"
        return cls("cookie", _token(where, name),
                   as_duration(f"{where}.ttl", ttl) if ttl is not None else None, path)

    @classmethod
    def source_ip(cls) -> Sticky:
        return cls("source_ip")


def _token(where: str, name: str) -> str:
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", name):
        raise fail(where, f"{name!r} is not a valid header or cookie name")
    return name


@dataclass(frozen=True)
class Service:
    """A named group of upstream endpoints and how to reach them (one cluster)."""

    name: str
    endpoints: tuple[Backend, ...]
    lb: LbPolicy = "round_robin"
    sticky: Sticky | None = None
    health: Health | None = None
    outlier: Outlier | None = None
    limits: Limits | None = None
    http2: bool = False
    tls: UpstreamTLS | None = None
    connect_timeout: timedelta | None = None
    dns_lookup_family: DnsFamily | None = None

    def __post_init__(self) -> None:
        d = self.__dict__  # (read directly: a large edge makes a service per site)
        name = d["name"]
        where = f"service({name!r})"
        if not isinstance(name, str) or not _SERVICE_NAME.match(name):
            raise fail(where, "a service name is letters, digits, '_', '.', '-' (1-100)")
        if not d["endpoints"]:
            raise fail(where, "give at least one endpoint 'host:port'")
        d["endpoints"] = tuple([Backend.parse(f"{where}.endpoints[{i}]", e)
                                for i, e in enumerate(d["endpoints"])])
        lb = d["lb"]
        check_choice(f"{where}.lb", lb, LB_POLICIES)
        if d["sticky"] is not None and lb not in HASHING:
            raise fail(f"{where}.sticky", f"sticky sessions need lb='ring_hash' or 'maglev' "
                                          f"(lb is {lb!r})")
        for field, kind in _KINDS:
            value = d[field]
            if value is not None and not isinstance(value, kind):
                raise fail(f"{where}.{field}", f"expected {kind.__name__}(...), got {value!r}")
        if d["connect_timeout"] is not None:
            d["connect_timeout"] = _duration(f"{where}.connect_timeout", d["connect_timeout"])

    @property
    def all_ips(self) -> bool:
        return all(is_ip(e.host) for e in self.endpoints)


for _cls in (Backend, Service):
    fast_init(_cls)
_KINDS: tuple[tuple[str, type], ...] = (("sticky", Sticky), ("health", Health),
                                        ("outlier", Outlier), ("limits", Limits),
                                        ("tls", UpstreamTLS))
