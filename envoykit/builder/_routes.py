"""Routes: what a request must look like (path, methods, headers, query) and what the edge
does with it (forward, split, redirect, answer), with per-route timeouts, retries, rewrites
and headers. Frozen values; ``_vhosts`` compiles them, ``_checks`` finds the mistakes."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar, Literal, cast

from envoykit.builder._intent import RateLimit, as_duration, fail
from envoykit.builder._shared import Shared, fast_init, keep_by_identity, unshared, value_hash
from envoykit.config import CorsPolicy, TypedConfig

__all__ = ["Header", "HttpRoute", "Redirect", "Respond", "Retry"]

_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")
REDIRECT_CODES = {301: "MOVED_PERMANENTLY", 302: "FOUND", 303: "SEE_OTHER",
                  307: "TEMPORARY_REDIRECT", 308: "PERMANENT_REDIRECT"}
RETRY_ON = ("5xx", "gateway-error", "reset", "connect-failure", "envoy-ratelimited",
            "retriable-4xx", "refused-stream", "retriable-status-codes",
            "retriable-headers", "http3-post-connect-failure", "reset-before-request")


def _name(where: str, name: object) -> str:
    if not isinstance(name, str) or not _TOKEN.match(name):
        raise fail(where, f"{name!r} is not a valid header name")
    return name.lower()


@dataclass(frozen=True)
class Header(metaclass=Shared):
    """A header condition: equal to ``exact``, matching ``regex`` (RE2, whole value), or
    present (``present=True``) / absent (``present=False``); ``invert`` negates it."""

    name: str
    exact: str | None = None
    regex: str | None = None
    present: bool | None = None
    invert: bool = False

    def __post_init__(self) -> None:
        d = self.__dict__
        name = d["name"]
        d["name"] = _name(f"Header({name!r})", name)
        if (d["exact"] is not None) + (d["regex"] is not None) + (d["present"] is not None) != 1:
            raise fail(f"Header({name!r})", "give exactly one of exact=, regex=, present=")


def as_headers(where: str, value: Mapping[str, str | bool] | Sequence[Header]
               ) -> tuple[Header, ...]:
    """``{"x-env": "canary", "x-debug": True}`` or ``[Header(...)]`` → headers."""
    if not value:
        return ()
    if isinstance(value, (dict, Mapping)):
        return tuple(Header(k, present=v) if isinstance(v, bool) else Header(k, exact=str(v))
                     for k, v in value.items())
    out = tuple(value)
    for i, h in enumerate(out):
        if not isinstance(h, Header):
            raise fail(f"{where}[{i}]", f"expected Header(...), got {h!r}")
    return out


@dataclass(frozen=True)
class Retry(metaclass=Shared):
    """Retry a failed request up to ``attempts`` more times on the conditions in ``on``
    (Envoy's ``retry_on`` names), each try bounded by ``per_try_timeout``; ``statuses`` adds
    retriable status codes; ``backoff`` is (base, max) between tries."""

    attempts: int = 1
    on: tuple[str, ...] = ("reset", "connect-failure", "refused-stream")
    per_try_timeout: timedelta | None = None
    statuses: tuple[int, ...] = ()
    backoff: tuple[timedelta, timedelta] | None = None

    _copied_fields: ClassVar[tuple[str, ...]] = ("on", "statuses", "backoff")  # (see _shared)

    def __post_init__(self) -> None:
        if not isinstance(self.attempts, int) or isinstance(self.attempts, bool) \
                or self.attempts < 1:
            raise fail("Retry.attempts", f"must be a positive integer, got {self.attempts!r}")
        on = (self.on,) if isinstance(self.on, str) else tuple(self.on)
        for cond in on:
            if cond not in RETRY_ON:
                raise fail("Retry.on", f"{cond!r} is not a retry condition "
                                       f"({', '.join(RETRY_ON)})")
        statuses = tuple(self.statuses)
        for code in statuses:
            if not isinstance(code, int) or not 100 <= code <= 599:
                raise fail("Retry.statuses", f"{code!r} is not an HTTP status")
        if statuses and "retriable-status-codes" not in on:
            on = (*on, "retriable-status-codes")
        object.__setattr__(self, "on", on)
        object.__setattr__(self, "statuses", statuses)
        if self.per_try_timeout is not None:
            object.__setattr__(self, "per_try_timeout",
                               as_duration("Retry.per_try_timeout", self.per_try_timeout))
        if self.backoff is not None:
            base, most = (as_duration("Retry.backoff", b) for b in self.backoff)
            if not timedelta(0) < base <= most:
                raise fail("Retry.backoff", "expected (base, max) with 0 < base <= max")
            object.__setattr__(self, "backoff", (base, most))


@dataclass(frozen=True)
class Redirect(metaclass=Shared):
    """Answer with a redirect: change ``scheme``, ``host``, ``port``, the whole ``path`` or the
    matched ``prefix``; ``code`` is 301, 302, 303, 307 or 308."""

    host: str | None = None
    path: str | None = None
    prefix: str | None = None
    scheme: str | None = None
    port: int | None = None
    code: int = 301
    strip_query: bool = False

    def __post_init__(self) -> None:
        if self.code not in REDIRECT_CODES:
            raise fail("Redirect.code", f"must be one of {sorted(REDIRECT_CODES)}, "
                                        f"got {self.code!r}")
        if self.path is not None and self.prefix is not None:
            raise fail("Redirect", "give path= or prefix=, not both")
        for name in ("path", "prefix"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.startswith("/")):
                raise fail(f"Redirect.{name}", f"must start with '/', got {value!r}")
        if self.scheme is not None and self.scheme not in ("http", "https"):
            raise fail("Redirect.scheme", f"must be 'http' or 'https', got {self.scheme!r}")
        if self.port is not None and (not isinstance(self.port, int) or
                                      not 1 <= self.port <= 65535):
            raise fail("Redirect.port", f"must be 1-65535, got {self.port!r}")


@dataclass(frozen=True)
class Respond(metaclass=Shared):
    """Answer directly with ``status`` and ``body`` (no upstream)."""

    status: int
    body: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.status, int) or not 100 <= self.status <= 599:
            raise fail("Respond.status", f"{self.status!r} is not an HTTP status (100-599)")


Action = Literal["forward", "split", "redirect", "respond"]


@dataclass(frozen=True)
class HttpRoute(metaclass=Shared):
    """One route of a site: the first route that matches a request wins.

    Match: ``prefix`` (the default ``"/"``), exact ``path`` or whole-path ``regex`` (RE2);
    and all of ``methods``, ``headers`` and ``query`` (``{"name": "value" or True}``).
    Action, exactly one: ``to`` a service name, or ``{"service": weight, ...}`` to split;
    ``redirect=Redirect(...)``; ``respond=Respond(status, body)``.
    """

    prefix: str | None = None
    path: str | None = None
    regex: str | None = None
    methods: Sequence[str] = ()
    headers: Mapping[str, str | bool] | Sequence[Header] = ()
    query: Mapping[str, str | bool] | Sequence[tuple[str, str | bool]] = ()
    to: str | Mapping[str, int] | Sequence[tuple[str, int]] | None = None
    redirect: Redirect | None = None
    respond: Respond | None = None
    timeout: str | float | timedelta | None = None
    idle_timeout: str | float | timedelta | None = None
    retries: Retry | None = None
    rewrite_prefix: str | None = None
    rewrite_regex: tuple[str, str] | None = None
    host_rewrite: str | None = None
    request_headers: Mapping[str, str] | Sequence[tuple[str, str]] = ()
    remove_request_headers: Sequence[str] = ()
    response_headers: Mapping[str, str] | Sequence[tuple[str, str]] = ()
    remove_response_headers: Sequence[str] = ()
    rate_limit: RateLimit | Literal[False] | None = None
    filters: Mapping[str, TypedConfig | Mapping[str, Any]] = ()  # type: ignore[assignment]
    cors: CorsPolicy | None = None
    websocket: bool = False
    mirror: str | None = None

    _copied_fields: ClassVar[tuple[str, ...]] = (  # (made tuples: see _shared)
        "methods", "headers", "query", "to", "request_headers", "remove_request_headers",
        "response_headers", "remove_response_headers", "filters")

    def __post_init__(self) -> None:  # normalise the friendly forms to tuples (hashable)
        # (the hot path of a large edge: each field is read once from the instance dict,
        # a normalised form written back into it (frozen), ``where`` made only for an error)
        d = self.__dict__
        prefix, path, to = d["prefix"], d["path"], d["to"]
        given = (prefix is not None) + (path is not None) + (d["regex"] is not None)
        if given > 1:
            raise fail(self._where(), "give one of prefix=, path=, regex=")
        if not given:
            d["prefix"] = prefix = "/"
        for name, value in (("prefix", prefix), ("path", path)):
            if value is not None and (not isinstance(value, str) or not value.startswith("/")):
                raise fail(f"{self._where()}.{name}", f"must start with '/', got {value!r}")
        if d["methods"]:
            d["methods"] = self._methods(d["methods"])
        if _not_normal(d["headers"]):
            d["headers"] = as_headers(f"{self._where()}.headers", d["headers"])
        if _not_normal(d["query"]):
            d["query"] = _pairs(d["query"])
        if to is not None and not isinstance(to, str):
            d["to"] = _pairs(to)
        if (to is not None) + (d["redirect"] is not None) + (d["respond"] is not None) != 1:
            raise fail(self._where(), "give exactly one action: to=, redirect= or respond=")
        for name in ("timeout", "idle_timeout"):
            value = d[name]
            if value is not None and not isinstance(value, timedelta):
                d[name] = as_duration(f"{self._where()}.{name}", value)
        for name in ("request_headers", "response_headers", "filters"):
            if _not_normal(d[name]):
                d[name] = _pairs(d[name])
        for name in ("remove_request_headers", "remove_response_headers"):
            value = d[name]
            if value:
                d[name] = tuple(_name(f"{self._where()}.{name}", h)
                                for h in ((value,) if isinstance(value, str) else value))
        if d["rewrite_prefix"] is not None and d["rewrite_regex"] is not None:
            raise fail(self._where(), "give rewrite_prefix= or rewrite_regex=, not both")
        for name, kind in _KINDS:
            value = d[name]
            if value is not None and type(value) is not kind and not isinstance(value, kind):
                raise fail(f"{self._where()}.{name}", f"expected {kind.__name__}(...), "
                                                      f"got {value!r}")
        for key, config in d["filters"]:
            if not isinstance(config, (TypedConfig, Mapping)):
                raise fail(f"{self._where()}.filters[{key!r}]", "expected a typed config or a "
                                                                "dict with '@type'")

    def _where(self) -> str:
        return f"HttpRoute({self.match_text})"

    def _methods(self, given: str | Sequence[str]) -> tuple[str, ...]:
        methods = (given,) if isinstance(given, str) else tuple(given)
        for m in methods:
            if m not in _METHODS:
                raise fail(f"{self._where()}.methods", f"{m!r} is not an HTTP method")
        return methods

    @property
    def match_text(self) -> str:
        """The path part of the match, as written: ``prefix='/api/'``."""
        for name in ("path", "regex", "prefix"):
            value = getattr(self, name)
            if value is not None:
                return f"{name}={value!r}"
        return "prefix='/'"

    @property
    def action(self) -> Action:
        if self.redirect is not None:
            return "redirect"
        if self.respond is not None:
            return "respond"
        return "forward" if isinstance(self.to, str) else "split"

    # -- the normalised forms (``__post_init__`` stored tuples) --------------------------

    @property
    def split(self) -> tuple[tuple[str, int], ...]:
        return cast("tuple[tuple[str, int], ...]", self.to) if self.action == "split" else ()

    @property
    def service(self) -> str | None:
        return self.to if isinstance(self.to, str) else None

    @property
    def header_matchers(self) -> tuple[Header, ...]:
        return cast("tuple[Header, ...]", self.headers)

    @property
    def query_matchers(self) -> tuple[tuple[str, str | bool], ...]:
        return cast("tuple[tuple[str, str | bool], ...]", self.query)

    @property
    def method_list(self) -> tuple[str, ...]:
        return cast("tuple[str, ...]", self.methods)

    @property
    def timeout_value(self) -> timedelta | None:
        return cast("timedelta | None", self.timeout)

    @property
    def idle_timeout_value(self) -> timedelta | None:
        return cast("timedelta | None", self.idle_timeout)

    @property
    def added_request_headers(self) -> tuple[tuple[str, str], ...]:
        return cast("tuple[tuple[str, str], ...]", self.request_headers)

    @property
    def added_response_headers(self) -> tuple[tuple[str, str], ...]:
        return cast("tuple[tuple[str, str], ...]", self.response_headers)

    @property
    def filter_configs(self) -> tuple[tuple[str, TypedConfig | Mapping[str, Any]], ...]:
        return cast("tuple[tuple[str, TypedConfig | Mapping[str, Any]], ...]", self.filters)

    @property
    def services(self) -> tuple[str, ...]:
        """The services this route sends traffic (or a mirror copy) to."""
        names = (self.to,) if isinstance(self.to, str) else tuple(n for n, _ in self.split)
        return names + ((self.mirror,) if self.mirror else ())

    @property
    def has_matchers(self) -> bool:
        """True when something besides the path decides (methods, headers, query)."""
        return bool(self.method_list or self.header_matchers or self.query_matchers)


for _cls in (Header, Retry, Redirect, Respond, HttpRoute):
    fast_init(_cls)
    value_hash(_cls)
keep_by_identity(RateLimit)

_KINDS: tuple[tuple[str, type], ...] = (("retries", Retry), ("redirect", Redirect),
                                        ("respond", Respond), ("cors", CorsPolicy))


def _not_normal(value: object) -> bool:
    """Whether a friendly form still needs normalising (the default ``()`` does not)."""
    return bool(value) or type(value) is not tuple


def _pairs(value: Any) -> tuple[tuple[str, Any], ...]:
    if not value:
        return ()
    if isinstance(value, (dict, Mapping)):  # dict first: the common case, and fast
        return tuple(value.items())
    return tuple(tuple(p) for p in value)


_FORWARD = {k: v for k, v in unshared(HttpRoute, prefix="/", to="-").__dict__.items()
            if k != "_hash"}


def forward_route(to: str, *, timeout: timedelta | None, rewrite_prefix: str | None,
                  host_rewrite: str | None) -> HttpRoute:
    """``HttpRoute(prefix="/", to=to, timeout=..., rewrite_prefix=..., host_rewrite=...)``
    (unshared) without the checks that cannot fail for it: ``to`` is a service's name,
    ``timeout`` a duration, and ``__post_init__`` neither checks nor changes the rewrites
    (the site shortcut's own route, made for each of 10,000 sites; a test compares it with
    the checked construction)."""
    route: HttpRoute = object.__new__(HttpRoute)
    route.__dict__.update(_FORWARD, to=to, timeout=timeout, rewrite_prefix=rewrite_prefix,
                          host_rewrite=host_rewrite)
    return route
