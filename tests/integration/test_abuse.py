"""The edge under abuse: what the internet throws at it, against the builder's defaults.

A real envoy runs the company edge (``EdgeProxy``) on loopback, with a few knobs shortened
so the suite stays fast: ``request_headers_timeout`` 1 s (default 10 s); in their own
envoys, ``stream_idle_timeout`` and the idle timeout 1 s (300 s, 3600 s) and
``max_connections`` 10 (50,000). Everything else is the default the user gets.

* slowloris: headers trickled byte by byte get ``408`` after request_headers_timeout while
  other clients are served;
* headers with underscores are rejected (``400``) and never reach the upstream;
* a forged ``x-forwarded-for`` keeps the real peer as its last hop (``use_remote_address``);
* path normalisation (``..``, ``//``, ``%2F``, ``%61``, ``\\``) cannot walk around a
  route-level deny rule;
* a request flood beyond a site's token bucket gets ``429`` with ``x-ratelimit-*``
  headers, the other site keeps its own bucket, and the admin stays reachable;
* HTTP/2: the stream limit (100) and window (64 KiB) are advertised, and a 101st stream
  gets the connection closed;
* a stalled request body gets ``408`` after ``stream_idle_timeout``; an idle connection is
  closed after the idle timeout (both shortened to 1 s in their own envoy);
* idle connections beyond the global connection limit are closed at once; the admin still
  answers, and service returns when they go.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import ssl
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import psutil
import pytest

from envoykit import EdgeDefaults, EdgeProxy, RateLimit
from envoykit.config import Bootstrap, DirectResponseAction, Route, RouteMatch
from envoykit.testing import wait_until
from envoykit.testing.http import resolving_client
from envoykit.testing.tls import TestCA
from envoykit.testing.upstream import Upstream
from envoykit.validation import validate
from tests.integration._edge_envoy import RunningEnvoy, running_envoy

pytestmark = pytest.mark.integration

HEADERS_TIMEOUT = 1.0
BUCKET = 5  # b.example.com: 5 requests, refilled once a day (i.e. never during a run)
DENIED = "/admin/"  # a route-level rule on a.example.com: 403 before any upstream


@dataclass
class Edge:
    envoy: RunningEnvoy
    ca: TestCA
    a: Upstream
    b: Upstream

    @property
    def https(self) -> int:
        return self.envoy.ports["https"]

    @property
    def http(self) -> int:
        return self.envoy.ports["http"]

    def client(self, **kwargs: object) -> httpx.Client:
        hosts = {"a.example.com": "127.0.0.1", "b.example.com": "127.0.0.1"}
        return resolving_client(hosts, verify=self.ca.ca_file, timeout=30.0, **kwargs)


def with_deny_rule(bootstrap: Bootstrap, host: str, prefix: str) -> Bootstrap:
    """Put ``prefix → 403`` in front of ``host``'s routes, on every listener (the typed
    model is edited after ``build()``, like a user adding a rule the builder lacks)."""
    deny = Route(match=RouteMatch(prefix=prefix),
                 direct_response=DirectResponseAction(status=403))
    assert bootstrap.static_resources is not None
    for listener in bootstrap.static_resources.listeners or []:
        for chain in listener.filter_chains or []:
            for flt in chain.filters or []:
                rc = getattr(flt.typed_config, "route_config", None)
                for vhost in (rc.virtual_hosts or []) if rc else []:
                    if host in vhost.domains:
                        vhost.routes = [deny, *(vhost.routes or [])]
    return bootstrap


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    tmp = tmp_path_factory.mktemp("abuse")
    ca = TestCA(tmp / "certs")
    defaults = dataclasses.replace(EdgeDefaults(),
                                   request_headers_timeout=timedelta(seconds=HEADERS_TIMEOUT))
    with Upstream("A", "127.0.0.1", 0) as a, Upstream("B", "127.0.0.1", 0) as b:
        builder = (
            EdgeProxy("abuse", defaults=defaults)
            .site("a.example.com", a.address, cert=ca.issue("a.example.com").as_cert())
            .site("b.example.com", b.address, cert=ca.issue("b.example.com").as_cert(),
                  rate_limit=RateLimit(BUCKET, per=timedelta(hours=24)))
            .https(0)
            .http(0)
            .rate_limit(100_000)
            .admin(0)
        )
        bootstrap = validate(with_deny_rule(builder.build(), "a.example.com", DENIED))
        with running_envoy(tmp / "envoy", bootstrap) as envoy:
            yield Edge(envoy, ca, a, b)


def raw_http(host: str, port: int, request: bytes,
             timeout: float = 5.0) -> tuple[int, dict[str, str]]:
    """Send ``request`` bytes as they are (no client-side path cleaning); status + headers."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:])}
    return status, headers


# --- slowloris ----------------------------------------------------------------------------


def slow_client(port: int, ca_file: str, give_up: float) -> tuple[str, float]:
    """Open TLS, start the headers, then trickle one header line every 0.2 s, never ending.
    Returns (envoy's status line or what happened, seconds until it happened)."""
    ctx = ssl.create_default_context(cafile=ca_file)
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw, \
            ctx.wrap_socket(raw, server_hostname="a.example.com") as tls:
        tls.sendall(b"GET / HTTP/1.1\r\nHost: a.example.com\r\n")
        tls.settimeout(0.2)  # the trickle interval: the slow client's own pace
        n = 0
        while time.monotonic() - started < give_up:
            try:
                data = tls.recv(4096)
            except TimeoutError:
                n += 1
                try:
                    tls.sendall(f"x-slow-{n}: 1\r\n".encode())
                except OSError as exc:
                    return f"send failed: {exc}", time.monotonic() - started
                continue
            elapsed = time.monotonic() - started
            return (data.split(b"\r\n", 1)[0].decode() if data else "closed"), elapsed
    return "no answer", time.monotonic() - started


def test_slowloris_gets_408_after_the_headers_timeout_while_others_are_served(edge: Edge) -> None:
    slow = 8
    with ThreadPoolExecutor(slow) as pool:
        futures = [pool.submit(slow_client, edge.https, edge.ca.ca_file, 60 * HEADERS_TIMEOUT)
                   for _ in range(slow)]
        # meanwhile, a normal client is served, again and again
        served = []  # (status, were all slow clients still held when it was answered?)
        with edge.client() as client:
            while not all(f.done() for f in futures):
                got = client.get(f"https://a.example.com:{edge.https}/ok")
                served.append((got.status_code, not any(f.done() for f in futures)))
        results = [f.result() for f in futures]
    for status, elapsed in results:  # envoy's 408 (the client would wait 60 s)
        assert status.startswith("HTTP/1.1 408"), (status, elapsed)
        assert elapsed >= HEADERS_TIMEOUT * 0.9, (status, elapsed)  # not before the timeout
    assert all(code == 200 for code, _ in served)
    assert any(held for _, held in served), "no request served while the slow ones were held"
    assert edge.envoy.counter("http.https_a_example_com.downstream_rq_header_timeout") >= slow


# --- underscores --------------------------------------------------------------------------


def test_headers_with_underscores_are_rejected_before_the_upstream(edge: Edge) -> None:
    before = len(edge.a.requests)
    with edge.client() as client:
        got = client.get(f"https://a.example.com:{edge.https}/u",
                          headers={"x_user_id": "admin"})
        assert got.status_code == 400
        # a dash in the same place is fine: only the ambiguous underscore is refused
        ok = client.get(f"https://a.example.com:{edge.https}/u", headers={"x-user-id": "1"})
        assert ok.status_code == 200
    paths = [r for r in edge.a.requests[before:] if "x_user_id" in r.headers]
    assert paths == []
    assert len(edge.a.requests) == before + 1
    assert edge.envoy.counter("http1.requests_rejected_with_underscores_in_headers") >= 1


# --- forwarded-for ------------------------------------------------------------------------


def test_forwarded_for_ends_with_the_real_peer(edge: Edge) -> None:
    """use_remote_address: a forged x-forwarded-for is kept, but envoy appends the address
    it really saw, and that last hop is the one rate limits and RBAC trust."""
    before = len(edge.a.requests)
    with edge.client() as client:
        got = client.get(f"https://a.example.com:{edge.https}/xff",
                         headers={"x-forwarded-for": "203.0.113.7"})
    assert got.status_code == 200
    (seen,) = edge.a.requests[before:]
    hops = [h.strip() for h in seen.headers["x-forwarded-for"].split(",")]
    # Envoy appends the peer it saw; for a loopback peer it appends this machine's own
    # address instead (an internal request), never anything the client sent.
    local = {a.address for addrs in psutil.net_if_addrs().values() for a in addrs}
    assert hops[0] == "203.0.113.7"
    assert len(hops) == 2 and hops[1] in local, hops


# --- path normalisation -------------------------------------------------------------------

BYPASSES = [
    "/admin/x",  # the rule itself
    "/public/../admin/x",  # dot-dot segment
    "/./admin/x",  # dot segment
    "//admin/x",  # merged slashes
    "/public/..//admin/x",  # dot-dot, then merged slashes
    "/%61dmin/x",  # percent-encoded unreserved character
    "/admin\\x",  # backslash
    "/x/%2e%2e/admin/x",  # encoded dot-dot
]
ESCAPED_SLASHES = ["/admin%2Fx", "/%2Fadmin/x", "/admin%2fx"]


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_path_tricks_cannot_bypass_a_route_level_rule(edge: Edge, scheme: str) -> None:
    before = len(edge.a.requests)
    for path in BYPASSES:
        status, _ = request(edge, scheme, path)
        assert status == 403, (scheme, path, status)
    for path in ESCAPED_SLASHES:
        status, headers = request(edge, scheme, path)
        # UNESCAPE_AND_REDIRECT: the client is sent to the plain path, which is then denied
        assert status in (301, 307, 308), (path, status)
        assert headers["location"].endswith("/admin/x"), headers
        assert request(edge, scheme, urlsplit(headers["location"]).path)[0] == 403
    reached = [r.path for r in edge.a.requests[before:]]
    assert reached == [], f"the upstream saw {reached}"
    status, _ = request(edge, scheme, "/public/x")  # and the rest of the site still works
    assert status == 200


def request(edge: Edge, scheme: str, path: str) -> tuple[int, dict[str, str]]:
    raw = f"GET {path} HTTP/1.1\r\nHost: a.example.com\r\nConnection: close\r\n\r\n".encode()
    if scheme == "http":
        return raw_http("127.0.0.1", edge.http, raw)
    ctx = ssl.create_default_context(cafile=edge.ca.ca_file)
    with socket.create_connection(("127.0.0.1", edge.https), timeout=30) as sock, \
            ctx.wrap_socket(sock, server_hostname="a.example.com") as tls:
        tls.sendall(raw)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = tls.recv(65536)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:])}
    return int(head[0].split()[1]), headers


# --- flood --------------------------------------------------------------------------------


def test_flood_beyond_the_bucket_gets_429_with_ratelimit_headers_admin_stays_up(
        edge: Edge) -> None:
    flood = 200
    admin_ok: list[bool] = []
    url = f"https://b.example.com:{edge.https}/flood"
    with edge.client(limits=httpx.Limits(max_connections=8)) as client, \
            httpx.Client(base_url=f"http://{edge.envoy.admin_address}", timeout=30) as admin, \
            ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(client.get, url) for _ in range(flood)]
        while True:  # the admin answers while the flood is on (and once it is over)
            done = all(f.done() for f in futures)
            admin_ok.append(admin.get("/ready").status_code == 200)
            if done:
                break
        replies = [f.result() for f in futures]
        other = client.get(f"https://a.example.com:{edge.https}/other-site")
    codes = [r.status_code for r in replies]
    assert codes.count(200) == BUCKET, codes
    assert codes.count(429) == flood - BUCKET, codes
    limited = next(r for r in replies if r.status_code == 429)
    assert limited.text == "local_rate_limited"
    assert limited.headers["x-local-rate-limit"] == "true"
    assert limited.headers["x-ratelimit-limit"] == str(BUCKET)
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert "x-ratelimit-reset" in limited.headers
    assert other.status_code == 200  # a.example.com has its own bucket
    assert admin_ok and all(admin_ok), f"admin /ready failed during the flood: {admin_ok}"
    assert edge.envoy.counter("https_b_example_com.http_local_rate_limit.rate_limited") >= (
        flood - BUCKET)
    # only the admitted requests reached b (other tests of this module share its upstream)
    assert sum(r.path == "/flood" for r in edge.b.requests) == BUCKET


def test_a_per_site_limit_also_holds_on_plain_http(edge: Edge) -> None:
    """Over plain HTTP all sites share one connection manager; each still has its own
    bucket (a per-virtual-host limit), separate from its HTTPS bucket."""
    def get(host: str) -> int:
        return raw_http("127.0.0.1", edge.http, f"GET /plain HTTP/1.1\r\nHost: {host}\r\n"
                        "Connection: close\r\n\r\n".encode())[0]

    codes = [get("b.example.com") for _ in range(BUCKET + 3)]
    assert codes == [200] * BUCKET + [429] * 3
    assert get("a.example.com") == 200


# --- slow bodies and idle connections ----------------------------------------------------

IDLE = 1.0


@pytest.fixture(scope="module")
def idle_edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningEnvoy, int]]:
    tmp = tmp_path_factory.mktemp("abuse-idle")
    defaults = dataclasses.replace(EdgeDefaults(), stream_idle_timeout=timedelta(seconds=IDLE),
                                   idle_timeout=timedelta(seconds=IDLE))
    with Upstream("A", "127.0.0.1", 0) as a:
        edge = EdgeProxy("idle", defaults=defaults).site("a.example.com", a.address).http(0)
        with running_envoy(tmp / "envoy", validate(edge.admin(0))) as envoy:
            yield envoy, envoy.ports["http"]


def _wait_answer(sock: socket.socket) -> tuple[bytes, float]:
    started = time.monotonic()
    data = sock.recv(65536)
    return data, time.monotonic() - started


def test_a_stalled_body_gets_408_after_the_stream_idle_timeout(
        idle_edge: tuple[RunningEnvoy, int]) -> None:
    """Headers complete, 2 of 100 body bytes, then nothing: ``stream_idle_timeout``."""
    envoy, port = idle_edge
    with socket.create_connection(("127.0.0.1", port), timeout=IDLE * 60) as sock:
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: a.example.com\r\n"
                     b"Content-Length: 100\r\n\r\nab")
        data, elapsed = _wait_answer(sock)
    assert data.startswith(b"HTTP/1.1 408"), data  # envoy's timeout, not the client's
    assert data.endswith(b"stream timeout")
    assert elapsed >= IDLE * 0.9
    assert envoy.counter("http.http.downstream_rq_idle_timeout") >= 1


def test_an_idle_connection_is_closed_after_the_idle_timeout(
        idle_edge: tuple[RunningEnvoy, int]) -> None:
    envoy, port = idle_edge
    with socket.create_connection(("127.0.0.1", port), timeout=IDLE * 60) as sock:
        data, elapsed = _wait_answer(sock)
    assert data == b""  # closed by envoy, no bytes (the client would wait 60 s)
    assert elapsed >= IDLE * 0.9
    assert envoy.counter("http.http.downstream_cx_idle_timeout") >= 1


# --- HTTP/2 stream limit ------------------------------------------------------------------

H2_STREAMS = 100  # EdgeDefaults.max_concurrent_streams


def _h2_frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return (len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big")
            + payload)


def _h2_headers(path: str) -> bytes:
    """An HPACK block of literal, never-Huffman fields (short names and values only)."""
    fields = [(":method", "GET"), (":scheme", "https"), (":path", path),
              (":authority", "a.example.com")]
    return b"".join(b"\x00" + bytes([len(k)]) + k.encode() + bytes([len(v)]) + v.encode()
                    for k, v in fields)


def _h2_server_settings(tls: ssl.SSLSocket) -> dict[int, int]:
    data = b""
    while True:
        data += tls.recv(65536)
        if len(data) >= 9 and len(data) >= 9 + int.from_bytes(data[:3], "big"):
            break
    length, kind = int.from_bytes(data[:3], "big"), data[3]
    assert kind == 4, f"expected the server's SETTINGS first, got frame type {kind}"
    payload = data[9:9 + length]
    return {int.from_bytes(payload[i:i + 2], "big"): int.from_bytes(payload[i + 2:i + 6], "big")
            for i in range(0, len(payload), 6)}


@pytest.fixture(scope="module")
def h2_edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningEnvoy, TestCA]]:
    """An edge whose upstream accepts connections and never answers (a black hole), so
    HTTP/2 streams stay open for as long as the test needs."""
    tmp = tmp_path_factory.mktemp("abuse-h2")
    ca = TestCA(tmp / "certs")
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(512)
        edge = (EdgeProxy("h2").site("a.example.com", f"127.0.0.1:{hole.getsockname()[1]}",
                                     cert=ca.issue("a.example.com").as_cert())
                .https(0).admin(0))
        with running_envoy(tmp / "envoy", validate(edge)) as envoy:
            yield envoy, ca


def test_http2_stream_limit_is_advertised_and_enforced(
        h2_edge: tuple[RunningEnvoy, TestCA]) -> None:
    envoy, ca = h2_edge
    active = "http.https_a_example_com.downstream_rq_active"
    ctx = ssl.create_default_context(cafile=ca.ca_file)
    ctx.set_alpn_protocols(["h2"])
    with socket.create_connection(("127.0.0.1", envoy.ports["https"]), timeout=30) as raw, \
            ctx.wrap_socket(raw, server_hostname="a.example.com") as tls:
        assert tls.selected_alpn_protocol() == "h2"
        tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + _h2_frame(4, 0, 0))
        settings = _h2_server_settings(tls)
        assert settings[3] == H2_STREAMS  # SETTINGS_MAX_CONCURRENT_STREAMS
        assert settings[4] == 65536  # SETTINGS_INITIAL_WINDOW_SIZE: the 64 KiB stream window
        block = _h2_headers("/hang")
        tls.sendall(_h2_frame(4, 1, 0) + b"".join(  # ack, then 100 streams: END_STREAM|HEADERS
            _h2_frame(1, 0x5, 2 * i + 1, block) for i in range(H2_STREAMS)))
        wait_until(lambda: envoy.counter(active), expected=H2_STREAMS,
                   what=f"{H2_STREAMS} active streams")
        tls.sendall(_h2_frame(1, 0x5, 2 * H2_STREAMS + 1, block))  # one stream too many
        tls.settimeout(60)  # envoy closes (EOF) or resets; a TimeoutError fails the test
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            while tls.recv(65536):
                pass
    # the whole connection (and its 100 streams) is gone, not just the extra stream
    wait_until(lambda: envoy.counter(active), expected=0, what="no active stream")


# --- connection limit ---------------------------------------------------------------------

MAX_CONNECTIONS = 10


@pytest.fixture(scope="module")
def small_edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningEnvoy, int]]:
    tmp = tmp_path_factory.mktemp("abuse-connections")
    defaults = dataclasses.replace(EdgeDefaults(), max_connections=MAX_CONNECTIONS)
    with Upstream("A", "127.0.0.1", 0) as a:
        edge = EdgeProxy("small", defaults=defaults).site("a.example.com", a.address).http(0)
        with running_envoy(tmp / "envoy", validate(edge.admin(0))) as envoy:
            yield envoy, envoy.ports["http"]


def _is_closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1, socket.MSG_DONTWAIT | socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except ConnectionError:
        return True


def test_idle_connections_are_bounded_by_the_connection_limit(
        small_edge: tuple[RunningEnvoy, int]) -> None:
    envoy, port = small_edge
    opened = MAX_CONNECTIONS * 3
    idle = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(opened)]
    for sock in idle:
        sock.setblocking(False)
    try:
        wait_until(lambda: sum(map(_is_closed, idle)) >= opened - MAX_CONNECTIONS,
                   what="envoy closing the connections over the limit")
        alive = [s for s in idle if not _is_closed(s)]
        assert len(alive) <= MAX_CONNECTIONS
        assert envoy.counter("listener.127.0.0.1_0.downstream_global_cx_overflow") >= (
            opened - MAX_CONNECTIONS)
        # the admin still answers while the data plane is full
        assert httpx.get(f"http://{envoy.admin_address}/ready", timeout=30).status_code == 200
        # and a newcomer is turned away, not queued
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/", headers={"host": "a.example.com"},
                      timeout=30)
    finally:
        for sock in idle:
            sock.close()

    def status() -> int:
        return httpx.get(f"http://127.0.0.1:{port}/", headers={"host": "a.example.com"},
                         timeout=30).status_code

    wait_until(status, expected=200, ignore=httpx.TransportError,
               what="service back once the idle connections went")


def test_the_defaults_used_here_are_the_library_defaults() -> None:
    """Only the two knobs above are shortened; the rest is what users get."""
    d = EdgeDefaults()
    assert d.request_headers_timeout == timedelta(seconds=10)
    assert d.stream_idle_timeout == timedelta(seconds=300)
    assert d.idle_timeout == timedelta(seconds=3600)
    assert d.headers_with_underscores_action == "REJECT_REQUEST"
    assert d.path_with_escaped_slashes_action == "UNESCAPE_AND_REDIRECT"
    assert d.max_connections == 50_000
    assert d.ratelimit_headers is True
