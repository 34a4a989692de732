"""A real local HTTP(S) upstream for tests and demos: it answers and records what it got."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from envoykit._util import host_port

__all__ = ["RecordedRequest", "Upstream"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request an :class:`Upstream` received (and, over TLS, the SNI name it was asked
    for and the first DNS name of the client certificate, if one was required)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""
    sni: str | None = None
    client_cert: str | None = None


@dataclass
class _State:
    name: str
    requests: list[RecordedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    status: int = 200
    delay: float = 0.0
    sni_by_peer: dict[tuple[str, int], str | None] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once, no 40 ms stall

    def _tls_facts(self) -> tuple[str | None, str | None]:
        if not isinstance(self.connection, ssl.SSLSocket):
            return None, None
        sni = self.server.state.sni_by_peer.get(self.client_address[:2])
        peer: dict[str, Any] = dict(self.connection.getpeercert() or {})
        names = [str(v) for k, v in peer.get("subjectAltName", ()) if k == "DNS"]
        return sni, names[0] if names else None

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        state = self.server.state
        sni, client = self._tls_facts()
        record = RecordedRequest(self.command, self.path,
                                 {k.lower(): v for k, v in self.headers.items()}, body,
                                 sni, client)
        with state.lock:
            state.requests.append(record)
        facts = {"upstream": state.name, "method": self.command, "path": self.path,
                 "host": self.headers.get("host", ""), "sni": sni, "client_cert": client}
        payload = json.dumps({k: v for k, v in facts.items() if v is not None}).encode() + b"\n"
        if state.delay:
            time.sleep(state.delay)  # a slow upstream, on purpose
        self.send_response(state.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.send_header("x-upstream", state.name)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _answer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read :attr:`Upstream.requests` instead."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: _State) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.state = state
        super().__init__(address, _Handler)


class Upstream:
    """An HTTP/1.1 server on a loopback address (IPv4 or IPv6), in a background thread.

    ``with Upstream("a", host="127.0.0.20") as up: ...`` — ``up.port`` is the bound port
    (0 picks a free one), ``up.requests`` what it received. It answers every request with
    a small JSON body naming itself, and the header ``x-upstream: <name>``.

    ``cert=("cert.pem", "key.pem")`` serves HTTPS (recording the SNI name of each request);
    ``client_ca="ca.pem"`` then also requires client certificates signed by that CA (mTLS).
    """

    def __init__(self, name: str = "upstream", host: str = "127.0.0.1", port: int = 0, *,
                 cert: tuple[str, str] | None = None, client_ca: str | None = None) -> None:
        self.state = _State(name=name)
        self._server = _Server((host, port), self.state)
        if cert is not None:
            self._server.socket = self._tls(cert, client_ca).wrap_socket(
                self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name=f"upstream-{name}", daemon=True)
        self._thread.start()

    def _tls(self, cert: tuple[str, str], client_ca: str | None) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*cert)
        if client_ca is not None:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(client_ca)
        context.sni_callback = self._record_sni
        return context

    def _record_sni(self, sock: ssl.SSLObject | ssl.SSLSocket, name: str | None,
                    context: ssl.SSLContext) -> None:
        with contextlib.suppress(OSError):
            peer = sock.getpeername() if isinstance(sock, ssl.SSLSocket) else None
            if peer is not None:
                self.state.sni_by_peer[peer[:2]] = name

    @property
    def name(self) -> str:
        return self.state.name

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def address(self) -> str:
        """``host:port`` as the builder takes it (``[::1]:port`` for IPv6)."""
        return host_port(self.host, self.port)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self.state.lock:
            return list(self.state.requests)

    def respond_with(self, status: int, *, delay: float = 0.0) -> None:
        """Answer later requests with ``status``, each after ``delay`` seconds."""
        self.state.status = status
        self.state.delay = delay

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Upstream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
