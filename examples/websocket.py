"""WebSocket through the edge, over HTTPS.

    python examples/websocket.py

The route ``/ws`` allows the WebSocket upgrade (``HttpRoute(..., websocket=True)``); the client
(the ``websockets`` library) connects with ``wss://`` to the edge, which ends TLS and relays
the frames to a local echo server. Other routes of the site do not upgrade.
"""

from __future__ import annotations

import socket
import ssl
import sys
import threading

import websockets.sync.client
import websockets.sync.server
from _common import save_config, show, title, workdir

from envoykit import EdgeProxy, HttpRoute, Respond, validate
from envoykit.process import Supervisor
from envoykit.testing.tls import TestCA


def echo(ws: websockets.sync.server.ServerConnection) -> None:
    for message in ws:
        ws.send(f"echo: {message}")


def main() -> int:
    with workdir("websocket") as work, \
            websockets.sync.server.serve(echo, "127.0.0.20", 0) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        ca = TestCA(work / "ca")
        edge = (
            EdgeProxy("chat")
            .service("chat", f"127.0.0.20:{server.socket.getsockname()[1]}")
            .site("chat.example.com", cert=ca.issue("chat.example.com").as_cert(), routes=[
                HttpRoute("/ws", to="chat", websocket=True),
                HttpRoute("/", respond=Respond(200, "the chat lives on /ws")),
            ])
            .https(port=0).admin(port=0)
        )
        validate(edge)  # our checks, then envoy --mode validate
        save_config(work, "chat", edge)
        with Supervisor(edge.build(), log_level="warning") as envoy:
            _, port = envoy.address_of("https")
            tls = ssl.create_default_context(cafile=ca.ca_file)
            sock = socket.create_connection(("127.0.0.1", port))
            title(f"wss://chat.example.com:{port}/ws (TLS ends at the edge)")
            with websockets.sync.client.connect(f"wss://chat.example.com:{port}/ws",
                                                sock=sock, ssl=tls,
                                                server_hostname="chat.example.com") as ws:
                replies = []
                for text in ("hello", "how are you?"):
                    ws.send(text)
                    replies.append(ws.recv(timeout=10))
                    show(f"sent {text!r}", f"got {replies[-1]!r}")
        server.shutdown()
    assert replies == ["echo: hello", "echo: how are you?"]
    return 0


if __name__ == "__main__":
    sys.exit(main())
