"""A canary release: 10 % of ``/api/`` to the new version, testers opt in by header.

    python examples/canary_release.py

The split is Envoy's weighted clusters: each request goes to one service at random with
the given weights. Over 1,000 requests the new version's share lands near 10 %.
"""

from __future__ import annotations

import sys
from collections import Counter

import httpx
from _common import save_config, show, title, workdir

from envoykit import EdgeProxy, HttpRoute, validate
from envoykit.process import Supervisor
from envoykit.testing.upstream import Upstream

REQUESTS = 1000


def main() -> int:
    with (
        workdir("canary_release") as work,
        Upstream("v1", host="127.0.0.20") as v1,
        Upstream("v2", host="127.0.0.21") as v2,
    ):
        edge = (
            EdgeProxy("canary")
            .service("api-v1", v1.address).service("api-v2", v2.address)
            .site("api.example.com", routes=[
                HttpRoute("/", headers={"x-canary": "1"}, to="api-v2"),   # testers opt in
                HttpRoute("/", to={"api-v1": 90, "api-v2": 10}),           # 10 % of the rest
            ])
            .http(port=0).admin(port=0)
        )
        validate(edge)  # our checks, then envoy --mode validate
        save_config(work, "canary", edge)
        with Supervisor(edge.build(), log_level="warning") as envoy, httpx.Client() as client:
            url = envoy.url_of("http") + "/api/items"
            seen = Counter(client.get(url, headers={"host": "api.example.com"})
                           .headers["x-upstream"] for _ in range(REQUESTS))
            opted = {client.get(url, headers={"host": "api.example.com", "x-canary": "1"})
                     .headers["x-upstream"] for _ in range(20)}
        title(f"{REQUESTS} requests split 90/10")
        for version, count in sorted(seen.items()):
            show(version, f"{count} ({count / REQUESTS:.1%})")
        show("with x-canary: 1", sorted(opted))
        assert abs(seen["v2"] / REQUESTS - 0.10) <= 0.04, seen  # > 4 standard deviations
        assert seen["v1"] + seen["v2"] == REQUESTS
        assert opted == {"v2"}
    return 0


if __name__ == "__main__":
    sys.exit(main())
