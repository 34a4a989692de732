"""Plumbing shared by the examples: a work directory, free ports, a backend that can do TLS
and IPv6, a tiny JWT issuer, a lookup of a listener's HTTP connection manager, printing.
Nothing here is envoykit API.

``ENVOYKIT_EXAMPLE_RENDER=DIR``: every example then keeps its files (certificates, logs and
each Envoy config it builds, as ``DIR/<example>/<name>.envoy.yaml``) instead of using a
temporary directory, and runs as usual. The test suite uses it to check every config with
``envoy --mode validate``; you can use it to read the YAML an example produced.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from envoykit import Bootstrap, to_yaml
from envoykit.config import HttpConnectionManager
from envoykit.render import ConfigLike

RENDER_ENV = "ENVOYKIT_EXAMPLE_RENDER"


# --- files and ports ------------------------------------------------------------------------


@contextlib.contextmanager
def workdir(example: str) -> Iterator[Path]:
    """A private directory for one run: ``$ENVOYKIT_EXAMPLE_RENDER/<example>`` (kept) or a
    temporary directory (removed at the end)."""
    keep = os.environ.get(RENDER_ENV)
    if keep:
        path = Path(keep) / example
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix=f"envoykit-{example}-") as tmp:
        yield Path(tmp)


def save_config(work: Path, name: str, config: ConfigLike) -> Path:
    """Write ``config`` as Envoy YAML to ``work/<name>.envoy.yaml`` (what ``envoy -c`` reads)."""
    path = work / f"{name}.envoy.yaml"
    path.write_text(to_yaml(config), encoding="utf-8")
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (for configs that must name their port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def ipv6_loopback() -> bool:
    """True when this machine can listen on and connect to ``::1``."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as server:
            server.bind(("::1", 0))
            server.listen(1)
            with socket.create_connection(("::1", server.getsockname()[1]), timeout=1):
                return True
    except OSError:
        return False


# --- the typed model -------------------------------------------------------------------------


def http_manager(bootstrap: Bootstrap, listener: str, server_name: str | None = None
                 ) -> HttpConnectionManager:
    """The HTTP connection manager of a built listener (of the filter chain serving
    ``server_name`` on an HTTPS listener), to edit what the builder has no option for."""
    for chain in bootstrap.listener(listener).filter_chains or []:
        names = (chain.filter_chain_match and chain.filter_chain_match.server_names) or []
        if server_name is not None and server_name not in names:
            continue
        for network_filter in chain.filters or []:
            if isinstance(network_filter.typed_config, HttpConnectionManager):
                return network_filter.typed_config
    raise KeyError(f"no HTTP connection manager on listener {listener!r} ({server_name})")


# --- a tiny JWT issuer (what an identity provider does) -----------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class TokenIssuer:
    """Signs RS256 JWTs with a fresh RSA key; ``jwks`` is the public key set for Envoy."""

    def __init__(self, issuer: str, kid: str = "key-1") -> None:
        self.issuer = issuer
        self.kid = kid
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def jwks(self) -> str:
        """The JSON Web Key Set with the public key (``local_jwks`` or a JWKS endpoint)."""
        public = self._key.public_key().public_numbers()
        return json.dumps({"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig",
                                     "kid": self.kid, "n": _uint(public.n),
                                     "e": _uint(public.e)}]})

    def sign(self, **claims: Any) -> str:
        """A signed token with ``iss`` set and the given claims."""
        header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": self.kid}).encode())
        payload = _b64url(json.dumps({"iss": self.issuer, **claims}).encode())
        signature = self._key.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(),
                                   hashes.SHA256())
        return f"{header}.{payload}.{_b64url(signature)}"


# --- printing -------------------------------------------------------------------------------


def title(text: str) -> None:
    """A section header in the example's output."""
    print(f"\n== {text}")


def show(label: str, value: object) -> None:
    """One aligned ``label: value`` line."""
    print(f"   {label:<44} {value}")


# --- a backend that can speak TLS and IPv6 ------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """One request a :class:`Backend` received, with what TLS told it."""

    method: str
    path: str
    headers: dict[str, str]
    sni: str | None = None
    client_cert: str | None = None  # the client certificate's first DNS SAN (mTLS)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        sni = client = None
        if isinstance(self.connection, ssl.SSLSocket):
            sni = self.server.sni_by_peer.get(self.client_address[:2])
            peer: dict[str, Any] = dict(self.connection.getpeercert() or {})
            names = [str(v) for k, v in peer.get("subjectAltName", ()) if k == "DNS"]
            client = names[0] if names else None
        seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                    sni, client)
        self.server.requests.append(seen)
        body = json.dumps({"backend": self.server.name, "path": self.path,
                           "host": self.headers.get("host", ""), "sni": sni,
                           "client_cert": client}).encode() + b"\n"
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.send_header("x-backend", self.server.name)
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the examples print what matters."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, name: str, host: str, port: int) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.name = name
        self.requests: list[Seen] = []
        self.sni_by_peer: dict[tuple[str, int], str | None] = {}
        super().__init__((host, port), _Handler)


class Backend:
    """An HTTP (or HTTPS) server on a loopback address in a background thread that answers
    every request with a JSON echo and records it.

    Like :class:`envoykit.testing.upstream.Upstream`, plus what some examples need: IPv6
    addresses, TLS with a certificate (``cert``), the SNI name it was asked for, and client
    certificates (``client_ca``: required, verified against that CA).
    """

    def __init__(self, name: str, host: str = "127.0.0.1", port: int = 0, *,
                 cert: tuple[str, str] | None = None, client_ca: str | None = None) -> None:
        self._server = _Server(name, host, port)
        if cert is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*cert)
            if client_ca is not None:
                context.verify_mode = ssl.CERT_REQUIRED
                context.load_verify_locations(client_ca)
            context.sni_callback = self._record_sni
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name=f"backend-{name}", daemon=True)
        self._thread.start()

    def _record_sni(self, sock: ssl.SSLObject | ssl.SSLSocket, name: str | None,
                    context: ssl.SSLContext) -> None:
        with contextlib.suppress(OSError):
            peer = sock.getpeername() if isinstance(sock, ssl.SSLSocket) else None
            if peer is not None:
                self._server.sni_by_peer[peer[:2]] = name

    @property
    def name(self) -> str:
        return self._server.name

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def address(self) -> str:
        """``host:port`` as the builder takes it (``[::1]:port`` for IPv6)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def requests(self) -> list[Seen]:
        return list(self._server.requests)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
