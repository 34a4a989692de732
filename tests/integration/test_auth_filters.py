"""The security filter models against the real envoy: accepted by ``--mode validate`` and
enforced by a running envoy (JWT, RBAC, CORS, OAuth2) in front of a real local upstream.

Everything binds 127.0.0.1 port 0 and lives in ``tmp_path``; envoy gets a dynamic base id,
so the tests are safe under ``pytest -n 2``. Each envoy is killed in teardown.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envoykit.binary import find_envoy
from envoykit.config import (
    RBAC,
    Cors,
    CorsPolicy,
    Empty,
    Int32Range,
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
    NormalizePayload,
    OAuth2,
    OAuth2Config,
    OAuth2CookieConfig,
    OAuth2CookieConfigs,
    OAuth2CookieNames,
    OAuth2Credentials,
    OAuth2PerRoute,
    OAuth2PostLogoutRedirectUri,
    OAuth2TokenCookieChunking,
    OAuth2TokenForwarding,
    PathMatcher,
    Permission,
    Policy,
    Principal,
    PrincipalAuthenticated,
    ProviderWithAudiences,
    RBACPerRoute,
    RBACRules,
    RemoteJwks,
    RequirementRule,
    SdsSecretConfig,
)
from envoykit.config.core import (
    CidrRange,
    DataSource,
    HeaderMatcher,
    HttpUri,
    RegexMatcher,
    RuntimeFractionalPercent,
    StringMatcher,
)
from envoykit.config.route import RouteMatch
from envoykit.testing import wait_until
from envoykit.validation import envoy_validate_file

pytestmark = pytest.mark.integration

ROUTER = {
    "name": "envoy.filters.http.router",
    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
}


# --- a real upstream ------------------------------------------------------------------------


class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers 200 with a JSON echo of the request; ``server.routes`` may override by path."""

    server: UpstreamServer

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        self.server.requests.append({"method": self.command, "path": self.path,
                                     "headers": dict(self.headers.items()), "body": body})
        handler = self.server.routes.get(urllib.parse.urlsplit(self.path).path)
        status, headers, payload = (handler(self, body) if handler else
                                    (200, {"content-type": "application/json"},
                                     json.dumps({"path": self.path}).encode()))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_OPTIONS = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


Route = Callable[[Recorder, str], tuple[int, dict[str, str], bytes]]


class UpstreamServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Recorder)
        self.requests: list[dict[str, Any]] = []
        self.routes: dict[str, Route] = {}

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@pytest.fixture
def upstream() -> Iterator[UpstreamServer]:
    server = UpstreamServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


# --- bootstrap around the filter under test --------------------------------------------------


def static_cluster(name: str, port: int) -> dict[str, Any]:
    return {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [{
            "endpoint": {"address": {"socket_address": {"address": "127.0.0.1",
                                                        "port_value": port}}}}]}]},
    }


def bootstrap(
    http_filters: list[dict[str, Any]],
    upstream_port: int,
    *,
    vhost_extra: dict[str, Any] | None = None,
    clusters: list[dict[str, Any]] | None = None,
    secrets: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A listener on 127.0.0.1:0 whose HCM runs ``http_filters`` then the router to the
    upstream; admin on 127.0.0.1:0."""
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager"
                 ".v3.HttpConnectionManager",
        "stat_prefix": "ingress",
        "route_config": {"name": "local", "virtual_hosts": [{
            "name": "app", "domains": ["*"],
            "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "app"}}],
            **(vhost_extra or {}),
        }]},
        "http_filters": [*http_filters, ROUTER],
    }
    static: dict[str, Any] = {
        "listeners": [{
            "name": "main",
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
            "filter_chains": [{"filters": [{
                "name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}],
        }],
        "clusters": [static_cluster("app", upstream_port), *(clusters or [])],
    }
    if secrets:
        static["secrets"] = secrets
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "static_resources": static,
    }


def write_config(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "envoy.json"
    path.write_text(json.dumps(config, indent=2))
    return path


class RunningEnvoy:
    def __init__(self, proc: subprocess.Popen[bytes], admin: str, port: int, log: Path):
        self.proc, self.admin, self.port, self.log = proc, admin, port, log

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stat(self, name: str) -> int:
        text = httpx.get(f"{self.admin}/stats", params={"filter": f"^{name}$"}).text
        for line in text.splitlines():
            key, _, value = line.partition(": ")
            if key == name:
                return int(value)
        raise AssertionError(f"no stat {name} in {text!r}")


@contextlib.contextmanager
def run_envoy(tmp_path: Path, config: dict[str, Any]) -> Iterator[RunningEnvoy]:
    """Start envoy on ``config``; yield once its listener is bound; always kill it."""
    path = write_config(tmp_path, config)
    admin_path, base_id_path = tmp_path / "admin.txt", tmp_path / "base-id.txt"
    log = tmp_path / "envoy.log"
    argv = [str(find_envoy().path), "-c", str(path), "-l", "info",
            "--admin-address-path", str(admin_path),
            "--use-dynamic-base-id", "--base-id-path", str(base_id_path),
            "--drain-time-s", "0", "--parent-shutdown-time-s", "1"]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        def bound() -> tuple[str, int] | None:
            if proc.poll() is not None:
                raise AssertionError(f"envoy exited {proc.returncode}:\n{log.read_text()[-3000:]}")
            address = admin_path.read_text().strip() if admin_path.exists() else ""
            admin = "http://" + address
            if not address or httpx.get(f"{admin}/ready", timeout=1).status_code != 200:
                return None
            listeners = httpx.get(f"{admin}/listeners", params={"format": "json"},
                                  timeout=1).json()
            for status in listeners.get("listener_statuses", []):
                if status["name"] == "main":
                    port = int(status["local_address"]["socket_address"].get("port_value", 0))
                    return (admin, port) if port else None
            return None

        admin, port = wait_until(bound, ignore=httpx.HTTPError, what="envoy ready, main bound",
                                 context=lambda: log.read_text()[-3000:])
        yield RunningEnvoy(proc, admin, port, log)
    finally:
        if proc.poll() is None:  # SIGTERM: envoy exits at once (and frees its shared memory)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        # envoy leaves its hot-restart shared memory behind: remove ours (epoch 0)
        if base_id_path.exists() and base_id_path.read_text().strip().isdigit():
            shm = Path("/dev/shm") / f"envoy_shared_memory_{base_id_path.read_text().strip()}0"
            shm.unlink(missing_ok=True)


# --- JWT helpers ----------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def jwks_for(key: rsa.RSAPrivateKey, kid: str) -> str:
    numbers = key.public_key().public_numbers()
    return json.dumps({"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
                                 "n": b64url(_int_bytes(numbers.n)),
                                 "e": b64url(_int_bytes(numbers.e))}]})


def sign_jwt(key: rsa.RSAPrivateKey, kid: str, claims: dict[str, Any]) -> str:
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": kid}).encode())
    payload = b64url(json.dumps(claims).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{payload}.{b64url(signature)}"


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    """The issuer's key and an impostor's key."""
    return (rsa.generate_private_key(public_exponent=65537, key_size=2048),
            rsa.generate_private_key(public_exponent=65537, key_size=2048))


ISSUER = "https://issuer.envoykit.test"


def jwt_filter(key: rsa.RSAPrivateKey) -> JwtAuthentication:
    return JwtAuthentication(
        providers={"local": JwtProvider(
            issuer=ISSUER,
            audiences=["envoykit-api"],
            local_jwks=DataSource(inline_string=jwks_for(key, "k1")),
            claim_to_headers=[JwtClaimToHeader(header_name="x-jwt-sub", claim_name="sub")],
            payload_in_metadata="jwt_payload",
        )},
        rules=[
            RequirementRule(match=RouteMatch(prefix="/public")),
            RequirementRule(match=RouteMatch(prefix="/"),
                            requires=JwtRequirement.provider("local")),
        ],
    )


# --- the tests ------------------------------------------------------------------------------


def _filter(model: JwtAuthentication | RBAC | OAuth2 | Cors) -> dict[str, Any]:
    return {"name": model.filter_name, "typed_config": model.to_dict()}


def test_jwt_filter_is_accepted_and_enforced(
    tmp_path: Path, upstream: UpstreamServer,
    rsa_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey],
) -> None:
    key, impostor = rsa_keys
    config = bootstrap([_filter(jwt_filter(key))], upstream.port)
    envoy_validate_file(write_config(tmp_path, config))

    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "envoykit-api", "sub": "alice", "iat": now,
              "exp": now + 300}
    good = sign_jwt(key, "k1", claims)
    forged = sign_jwt(impostor, "k1", claims)
    expired = sign_jwt(key, "k1", dict(claims, exp=now - 3600, iat=now - 7200))
    wrong_issuer = sign_jwt(key, "k1", dict(claims, iss="https://evil.test"))

    with run_envoy(tmp_path, config) as envoy, httpx.Client(base_url=envoy.url) as client:
        ok = client.get("/api", headers={"authorization": f"Bearer {good}"})
        assert ok.status_code == 200, ok.text
        seen = {k.lower(): v for k, v in upstream.requests[-1]["headers"].items()}
        assert seen.get("x-jwt-sub") == "alice"  # claim_to_headers reached the upstream
        assert "authorization" not in seen  # `forward` unset: the token is removed

        missing = client.get("/api")
        assert missing.status_code == 401
        assert "Jwt is missing" in missing.text
        bad_tokens = (forged, expired, wrong_issuer, "not-a-jwt")
        for token in bad_tokens:
            denied = client.get("/api", headers={"authorization": f"Bearer {token}"})
            assert denied.status_code == 401, (token, denied.text)

        assert client.get("/public/x").status_code == 200  # rule without requires
        assert [r["path"] for r in upstream.requests] == ["/api", "/public/x"]
        assert envoy.stat("http.ingress.jwt_authn.allowed") >= 1
        # every refused request was counted: the missing token and each bad one
        assert envoy.stat("http.ingress.jwt_authn.denied") == 1 + len(bad_tokens)


def test_rbac_filter_is_accepted_and_denies_by_header_and_path(
    tmp_path: Path, upstream: UpstreamServer,
) -> None:
    rbac = RBAC(
        rules=RBACRules(action="DENY", policies={
            "admin-path": Policy(permissions=[Permission.path_prefix("/admin")],
                                 principals=[Principal.anyone()]),
            "blocked-client": Policy(
                permissions=[Permission(any=True)],
                principals=[Principal(header=HeaderMatcher(
                    name="x-client", string_match=StringMatcher(exact="blocked")))],
            ),
            "local-delete": Policy(
                permissions=[Permission.all_of(Permission.header_exact(":method", "POST"),
                                               Permission.path_prefix("/items"))],
                principals=[Principal.ip("127.0.0.0/8")],
            ),
        }),
        shadow_rules=RBACRules(action="ALLOW", policies={
            "only-get": Policy(permissions=[Permission.header_exact(":method", "GET")],
                               principals=[Principal.anyone()]),
        }),
    )
    config = bootstrap([_filter(rbac)], upstream.port)
    envoy_validate_file(write_config(tmp_path, config))

    with run_envoy(tmp_path, config) as envoy, httpx.Client(base_url=envoy.url) as client:
        assert client.get("/items").status_code == 200
        assert client.get("/items", headers={"x-client": "friendly"}).status_code == 200
        denied = client.get("/admin/users")
        assert denied.status_code == 403
        assert "RBAC: access denied" in denied.text
        assert client.get("/admin?x=1").status_code == 403
        assert client.get("/items", headers={"x-client": "blocked"}).status_code == 403
        assert client.post("/items", content=b"x").status_code == 403
        assert client.post("/other", content=b"x").status_code == 200
        assert [r["path"] for r in upstream.requests] == ["/items", "/items", "/other"]
        assert envoy.stat("http.ingress.rbac.denied") == 4
        assert envoy.stat("http.ingress.rbac.shadow_denied") >= 1  # the POST /other


def test_cors_filter_and_policy_are_accepted_and_answer_preflight(
    tmp_path: Path, upstream: UpstreamServer,
) -> None:
    policy = CorsPolicy(allow_origin_string_match=[StringMatcher(exact="https://app.test")],
                        allow_methods=["GET", "POST"], allow_headers="authorization",
                        max_age=600, allow_credentials=True)
    config = bootstrap([_filter(Cors())], upstream.port,
                       vhost_extra={"typed_per_filter_config": {
                           Cors.filter_name: policy.to_dict()}})
    envoy_validate_file(write_config(tmp_path, config))

    with run_envoy(tmp_path, config) as envoy, httpx.Client(base_url=envoy.url) as client:
        preflight = client.options("/api", headers={
            "origin": "https://app.test", "access-control-request-method": "POST"})
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.test"
        assert preflight.headers["access-control-allow-methods"] == "GET,POST"
        assert preflight.headers["access-control-max-age"] == "600"
        assert preflight.headers["access-control-allow-credentials"] == "true"
        other = client.get("/api", headers={"origin": "https://evil.test"})
        assert "access-control-allow-origin" not in other.headers


# --- OAuth2 ---------------------------------------------------------------------------------


def oauth_filter(auth_port: int, **overrides: Any) -> OAuth2:
    fields: dict[str, Any] = {
        "token_endpoint": HttpUri(uri=f"http://127.0.0.1:{auth_port}/token", cluster="oauth",
                                  timeout="3s"),
        "authorization_endpoint": f"http://127.0.0.1:{auth_port}/authorize",
        "credentials": OAuth2Credentials(client_id="envoykit-client",
                                         token_secret=SdsSecretConfig(name="token"),
                                         hmac_secret=SdsSecretConfig(name="hmac")),
        "redirect_uri": "http://%REQ(:authority)%/callback",
        "redirect_path_matcher": PathMatcher.exact("/callback"),
        "signout_path": PathMatcher.exact("/signout"),
        "forward_bearer_token": True,
        "pass_through_matcher": [HeaderMatcher(name="x-health",
                                               string_match=StringMatcher(exact="1"))],
        "auth_scopes": ["openid", "profile"],
    }
    return OAuth2(config=OAuth2Config(**(fields | overrides)))


def cookies_of(response: httpx.Response) -> dict[str, str]:
    found = {}
    for header in response.headers.get_list("set-cookie"):
        name, _, value = header.split(";", 1)[0].partition("=")
        found[name.strip()] = value
    return found


def cookie_header(jar: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in jar.items())


OAUTH_SECRETS = [
    {"name": "token", "generic_secret": {"secret": {"inline_string": "client-secret"}}},
    {"name": "hmac", "generic_secret": {"secret": {"inline_string": "hmac-key-0123456789"}}},
]


def test_oauth2_filter_is_accepted_and_runs_the_code_flow(
    tmp_path: Path, upstream: UpstreamServer,
) -> None:
    auth = UpstreamServer()  # the local OAuth server
    token_requests: list[dict[str, list[str]]] = []

    def token(handler: Recorder, body: str) -> tuple[int, dict[str, str], bytes]:
        token_requests.append(urllib.parse.parse_qs(body))
        payload = {"access_token": "access-123", "token_type": "Bearer", "expires_in": 600}
        return 200, {"content-type": "application/json"}, json.dumps(payload).encode()

    auth.routes["/token"] = token
    thread = threading.Thread(target=auth.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        config = bootstrap([_filter(oauth_filter(auth.port))], upstream.port,
                           clusters=[static_cluster("oauth", auth.port)],
                           secrets=OAUTH_SECRETS)
        envoy_validate_file(write_config(tmp_path, config))
        with run_envoy(tmp_path, config) as envoy, httpx.Client(base_url=envoy.url) as client:
            # 1. no session: redirected to the local authorization endpoint
            first = client.get("/app?x=1")
            assert first.status_code == 302
            location = urllib.parse.urlsplit(first.headers["location"])
            assert f"{location.scheme}://{location.netloc}{location.path}" == (
                f"http://127.0.0.1:{auth.port}/authorize")
            query = urllib.parse.parse_qs(location.query)
            assert query["client_id"] == ["envoykit-client"]
            assert query["response_type"] == ["code"]
            assert query["scope"] == ["openid profile"]
            assert query["redirect_uri"] == [f"http://127.0.0.1:{envoy.port}/callback"]
            assert not upstream.requests

            # 2. the authorization server sends the browser back with a code; the envoy's
            # cookies are `secure`, so they are carried by hand over plain HTTP
            jar = cookies_of(first)
            assert "OauthNonce" in jar
            callback = client.get("/callback", params={"code": "code-xyz",
                                                       "state": query["state"][0]},
                                  headers={"cookie": cookie_header(jar)})
            assert callback.status_code == 302, callback.text
            assert token_requests and token_requests[0]["code"] == ["code-xyz"]
            assert token_requests[0]["client_id"] == ["envoykit-client"]
            assert token_requests[0]["client_secret"] == ["client-secret"]
            assert urllib.parse.urlsplit(callback.headers["location"]).path == "/app"

            # 3. with the session cookies, the request reaches the upstream with the token
            jar.update(cookies_of(callback))
            done = client.get("/app?x=1", headers={"cookie": cookie_header(jar)})
            assert done.status_code == 200, done.text
            seen = {k.lower(): v for k, v in upstream.requests[-1]["headers"].items()}
            assert seen.get("authorization") == "Bearer access-123"  # forward_bearer_token

            # pass_through_matcher skips OAuth entirely
            fresh = httpx.get(f"{envoy.url}/health", headers={"x-health": "1"})
            assert fresh.status_code == 200
    finally:
        auth.shutdown()
        auth.server_close()


# --- every modelled field, checked by envoy ---------------------------------------------------


def test_wide_configs_of_every_filter_are_accepted_by_envoy(
    tmp_path: Path, rsa_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey],
) -> None:
    """Field names and shapes beyond the happy path, proven against envoy 1.40's schema."""
    key, _ = rsa_keys
    jwks = DataSource(inline_string=jwks_for(key, "k1"))
    jwt = JwtAuthentication(
        providers={
            "remote": JwtProvider(
                issuer="https://remote.test",
                audiences=["a", "b"],
                subjects=StringMatcher(prefix="spiffe://remote.test/"),
                require_expiration=True,
                max_lifetime="86400s",
                remote_jwks=RemoteJwks(
                    http_uri=HttpUri(uri="http://127.0.0.1:9/jwks", cluster="jwks",
                                     timeout="1s"),
                    cache_duration="5m",
                    async_fetch=JwksAsyncFetch(fast_listener=True,
                                               failed_refetch_duration="2s"),
                    retry_policy={"num_retries": 2},
                ),
                forward=True,
                from_headers=[JwtHeader(name="x-token", value_prefix="Token ")],
                from_params=["jwt"],
                from_cookies=["session"],
                forward_payload_header="x-jwt-payload",
                pad_forward_payload_header=True,
                payload_in_metadata="payload",
                normalize_payload_in_metadata=NormalizePayload(space_delimited_claims=["scope"]),
                header_in_metadata="header",
                failed_status_in_metadata="failure",
                clock_skew_seconds=30,
                jwt_cache_config=JwtCacheConfig(jwt_cache_size=50),
                claim_to_headers=[
                    JwtClaimToHeader(header_name="x-tenant", claim_name="org.tenant"),
                    JwtClaimToHeader(header_name="x-dotted", claim_path=[
                        JwtClaimPathSegment(key="example.com"), JwtClaimPathSegment(key="role")]),
                ],
                clear_route_cache=True,
            ),
            "local": JwtProvider(issuer="https://local.test", local_jwks=jwks),
        },
        requirement_map={"strict": JwtRequirement(provider_and_audiences=ProviderWithAudiences(
            provider_name="remote", audiences=["c"]))},
        rules=[
            RequirementRule(match=RouteMatch(path="/healthz")),
            RequirementRule(match=RouteMatch(prefix="/strict"), requirement_name="strict"),
            RequirementRule(
                match=RouteMatch(prefix="/", headers=[HeaderMatcher(name="x-mode",
                                                                    present_match=True)]),
                requires=JwtRequirement.all_of(
                    JwtRequirement.any_of("remote", JwtRequirement(
                        allow_missing_or_failed=Empty())),
                    JwtRequirement.any_of("local", JwtRequirement.missing_allowed()),
                ),
            ),
            RequirementRule(match=RouteMatch(prefix="/"),
                            requires=JwtRequirement(extract_only_without_validation=Empty())),
        ],
        filter_state_rules=JwtFilterStateRule(name="jwt_selector", requires={
            "one": JwtRequirement.provider("local")}),
        bypass_cors_preflight=True,
        strip_failure_response=True,
        stat_prefix="auth",
    )
    cidr = CidrRange(address_prefix="10.0.0.0", prefix_len=8)
    rbac = RBAC(
        rules=RBACRules(action="ALLOW", policies={
            "wide": Policy(
                permissions=[
                    Permission.any_of(
                        Permission(destination_ip=cidr),
                        Permission(destination_port_range=Int32Range(start=8000, end=9000)),
                        Permission(requested_server_name=StringMatcher(suffix=".test")),
                        Permission(url_path=PathMatcher(path=StringMatcher(
                            safe_regex=RegexMatcher(regex="^/v[0-9]+/.*"))))),
                    Permission.negate(Permission.header_exact(":method", "DELETE")),
                ],
                principals=[
                    Principal.all_of(Principal(authenticated=PrincipalAuthenticated(
                        principal_name=StringMatcher(exact="spiffe://client.test"))),
                        Principal(remote_ip=cidr)),
                    Principal.any_of(Principal(source_ip=cidr), Principal.ip("::1")),
                    Principal(url_path=PathMatcher.prefix("/public")),
                    Principal.negate(Principal(header=HeaderMatcher(
                        name="x-evil", present_match=True))),
                    Principal(authenticated=PrincipalAuthenticated()),
                ],
            ),
        }),
        rules_stat_prefix="main_",
        shadow_rules=RBACRules(action="LOG", policies={"all": Policy(
            permissions=[Permission(any=True)], principals=[Principal.anyone()])}),
        shadow_rules_stat_prefix="shadow_",
        track_per_rule_stats=True,
    )
    oauth = oauth_filter(
        9,
        credentials=OAuth2Credentials(
            client_id="envoykit-client", token_secret=SdsSecretConfig(name="token"),
            hmac_secret=SdsSecretConfig(name="hmac"),
            cookie_names=OAuth2CookieNames(bearer_token="MyBearer", oauth_hmac="MyHmac"),
            cookie_domain="example.test",
        ),
        cookie_configs=OAuth2CookieConfigs(
            bearer_token_cookie_config=OAuth2CookieConfig(same_site="STRICT", path="/"),
            oauth_nonce_cookie_config=OAuth2CookieConfig(same_site="LAX"),
        ),
        end_session_endpoint="http://127.0.0.1:9/logout",
        resources=["https://api.test"],
        auth_type="BASIC_AUTH",
        use_refresh_token=True,
        default_expires_in="600s",
        default_refresh_token_expires_in="1h",
        deny_redirect_matcher=[HeaderMatcher(
            name="x-requested-with", string_match=StringMatcher(exact="XMLHttpRequest"))],
        forward_id_token=OAuth2TokenForwarding(header="x-id-token"),
        post_logout_redirect_uri=OAuth2PostLogoutRedirectUri(uri="http://127.0.0.1:9/bye"),
        allow_failed_matcher=[HeaderMatcher(name="x-optional-login", present_match=True)],
        allowed_redirect_domains=["127.0.0.1"],
        use_access_token_expiry_for_id_token_cookie=True,
        token_cookie_chunking=OAuth2TokenCookieChunking(max_cookie_size=4000, max_chunks=4),
        disable_id_token_set_cookie=True,
        stat_prefix="login",
        csrf_token_expires_in="10m",
        code_verifier_token_expires_in="10m",
        retry_policy={"num_retries": 1},
    )
    policy = CorsPolicy(
        allow_origin_string_match=[StringMatcher(prefix="https://", ignore_case=True)],
        allow_methods="GET", expose_headers=["x-request-id"],
        filter_enabled=RuntimeFractionalPercent.percent(100, runtime_key="cors.on"),
        shadow_enabled=RuntimeFractionalPercent.percent(0),
        allow_private_network_access=True, forward_not_matching_preflights=False,
    )
    per_route = {
        JwtAuthentication.filter_name: JwtPerRouteConfig(disabled=True).to_dict(),
        RBAC.filter_name: RBACPerRoute(rbac=RBAC(rules=RBACRules(
            action="DENY", policies={}))).to_dict(),
        Cors.filter_name: policy.to_dict(),
    }
    route_override = {OAuth2.filter_name: OAuth2PerRoute(config=oauth_filter(
        9, signout_path=PathMatcher.prefix("/logout")).config).to_dict()}
    config = bootstrap(
        [_filter(Cors()), _filter(jwt), _filter(rbac), _filter(oauth)], 9,
        vhost_extra={"typed_per_filter_config": per_route, "routes": [
            {"match": {"prefix": "/"}, "route": {"cluster": "app"},
             "typed_per_filter_config": route_override}]},
        clusters=[static_cluster("jwks", 9), static_cluster("oauth", 9)],
        secrets=OAUTH_SECRETS,
    )
    # each model survives a load from its own rendering
    for model in (jwt, rbac, oauth, policy, OAuth2PerRoute.from_dict(route_override[
            OAuth2.filter_name])):
        assert type(model).from_dict(model.to_dict()) == model
    envoy_validate_file(write_config(tmp_path, config))


# --- property: RBAC trees the model accepts, envoy accepts ------------------------------------

_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12)
_string_matchers = st.one_of(
    st.builds(StringMatcher, exact=_names), st.builds(StringMatcher, prefix=_names),
    st.builds(StringMatcher, suffix=_names), st.builds(StringMatcher, contains=_names),
    st.builds(StringMatcher, safe_regex=st.just(RegexMatcher(regex="^/[a-z]+$"))),
)
_cidrs = st.one_of(
    st.builds(CidrRange, address_prefix=st.sampled_from(["10.0.0.0", "192.168.0.0", "0.0.0.0"]),
              prefix_len=st.integers(0, 32)),
    st.builds(CidrRange, address_prefix=st.just("::1"), prefix_len=st.integers(0, 128)),
)
_headers = st.one_of(
    st.builds(HeaderMatcher, name=_names, string_match=_string_matchers,
              invert_match=st.none() | st.booleans()),
    st.builds(HeaderMatcher, name=_names, present_match=st.booleans()),
)
_paths = st.builds(PathMatcher, path=st.builds(StringMatcher, prefix=_names.map("/".__add__)))

_permission_leaves = st.one_of(
    st.just(Permission(any=True)),
    st.builds(Permission, header=_headers),
    st.builds(Permission, url_path=_paths),
    st.builds(Permission, destination_ip=_cidrs),
    st.builds(Permission, destination_port=st.integers(0, 65535)),
    st.integers(0, 65000).map(lambda n: Permission(
        destination_port_range=Int32Range(start=n, end=n + 100))),
    st.builds(Permission, requested_server_name=_string_matchers),
)
_permissions = st.recursive(_permission_leaves, lambda inner: st.one_of(
    st.lists(inner, min_size=1, max_size=3).map(lambda rules: Permission.all_of(*rules)),
    st.lists(inner, min_size=1, max_size=3).map(lambda rules: Permission.any_of(*rules)),
    inner.map(Permission.negate),
), max_leaves=6)

_principal_leaves = st.one_of(
    st.just(Principal.anyone()),
    st.builds(Principal, authenticated=st.builds(PrincipalAuthenticated,
                                                 principal_name=st.none() | _string_matchers)),
    st.builds(Principal, direct_remote_ip=_cidrs),
    st.builds(Principal, remote_ip=_cidrs),
    st.builds(Principal, header=_headers),
    st.builds(Principal, url_path=_paths),
)
_principals = st.recursive(_principal_leaves, lambda inner: st.one_of(
    st.lists(inner, min_size=1, max_size=3).map(lambda ids: Principal.all_of(*ids)),
    st.lists(inner, min_size=1, max_size=3).map(lambda ids: Principal.any_of(*ids)),
    inner.map(Principal.negate),
), max_leaves=6)

_rbac_filters = st.builds(
    RBAC,
    rules=st.builds(RBACRules, action=st.sampled_from(["ALLOW", "DENY", "LOG"]),
                    policies=st.dictionaries(_names, st.builds(
                        Policy, permissions=st.lists(_permissions, min_size=1, max_size=3),
                        principals=st.lists(_principals, min_size=1, max_size=3)),
                        min_size=0, max_size=3)),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rbac=_rbac_filters)
def test_rbac_configs_the_model_accepts_envoy_accepts(rbac: RBAC) -> None:
    # the rendered dict loads back into the same model, and the real envoy takes it
    assert RBAC.from_dict(rbac.to_dict()) == rbac
    with tempfile.TemporaryDirectory() as tmp:
        envoy_validate_file(write_config(Path(tmp), bootstrap([_filter(rbac)], 9)))
