"""HTTP filters, one module per filter, each on the common :class:`TypedConfig` base.

Every filter config (and per-route config) carries its ``type_url`` and ``filter_name``, so it
registers itself (:func:`envoykit.config.registered_types`) and ``HttpFilter.of(config)`` names
it. To add a filter: a new module here with its models, imported below and in
:mod:`envoykit.config`. Field names and sets are Envoy's own (the integration tests compare
each model reached from a registered filter with the envoy binary's compiled schema).
"""

from envoykit.config.filters._common import (
    Empty,
    Int32Range,
    PathMatcher,
)
from envoykit.config.filters.cors import (
    Cors,
    CorsPolicy,
)
from envoykit.config.filters.jwt import (
    JwksAsyncFetch,
    JwtAuthentication,
    JwtCacheConfig,
    JwtClaimPathSegment,
    JwtClaimToHeader,
    JwtFilterStateRule,
    JwtHeader,
    JwtPerRouteConfig,
    JwtProvider,
    JwtRequirement,
    JwtRequirementAndList,
    JwtRequirementOrList,
    NormalizePayload,
    ProviderWithAudiences,
    RemoteJwks,
    RequirementRule,
)
from envoykit.config.filters.local_ratelimit import (
    LocalRateLimit,
    LocalRateLimitDescriptor,
)
from envoykit.config.filters.oauth2 import (
    OAuth2,
    OAuth2Config,
    OAuth2CookieConfig,
    OAuth2CookieConfigs,
    OAuth2CookieNames,
    OAuth2Credentials,
    OAuth2PerRoute,
    OAuth2PostLogoutRedirectUri,
    OAuth2PrivateKeyJwtConfig,
    OAuth2TokenCookieChunking,
    OAuth2TokenForwarding,
)
from envoykit.config.filters.rbac import (
    RBAC,
    Permission,
    PermissionSet,
    Policy,
    Principal,
    PrincipalAuthenticated,
    PrincipalSet,
    RBACPerRoute,
    RBACRules,
)
from envoykit.config.filters.router import (
    Router,
)

__all__ = [
    "RBAC",
    "Cors",
    "CorsPolicy",
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
    "LocalRateLimit",
    "LocalRateLimitDescriptor",
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
    "Router",
]
