"""``envoy.config.core.v3`` and ``envoy.type`` building blocks shared by every resource."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from envoykit.config._base import Duration, EnvoyModel, Typed

__all__ = [
    "Address",
    "CidrRange",
    "ConfigSource",
    "DataSource",
    "FractionalPercent",
    "HeaderMatcher",
    "HeaderValue",
    "HeaderValueOption",
    "HealthCheck",
    "Http1ProtocolOptions",
    "Http2ProtocolOptions",
    "HttpHealthCheck",
    "HttpProtocolOptions",
    "HttpUri",
    "Int64Range",
    "KeepaliveSettings",
    "Node",
    "PathConfigSource",
    "Percent",
    "Pipe",
    "RegexMatcher",
    "RuntimeFractionalPercent",
    "SocketAddress",
    "StringMatcher",
    "TokenBucket",
    "TransportSocket",
    "TypedExtensionConfig",
    "WatchedDirectory",
]


class SocketAddress(EnvoyModel):
    """An IP address (v4 or v6) and port; ``port_value: 0`` lets the kernel choose."""

    address: str
    port_value: int | None = Field(default=None, ge=0, le=65535)
    protocol: Literal["TCP", "UDP"] | None = None
    named_port: str | None = None
    resolver_name: str | None = None
    ipv4_compat: bool | None = None

    @field_validator("address")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("address must not be empty")
        return value


class Pipe(EnvoyModel):
    """A unix domain socket path (``@name`` for the abstract namespace) and its mode."""

    path: str
    mode: int | None = Field(default=None, ge=0, le=0o777)


class Address(EnvoyModel):
    """Either a socket address or a pipe."""

    socket_address: SocketAddress | None = None
    pipe: Pipe | None = None

    @model_validator(mode="after")
    def _one(self) -> Address:
        self._exactly_one("socket_address", "pipe")
        return self

    @classmethod
    def tcp(cls, host: str, port: int) -> Address:
        """Shorthand: ``Address.tcp("127.0.0.1", 8080)``."""
        return cls(socket_address=SocketAddress(address=host, port_value=port))


class CidrRange(EnvoyModel):
    """An address prefix, e.g. ``10.0.0.0/8``."""

    address_prefix: str
    prefix_len: int | None = Field(default=None, ge=0, le=128)

    @model_validator(mode="after")
    def _ip(self) -> CidrRange:
        try:
            ip = ipaddress.ip_address(self.address_prefix)
        except ValueError:
            raise ValueError(f"address_prefix {self.address_prefix!r} is not an IP address") \
                from None
        if self.prefix_len is not None and self.prefix_len > ip.max_prefixlen:
            raise ValueError(f"prefix_len {self.prefix_len} is longer than an IPv{ip.version} "
                             f"address ({ip.max_prefixlen} bits)")
        return self


_TOKEN = re.compile(r"^:?[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


class HeaderValue(EnvoyModel):
    """One header: key and value (no CR, LF or NUL: no response splitting)."""

    key: str = Field(min_length=1)
    value: str | None = None

    @field_validator("key")
    @classmethod
    def _token(cls, key: str) -> str:
        if not _TOKEN.match(key):
            raise ValueError(f"{key!r} is not a valid header name (RFC 9110 token characters "
                             "only; no spaces, CR or LF)")
        return key

    @field_validator("value")
    @classmethod
    def _no_newlines(cls, value: str | None) -> str | None:
        if value is not None and any(c in value for c in "\r\n\0"):
            raise ValueError("a header value must not contain CR, LF or NUL")
        return value


class HeaderValueOption(EnvoyModel):
    """A header to add, and whether it replaces or appends."""

    header: HeaderValue
    append_action: (
        Literal[
            "APPEND_IF_EXISTS_OR_ADD",
            "ADD_IF_ABSENT",
            "OVERWRITE_IF_EXISTS_OR_ADD",
            "OVERWRITE_IF_EXISTS",
        ]
        | None
    ) = None
    keep_empty_value: bool | None = None


class WatchedDirectory(EnvoyModel):
    """A directory envoy watches for moves (atomic replacement of files)."""

    path: str


class DataSource(EnvoyModel):
    """Bytes from a file, inline text/bytes or an environment variable."""

    filename: str | None = None
    inline_string: str | None = None
    inline_bytes: str | None = None
    environment_variable: str | None = None

    @model_validator(mode="after")
    def _one(self) -> DataSource:
        self._exactly_one("filename", "inline_string", "inline_bytes", "environment_variable")
        return self


class PathConfigSource(EnvoyModel):
    """xDS resources from a file; reloaded when the file (or watched dir) is moved into."""

    path: str
    watched_directory: WatchedDirectory | None = None


class ConfigSource(EnvoyModel):
    """Where a dynamic resource comes from (envoykit models the filesystem and ADS)."""

    path_config_source: PathConfigSource | None = None
    ads: dict[str, object] | None = None
    api_config_source: dict[str, object] | None = None
    resource_api_version: Literal["V3"] | None = None
    initial_fetch_timeout: Duration | None = None
    path: str | None = Field(default=None, deprecated="use path_config_source")


class TransportSocket(EnvoyModel):
    """A transport socket, e.g. ``envoy.transport_sockets.tls`` with a TLS context."""

    name: str
    typed_config: Typed | None = None


class TypedExtensionConfig(EnvoyModel):
    """A named extension with its typed config."""

    name: str
    typed_config: Typed


class FractionalPercent(EnvoyModel):
    """numerator / denominator (HUNDRED by default)."""

    numerator: int = Field(ge=0)
    denominator: Literal["HUNDRED", "TEN_THOUSAND", "MILLION"] | None = None


class RuntimeFractionalPercent(EnvoyModel):
    """A fractional percent that a runtime key can override."""

    default_value: FractionalPercent
    runtime_key: str | None = None

    @classmethod
    def percent(cls, value: int, runtime_key: str | None = None) -> RuntimeFractionalPercent:
        """``RuntimeFractionalPercent.percent(100)`` → always."""
        return cls(
            default_value=FractionalPercent(numerator=value, denominator="HUNDRED"),
            runtime_key=runtime_key,
        )


class Percent(EnvoyModel):
    """A percentage 0–100."""

    value: float = Field(ge=0, le=100)


class TokenBucket(EnvoyModel):
    """A token bucket: ``max_tokens``, refilled by ``tokens_per_fill`` every ``fill_interval``."""

    max_tokens: int = Field(ge=0)
    tokens_per_fill: int | None = Field(default=None, ge=0)
    fill_interval: Duration

    @field_validator("fill_interval")
    @classmethod
    def _min_interval(cls, value: object) -> object:
        from datetime import timedelta

        if isinstance(value, timedelta) and value < timedelta(milliseconds=50):
            raise ValueError("fill_interval must be at least 50ms")
        return value


class HttpUri(EnvoyModel):
    """A URI envoy fetches through one of its clusters (e.g. a JWKS endpoint)."""

    uri: str
    cluster: str
    timeout: Duration


class Node(EnvoyModel):
    """Identifies this envoy to management servers and in dynamic config."""

    id: str | None = None
    cluster: str | None = None
    metadata: dict[str, object] | None = None


class HttpProtocolOptions(EnvoyModel):
    """Options common to HTTP/1 and HTTP/2 (``core.v3.HttpProtocolOptions``)."""

    idle_timeout: Duration | None = None
    max_connection_duration: Duration | None = None
    max_headers_count: int | None = Field(default=None, ge=1)
    max_stream_duration: Duration | None = None
    headers_with_underscores_action: (
        Literal["ALLOW", "REJECT_REQUEST", "DROP_HEADER"] | None
    ) = None
    max_requests_per_connection: int | None = Field(default=None, ge=0)


class Http1ProtocolOptions(EnvoyModel):
    """HTTP/1.1 codec options."""

    accept_http_10: bool | None = None
    default_host_for_http_10: str | None = None
    allow_absolute_url: bool | None = None
    enable_trailers: bool | None = None


class KeepaliveSettings(EnvoyModel):
    """HTTP/2 PING keepalive: a PING every ``interval``, the connection closed when no
    answer comes within ``timeout`` (e.g. to notice a vanished xDS server)."""

    interval: Duration | None = None
    timeout: Duration
    interval_jitter: Percent | None = None
    connection_idle_interval: Duration | None = None


class Http2ProtocolOptions(EnvoyModel):
    """HTTP/2 codec options; windows in bytes."""

    hpack_table_size: int | None = Field(default=None, ge=0)
    max_concurrent_streams: int | None = Field(default=None, ge=1, le=2147483647)
    initial_stream_window_size: int | None = Field(default=None, ge=65535, le=2147483647)
    initial_connection_window_size: int | None = Field(default=None, ge=65535, le=2147483647)
    allow_connect: bool | None = None
    max_outbound_frames: int | None = Field(default=None, ge=1)
    connection_keepalive: KeepaliveSettings | None = None


# --- matchers (envoy.type.matcher.v3, envoy.config.route.v3.HeaderMatcher) ---------------


_RE2_UNSUPPORTED = re.compile(r"\(\?<?[=!]|\\[1-9]|\(\?P=")


class RegexMatcher(EnvoyModel):
    """An RE2 regular expression (checked here with Python's ``re`` where they agree)."""

    regex: str

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        unsupported = _RE2_UNSUPPORTED.search(value)
        if unsupported:
            raise ValueError(f"RE2 (envoy's regex engine) does not support "
                             f"{unsupported.group(0)!r}: no lookaround or backreferences")
        try:
            re.compile(value)
        except re.error as exc:
            if "bad escape" not in str(exc):  # RE2 has escapes (\pL, \C) Python lacks
                raise ValueError(f"invalid regular expression {value!r}: {exc}") from None
        return value


class StringMatcher(EnvoyModel):
    """Match a string exactly, by prefix, suffix, substring or regex."""

    exact: str | None = None
    prefix: str | None = None
    suffix: str | None = None
    contains: str | None = None
    safe_regex: RegexMatcher | None = None
    ignore_case: bool | None = None

    @model_validator(mode="after")
    def _one(self) -> StringMatcher:
        self._exactly_one("exact", "prefix", "suffix", "contains", "safe_regex")
        return self


class Int64Range(EnvoyModel):
    """``[start, end)``."""

    start: int
    end: int


class HeaderMatcher(EnvoyModel):
    """Match a request header by name (and value, presence or absence)."""

    name: str = Field(min_length=1)
    string_match: StringMatcher | None = None
    present_match: bool | None = None
    range_match: Int64Range | None = None
    exact_match: str | None = Field(default=None, deprecated="use string_match")
    prefix_match: str | None = Field(default=None, deprecated="use string_match")
    suffix_match: str | None = Field(default=None, deprecated="use string_match")
    contains_match: str | None = Field(default=None, deprecated="use string_match")
    safe_regex_match: RegexMatcher | None = Field(default=None, deprecated="use string_match")
    invert_match: bool | None = None
    treat_missing_header_as_empty: bool | None = None

    @model_validator(mode="after")
    def _one(self) -> HeaderMatcher:
        self._exactly_one("string_match", "present_match", "range_match", "exact_match",
                          "prefix_match", "suffix_match", "contains_match", "safe_regex_match",
                          required=False)
        return self


# --- health checking ----------------------------------------------------------------------


class HttpHealthCheck(EnvoyModel):
    """Active HTTP health check: GET ``path`` expecting 200 (or ``expected_statuses``)."""

    path: str
    host: str | None = None
    expected_statuses: list[dict[str, int]] | None = None
    request_headers_to_add: list[HeaderValueOption] | None = None


class HealthCheck(EnvoyModel):
    """Active health checking of a cluster's hosts."""

    timeout: Duration
    interval: Duration
    unhealthy_threshold: int = Field(ge=0)
    healthy_threshold: int = Field(ge=0)
    http_health_check: HttpHealthCheck | None = None
    tcp_health_check: dict[str, object] | None = None
    interval_jitter: Duration | None = None
    interval_jitter_percent: int | None = Field(default=None, ge=0)
    initial_jitter: Duration | None = None
    no_traffic_interval: Duration | None = None
    unhealthy_interval: Duration | None = None
    healthy_edge_interval: Duration | None = None
    event_log_path: str | None = None

    @model_validator(mode="after")
    def _one(self) -> HealthCheck:
        self._exactly_one("http_health_check", "tcp_health_check")
        return self
