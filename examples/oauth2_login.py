"""OAuth2 login at the edge: Envoy sends unauthenticated users to the login server, runs the
authorization-code flow, and keeps the session in cookies.

    python examples/oauth2_login.py

The seed lists OAuth among Envoy's HTTP security features. Envoy's ``oauth2`` filter (modelled
as :class:`envoykit.config.OAuth2`) does the whole flow: redirect to the authorization
endpoint, receive the code on ``/callback``, exchange it for a token at the token endpoint
(through a cluster, with the client secret from an SDS secret), set signed session cookies,
and forward the token to the service as ``Authorization: Bearer ...``. A small OAuth server
runs in this script (it approves every login); a browser is played by an httpx client that
follows redirects and keeps cookies. The builder has no OAuth option: the filter and its
cluster are added on the typed model; the secrets come from files (SDS).
"""

from __future__ import annotations

import json
import secrets
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from _common import http_manager, save_config, show, title, workdir

from envoykit import EdgeProxy, validate
from envoykit.config import (
    Cluster,
    ClusterLoadAssignment,
    ConfigSource,
    DataSource,
    GenericSecret,
    HttpFilter,
    HttpUri,
    Node,
    OAuth2,
    OAuth2Config,
    OAuth2Credentials,
    PathConfigSource,
    PathMatcher,
    SdsSecretConfig,
    Secret,
)
from envoykit.process import Supervisor
from envoykit.testing import free_port
from envoykit.testing.http import resolving_client
from envoykit.testing.tls import TestCA
from envoykit.testing.upstream import Upstream

CLIENT_ID = "company-app"
CLIENT_SECRET = secrets.token_urlsafe(16)


# --- a small OAuth 2.0 authorization server ---------------------------------------------------


class LoginServer(ThreadingHTTPServer):
    """``/authorize`` approves at once (302 back with a code); ``/token`` trades the code
    for an access token when the client id and secret are right."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _LoginHandler)
        self.codes: dict[str, str] = {}  # code → redirect_uri
        self.token_requests: list[dict[str, str]] = []
        self.access_token = secrets.token_urlsafe(24)
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class _LoginHandler(BaseHTTPRequestHandler):
    server: LoginServer

    def do_GET(self) -> None:  # /authorize?client_id=..&redirect_uri=..&state=..
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        code = secrets.token_urlsafe(8)
        self.server.codes[code] = query["redirect_uri"]
        back = f"{query['redirect_uri']}?" + urllib.parse.urlencode(
            {"code": code, "state": query["state"]})
        self.send_response(302)
        self.send_header("location", back)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_POST(self) -> None:  # /token, form-encoded
        form = dict(urllib.parse.parse_qsl(
            self.rfile.read(int(self.headers["content-length"])).decode()))
        self.server.token_requests.append(form)
        good = (form.get("client_id") == CLIENT_ID and form.get("client_secret") == CLIENT_SECRET
                and self.server.codes.pop(form.get("code", ""), None) == form.get("redirect_uri"))
        reply: dict[str, Any] = (
            {"access_token": self.server.access_token, "token_type": "Bearer", "expires_in": 600}
            if good else {"error": "invalid_grant"})
        body = json.dumps(reply).encode()
        self.send_response(200 if good else 400)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def secret_file(directory: Path, name: str, value: str) -> SdsSecretConfig:
    """An SDS file (readable by its owner only) holding one generic secret; the reference."""
    path = directory / f"{name}.sds.json"
    secret = Secret(name=name, generic_secret=GenericSecret(secret=DataSource(inline_string=value)))
    path.touch(mode=0o600)
    path.write_text(json.dumps({"resources": [secret.to_resource()]}))
    return SdsSecretConfig(name=name, sds_config=ConfigSource(
        path_config_source=PathConfigSource(path=str(path))))


# --- the proxy --------------------------------------------------------------------------------


def main() -> int:
    login = LoginServer()
    try:
        return run(login)
    finally:
        login.shutdown()
        login.server_close()


def run(login: LoginServer) -> int:
    with workdir("oauth2_login") as work, Upstream("app") as app:
        ca = TestCA(work / "certs")
        port = free_port()  # the public URL (and so redirect_uri) names the port
        site = f"https://app.example.com:{port}"
        bootstrap = (
            EdgeProxy("company")
            .site("app.example.com", app.address, cert=ca.issue("app.example.com").as_cert())
            .https(port)
            .admin(0)
            .build()
        )
        # The client secret and the cookie-signing key live in files (SDS from the
        # filesystem), not in the config itself.
        oauth = OAuth2(config=OAuth2Config(
            authorization_endpoint=f"{login.url}/authorize",
            token_endpoint=HttpUri(uri=f"{login.url}/token", cluster="login", timeout="3s"),
            credentials=OAuth2Credentials(
                client_id=CLIENT_ID,
                token_secret=secret_file(work, "client-secret", CLIENT_SECRET),
                hmac_secret=secret_file(work, "cookie-hmac", secrets.token_urlsafe(32))),
            redirect_uri=f"{site}/callback",
            redirect_path_matcher=PathMatcher.exact("/callback"),
            signout_path=PathMatcher.exact("/signout"),
            forward_bearer_token=True,  # the service gets Authorization: Bearer <token>
            auth_scopes=["openid", "email"],
        ))
        hcm = http_manager(bootstrap, "https", "app.example.com")
        hcm.http_filters = [HttpFilter.of(oauth), *(hcm.http_filters or [])]
        # Envoy sends the user back to the URL they asked for, built from the Host header:
        # keep its port (the builder strips it; fine on 443, not on this demo's port).
        hcm.strip_any_host_port = False
        assert hcm.route_config and hcm.route_config.virtual_hosts
        hcm.route_config.virtual_hosts[0].domains.append(f"app.example.com:{port}")
        bootstrap.node = Node(id="edge-1", cluster="company-edge")  # SDS needs a node identity
        # Envoy reaches the token endpoint through a cluster.
        static = bootstrap.static_resources
        assert static is not None
        static.clusters = [*(static.clusters or []), Cluster(
            name="login", type="STATIC", connect_timeout="2s",
            load_assignment=ClusterLoadAssignment.of("login", ("127.0.0.1", login.port)))]
        validate(bootstrap)
        save_config(work, "oauth2", bootstrap)

        with (
            Supervisor(bootstrap, log_level="warning") as envoy,
            resolving_client({"app.example.com": "127.0.0.1"}, verify=ca.ca_file,
                             follow_redirects=True) as browser,
        ):
            assert envoy.address_of("https")[1] == port
            title(f"a browser opens {site}/dashboard")
            page = browser.get(f"{site}/dashboard")
            for hop in [*page.history, page]:
                where = urllib.parse.urlsplit(str(hop.url))
                show(f"{hop.request.method} {where.netloc}{where.path}", hop.status_code)
            assert page.status_code == 200 and page.headers["x-upstream"] == "app"
            assert len(login.token_requests) == 1
            show("token request used PKCE", "code_verifier" in login.token_requests[0])
            show("cookies the browser keeps", sorted(browser.cookies.keys()))
            seen = app.requests[-1].headers
            show("the app saw Authorization", seen["authorization"][:20] + "...")
            assert seen["authorization"] == f"Bearer {login.access_token}"

            title("next request: the session cookies are enough")
            again = browser.get(f"{site}/settings")
            show("GET /settings", f"{again.status_code}, redirects: {len(again.history)}")
            assert again.status_code == 200 and not again.history

            title("sign out, then back to the login server")
            out = browser.get(f"{site}/signout", follow_redirects=False)
            show("GET /signout", f"{out.status_code} → {out.headers['location']}")
            show("cookies left after sign-out", sorted(browser.cookies.keys()))
            bounced = browser.get(f"{site}/dashboard", follow_redirects=False)
            show("GET /dashboard", f"{bounced.status_code} → "
                 f"{bounced.headers['location'].split('?')[0]}")
            assert bounced.status_code == 302
            assert bounced.headers["location"].startswith(f"{login.url}/authorize?")

            with envoy.admin() as admin:
                stats = admin.stats(filter=r"oauth_(success|failure|unauthorized_rq)$")
            title("/stats?filter=oauth_")
            for name in sorted(stats):
                show(name, stats.number(name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
