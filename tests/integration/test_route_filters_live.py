"""Per-route filters built by :class:`EdgeProxy`, against the real envoy (issue 11): JWT
required on ``/api/`` only, RBAC on ``/admin`` only, CORS preflights answered for the
configured origin only, a mirrored route whose shadow gets a copy, a per-route rate limit.
One edge serves all five (plain HTTP on loopback); each test asserts exact outcomes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from envoykit import EdgeProxy, HttpRoute, RateLimit
from envoykit.config import (
    RBAC,
    CorsPolicy,
    DataSource,
    HeaderMatcher,
    JwtAuthentication,
    JwtPerRouteConfig,
    JwtProvider,
    JwtRequirement,
    Permission,
    Policy,
    Principal,
    RBACPerRoute,
    RBACRules,
    StringMatcher,
)
from envoykit.process import Supervisor
from envoykit.testing import wait_until
from envoykit.testing.upstream import Upstream
from tests.integration.test_auth_filters import ISSUER, jwks_for, sign_jwt

pytestmark = pytest.mark.integration

HOST = "a.example.com"
ORIGIN = "https://app.example.com"
JWT = "envoy.filters.http.jwt_authn"
RBAC_FILTER = "envoy.filters.http.rbac"


def edge(key: rsa.RSAPrivateKey, web: Upstream, shadow: Upstream) -> EdgeProxy:
    ops_only = RBAC(rules=RBACRules(action="ALLOW", policies={"ops": Policy(
        permissions=[Permission(any=True)],
        principals=[Principal(header=HeaderMatcher(
            name="x-role", string_match=StringMatcher(exact="ops")))])}))
    return (
        EdgeProxy("route-filters")
        .service("web", web.address)
        .service("shadow", shadow.address)
        .site(HOST, routes=[
            HttpRoute("/api/", to="web", filters={JWT: JwtPerRouteConfig(requirement_name="api")}),
            HttpRoute("/admin", to="web", filters={RBAC_FILTER: RBACPerRoute(rbac=ops_only)}),
            HttpRoute("/cors/", to="web", cors=CorsPolicy(
                allow_origin_string_match=[StringMatcher(exact=ORIGIN)], allow_methods="GET")),
            HttpRoute("/mirrored/", to="web", mirror="shadow"),
            HttpRoute("/limited/", to="web", rate_limit=RateLimit(2, per=timedelta(hours=1))),
            HttpRoute("/", to="web"),
        ])
        .http_filter(JwtAuthentication(  # no rules: only routes naming "api" need a token
            providers={"local": JwtProvider(
                issuer=ISSUER, audiences=["envoykit-api"],
                local_jwks=DataSource(inline_string=jwks_for(key, "k1")))},
            requirement_map={"api": JwtRequirement.provider("local")}))
        .http_filter(RBAC())  # no rules: enforces nothing but where a route says so
        .http(port=0)
        .admin(port=0)
    )


@dataclass
class Edge:
    base: str
    key: rsa.RSAPrivateKey
    web: Upstream
    shadow: Upstream

    def get(self, path: str, method: str = "GET", **headers: str) -> httpx.Response:
        return httpx.request(method, self.base + path, headers={"host": HOST, **headers},
                             timeout=10.0)


@pytest.fixture(scope="module")
def running() -> Iterator[Edge]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with Upstream("web") as web, Upstream("shadow") as shadow, \
            Supervisor(edge(key, web, shadow), log_level="warning") as envoy:
        yield Edge(envoy.url_of("http"), key, web, shadow)


def token(key: rsa.RSAPrivateKey) -> str:
    return sign_jwt(key, "k1", {"iss": ISSUER, "aud": "envoykit-api", "sub": "alice",
                                "exp": int(time.time()) + 3600})


def test_jwt_is_required_on_api_only(running: Edge) -> None:
    assert running.get("/api/orders").status_code == 401
    bearer = f"Bearer {token(running.key)}"
    assert running.get("/api/orders", authorization=bearer).status_code == 200
    assert running.web.requests[-1].path == "/api/orders"
    assert running.get("/").status_code == 200  # no token needed off /api/


def test_rbac_guards_admin_only(running: Edge) -> None:
    assert running.get("/admin/users").status_code == 403
    assert running.get("/admin/users", **{"x-role": "guest"}).status_code == 403
    assert running.get("/admin/users", **{"x-role": "ops"}).status_code == 200
    assert running.get("/", **{"x-role": "guest"}).status_code == 200


def test_cors_preflight_is_answered_for_the_configured_origin_only(running: Edge) -> None:
    seen = len(running.web.requests)
    ok = running.get("/cors/x", "OPTIONS", origin=ORIGIN,
                     **{"access-control-request-method": "GET"})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == ORIGIN
    assert ok.headers["access-control-allow-methods"] == "GET"
    other = running.get("/cors/x", "OPTIONS", origin="https://evil.example.net",
                        **{"access-control-request-method": "GET"})
    assert "access-control-allow-origin" not in other.headers
    # not answered by envoy: forwarded to the upstream, which has no OPTIONS (501)
    assert other.status_code == 501
    assert len(running.web.requests) == seen  # the answered preflight never reached it
    simple = running.get("/cors/x", origin=ORIGIN)
    assert (simple.status_code, simple.headers["access-control-allow-origin"]) == (200, ORIGIN)


def test_the_mirrored_route_sends_a_copy_to_the_shadow(running: Edge) -> None:
    assert running.get("/mirrored/x?n=1").status_code == 200
    assert running.web.requests[-1].path == "/mirrored/x?n=1"
    [copy] = wait_until(  # the copy is sent apart from the reply
        lambda: [r for r in running.shadow.requests if r.path == "/mirrored/x?n=1"],
        what="the mirrored request at the shadow")
    assert copy.headers["host"] == f"{HOST}-shadow"
    assert running.get("/").status_code == 200
    assert all(r.path.startswith("/mirrored/") for r in running.shadow.requests)


def test_the_per_route_rate_limit_applies_to_its_route_only(running: Edge) -> None:
    codes = [running.get("/limited/x").status_code for _ in range(3)]
    assert codes == [200, 200, 429]  # a bucket of 2 per hour: no refill mid-burst
    assert [running.get("/other").status_code for _ in range(5)] == [200] * 5
