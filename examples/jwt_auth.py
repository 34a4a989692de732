"""JWT authentication at the edge: only requests with a valid token reach the service.

    python examples/jwt_auth.py

The seed lists JWT among Envoy's HTTP security features. Envoy's ``jwt_authn`` filter checks
the token's signature (against a JWKS), issuer, audience and expiry before the request goes
anywhere, and can pass claims on as headers. The builder has no JWT option, so the filter is
added to the built config with the typed model (``JwtAuthentication``); here the JWKS is
inline (``local_jwks``), a real deployment would use ``remote_jwks`` with the IdP's URL.
"""

from __future__ import annotations

import sys
import time

import httpx
from _common import TokenIssuer, http_manager, save_config, show, title, workdir

from envoykit import EdgeProxy, validate
from envoykit.config import (
    DataSource,
    HttpFilter,
    JwtAuthentication,
    JwtClaimToHeader,
    JwtProvider,
    JwtRequirement,
    RequirementRule,
    RouteMatch,
)
from envoykit.process import Supervisor
from envoykit.testing.upstream import Upstream

ISSUER = "https://login.example.com"
AUDIENCE = "orders-api"


def main() -> int:
    idp = TokenIssuer(ISSUER)  # stands in for the company's identity provider
    impostor = TokenIssuer(ISSUER)  # same issuer name, different key
    jwt = JwtAuthentication(
        providers={"company": JwtProvider(
            issuer=ISSUER,
            audiences=[AUDIENCE],
            local_jwks=DataSource(inline_string=idp.jwks),
            claim_to_headers=[JwtClaimToHeader(header_name="x-user", claim_name="sub")],
        )},
        rules=[
            RequirementRule(match=RouteMatch(prefix="/public")),  # no token needed
            RequirementRule(match=RouteMatch(prefix="/"),
                            requires=JwtRequirement.provider("company")),
        ],
    )

    with workdir("jwt_auth") as work, Upstream("orders") as orders:
        edge = EdgeProxy("api").site("api.example.com", orders.address).http(0).admin(0)
        bootstrap = edge.build()
        hcm = http_manager(bootstrap, "http")
        hcm.http_filters = [HttpFilter.of(jwt), *(hcm.http_filters or [])]  # before the router
        validate(bootstrap)
        save_config(work, "jwt", bootstrap)

        now = int(time.time())
        alice = {"sub": "alice", "aud": AUDIENCE, "iat": now, "exp": now + 300}
        tokens = {
            "no token": None,
            "valid token for alice": idp.sign(**alice),
            "expired token": idp.sign(**{**alice, "iat": now - 7200, "exp": now - 3600}),
            "token for another audience": idp.sign(**{**alice, "aud": "billing-api"}),
            "token signed by another key": impostor.sign(**alice),
        }
        expected = {"no token": 401, "valid token for alice": 200, "expired token": 401,
                    "token for another audience": 403, "token signed by another key": 401}

        with Supervisor(bootstrap, log_level="warning") as envoy, httpx.Client() as client:
            url = envoy.url_of("http")
            title("GET /orders with ...")
            for what, token in tokens.items():
                headers = {"host": "api.example.com"}
                if token:
                    headers["authorization"] = f"Bearer {token}"
                reply = client.get(f"{url}/orders", headers=headers)
                answer = reply.headers.get("x-upstream") or reply.text.strip()
                show(what, f"{reply.status_code} {answer}")
                assert reply.status_code == expected[what], (what, reply.text)

            seen = orders.requests[-1]
            show("the service saw x-user", seen.headers["x-user"])
            show("and the token itself?", seen.headers.get("authorization", "no (removed)"))
            assert seen.headers["x-user"] == "alice" and len(orders.requests) == 1

            public = client.get(f"{url}/public/status", headers={"host": "api.example.com"})
            show("GET /public/status without token", public.status_code)
            assert public.status_code == 200

            title("/stats?filter=jwt_authn")
            with envoy.admin() as admin:
                stats = admin.stats(filter=r"jwt_authn\.(allowed|denied)$")
            for name in sorted(stats):
                show(name, stats.number(name))
            assert stats.number("http.http.jwt_authn.denied") == 4
    return 0


if __name__ == "__main__":
    sys.exit(main())
