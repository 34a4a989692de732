"""A real local HTTP upstream for tests and demos: it answers and records what it got."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["RecordedRequest", "Upstream"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request an :class:`Upstream` received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class _State:
    name: str
    requests: list[RecordedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    status: int = 200


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once, no 40 ms stall

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        state = self.server.state
        record = RecordedRequest(self.command, self.path,
                                 {k.lower(): v for k, v in self.headers.items()}, body)
        with state.lock:
            state.requests.append(record)
        payload = json.dumps({"upstream": state.name, "method": self.command, "path": self.path,
                              "host": self.headers.get("host", "")}).encode() + b"\n"
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
        self.state = state
        super().__init__(address, _Handler)


class Upstream:
    """An HTTP/1.1 server on a loopback address, in a background thread.

    ``with Upstream("a", host="127.0.0.20") as up: ...`` — ``up.port`` is the bound port
    (0 picks a free one), ``up.requests`` what it received. It answers every request with
    a small JSON body naming itself, and the header ``x-upstream: <name>``.
    """

    def __init__(self, name: str = "upstream", host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = _State(name=name)
        self._server = _Server((host, port), self.state)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name=f"upstream-{name}", daemon=True)
        self._thread.start()

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
        """``host:port``, as the builder takes it."""
        return f"{self.host}:{self.port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self.state.lock:
            return list(self.state.requests)

    def respond_with(self, status: int) -> None:
        """Answer later requests with ``status``."""
        self.state.status = status

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Upstream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
