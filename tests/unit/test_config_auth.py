"""Typed models of the security HTTP filters: jwt_authn, rbac, oauth2, cors."""

from __future__ import annotations

from typing import Any

import pytest

from envoykit.config import (
    RBAC,
    Cors,
    CorsPolicy,
    Empty,
    HttpFilter,
    JwtAuthentication,
    JwtClaimPathSegment,
    JwtClaimToHeader,
    JwtHeader,
    JwtPerRouteConfig,
    JwtProvider,
    JwtRequirement,
    OAuth2,
    OAuth2Config,
    OAuth2Credentials,
    OAuth2PerRoute,
    OAuth2PostLogoutRedirectUri,
    PathMatcher,
    Permission,
    Policy,
    Principal,
    RBACPerRoute,
    RBACRules,
    RemoteJwks,
    RequirementRule,
    SdsSecretConfig,
    registered_types,
)
from envoykit.config.core import CidrRange, DataSource, HeaderMatcher, HttpUri, StringMatcher
from envoykit.config.route import RouteMatch
from envoykit.errors import ModelError

T = "type.googleapis.com/"
JWT_T = T + "envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication"
RBAC_T = T + "envoy.extensions.filters.http.rbac.v3.RBAC"
OAUTH_T = T + "envoy.extensions.filters.http.oauth2.v3.OAuth2"


def issue_paths(exc: pytest.ExceptionInfo[ModelError]) -> list[str]:
    return [issue.path for issue in exc.value.issues]


# --- JWT ------------------------------------------------------------------------------------


def _jwt() -> JwtAuthentication:
    return JwtAuthentication(
        providers={
            "p1": JwtProvider(
                issuer="https://issuer.test",
                audiences=["api"],
                remote_jwks=RemoteJwks(
                    http_uri=HttpUri(uri="https://issuer.test/jwks", cluster="jwks",
                                     timeout="1s"),
                    cache_duration="300s",
                ),
                forward=True,
                from_headers=[JwtHeader(name="x-jwt", value_prefix="Bearer ")],
                payload_in_metadata="jwt",
                claim_to_headers=[JwtClaimToHeader(header_name="x-sub", claim_name="sub")],
            ),
            "p2": JwtProvider(local_jwks=DataSource(inline_string='{"keys": []}')),
        },
        rules=[
            RequirementRule(match=RouteMatch(prefix="/health")),
            RequirementRule(match=RouteMatch(prefix="/"),
                            requires=JwtRequirement.any_of("p1", "p2")),
        ],
        bypass_cors_preflight=True,
    )


JWT_DICT: dict[str, Any] = {
    "@type": JWT_T,
    "providers": {
        "p1": {
            "issuer": "https://issuer.test",
            "audiences": ["api"],
            "remote_jwks": {
                "http_uri": {"uri": "https://issuer.test/jwks", "cluster": "jwks",
                             "timeout": "1s"},
                "cache_duration": "300s",
            },
            "forward": True,
            "from_headers": [{"name": "x-jwt", "value_prefix": "Bearer "}],
            "payload_in_metadata": "jwt",
            "claim_to_headers": [{"header_name": "x-sub", "claim_name": "sub"}],
        },
        "p2": {"local_jwks": {"inline_string": '{"keys": []}'}},
    },
    "rules": [
        {"match": {"prefix": "/health"}},
        {
            "match": {"prefix": "/"},
            "requires": {"requires_any": {"requirements": [
                {"provider_name": "p1"}, {"provider_name": "p2"}]}},
        },
    ],
    "bypass_cors_preflight": True,
}


def test_jwt_renders_exactly_what_was_said() -> None:
    assert _jwt().to_dict() == JWT_DICT


def test_jwt_loads_from_its_dict_and_round_trips() -> None:
    loaded = JwtAuthentication.from_dict(JWT_DICT)
    assert isinstance(loaded.providers["p1"].remote_jwks, RemoteJwks)
    assert loaded.rules[1].requires.requires_any.requirements[0].provider_name == "p1"
    assert loaded.to_dict() == JWT_DICT


def test_jwt_is_registered_by_type_url_and_used_in_an_http_filter() -> None:
    assert registered_types()[JWT_T] is JwtAuthentication
    flt = HttpFilter.model_validate({"name": "envoy.filters.http.jwt_authn",
                                     "typed_config": JWT_DICT})
    assert isinstance(flt.typed_config, JwtAuthentication)
    assert HttpFilter.of(_jwt()).name == JwtAuthentication.filter_name


def test_jwt_requirement_helpers_and_empty_messages() -> None:
    req = JwtRequirement.all_of(JwtRequirement.any_of("a", JwtRequirement.missing_allowed()),
                                "b")
    assert req.to_dict() == {"requires_all": {"requirements": [
        {"requires_any": {"requirements": [{"provider_name": "a"}, {"allow_missing": {}}]}},
        {"provider_name": "b"},
    ]}}
    assert JwtRequirement(allow_missing_or_failed=Empty()).to_dict() == {
        "allow_missing_or_failed": {}}


def test_jwt_error_names_the_provider_field_path() -> None:
    bad = dict(JWT_DICT, providers={"p1": {"issuer": 42, "local_jwks": {"inline_string": "x"}}})
    bad.pop("rules")
    with pytest.raises(ModelError) as exc:
        JwtAuthentication.from_dict(bad)
    assert issue_paths(exc) == ["providers.p1.issuer"]
    assert "valid string" in str(exc.value)


def test_jwt_provider_needs_exactly_one_jwks_source() -> None:
    with pytest.raises(ModelError) as exc:
        JwtAuthentication.from_dict({"providers": {"p1": {"issuer": "x"}}})
    assert issue_paths(exc) == ["providers.p1"]
    assert "remote_jwks, local_jwks" in str(exc.value)
    with pytest.raises(ModelError, match="got \\['remote_jwks', 'local_jwks'\\]"):
        JwtProvider(
            remote_jwks=RemoteJwks(http_uri=HttpUri(uri="https://x/", cluster="c", timeout=1)),
            local_jwks=DataSource(filename="/jwks.json"),
        )


def test_jwt_requirement_oneof_and_list_length() -> None:
    with pytest.raises(ModelError, match="set exactly one of provider_name"):
        JwtRequirement(provider_name="a", allow_missing=Empty())
    with pytest.raises(ModelError) as exc:
        JwtRequirement.from_dict({"requires_any": {"requirements": [{"provider_name": "a"}]}})
    assert issue_paths(exc) == ["requires_any.requirements"]


def test_jwt_rule_with_unknown_provider_or_requirement_name_is_an_error() -> None:
    data = {
        "providers": {"p1": {"local_jwks": {"inline_string": "{}"}}},
        "rules": [
            {"match": {"prefix": "/a"}, "requires": {"requires_all": {"requirements": [
                {"provider_name": "p1"}, {"provider_name": "nope"}]}}},
            {"match": {"prefix": "/b"}, "requirement_name": "missing"},
        ],
    }
    with pytest.raises(ModelError) as exc:
        JwtAuthentication.from_dict(data)
    paths = issue_paths(exc)
    assert sorted(paths) == [
        "rules[0].requires.requires_all.requirements[1].provider_name",
        "rules[1].requirement_name",
    ]
    assert "unknown provider 'nope'" in str(exc.value)


def test_jwt_rule_error_inside_an_http_filter_keeps_the_full_path() -> None:
    with pytest.raises(ModelError) as exc:
        HttpFilter.from_dict({"name": "jwt", "typed_config": {
            "@type": JWT_T, "rules": [{"match": {"prefix": "/"},
                                       "requires": {"provider_name": "ghost"}}]}})
    assert issue_paths(exc) == ["typed_config.rules[0].requires.provider_name"]


def test_jwt_rule_match_is_required_and_checked() -> None:
    with pytest.raises(ModelError) as exc:
        RequirementRule.from_dict({"requires": {"provider_name": "p"}})
    assert issue_paths(exc) == ["match"]
    with pytest.raises(ModelError) as exc:
        RequirementRule.from_dict({"match": {"prefix": "/", "path": "/x"}})
    assert issue_paths(exc) == ["match"]


def test_jwt_per_route_config() -> None:
    assert JwtPerRouteConfig(disabled=True).to_dict() == {
        "@type": T + "envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig",
        "disabled": True}
    with pytest.raises(ModelError):
        JwtPerRouteConfig()
    with pytest.raises(ModelError) as exc:
        JwtPerRouteConfig.from_dict({"disabled": False})
    assert issue_paths(exc) == ["disabled"]


# --- RBAC -----------------------------------------------------------------------------------


def _rbac() -> RBAC:
    return RBAC(
        rules=RBACRules(
            action="DENY",
            policies={
                "no-admin": Policy(
                    permissions=[Permission.path_prefix("/admin")],
                    principals=[Principal.anyone()],
                ),
                "no-evil-get": Policy(
                    permissions=[Permission.all_of(
                        Permission.header_exact(":method", "GET"),
                        Permission.any_of(Permission(destination_port=80),
                                          Permission(destination_port=443)),
                        Permission.negate(Permission(url_path=PathMatcher.exact("/ok"))),
                    )],
                    principals=[
                        Principal(header=HeaderMatcher(name="x-evil", present_match=True)),
                        Principal.ip("10.0.0.0/8"),
                        Principal.negate(Principal(remote_ip=CidrRange(
                            address_prefix="127.0.0.1", prefix_len=32))),
                    ],
                ),
            },
        ),
        shadow_rules=RBACRules(action="ALLOW", policies={}),
        shadow_rules_stat_prefix="shadow_",
    )


RBAC_DICT: dict[str, Any] = {
    "@type": RBAC_T,
    "rules": {
        "action": "DENY",
        "policies": {
            "no-admin": {
                "permissions": [{"url_path": {"path": {"prefix": "/admin"}}}],
                "principals": [{"any": True}],
            },
            "no-evil-get": {
                "permissions": [{"and_rules": {"rules": [
                    {"header": {"name": ":method", "string_match": {"exact": "GET"}}},
                    {"or_rules": {"rules": [{"destination_port": 80},
                                            {"destination_port": 443}]}},
                    {"not_rule": {"url_path": {"path": {"exact": "/ok"}}}},
                ]}}],
                "principals": [
                    {"header": {"name": "x-evil", "present_match": True}},
                    {"direct_remote_ip": {"address_prefix": "10.0.0.0", "prefix_len": 8}},
                    {"not_id": {"remote_ip": {"address_prefix": "127.0.0.1",
                                              "prefix_len": 32}}},
                ],
            },
        },
    },
    "shadow_rules": {"action": "ALLOW", "policies": {}},
    "shadow_rules_stat_prefix": "shadow_",
}


def test_rbac_renders_and_loads() -> None:
    assert _rbac().to_dict() == RBAC_DICT
    loaded = RBAC.from_dict(RBAC_DICT)
    assert loaded.to_dict() == RBAC_DICT
    perm = loaded.rules.policies["no-evil-get"].permissions[0]
    assert perm.and_rules.rules[2].not_rule.url_path.path.exact == "/ok"
    assert registered_types()[RBAC_T] is RBAC
    assert RBAC.filter_name == "envoy.filters.http.rbac"


def test_rbac_principal_ip_helper_defaults_to_a_host_prefix() -> None:
    assert Principal.ip("192.0.2.1").direct_remote_ip == CidrRange(
        address_prefix="192.0.2.1", prefix_len=32)
    assert Principal.ip("::1").direct_remote_ip == CidrRange(address_prefix="::1", prefix_len=128)


def test_rbac_permission_and_principal_are_oneofs() -> None:
    with pytest.raises(ModelError, match="set exactly one of and_rules"):
        Permission(any=True, destination_port=80)
    with pytest.raises(ModelError, match="got none"):
        Principal()
    with pytest.raises(ModelError) as exc:
        Permission.from_dict({"any": False})
    assert issue_paths(exc) == ["any"]


def test_rbac_errors_name_the_nested_path() -> None:
    data = {"rules": {"action": "DENY", "policies": {"p": {
        "permissions": [{"and_rules": {"rules": [{"destination_port": 70000}]}}],
        "principals": [{"any": True}],
    }}}}
    with pytest.raises(ModelError) as exc:
        RBAC.from_dict(data)
    assert issue_paths(exc) == [
        "rules.policies.p.permissions[0].and_rules.rules[0].destination_port"]
    with pytest.raises(ModelError) as exc:
        RBAC.from_dict({"rules": {"action": "MAYBE"}})
    assert issue_paths(exc) == ["rules.action"]
    with pytest.raises(ModelError) as exc:
        RBAC.from_dict({"rules": {"policies": {"p": {"permissions": [],
                                                     "principals": [{"any": True}]}}}})
    assert issue_paths(exc) == ["rules.policies.p.permissions"]


def test_rbac_per_route_inner_rbac_has_no_type() -> None:
    per_route = RBACPerRoute(rbac=RBAC(rules=RBACRules(action="ALLOW", policies={})))
    expected = {"@type": T + "envoy.extensions.filters.http.rbac.v3.RBACPerRoute",
                "rbac": {"rules": {"action": "ALLOW", "policies": {}}}}
    assert per_route.to_dict() == expected
    assert RBACPerRoute.from_dict(expected).to_dict() == expected
    assert RBACPerRoute().to_dict() == {"@type": expected["@type"]}


# --- OAuth2 ---------------------------------------------------------------------------------


def _oauth() -> OAuth2:
    return OAuth2(config=OAuth2Config(
        token_endpoint=HttpUri(uri="http://auth.test/token", cluster="oauth", timeout="3s"),
        authorization_endpoint="http://auth.test/authorize",
        credentials=OAuth2Credentials(
            client_id="envoy",
            token_secret=SdsSecretConfig(name="token"),
            hmac_secret=SdsSecretConfig(name="hmac"),
        ),
        redirect_uri="%REQ(x-forwarded-proto)%://%REQ(:authority)%/callback",
        redirect_path_matcher=PathMatcher.exact("/callback"),
        signout_path=PathMatcher.exact("/signout"),
        forward_bearer_token=True,
        pass_through_matcher=[HeaderMatcher(name="x-internal",
                                            string_match=StringMatcher(exact="yes"))],
        auth_scopes=["openid", "email"],
        auth_type="BASIC_AUTH",
    ))


OAUTH_DICT: dict[str, Any] = {
    "@type": OAUTH_T,
    "config": {
        "token_endpoint": {"uri": "http://auth.test/token", "cluster": "oauth",
                           "timeout": "3s"},
        "authorization_endpoint": "http://auth.test/authorize",
        "credentials": {"client_id": "envoy", "token_secret": {"name": "token"},
                        "hmac_secret": {"name": "hmac"}},
        "redirect_uri": "%REQ(x-forwarded-proto)%://%REQ(:authority)%/callback",
        "redirect_path_matcher": {"path": {"exact": "/callback"}},
        "signout_path": {"path": {"exact": "/signout"}},
        "forward_bearer_token": True,
        "pass_through_matcher": [{"name": "x-internal", "string_match": {"exact": "yes"}}],
        "auth_scopes": ["openid", "email"],
        "auth_type": "BASIC_AUTH",
    },
}


def test_oauth2_renders_and_loads() -> None:
    assert _oauth().to_dict() == OAUTH_DICT
    assert OAuth2.from_dict(OAUTH_DICT).to_dict() == OAUTH_DICT
    assert registered_types()[OAUTH_T] is OAuth2
    assert OAuth2().to_dict() == {"@type": OAUTH_T}
    assert OAuth2.filter_name == "envoy.filters.http.oauth2"


def test_oauth2_required_fields_are_named() -> None:
    config = dict(OAUTH_DICT["config"])
    del config["redirect_path_matcher"]
    config["credentials"] = {"client_id": "", "token_secret": {"name": "t"}}
    with pytest.raises(ModelError) as exc:
        OAuth2.from_dict({"config": config})
    assert sorted(issue_paths(exc)) == [
        "config.credentials.client_id",
        "config.credentials.hmac_secret",
        "config.redirect_path_matcher",
    ]


def test_oauth2_enum_and_type_checks() -> None:
    config = dict(OAUTH_DICT["config"], auth_type="DIGEST")
    with pytest.raises(ModelError) as exc:
        OAuth2.from_dict({"config": config})
    assert issue_paths(exc) == ["config.auth_type"]
    with pytest.raises(ModelError, match="@type is"):
        OAuth2.from_dict({"@type": RBAC_T})


# --- CORS -----------------------------------------------------------------------------------


def test_cors_filter_and_policy() -> None:
    assert Cors().to_dict() == {"@type": T + "envoy.extensions.filters.http.cors.v3.Cors"}
    assert Cors.filter_name == "envoy.filters.http.cors"
    policy = CorsPolicy(
        allow_origin_string_match=[StringMatcher(exact="https://app.test"),
                                   StringMatcher(suffix=".app.test")],
        allow_methods=["GET", "POST"],
        allow_headers="authorization,content-type",
        expose_headers=["x-request-id"],
        max_age=600,
        allow_credentials=True,
    )
    expected = {
        "@type": T + "envoy.extensions.filters.http.cors.v3.CorsPolicy",
        "allow_origin_string_match": [{"exact": "https://app.test"},
                                      {"suffix": ".app.test"}],
        "allow_methods": "GET,POST",
        "allow_headers": "authorization,content-type",
        "expose_headers": "x-request-id",
        "max_age": "600",
        "allow_credentials": True,
    }
    assert policy.to_dict() == expected
    assert CorsPolicy.from_dict(expected).to_dict() == expected


def test_cors_policy_errors() -> None:
    with pytest.raises(ModelError) as exc:
        CorsPolicy.from_dict({"max_age": "ten minutes"})
    assert issue_paths(exc) == ["max_age"]
    with pytest.raises(ModelError) as exc:
        CorsPolicy.from_dict({"allow_origin_string_match": [{"exact": "a", "prefix": "b"}]})
    assert issue_paths(exc) == ["allow_origin_string_match[0]"]
    with pytest.raises(ModelError) as exc:
        Cors.from_dict({"allow_methods": "GET"})
    assert issue_paths(exc) == ["allow_methods"]


def test_jwt_claim_to_header_takes_a_name_or_a_path() -> None:
    by_path = JwtClaimToHeader(header_name="x-role", claim_path=[
        JwtClaimPathSegment(key="example.com"), JwtClaimPathSegment(key="role")])
    assert by_path.to_dict() == {"header_name": "x-role", "claim_path": [
        {"key": "example.com"}, {"key": "role"}]}
    with pytest.raises(ModelError, match="claim_name, claim_path"):
        JwtClaimToHeader(header_name="x-role")
    with pytest.raises(ModelError, match="got \\['claim_name', 'claim_path'\\]"):
        JwtClaimToHeader(header_name="x", claim_name="a", claim_path=[{"key": "a"}])


def test_oauth2_only_one_user_of_the_authorization_header() -> None:
    config = dict(OAUTH_DICT["config"], preserve_authorization_header=True)
    with pytest.raises(ModelError) as exc:
        OAuth2.from_dict({"config": config})
    assert issue_paths(exc) == ["config"]
    assert "forward_bearer_token and preserve_authorization_header" in str(exc.value)
    config = dict(OAUTH_DICT["config"], forward_id_token={"header": "authorization"})
    with pytest.raises(ModelError, match="forward_bearer_token and forward_id_token"):
        OAuth2.from_dict({"config": config})
    config = dict(OAUTH_DICT["config"], forward_id_token={"header": "x-id-token"})
    assert OAuth2.from_dict({"config": config}).to_dict()["config"]["forward_id_token"] == {
        "header": "x-id-token"}


def test_oauth2_per_route_and_post_logout_redirect() -> None:
    per_route = OAuth2PerRoute.from_dict({"config": OAUTH_DICT["config"]})
    assert per_route.to_dict() == {
        "@type": T + "envoy.extensions.filters.http.oauth2.v3.OAuth2PerRoute",
        "config": OAUTH_DICT["config"]}
    assert OAuth2PostLogoutRedirectUri(uri="https://app.test/").to_dict() == {
        "uri": "https://app.test/"}
    with pytest.raises(ModelError):
        OAuth2PostLogoutRedirectUri(disabled=True, uri="https://app.test/")
