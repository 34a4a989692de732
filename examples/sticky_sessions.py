"""Sticky sessions: the same user always reaches the same server.

    python examples/sticky_sessions.py

A ring-hash service hashes the ``session`` cookie (Envoy sets it, with a one-hour lifetime,
on a client that has none); the same cookie value keeps reaching the same one of three
servers, while different users spread over all of them.
"""

from __future__ import annotations

import sys
from collections import defaultdict

import httpx
from _common import save_config, show, title, workdir

from envoykit import EdgeProxy, HttpRoute, Sticky, validate
from envoykit.process import Supervisor
from envoykit.testing.upstream import Upstream


def main() -> int:
    with (
        workdir("sticky_sessions") as work,
        Upstream("app-1", host="127.0.0.20") as a,
        Upstream("app-2", host="127.0.0.21") as b,
        Upstream("app-3", host="127.0.0.22") as c,
    ):
        edge = (
            EdgeProxy("sticky")
            .service("app", a.address, b.address, c.address,
                     sticky=Sticky.cookie("session", ttl="1h"))
            .site("app.example.com", routes=[HttpRoute("/", to="app")])
            .http(port=0).admin(port=0)
        )
        validate(edge)  # our checks, then envoy --mode validate
        save_config(work, "sticky", edge)
        with Supervisor(edge.build(), log_level="warning") as envoy:
            url = envoy.url_of("http") + "/cart"
            with httpx.Client() as fresh:
                first = fresh.get(url, headers={"host": "app.example.com"})
            cookie = first.headers.get("set-cookie", "")
            servers: dict[str, set[str]] = defaultdict(set)
            with httpx.Client() as client:
                for i in range(100):
                    user = f"user-{i % 10}"
                    reply = client.get(url, headers={"host": "app.example.com",
                                                     "cookie": f"session={user}"})
                    servers[user].add(reply.headers["x-upstream"])
        title("a client without the cookie gets one from envoy")
        show("set-cookie", cookie)
        title("100 requests of 10 users")
        for user, seen in sorted(servers.items()):
            show(user, sorted(seen))
        assert cookie.startswith("session=") and "Max-Age=3600" in cookie
        assert all(len(seen) == 1 for seen in servers.values())
        assert len(set().union(*servers.values())) > 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
