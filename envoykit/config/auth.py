"""Security HTTP filters: JWT authentication, RBAC and OAuth2 (Envoy v3, Envoy's field names).

* :class:`JwtAuthentication` — ``envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication``
  (filter ``envoy.filters.http.jwt_authn``), per route :class:`JwtPerRouteConfig`;
* :class:`RBAC` — ``envoy.extensions.filters.http.rbac.v3.RBAC`` (filter
  ``envoy.filters.http.rbac``) holding :class:`RBACRules` (``envoy.config.rbac.v3.RBAC``),
  per route :class:`RBACPerRoute`;
* :class:`OAuth2` — ``envoy.extensions.filters.http.oauth2.v3.OAuth2`` (filter
  ``envoy.filters.http.oauth2``), per route :class:`OAuth2PerRoute`. Its secrets are
  :class:`~envoykit.config.tls.SdsSecretConfig` names of ``generic_secret`` secrets.

Each filter (and per-route) model has a ``filter_name`` class constant, the name for
``HttpFilter.of(...)`` and the key in ``typed_per_filter_config``. The field sets equal those
of envoy 1.40's own schema (checked by the integration tests). Beyond field-level checks:
:class:`JwtAuthentication` checks that every provider and requirement name a rule uses is
defined, and :class:`OAuth2Config` that at most one option claims the Authorization header
(envoy refuses both), each error naming the field path.

Example::

    JwtAuthentication(
        providers={"idp": JwtProvider(issuer="https://idp.test",
                                      local_jwks=DataSource(filename="/etc/jwks.json"))},
        rules=[RequirementRule(match=RouteMatch(prefix="/"),
                               requires=JwtRequirement.provider("idp"))],
    )
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from envoykit.config._base import TYPE_PREFIX, Duration, EnvoyModel, TypedConfig
from envoykit.config.core import (
    CidrRange,
    DataSource,
    HeaderMatcher,
    HttpUri,
    StringMatcher,
    TypedExtensionConfig,
)
from envoykit.config.route import RouteMatch
from envoykit.config.tls import SdsSecretConfig
from envoykit.errors import Issue

__all__ = [
    "RBAC",
    "Empty",
    "Int32Range",
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
    "OAuth2",
    "OAuth2Config",
    "OAuth2CookieConfig",
    "OAuth2CookieConfigs",
    "OAuth2CookieNames",
    "OAuth2Credentials",
    "OAuth2PerRoute",
    "OAuth2PostLogoutRedirectUri",
    "OAuth2PrivateKeyJwtConfig",
    "OAuth2TokenCookieChunking",
    "OAuth2TokenForwarding",
    "PathMatcher",
    "Permission",
    "PermissionSet",
    "Policy",
    "Principal",
    "PrincipalAuthenticated",
    "PrincipalSet",
    "ProviderWithAudiences",
    "RBACPerRoute",
    "RBACRules",
    "RemoteJwks",
    "RequirementRule",
    "SdsSecretConfig",
]


# --- small shared messages ------------------------------------------------------------------


class Empty(EnvoyModel):
    """``google.protobuf.Empty``: renders as ``{}`` (e.g. ``allow_missing: {}``)."""


class PathMatcher(EnvoyModel):
    """``envoy.type.matcher.v3.PathMatcher``: match the URL path (without query) by ``path``."""

    path: StringMatcher

    @classmethod
    def prefix(cls, value: str) -> PathMatcher:
        """``PathMatcher.prefix("/admin")``."""
        return cls(path=StringMatcher(prefix=value))

    @classmethod
    def exact(cls, value: str) -> PathMatcher:
        """``PathMatcher.exact("/callback")``."""
        return cls(path=StringMatcher(exact=value))


class Int32Range(EnvoyModel):
    """``envoy.type.v3.Int32Range``: ``[start, end)``."""

    start: int
    end: int

    @model_validator(mode="after")
    def _ordered(self) -> Int32Range:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) must not be below start ({self.start})")
        return self


# --- JWT authentication ---------------------------------------------------------------------


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


# --- RBAC -----------------------------------------------------------------------------------


class PermissionSet(EnvoyModel):
    """``Permission.Set``: the ``rules`` of ``and_rules`` / ``or_rules``."""

    rules: list[Permission] = Field(min_length=1)


class Permission(EnvoyModel):
    """What a request does (exactly one rule): ``any``, ``header``, ``url_path``,
    ``destination_ip``/``destination_port``/``destination_port_range``,
    ``requested_server_name``, ``and_rules``/``or_rules``/``not_rule``, or an extension."""

    and_rules: PermissionSet | None = None
    or_rules: PermissionSet | None = None
    any: Literal[True] | None = None
    header: HeaderMatcher | None = None
    url_path: PathMatcher | None = None
    destination_ip: CidrRange | None = None
    destination_port: int | None = Field(default=None, ge=0, le=65535)
    destination_port_range: Int32Range | None = None
    metadata: dict[str, Any] | None = None  # deprecated by Envoy: use sourced_metadata
    not_rule: Permission | None = None
    requested_server_name: StringMatcher | None = None
    matcher: TypedExtensionConfig | None = None
    uri_template: TypedExtensionConfig | None = None
    sourced_metadata: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one(self) -> Permission:
        self._exactly_one(*_PERMISSION_RULES)
        return self

    @classmethod
    def all_of(cls, *rules: Permission) -> Permission:
        """``and_rules`` of ``rules``."""
        return cls(and_rules=PermissionSet(rules=list(rules)))

    @classmethod
    def any_of(cls, *rules: Permission) -> Permission:
        """``or_rules`` of ``rules``."""
        return cls(or_rules=PermissionSet(rules=list(rules)))

    @classmethod
    def negate(cls, rule: Permission) -> Permission:
        """``not_rule``."""
        return cls(not_rule=rule)

    @classmethod
    def path_prefix(cls, prefix: str) -> Permission:
        """Requests whose URL path (query excluded) starts with ``prefix``."""
        return cls(url_path=PathMatcher.prefix(prefix))

    @classmethod
    def header_exact(cls, name: str, value: str) -> Permission:
        """Requests whose header ``name`` is exactly ``value`` (``:method`` works too)."""
        return cls(header=HeaderMatcher(name=name, string_match=StringMatcher(exact=value)))


_PERMISSION_RULES = (
    "and_rules", "or_rules", "any", "header", "url_path", "destination_ip", "destination_port",
    "destination_port_range", "metadata", "not_rule", "requested_server_name", "matcher",
    "uri_template", "sourced_metadata",
)


class PrincipalSet(EnvoyModel):
    """``Principal.Set``: the ``ids`` of ``and_ids`` / ``or_ids``."""

    ids: list[Principal] = Field(min_length=1)


class PrincipalAuthenticated(EnvoyModel):
    """``Principal.Authenticated``: a TLS peer, optionally by name (URI/DNS SAN or subject)."""

    principal_name: StringMatcher | None = None


class Principal(EnvoyModel):
    """Who sends the request (exactly one identifier): ``any``, ``authenticated``,
    ``direct_remote_ip``/``remote_ip``/``source_ip``, ``header``, ``url_path``,
    ``and_ids``/``or_ids``/``not_id``, ``filter_state``, metadata or ``custom``."""

    and_ids: PrincipalSet | None = None
    or_ids: PrincipalSet | None = None
    any: Literal[True] | None = None
    authenticated: PrincipalAuthenticated | None = None
    source_ip: CidrRange | None = None  # deprecated by Envoy: use direct_remote_ip
    direct_remote_ip: CidrRange | None = None
    remote_ip: CidrRange | None = None
    header: HeaderMatcher | None = None
    url_path: PathMatcher | None = None
    metadata: dict[str, Any] | None = None  # deprecated by Envoy: use sourced_metadata
    filter_state: dict[str, Any] | None = None
    not_id: Principal | None = None
    sourced_metadata: dict[str, Any] | None = None
    custom: TypedExtensionConfig | None = None

    @model_validator(mode="after")
    def _one(self) -> Principal:
        self._exactly_one(*_PRINCIPAL_IDS)
        return self

    @classmethod
    def anyone(cls) -> Principal:
        """``any: true``."""
        return cls(any=True)

    @classmethod
    def all_of(cls, *ids: Principal) -> Principal:
        """``and_ids`` of ``ids``."""
        return cls(and_ids=PrincipalSet(ids=list(ids)))

    @classmethod
    def any_of(cls, *ids: Principal) -> Principal:
        """``or_ids`` of ``ids``."""
        return cls(or_ids=PrincipalSet(ids=list(ids)))

    @classmethod
    def negate(cls, principal: Principal) -> Principal:
        """``not_id``."""
        return cls(not_id=principal)

    @classmethod
    def ip(cls, cidr: str) -> Principal:
        """``direct_remote_ip`` from ``"10.0.0.0/8"`` (or a bare address: a /32 or /128)."""
        address, _, length = cidr.partition("/")
        default_len = 128 if ":" in address else 32
        prefix_len = int(length) if length else default_len
        return cls(direct_remote_ip=CidrRange(address_prefix=address, prefix_len=prefix_len))


_PRINCIPAL_IDS = (
    "and_ids", "or_ids", "any", "authenticated", "source_ip", "direct_remote_ip", "remote_ip",
    "header", "url_path", "metadata", "filter_state", "not_id", "sourced_metadata", "custom",
)


class Policy(EnvoyModel):
    """A policy matches when one of its ``permissions`` and one of its ``principals`` match
    (and the optional CEL ``condition`` holds)."""

    permissions: list[Permission] = Field(min_length=1)
    principals: list[Principal] = Field(min_length=1)
    condition: dict[str, Any] | None = None
    checked_condition: dict[str, Any] | None = None
    cel_config: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one(self) -> Policy:
        self._exactly_one("condition", "checked_condition", required=False)
        return self


class RBACRules(EnvoyModel):
    """``envoy.config.rbac.v3.RBAC``: ``ALLOW`` lets only matching requests through,
    ``DENY`` stops matching requests (403), ``LOG`` only marks them for access logs.
    Policies are evaluated in the lexicographic order of their names."""

    action: Literal["ALLOW", "DENY", "LOG"] | None = None
    policies: dict[str, Policy] | None = None
    audit_logging_options: dict[str, Any] | None = None


class RBAC(TypedConfig):
    """The RBAC HTTP filter: enforced ``rules`` and optional ``shadow_rules`` (stats and logs
    only). With ``rules`` absent nothing is enforced; present and empty denies all."""

    type_url = "envoy.extensions.filters.http.rbac.v3.RBAC"
    filter_name: ClassVar[str] = "envoy.filters.http.rbac"

    rules: RBACRules | None = None
    rules_stat_prefix: str | None = None
    matcher: dict[str, Any] | None = None
    shadow_rules: RBACRules | None = None
    shadow_matcher: dict[str, Any] | None = None
    shadow_rules_stat_prefix: str | None = None
    track_per_rule_stats: bool | None = None


class RBACPerRoute(TypedConfig):
    """Per-route RBAC (``typed_per_filter_config``): ``rbac`` replaces the filter's config;
    absent, RBAC is disabled for the route."""

    type_url = "envoy.extensions.filters.http.rbac.v3.RBACPerRoute"
    filter_name: ClassVar[str] = "envoy.filters.http.rbac"

    rbac: RBAC | None = None

    @field_validator("rbac", mode="before")
    @classmethod
    def _inner_untyped(cls, value: Any) -> Any:
        # the inner RBAC is a plain message here: accept it with or without an @type
        if isinstance(value, dict):
            return {k: v for k, v in value.items() if k != "@type"}
        return value

    @model_serializer(mode="wrap")
    def _add_type(self, handler: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        # overrides TypedConfig's: the inner ``rbac`` is a plain message (no ``@type``)
        body = handler(self)
        if isinstance(body.get("rbac"), dict):
            body["rbac"] = {k: v for k, v in body["rbac"].items() if k != "@type"}
        return {"@type": TYPE_PREFIX + self.type_url, **body}


# --- OAuth2 ---------------------------------------------------------------------------------


class OAuth2CookieNames(EnvoyModel):
    """Cookie names to use instead of Envoy's defaults (``BearerToken``, ``OauthHMAC``...)."""

    bearer_token: str | None = None
    oauth_hmac: str | None = None
    oauth_expires: str | None = None
    id_token: str | None = None
    refresh_token: str | None = None
    oauth_nonce: str | None = None
    code_verifier: str | None = None


class OAuth2Credentials(EnvoyModel):
    """The OAuth client: ``client_id``, the client secret (``token_secret``) and the key that
    signs the filter's cookies (``hmac_secret``), both secrets by SDS name."""

    client_id: str = Field(min_length=1)
    token_secret: SdsSecretConfig
    hmac_secret: SdsSecretConfig
    cookie_names: OAuth2CookieNames | None = None
    cookie_domain: str | None = None


class OAuth2CookieConfig(EnvoyModel):
    """Attributes of one cookie the filter sets."""

    same_site: Literal["DISABLED", "STRICT", "LAX", "NONE"] | None = None
    path: str | None = None
    partitioned: bool | None = None


class OAuth2CookieConfigs(EnvoyModel):
    """Attributes of each cookie the filter sets."""

    bearer_token_cookie_config: OAuth2CookieConfig | None = None
    oauth_hmac_cookie_config: OAuth2CookieConfig | None = None
    oauth_expires_cookie_config: OAuth2CookieConfig | None = None
    id_token_cookie_config: OAuth2CookieConfig | None = None
    refresh_token_cookie_config: OAuth2CookieConfig | None = None
    oauth_nonce_cookie_config: OAuth2CookieConfig | None = None
    code_verifier_cookie_config: OAuth2CookieConfig | None = None


class OAuth2TokenForwarding(EnvoyModel):
    """Forward a token to the upstream in ``header`` (``forward_id_token``)."""

    header: str = Field(min_length=1)


class OAuth2PostLogoutRedirectUri(EnvoyModel):
    """Where the identity provider sends the user after sign-out: ``uri`` or ``disabled``."""

    disabled: bool | None = None
    uri: str | None = None

    @model_validator(mode="after")
    def _one(self) -> OAuth2PostLogoutRedirectUri:
        self._exactly_one("disabled", "uri")
        return self


class OAuth2PrivateKeyJwtConfig(EnvoyModel):
    """Client authentication by a signed JWT assertion (``auth_type: PRIVATE_KEY_JWT``)."""

    signing_algorithm: Literal["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"] | None = None
    assertion_lifetime: Duration | None = None
    assertion_audience: str | None = None


class OAuth2TokenCookieChunking(EnvoyModel):
    """Split large token cookies into chunks."""

    max_cookie_size: int | None = Field(default=None, ge=0)
    max_chunks: int | None = Field(default=None, ge=0)


class OAuth2Config(EnvoyModel):
    """The OAuth2 authorization-code flow: unauthenticated requests are redirected to
    ``authorization_endpoint``; the callback (``redirect_path_matcher``) exchanges the code at
    ``token_endpoint``; ``signout_path`` clears the cookies."""

    token_endpoint: HttpUri | None = None
    retry_policy: dict[str, Any] | None = None
    authorization_endpoint: str = Field(min_length=1)
    end_session_endpoint: str | None = None
    post_logout_redirect_uri: OAuth2PostLogoutRedirectUri | None = None
    credentials: OAuth2Credentials
    redirect_uri: str = Field(min_length=1)
    redirect_path_matcher: PathMatcher
    signout_path: PathMatcher
    forward_bearer_token: bool | None = None
    forward_id_token: OAuth2TokenForwarding | None = None
    preserve_authorization_header: bool | None = None
    pass_through_matcher: list[HeaderMatcher] | None = None
    auth_scopes: list[str] | None = None
    resources: list[str] | None = None
    auth_type: (
        Literal["URL_ENCODED_BODY", "BASIC_AUTH", "TLS_CLIENT_AUTH", "PRIVATE_KEY_JWT"] | None
    ) = None
    use_refresh_token: bool | None = None
    default_expires_in: Duration | None = None
    deny_redirect_matcher: list[HeaderMatcher] | None = None
    default_refresh_token_expires_in: Duration | None = None
    disable_id_token_set_cookie: bool | None = None
    disable_access_token_set_cookie: bool | None = None
    disable_refresh_token_set_cookie: bool | None = None
    cookie_configs: OAuth2CookieConfigs | None = None
    stat_prefix: str | None = None
    csrf_token_expires_in: Duration | None = None
    code_verifier_token_expires_in: Duration | None = None
    disable_token_encryption: bool | None = None
    allow_failed_matcher: list[HeaderMatcher] | None = None
    original_request_uri: str | None = None
    allowed_redirect_domains: list[str] | None = None
    use_access_token_expiry_for_id_token_cookie: bool | None = None
    private_key_jwt_config: OAuth2PrivateKeyJwtConfig | None = None
    token_cookie_chunking: OAuth2TokenCookieChunking | None = None

    @model_validator(mode="after")
    def _one_authorization_header(self) -> OAuth2Config:
        # envoy refuses more than one user of the upstream Authorization header
        users = [name for name, used in (
            ("forward_bearer_token", bool(self.forward_bearer_token)),
            ("preserve_authorization_header", bool(self.preserve_authorization_header)),
            ("forward_id_token", self.forward_id_token is not None
             and self.forward_id_token.header.lower() == "authorization"),
        ) if used]
        if len(users) > 1:
            raise ValueError(f"{' and '.join(users)} all use the Authorization header: "
                             "set at most one")
        return self


class OAuth2(TypedConfig):
    """The OAuth2 HTTP filter; ``config`` absent disables it."""

    type_url = "envoy.extensions.filters.http.oauth2.v3.OAuth2"
    filter_name: ClassVar[str] = "envoy.filters.http.oauth2"

    config: OAuth2Config | None = None


class OAuth2PerRoute(TypedConfig):
    """Per-route OAuth2 (``typed_per_filter_config``): ``config`` replaces the filter's."""

    type_url = "envoy.extensions.filters.http.oauth2.v3.OAuth2PerRoute"
    filter_name: ClassVar[str] = "envoy.filters.http.oauth2"

    config: OAuth2Config | None = None


for _model in (JwtRequirementOrList, JwtRequirementAndList, JwtRequirement, PermissionSet,
               Permission, PrincipalSet, Principal):
    _model.model_rebuild()
