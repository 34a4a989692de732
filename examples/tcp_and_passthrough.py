"""A TCP proxy, and TLS passed through by SNI next to the sites whose TLS the edge ends.

    python examples/tcp_and_passthrough.py

``tcp(port, service)`` relays any TCP protocol byte for byte (here, a line echo server).
``passthrough(host, service)`` sends TLS connections for ``legacy.example.com`` untouched to
a server that holds its own certificate; the edge never sees the plaintext. The site
``a.example.com`` on the same port is terminated at the edge as usual.
"""

from __future__ import annotations

import socket
import socketserver
import ssl
import sys
import threading

from _common import save_config, show, title, workdir

from envoykit import EdgeProxy, validate
from envoykit.process import Supervisor
from envoykit.testing.http import resolving_client
from envoykit.testing.tls import TestCA
from envoykit.testing.upstream import Upstream


class Echo(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for line in self.rfile:
            self.wfile.write(b"echo " + line)


def peer_names(port: int, server_name: str, ca_file: str) -> list[str]:
    """The DNS names of the certificate presented for ``server_name``."""
    tls = ssl.create_default_context(cafile=ca_file)
    with socket.create_connection(("127.0.0.1", port)) as raw, \
            tls.wrap_socket(raw, server_hostname=server_name) as conn:
        cert = conn.getpeercert() or {}
    return [str(v) for k, v in cert.get("subjectAltName", ()) if k == "DNS"]


def main() -> int:
    echo = socketserver.ThreadingTCPServer(("127.0.0.20", 0), Echo)
    echo.daemon_threads = True
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    with workdir("tcp_and_passthrough") as work:
        ca = TestCA(work / "ca")
        legacy = ca.issue("legacy.example.com")
        with Upstream("legacy", host="127.0.0.21", cert=(legacy.cert, legacy.key)) as inside, \
                Upstream("site-a", host="127.0.0.22") as site_a:
            edge = (
                EdgeProxy("tcp")
                .service("echo", f"127.0.0.20:{echo.server_address[1]}")
                .service("legacy", inside.address)
                .tcp(port=0, service="echo", name="echo")
                .site("a.example.com", site_a.address, cert=ca.issue("a.example.com").as_cert())
                .passthrough("legacy.example.com", "legacy")
                .https(port=0).admin(port=0)
            )
            validate(edge)  # our checks, then envoy --mode validate
            save_config(work, "tcp", edge)
            with Supervisor(edge.build(), log_level="warning") as envoy:
                title("TCP proxy")
                with socket.create_connection(envoy.address_of("echo"), timeout=30) as conn:
                    conn.sendall(b"hello\nworld\n")
                    lines = conn.makefile("rb")
                    replies = lines.readline() + lines.readline()
                show("sent b'hello\\nworld\\n'", replies)

                title("one HTTPS port: a terminated site and a passed-through one")
                _, port = envoy.address_of("https")
                passed = peer_names(port, "legacy.example.com", ca.ca_file)
                ended = peer_names(port, "a.example.com", ca.ca_file)
                show("certificate for legacy.example.com", passed)
                show("certificate for a.example.com", ended)
                hosts = {"legacy.example.com": "127.0.0.1", "a.example.com": "127.0.0.1"}
                with resolving_client(hosts, verify=ca.ca_file) as client:
                    via = client.get(f"https://legacy.example.com:{port}/").headers["x-upstream"]
                show("HTTPS to legacy.example.com answered by", via)
                show("TLS with SNI ended at", inside.requests[-1].sni)
    echo.shutdown()
    assert replies == b"echo hello\necho world\n"
    assert passed == ["legacy.example.com"] and ended == ["a.example.com"]
    assert via == "legacy" and inside.requests[-1].sni == "legacy.example.com"
    return 0


if __name__ == "__main__":
    sys.exit(main())
