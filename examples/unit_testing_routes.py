"""Unit-testing routes: which route and service a request gets, in microseconds, no Envoy.

    python examples/unit_testing_routes.py

``edge.resolve(host, path, method, headers)`` follows Envoy's own routing rules, including
what the edge does to a request before routing (dot segments, double slashes, ``%2F``,
escapes, a header with an underscore); the property test
``tests/integration/test_resolve_property.py`` checks it against the real envoy on random
route tables and requests. Write routing tests as plain asserts — here, a table of
requests and the answer each must get — and run them in any test runner. The config is
still saved and validated by the example suite, so the tested edge is the deployed edge.
"""

from __future__ import annotations

import sys
import time

from _common import save_config, show, title, workdir

from envoykit import EdgeProxy, Header, HttpRoute, Redirect, Respond, SemanticError, validate


def shop() -> EdgeProxy:
    return (
        EdgeProxy("shop")
        .service("api", "127.0.0.20:8080").service("api-v2", "127.0.0.21:8080")
        .service("web", "127.0.0.22:8080").service("admin", "127.0.0.23:8080")
        .site("shop.example.com", aliases=["*.shop.example.com"], routes=[
            HttpRoute("/api/", headers=[Header("x-canary", exact="1")], to="api-v2"),
            HttpRoute("/api/", methods=["GET", "POST"], to={"api": 95, "api-v2": 5}),
            HttpRoute(regex="/admin(/.*)?", headers={"x-admin-token": True}, to="admin"),
            HttpRoute(regex="/admin(/.*)?", respond=Respond(403, "admins only")),
            HttpRoute(path="/shop", redirect=Redirect(path="/", code=301)),
            HttpRoute("/", to="web"),
        ])
        .http(port=0).admin(port=0)
    )


EXPECTED = [  # (host, path, method, headers) -> (where, what)
    (("shop.example.com", "/api/cart", "GET", {}), ("routes[1]", "split api 95 / api-v2 5")),
    (("shop.example.com", "/api/cart", "GET", {"x-canary": "1"}), ("routes[0]", "api-v2")),
    (("shop.example.com", "/api/cart", "DELETE", {}), ("routes[5]", "web")),
    (("eu.shop.example.com:443", "/admin/users", "GET", {}), ("routes[3]", "403 admins only")),
    (("shop.example.com", "/admin", "GET", {"x-admin-token": "t"}), ("routes[2]", "admin")),
    (("shop.example.com", "/shop?ref=mail", "GET", {}),
     ("routes[4]", "301 http://shop.example.com/?ref=mail")),
    (("www.example.com", "/", "GET", {}), ("(no site)", "404")),
    # the path as the edge normalises it before routing
    (("shop.example.com", "/static/../admin/users", "GET", {}),
     ("routes[3]", "403 admins only")),
    (("shop.example.com", "//api//%63art", "GET", {}), ("routes[1]", "split api 95 / api-v2 5")),
    (("shop.example.com", "/API/cart", "GET", {}), ("routes[5]", "web")),  # case-sensitive
    (("shop.example.com", "/admin%2Fusers", "GET", {}), ("(before routing)", "307 /admin/users")),
    (("shop.example.com", "/admin", "GET", {"x_admin_token": "t"}), ("(before routing)", "400")),
    (("shop.example.com", "/shop#top", "GET", {}), ("(before routing)", "400")),
]


def describe(host: str, path: str, method: str, headers: dict[str, str],
             edge: EdgeProxy) -> tuple[str, str]:
    r = edge.resolve(host, path, method, headers)
    where = r.where.rsplit(".", 1)[-1] if r.route is not None else r.where
    if r.action == "forward":
        return where, str(r.service)
    if r.action == "split":
        return where, "split " + " / ".join(f"{s} {w}" for s, w in r.split)
    if r.action == "redirect":
        return where, f"{r.status} {r.location}"
    if r.action == "respond":
        return where, f"{r.status} {r.body}"
    return where, str(r.status)  # 404 (no site or route) or 400 (rejected before routing)


def main() -> int:
    edge = shop()
    with workdir("unit_testing_routes") as work:
        validate(edge)  # our checks, then envoy --mode validate
        save_config(work, "shop", edge)
    title("routing table tests (no envoy)")
    start = time.perf_counter()
    for request, expected in EXPECTED:
        got = describe(*request, edge=edge)
        show(f"{request[2]} {request[0]}{request[1]}", f"{got[0]}: {got[1]}")
        assert got == expected, (request, got, expected)
    show("each answer took", f"{(time.perf_counter() - start) / len(EXPECTED) * 1e6:.0f} us")

    title("a mistake is caught when the site is declared")
    try:
        EdgeProxy().service("web", "127.0.0.22:8080").site("shop.example.com", routes=[
            HttpRoute("/", to="web"), HttpRoute("/api/", to="web")])
    except SemanticError as error:
        show("SemanticError", error.issues[0])
        assert error.issues[0].path == "site('shop.example.com').routes[1]"
    else:
        raise AssertionError("a shadowed route was accepted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
