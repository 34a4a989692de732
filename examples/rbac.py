"""RBAC at the edge: who may do what, decided by Envoy before the request reaches a service.

    python examples/rbac.py

The seed lists RBAC among Envoy's HTTP security features. The ``rbac`` filter matches each
request against named policies (a policy = permissions x principals). With action ``ALLOW``
only matching requests pass; everything else gets 403 from Envoy. Here: anyone may read,
only the office network may create orders, nobody may delete. The "office" is 127.0.0.0/29
and the "internet" is 127.0.0.100 (clients bind those loopback addresses as their source).
``shadow_rules`` try a stricter policy without enforcing it: Envoy only counts what it would
have denied. The builder has no RBAC option: the filter is added on the typed model.
"""

from __future__ import annotations

import sys

import httpx
from _common import http_manager, save_config, show, title, workdir

from envoykit import EdgeProxy, validate
from envoykit.config import RBAC, HttpFilter, Permission, Policy, Principal, RBACRules
from envoykit.process import Supervisor
from envoykit.testing.upstream import Upstream

OFFICE = "127.0.0.0/29"
CLIENTS = {"office (127.0.0.2)": "127.0.0.2", "internet (127.0.0.100)": "127.0.0.100"}


def method(name: str) -> Permission:
    return Permission.header_exact(":method", name)


rbac = RBAC(
    rules=RBACRules(action="ALLOW", policies={
        "anyone-reads": Policy(
            permissions=[Permission.any_of(method("GET"), method("HEAD"))],
            principals=[Principal.anyone()],
        ),
        "office-creates-orders": Policy(
            permissions=[Permission.all_of(method("POST"), Permission.path_prefix("/orders"))],
            principals=[Principal.ip(OFFICE)],
        ),
    }),
    # what if reads were for the office only? counted, not enforced
    shadow_rules=RBACRules(action="ALLOW", policies={
        "office-only": Policy(permissions=[Permission(any=True)],
                              principals=[Principal.ip(OFFICE)]),
    }),
)


def main() -> int:
    with workdir("rbac") as work, Upstream("orders") as orders:
        edge = EdgeProxy("api").site("api.example.com", orders.address).http(0).admin(0)
        bootstrap = edge.build()
        hcm = http_manager(bootstrap, "http")
        hcm.http_filters = [HttpFilter.of(rbac), *(hcm.http_filters or [])]  # before the router
        validate(bootstrap)
        save_config(work, "rbac", bootstrap)

        with Supervisor(bootstrap, log_level="warning") as envoy:
            url = envoy.url_of("http")
            title("method path, from each network")
            results = {}
            for who, source in CLIENTS.items():
                transport = httpx.HTTPTransport(local_address=source)  # the client's address
                with httpx.Client(transport=transport, headers={"host": "api.example.com"}) as c:
                    for verb, path in (("GET", "/orders"), ("POST", "/orders"),
                                       ("DELETE", "/orders/7")):
                        reply = c.request(verb, url + path)
                        results[who, verb] = reply.status_code
                        answer = reply.headers.get("x-upstream") or reply.text.strip()
                        show(f"{verb} {path} from {who}", f"{reply.status_code} {answer}")
            assert results == {
                ("office (127.0.0.2)", "GET"): 200, ("office (127.0.0.2)", "POST"): 200,
                ("office (127.0.0.2)", "DELETE"): 403,
                ("internet (127.0.0.100)", "GET"): 200, ("internet (127.0.0.100)", "POST"): 403,
                ("internet (127.0.0.100)", "DELETE"): 403,
            }
            served = [(r.method, r.headers["x-forwarded-for"]) for r in orders.requests]
            show("the service got", served)

            title("/stats?filter=rbac")
            with envoy.admin() as admin:
                stats = admin.stats(filter=r"\.rbac\.")
            for name in sorted(stats):
                show(name, stats.number(name))
            assert stats.number("http.http.rbac.denied") == 3
            # the shadow policy would have denied every request from the internet
            assert stats.number("http.http.rbac.shadow_denied") == 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
