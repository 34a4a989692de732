"""Services and routes on the real envoy, with real traffic: path and header routing,
redirects and direct answers, a 90/10 canary, retries counted by envoy, active health
checks and outlier detection, sticky sessions, WebSocket over HTTPS, TCP proxy and TLS
passthrough. Every outcome is asserted exactly; waits are for events, with generous
deadlines (the machine is loaded)."""

from __future__ import annotations

import socket
import socketserver
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets.sync.client
import websockets.sync.server

from envoykit import (
    EdgeProxy,
    Health,
    HttpRoute,
    Outlier,
    Redirect,
    Respond,
    Retry,
    Sticky,
    validate,
)
from envoykit.process import Supervisor
from envoykit.testing import wait_until
from envoykit.testing.http import resolving_client
from envoykit.testing.tls import TestCA
from envoykit.testing.upstream import Upstream

pytestmark = pytest.mark.integration



def served_by(reply: httpx.Response) -> str:
    return reply.headers.get("x-upstream", f"(envoy: {reply.status_code})")


@pytest.fixture()
def three() -> Iterator[tuple[Upstream, Upstream, Upstream]]:
    with Upstream("one") as a, Upstream("two") as b, Upstream("three") as c:
        yield a, b, c


# -- routing ------------------------------------------------------------------------------

@pytest.fixture()
def named() -> Iterator[tuple[Upstream, Upstream, Upstream]]:
    with Upstream("api") as a, Upstream("web") as b, Upstream("canary") as c:
        yield a, b, c


def test_path_and_header_routing_redirects_and_direct_answers(
        named: tuple[Upstream, Upstream, Upstream]) -> None:
    api, web, canary = named
    edge = (EdgeProxy().http(0).admin(port=0)
            .service("api", api.address).service("web", web.address)
            .service("canary", canary.address)
            .site("shop.example.com", routes=[
                HttpRoute("/api/", headers={"x-canary": "1"}, to="canary"),
                HttpRoute("/api/", to="api", rewrite_prefix="/v2/"),
                HttpRoute(path="/old", redirect=Redirect(path="/new", code=301)),
                HttpRoute(path="/ping", respond=Respond(200, "pong")),
                HttpRoute("/static/", methods=["GET"], to="web",
                      response_headers={"cache-control": "max-age=60"}),
            ]))
    with Supervisor(validate(edge), log_level="warning") as proxy, \
            httpx.Client(timeout=10) as client:
        url = proxy.url_of("http")

        def get(path: str, **headers: str) -> httpx.Response:
            return client.get(url + path, headers={"host": "shop.example.com", **headers})

        assert served_by(get("/api/orders")) == "api"
        assert api.requests[-1].path == "/v2/orders"  # the prefix rewrite
        assert served_by(get("/api/orders", **{"x-canary": "1"})) == "canary"
        static = get("/static/app.js")
        assert served_by(static) == "web" and static.headers["cache-control"] == "max-age=60"
        assert client.post(url + "/static/x", headers={"host": "shop.example.com"}
                           ).status_code == 404  # GET only
        moved = get("/old?x=1")
        assert (moved.status_code, moved.headers["location"]) == (
            301, "http://shop.example.com/new?x=1")
        ping = get("/ping")
        assert (ping.status_code, ping.text) == (200, "pong")
        assert get("/nothing-here").status_code == 404
        assert get("/ping/more").status_code == 404  # an exact path is not a prefix
        assert client.get(url + "/api/x", headers={"host": "other.example.com"}
                          ).status_code == 404
        for path, headers in (("/api/orders", {}), ("/api/orders", {"x-canary": "1"}),
                              ("/old?x=1", {}), ("/ping", {}), ("/nothing-here", {})):
            want = edge.resolve("shop.example.com", path, headers=headers)  # no envoy
            got = get(path, **headers)
            assert (want.service or f"(envoy: {want.status})", want.location) == (
                served_by(got), got.headers.get("location"))


def test_canary_split_90_10_over_2000_requests(
        three: tuple[Upstream, Upstream, Upstream]) -> None:
    stable, canary, _ = three
    edge = (EdgeProxy().http(0).admin(port=0)
            .service("stable", stable.address).service("canary", canary.address)
            .site("shop.example.com", routes=[HttpRoute("/", to={"stable": 90, "canary": 10})]))
    with Supervisor(validate(edge), log_level="warning") as proxy, \
            httpx.Client(timeout=10) as client:
        url = proxy.url_of("http") + "/"
        seen = Counter(served_by(client.get(url, headers={"host": "shop.example.com"}))
                       for _ in range(2000))
    assert set(seen) == {"one", "two"} and sum(seen.values()) == 2000
    share = seen["two"] / 2000
    assert abs(share - 0.10) <= 0.03, f"canary got {share:.1%} of 2,000 requests"


# -- retries ------------------------------------------------------------------------------

class Flaky(ThreadingHTTPServer):
    """Fails every other request it receives (a reset, or a 503), answers 200 otherwise."""

    daemon_threads = True

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.received = 0
        self.failed = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _FlakyHandler)
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class _FlakyHandler(BaseHTTPRequestHandler):
    server: Flaky
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.received += 1
            fail = self.server.received % 2 == 1
            self.server.failed += fail
        if fail and self.server.mode == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST on close
            self.close_connection = True
            return
        status = 503 if fail else 200
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize("mode", ["503", "reset"])
def test_retry_turns_a_failed_first_attempt_into_200(mode: str) -> None:
    flaky = Flaky(mode)
    retry = Retry(attempts=1, on=("reset",), statuses=(503,))
    edge = (EdgeProxy().http(0).admin(port=0).service("flaky", flaky.address)
            .site("shop.example.com", routes=[HttpRoute("/", to="flaky", retries=retry)]))
    try:
        with Supervisor(validate(edge), log_level="warning") as proxy, \
                httpx.Client(timeout=10) as client:
            url = proxy.url_of("http") + "/"
            statuses = [client.get(url, headers={"host": "shop.example.com"}).status_code
                        for _ in range(20)]
            with proxy.admin() as admin:
                retried = admin.stats(filter="cluster.flaky.upstream_rq_retry$").number(
                    "cluster.flaky.upstream_rq_retry")
    finally:
        flaky.shutdown()
        flaky.server_close()
    assert statuses == [200] * 20
    assert flaky.failed == 20 and flaky.received == 40
    assert retried == flaky.failed


# -- health ---------------------------------------------------------------------------------

def hosts_of(proxy: Supervisor, cluster: str) -> dict[int, bool]:
    with proxy.admin() as admin:
        status = admin.clusters()[cluster]
    return {h.address[1]: h.healthy for h in status.hosts}


def test_active_health_check_takes_a_stopped_endpoint_out_and_back() -> None:
    a, b = Upstream("A"), Upstream("B")
    port_a = a.port
    health = Health.http("/healthz", interval="250ms", timeout="200ms", unhealthy=2, healthy=1)
    edge = (EdgeProxy().http(0).admin(port=0)
            .service("api", a.address, b.address, health=health)
            .site("shop.example.com", routes=[HttpRoute("/", to="api")]))
    try:
        with Supervisor(validate(edge), log_level="warning") as proxy, \
                httpx.Client(timeout=10) as client:
            url = proxy.url_of("http") + "/"

            def who() -> str:
                return served_by(client.get(url, headers={"host": "shop.example.com"}))

            wait_until(lambda: all(hosts_of(proxy, "api").values()),
                       what="both endpoints healthy")
            assert {who() for _ in range(20)} == {"A", "B"}
            a.close()
            stopped = time.monotonic()
            wait_until(lambda: hosts_of(proxy, "api")[port_a] is False,
                       what="A marked unhealthy")
            took = time.monotonic() - stopped
            answers = [who() for _ in range(50)]
            assert answers == ["B"] * 50, Counter(answers)  # no failed request after that
            a = Upstream("A", port=port_a)
            wait_until(lambda: hosts_of(proxy, "api")[port_a], what="A healthy again")
            wait_until(lambda: "A" in {who() for _ in range(4)}, what="A serving again")
            print(f"endpoint out after {took:.2f}s (interval x threshold = 0.5 s)")
    finally:
        a.close()
        b.close()


def test_outlier_detection_ejects_an_endpoint_answering_5xx() -> None:
    with Upstream("good") as good, Upstream("bad") as bad:
        bad.respond_with(503)
        edge = (EdgeProxy().http(0).admin(port=0)
                .service("api", good.address, bad.address,
                         outlier=Outlier(consecutive_5xx=3, interval="100ms", ejection="60s"))
                .site("shop.example.com", routes=[HttpRoute("/", to="api")]))
        with Supervisor(validate(edge), log_level="warning") as proxy, \
                httpx.Client(timeout=10) as client:
            url = proxy.url_of("http") + "/"

            def status() -> int:
                return client.get(url, headers={"host": "shop.example.com"}).status_code

            def ejected_after_another_request() -> bool:
                status()
                return not hosts_of(proxy, "api")[bad.port]

            wait_until(ejected_after_another_request, what="the 503 endpoint ejected")
            with proxy.admin() as admin:
                ejected = admin.stats(filter="outlier_detection.ejections_enforced_total").number(
                    "cluster.api.outlier_detection.ejections_enforced_total")
            assert ejected == 1
            assert [status() for _ in range(30)] == [200] * 30
            assert len(bad.requests) >= 3  # at least the consecutive_5xx that ejected it


# -- sticky sessions -------------------------------------------------------------------------

@pytest.mark.parametrize("sticky", [Sticky.header("x-user"), Sticky.cookie("sid")],
                         ids=["header", "cookie"])
def test_sticky_sessions_keep_a_user_on_one_endpoint(
        three: tuple[Upstream, Upstream, Upstream], sticky: Sticky) -> None:
    edge = (EdgeProxy().http(0).admin(port=0)
            .service("app", *(u.address for u in three), sticky=sticky)
            .site("shop.example.com", routes=[HttpRoute("/", to="app")]))
    with Supervisor(validate(edge), log_level="warning") as proxy, \
            httpx.Client(timeout=10) as client:
        url = proxy.url_of("http") + "/"
        seen: dict[str, set[str]] = {}
        for i in range(100):
            user = f"user-{i % 20}"
            headers = {"host": "shop.example.com"}
            headers.update({"x-user": user} if sticky.kind == "header"
                           else {"cookie": f"sid={user}"})
            seen.setdefault(user, set()).add(served_by(client.get(url, headers=headers)))
    assert all(len(endpoints) == 1 for endpoints in seen.values()), seen
    assert len({e for endpoints in seen.values() for e in endpoints}) > 1  # still balanced


# -- WebSocket, TCP, passthrough --------------------------------------------------------------

@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("routes-ca"))


def test_websocket_echo_through_the_edge_over_https(ca: TestCA) -> None:
    def echo(ws: websockets.sync.server.ServerConnection) -> None:
        for message in ws:
            ws.send(f"echo:{message}")

    with websockets.sync.server.serve(echo, "127.0.0.1", 0) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        ws_port = server.socket.getsockname()[1]
        edge = (EdgeProxy().https(0).admin(port=0)
                .service("ws", f"127.0.0.1:{ws_port}")
                .site("chat.example.com", cert=ca.issue("chat.example.com").as_cert(),
                      routes=[HttpRoute("/ws", to="ws", websocket=True),
                              HttpRoute("/", respond=Respond(200, "no upgrade here"))]))
        with Supervisor(validate(edge), log_level="warning") as proxy:
            _, port = proxy.address_of("https")
            tls = ssl.create_default_context(cafile=ca.ca_file)
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            with websockets.sync.client.connect(
                    f"wss://chat.example.com:{port}/ws", sock=sock, ssl=tls,
                    server_hostname="chat.example.com", open_timeout=20) as ws:
                replies = []
                for text in ("hello", "über", "x" * 10_000):
                    ws.send(text)
                    replies.append(ws.recv(timeout=20))
            server.shutdown()
    assert replies == ["echo:hello", "echo:über", "echo:" + "x" * 10_000]


class Echo(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _EchoHandler)
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()


class _EchoHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


def test_tcp_proxy_echoes_bytes_end_to_end() -> None:
    echo = Echo()
    edge = (EdgeProxy().admin(port=0).service("echo", f"127.0.0.1:{echo.server_address[1]}")
            .tcp(0, "echo", name="raw"))
    try:
        with Supervisor(validate(edge), log_level="warning") as proxy:
            payload = bytes(range(256)) * 400
            with socket.create_connection(proxy.address_of("raw"), timeout=10) as conn:
                conn.sendall(payload)
                conn.shutdown(socket.SHUT_WR)
                received = b""
                while chunk := conn.recv(65536):
                    received += chunk
    finally:
        echo.shutdown()
        echo.server_close()
    assert received == payload


def test_tls_passthrough_by_sni_presents_the_upstreams_certificate(ca: TestCA,
                                                                   tmp_path: Path) -> None:
    inside = ca.issue("pass.example.com")
    with Upstream("inside", cert=(inside.cert, inside.key)) as backend, \
            Upstream("edge-site") as site_upstream:
        edge = (EdgeProxy().https(0).admin(port=0)
                .service("inside", backend.address)
                .site("a.example.com", site_upstream.address,
                      cert=ca.issue("a.example.com").as_cert())
                .passthrough("pass.example.com", "inside"))
        with Supervisor(validate(edge), log_level="warning") as proxy:
            _, port = proxy.address_of("https")
            hosts = {"pass.example.com": "127.0.0.1", "a.example.com": "127.0.0.1"}
            with resolving_client(hosts, verify=ca.ca_file, timeout=10) as client:
                passed = client.get(f"https://pass.example.com:{port}/x")
                terminated = client.get(f"https://a.example.com:{port}/x")
            tls = ssl.create_default_context(cafile=ca.ca_file)
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                    tls.wrap_socket(raw, server_hostname="pass.example.com") as conn:
                peer = conn.getpeercert()
    assert served_by(passed) == "inside" and served_by(terminated) == "edge-site"
    assert backend.requests[-1].sni == "pass.example.com"  # TLS ended at the backend
    names = [v for k, v in peer.get("subjectAltName", ()) if k == "DNS"]
    assert names == ["pass.example.com"]  # the backend's certificate, not the edge's
