"""OAuth2: ``envoy.extensions.filters.http.oauth2.v3.OAuth2`` (filter
``envoy.filters.http.oauth2``), per route :class:`OAuth2PerRoute`. Its secrets are
:class:`~envoykit.config.tls.SdsSecretConfig` names of ``generic_secret`` secrets.

Beyond field-level checks, :class:`OAuth2Config` checks that at most one option claims the
Authorization header (envoy refuses both).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from envoykit.config._base import Duration, EnvoyModel, TypedConfig
from envoykit.config.core import HeaderMatcher, HttpUri
from envoykit.config.filters._common import PathMatcher
from envoykit.config.tls import SdsSecretConfig

__all__ = [
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
]


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
