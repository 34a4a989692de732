"""JWT authentication: ``envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication``
(filter ``envoy.filters.http.jwt_authn``), per route :class:`JwtPerRouteConfig`.

Beyond field-level checks, :class:`JwtAuthentication` checks that every provider and
requirement name a rule uses is defined, each error naming the field path.

Example::

    JwtAuthentication(
        providers={"idp": JwtProvider(issuer="https://idp.test",
                                      local_jwks=DataSource(filename="/etc/jwks.json"))},
        rules=[RequirementRule(match=RouteMatch(prefix="/"),
                               requires=JwtRequirement.provider("idp"))],
    )
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from envoykit.config._base import Duration, EnvoyModel, TypedConfig
from envoykit.config.core import DataSource, HttpUri, StringMatcher
from envoykit.config.filters._common import Empty
from envoykit.config.route import RouteMatch
from envoykit.errors import Issue

__all__ = [
    "JwksAsyncFetch",
    "JwtAuthentication",
    "JwtCacheConfig",
    "JwtClaimPathSegment",
    "JwtClaimToHeader",
    "JwtFilterStateRule",
    "JwtHeader",
    "JwtPerRouteConfig",
    "JwtProvider",
    "JwtRequirement",
    "JwtRequirementAndList",
    "JwtRequirementOrList",
    "NormalizePayload",
    "ProviderWithAudiences",
    "RemoteJwks",
    "RequirementRule",
]


class JwtHeader(EnvoyModel):
    """A header to extract the JWT from, e.g. ``Authorization`` with prefix ``"Bearer "``."""

    name: str = Field(min_length=1)
    value_prefix: str | None = None


class JwtClaimPathSegment(EnvoyModel):
    """One key of a ``claim_path`` (for claim names that contain dots)."""

    key: str = Field(min_length=1)


class JwtClaimToHeader(EnvoyModel):
    """Copy a claim of a verified JWT into a request header: ``claim_name`` (nested claims
    dotted, e.g. ``org.tenant``) or ``claim_path`` (one segment per key), exactly one."""

    header_name: str = Field(min_length=1)
    claim_name: str | None = Field(default=None, min_length=1)
    claim_path: list[JwtClaimPathSegment] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one(self) -> JwtClaimToHeader:
        self._exactly_one("claim_name", "claim_path")
        return self


class JwtCacheConfig(EnvoyModel):
    """Cache of verified tokens (size in tokens)."""

    jwt_cache_size: int | None = Field(default=None, ge=0)
    jwt_max_token_size: int | None = Field(default=None, ge=0)


class JwksAsyncFetch(EnvoyModel):
    """Fetch the remote JWKS in the main thread before the listener is active."""

    fast_listener: bool | None = None
    failed_refetch_duration: Duration | None = None


class RemoteJwks(EnvoyModel):
    """A JWKS fetched over HTTP(S) through a cluster, cached for ``cache_duration``."""

    http_uri: HttpUri
    cache_duration: Duration | None = None
    async_fetch: JwksAsyncFetch | None = None
    retry_policy: dict[str, Any] | None = None


class NormalizePayload(EnvoyModel):
    """Claims to split on spaces in the payload written to metadata (e.g. ``scope``)."""

    space_delimited_claims: list[str] | None = None


class JwtProvider(EnvoyModel):
    """How to verify a JWT: issuer, audiences, where the keys come from (``remote_jwks`` or
    ``local_jwks``), where the token is and what to pass on once it is verified."""

    issuer: str | None = None
    audiences: list[str] | None = None
    subjects: StringMatcher | None = None
    require_expiration: bool | None = None
    max_lifetime: Duration | None = None
    remote_jwks: RemoteJwks | None = None
    local_jwks: DataSource | None = None
    forward: bool | None = None
    from_headers: list[JwtHeader] | None = None
    from_params: list[str] | None = None
    from_cookies: list[str] | None = None
    forward_payload_header: str | None = None
    pad_forward_payload_header: bool | None = None
    payload_in_metadata: str | None = None
    normalize_payload_in_metadata: NormalizePayload | None = None
    header_in_metadata: str | None = None
    failed_status_in_metadata: str | None = None
    clock_skew_seconds: int | None = Field(default=None, ge=0)
    jwt_cache_config: JwtCacheConfig | None = None
    claim_to_headers: list[JwtClaimToHeader] | None = None
    clear_route_cache: bool | None = None

    @model_validator(mode="after")
    def _one(self) -> JwtProvider:
        self._exactly_one("remote_jwks", "local_jwks")
        return self


class ProviderWithAudiences(EnvoyModel):
    """A required provider, with audiences overriding the provider's own."""

    provider_name: str = Field(min_length=1)
    audiences: list[str] | None = None


class JwtRequirementOrList(EnvoyModel):
    """At least one of these requirements must pass (two or more)."""

    requirements: list[JwtRequirement] = Field(min_length=2)


class JwtRequirementAndList(EnvoyModel):
    """All of these requirements must pass (two or more)."""

    requirements: list[JwtRequirement] = Field(min_length=2)


class JwtRequirement(EnvoyModel):
    """Which JWTs a request needs: exactly one of ``provider_name``,
    ``provider_and_audiences``, ``requires_any``, ``requires_all``,
    ``allow_missing_or_failed``, ``allow_missing``, ``extract_only_without_validation``."""

    provider_name: str | None = Field(default=None, min_length=1)
    provider_and_audiences: ProviderWithAudiences | None = None
    requires_any: JwtRequirementOrList | None = None
    requires_all: JwtRequirementAndList | None = None
    allow_missing_or_failed: Empty | None = None
    allow_missing: Empty | None = None
    extract_only_without_validation: Empty | None = None

    @model_validator(mode="after")
    def _one(self) -> JwtRequirement:
        self._exactly_one(
            "provider_name", "provider_and_audiences", "requires_any", "requires_all",
            "allow_missing_or_failed", "allow_missing", "extract_only_without_validation",
        )
        return self

    @classmethod
    def provider(cls, name: str) -> JwtRequirement:
        """``JwtRequirement.provider("p1")``: a valid token from provider ``p1``."""
        return cls(provider_name=name)

    @classmethod
    def any_of(cls, *requirements: JwtRequirement | str) -> JwtRequirement:
        """One of several requirements (strings are provider names)."""
        return cls(requires_any=JwtRequirementOrList(requirements=_reqs(requirements)))

    @classmethod
    def all_of(cls, *requirements: JwtRequirement | str) -> JwtRequirement:
        """All of several requirements (strings are provider names)."""
        return cls(requires_all=JwtRequirementAndList(requirements=_reqs(requirements)))

    @classmethod
    def missing_allowed(cls) -> JwtRequirement:
        """No token is fine; a token that is present must be valid."""
        return cls(allow_missing=Empty())

    def provider_names(self) -> list[tuple[str, str]]:
        """(relative path, provider name) for every provider this requirement uses."""
        found: list[tuple[str, str]] = []
        if self.provider_name is not None:
            found.append(("provider_name", self.provider_name))
        if self.provider_and_audiences is not None:
            found.append(("provider_and_audiences.provider_name",
                          self.provider_and_audiences.provider_name))
        for key, group in (("requires_any", self.requires_any),
                           ("requires_all", self.requires_all)):
            if group is not None:
                for i, sub in enumerate(group.requirements):
                    found.extend((f"{key}.requirements[{i}].{p}", n)
                                 for p, n in sub.provider_names())
        return found


def _reqs(items: tuple[JwtRequirement | str, ...]) -> list[JwtRequirement]:
    return [JwtRequirement(provider_name=i) if isinstance(i, str) else i for i in items]


class RequirementRule(EnvoyModel):
    """For requests matching ``match``: ``requires`` (or a ``requirement_name`` from
    ``requirement_map``); neither means no JWT is needed."""

    match: RouteMatch
    requires: JwtRequirement | None = None
    requirement_name: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one(self) -> RequirementRule:
        self._exactly_one("requires", "requirement_name", required=False)
        return self


class JwtFilterStateRule(EnvoyModel):
    """Requirements chosen by a filter-state string (``FilterStateRule``)."""

    name: str = Field(min_length=1)
    requires: dict[str, JwtRequirement] | None = None


class JwtAuthentication(TypedConfig):
    """The JWT authentication filter: named ``providers`` and the ``rules`` that say which
    requests need which tokens. A request failing a rule gets 401 (403 for a valid token
    with the wrong audience)."""

    type_url = "envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication"
    filter_name: ClassVar[str] = "envoy.filters.http.jwt_authn"

    # declared before ``rules`` so that the rules can be checked against both maps
    providers: dict[str, JwtProvider] | None = None
    requirement_map: dict[str, JwtRequirement] | None = None
    rules: list[RequirementRule] | None = None
    filter_state_rules: JwtFilterStateRule | None = None
    bypass_cors_preflight: bool | None = None
    strip_failure_response: bool | None = None
    stat_prefix: str | None = None

    @field_validator("requirement_map", "rules", "filter_state_rules")
    @classmethod
    def _known_names(cls, value: Any, info: ValidationInfo) -> Any:
        """Every provider (and requirement) name a requirement uses must be defined."""
        if value is None or "providers" not in info.data:  # providers invalid: said already
            return value
        known = set(info.data["providers"] or {})
        found: list[tuple[str, JwtRequirement]] = []
        problems: list[Issue] = []
        if isinstance(value, JwtFilterStateRule):
            found = [(f"requires.{k}", r) for k, r in (value.requires or {}).items()]
        elif isinstance(value, dict):
            found = [(str(k), r) for k, r in value.items()]
        else:
            names = info.data.get("requirement_map") or {}
            for i, rule in enumerate(value):
                if rule.requires is not None:
                    found.append((f"[{i}].requires", rule.requires))
                if rule.requirement_name is not None and rule.requirement_name not in names:
                    problems.append(Issue(f"[{i}].requirement_name",
                                          f"{rule.requirement_name!r} is not in "
                                          f"requirement_map ({sorted(names) or 'empty'})"))
        for where, req in found:
            for path, name in req.provider_names():
                if name not in known:
                    problems.append(Issue(f"{where}.{path}", f"unknown provider {name!r} "
                                          f"(providers: {sorted(known) or 'none'})"))
        if problems:
            # ``inner`` lets envoykit's error formatting report each issue at its own path
            raise PydanticCustomError("jwt_names", "{summary}", {
                "summary": "; ".join(str(p) for p in problems), "inner": problems})
        return value


class JwtPerRouteConfig(TypedConfig):
    """Per-route JWT setting (``typed_per_filter_config``): ``disabled: true`` or a
    ``requirement_name`` from the filter's ``requirement_map``."""

    type_url = "envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig"
    filter_name: ClassVar[str] = "envoy.filters.http.jwt_authn"

    disabled: Literal[True] | None = None
    requirement_name: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one(self) -> JwtPerRouteConfig:
        self._exactly_one("disabled", "requirement_name")
        return self


for _model in (JwtRequirementOrList, JwtRequirementAndList, JwtRequirement):
    _model.model_rebuild()
