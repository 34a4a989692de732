"""Path and header routing: one site, several services, first matching route wins.

    python examples/path_routing.py

``/api/`` goes to the API servers (``/api/`` rewritten to ``/v2/``), testers who send
``x-canary: 1`` reach the new API, ``/old`` is redirected, ``/ping`` is answered by Envoy
itself, the rest goes to the web servers; a path no route matches gets 404. Each answer is
checked against ``edge.resolve()``, which predicts it without Envoy.
"""

from __future__ import annotations

import sys

import httpx
from _common import save_config, show, title, workdir

from envoykit import EdgeProxy, HttpRoute, Redirect, Respond, validate
from envoykit.process import Supervisor
from envoykit.testing.upstream import Upstream


def main() -> int:
    with (
        workdir("path_routing") as work,
        Upstream("api", host="127.0.0.20") as api,
        Upstream("api-v2", host="127.0.0.21") as api_v2,
        Upstream("web", host="127.0.0.22") as web,
    ):
        edge = (
            EdgeProxy("shop")
            .service("api", api.address).service("api-v2", api_v2.address)
            .service("web", web.address)
            .site("shop.example.com", routes=[
                HttpRoute("/api/", headers={"x-canary": "1"}, to="api-v2"),
                HttpRoute("/api/", to="api", rewrite_prefix="/v2/"),
                HttpRoute(path="/old", redirect=Redirect(path="/new", code=301)),
                HttpRoute(path="/ping", respond=Respond(200, "pong")),
                HttpRoute("/static/", methods=["GET", "HEAD"], to="web"),
                HttpRoute(path="/", to="web"),
            ])
            .http(port=0).admin(port=0)
        )
        validate(edge)  # our checks, then envoy --mode validate
        save_config(work, "shop", edge)
        with Supervisor(edge.build(), log_level="warning") as envoy, httpx.Client() as client:
            url = envoy.url_of("http")
            title("request → what envoy did (and what resolve() predicted)")
            cases = [("GET", "/api/orders", {}), ("GET", "/api/orders", {"x-canary": "1"}),
                     ("GET", "/old?page=2", {}), ("GET", "/ping", {}),
                     ("GET", "/static/app.js", {}), ("POST", "/static/app.js", {}),
                     ("GET", "/", {}), ("GET", "/nothing", {})]
            for method, path, headers in cases:
                reply = client.request(method, url + path,
                                       headers={"host": "shop.example.com", **headers})
                got = reply.headers.get("x-upstream") or reply.headers.get("location") \
                    or f"{reply.status_code} {reply.text!r}"
                want = edge.resolve("shop.example.com", path, method, headers)
                predicted = want.service or want.location or f"{want.status} {want.body!r}"
                if want.action == "not_found":
                    predicted = "404 ''"
                show(f"{method} {path} {headers or ''}", f"{reply.status_code} {got}  "
                     f"[{want.where}]")
                assert got == predicted, (got, predicted)
            assert api.requests[0].path == "/v2/orders"  # the prefix rewrite
            assert [r.path for r in api_v2.requests] == ["/api/orders"]
    return 0


if __name__ == "__main__":
    sys.exit(main())
