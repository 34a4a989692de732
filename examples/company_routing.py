"""The company's reverse proxy: route by host name to two internal servers (plain HTTP).

    python examples/company_routing.py

The seed: a company has two servers, 192.168.1.20 and 192.168.1.21, and wants
``a.example.com`` to reach the first and ``b.example.com`` the second, without port numbers
in URLs. Here the two servers are local HTTP servers on 127.0.0.20 and 127.0.0.21 (all of
127.0.0.0/8 is loopback on Linux) and the proxy listens on a free port of 127.0.0.1.
"""

from __future__ import annotations

import sys

import httpx
from _common import save_config, show, title, workdir

from envoykit import EdgeProxy, validate
from envoykit.process import Supervisor
from envoykit.testing.upstream import Upstream


def main() -> int:
    with (
        workdir("company_routing") as work,
        Upstream("server-a", host="127.0.0.20") as server_a,
        Upstream("server-b", host="127.0.0.21") as server_b,
    ):
        # One site per host name; each gets its own virtual host and cluster.
        edge = (
            EdgeProxy("company")
            .site("a.example.com", server_a.address)
            .site("b.example.com", server_b.address)
            .http(port=0)  # 0: any free port (the seed would use 80)
            .admin(port=0)
        )
        bootstrap = validate(edge)  # our checks, then `envoy --mode validate`
        save_config(work, "company", bootstrap)

        title("host name → cluster → server")
        for site in edge.sites:
            servers = ", ".join(f"{host}:{port}" for host, port in site.upstreams)
            show(site.host, f"cluster {site.slug} → {servers}")

        with Supervisor(bootstrap, log_level="warning") as envoy, httpx.Client() as client:
            url = envoy.url_of("http")
            title(f"requests to {url} with different Host headers")
            answers = {}
            for host in ("a.example.com", "b.example.com", "c.example.com"):
                reply = client.get(f"{url}/hello", headers={"host": host})
                answered = reply.headers.get("x-upstream", "(envoy itself)")
                show(f"Host: {host}", f"{reply.status_code} from {answered}")
                answers[host] = (reply.status_code, answered)
            assert answers == {"a.example.com": (200, "server-a"),
                               "b.example.com": (200, "server-b"),
                               "c.example.com": (404, "(envoy itself)")}

        title("what each server received")
        for server in (server_a, server_b):
            paths = [r.path for r in server.requests]
            hosts = {r.headers["host"] for r in server.requests}
            show(f"{server.name} ({server.address})", f"{paths} Host={sorted(hosts)}")
            assert hosts == {f"{server.name[-1]}.example.com"}  # each got only its own host
    return 0


if __name__ == "__main__":
    sys.exit(main())
