"""Local rate limit: ``envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit``
(filter ``envoy.filters.http.local_ratelimit``): token buckets in this envoy, no service."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from envoykit.config._base import EnvoyModel, TypedConfig
from envoykit.config.core import HeaderValueOption, RuntimeFractionalPercent, TokenBucket

__all__ = ["LocalRateLimit", "LocalRateLimitDescriptor"]


class LocalRateLimitDescriptor(EnvoyModel):
    """A token bucket for requests whose rate-limit descriptor matches ``entries``."""

    entries: list[dict[str, str]] = Field(min_length=1)
    token_bucket: TokenBucket


class LocalRateLimit(TypedConfig):
    """``envoy.filters.http.local_ratelimit``: token buckets in this envoy, no service.

    Envoy's defaults for ``filter_enabled``/``filter_enforced`` are 0 %: the filter then
    does nothing. Set both (the builder sets them to 100 %).
    """

    type_url = "envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit"
    filter_name = "envoy.filters.http.local_ratelimit"

    stat_prefix: str = Field(min_length=1)
    status: dict[str, Any] | None = None
    token_bucket: TokenBucket | None = None
    filter_enabled: RuntimeFractionalPercent | None = None
    filter_enforced: RuntimeFractionalPercent | None = None
    request_headers_to_add_when_not_enforced: list[HeaderValueOption] | None = None
    response_headers_to_add: list[HeaderValueOption] | None = None
    descriptors: list[LocalRateLimitDescriptor] | None = None
    stage: int | None = Field(default=None, ge=0, le=10)
    local_rate_limit_per_downstream_connection: bool | None = None
    enable_x_ratelimit_headers: Literal["OFF", "DRAFT_VERSION_03"] | None = None
    vh_rate_limits: Literal["OVERRIDE", "INCLUDE", "IGNORE"] | None = None
    always_consume_default_token_bucket: bool | None = None
    rate_limited_as_resource_exhausted: bool | None = None
    max_dynamic_descriptors: int | None = Field(default=None, ge=1)
