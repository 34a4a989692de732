"""CORS: the ``envoy.filters.http.cors`` filter and its per-route/virtual-host policy.

The filter (:class:`Cors`) has no settings of its own; what it enforces is the
:class:`CorsPolicy` given as ``typed_per_filter_config`` (key ``envoy.filters.http.cors``) on a
route, a virtual host or the route configuration. Without a policy the filter does nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import field_validator

from envoykit.config._base import TypedConfig
from envoykit.config.core import RuntimeFractionalPercent, StringMatcher

__all__ = ["Cors", "CorsPolicy"]


class Cors(TypedConfig):
    """The CORS HTTP filter (``envoy.extensions.filters.http.cors.v3.Cors``); it has no fields.
    Put it before the router and give routes a :class:`CorsPolicy`."""

    type_url = "envoy.extensions.filters.http.cors.v3.Cors"
    filter_name: ClassVar[str] = "envoy.filters.http.cors"


class CorsPolicy(TypedConfig):
    """A CORS policy (``envoy.extensions.filters.http.cors.v3.CorsPolicy``): allowed origins
    (any of the string matchers), and the contents of the ``access-control-allow-methods``,
    ``-allow-headers``, ``-expose-headers`` and ``-max-age`` response headers."""

    type_url = "envoy.extensions.filters.http.cors.v3.CorsPolicy"
    filter_name: ClassVar[str] = "envoy.filters.http.cors"

    allow_origin_string_match: list[StringMatcher] | None = None
    allow_methods: str | None = None
    allow_headers: str | None = None
    expose_headers: str | None = None
    max_age: str | None = None
    allow_credentials: bool | None = None
    filter_enabled: RuntimeFractionalPercent | None = None
    shadow_enabled: RuntimeFractionalPercent | None = None
    allow_private_network_access: bool | None = None
    forward_not_matching_preflights: bool | None = None

    @field_validator("allow_methods", "allow_headers", "expose_headers", mode="before")
    @classmethod
    def _join_list(cls, value: Any) -> Any:
        """Accept a list of names as well as Envoy's comma-separated string."""
        if isinstance(value, (list, tuple)):
            return ",".join(str(v) for v in value)
        return value

    @field_validator("max_age", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> Any:
        """Accept seconds as an int (Envoy's field is a string of seconds)."""
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 0:
                raise ValueError("max_age must not be negative")
            return str(value)
        if isinstance(value, str) and not value.strip().isdigit():
            raise ValueError(f"max_age must be a number of seconds (got {value!r})")
        return value
