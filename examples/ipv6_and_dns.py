"""IPv6 and ``dns_lookup_family``: a listener on ``::1``, and one upstream name resolved four ways.

    python examples/ipv6_and_dns.py

The seed: "Envoy supports both IPv4 and IPv6; where IPv6 is not available, disable it with
``dns_lookup_family: V4_ONLY``" (the demo config's "comment out this line on v6 networks").
Two backends listen on the same port, one on 127.0.0.1 and one on ::1, and four sites reach
them as ``localhost:PORT`` with a different ``dns_lookup_family`` each:

* ``V4_ONLY``: only A records → always the IPv4 backend;
* ``V6_ONLY``: only AAAA records → the IPv6 backend (never the IPv4 one);
* ``AUTO``: AAAA first, A if there is none → the IPv6 backend when ``localhost`` has ::1;
* ``V4_PREFERRED`` (the builder's default for names): A first → the IPv4 backend.

Without IPv6 loopback on this machine the IPv6 parts are skipped with a message.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Literal

import httpx
from _common import Backend, save_config, show, title, workdir

from envoykit import EdgeProxy, validate
from envoykit.process import Supervisor
from envoykit.testing import free_port, ipv6_loopback

Family = Literal["V4_ONLY", "V6_ONLY", "AUTO", "V4_PREFERRED"]
FAMILIES: dict[str, Family] = {
    "v4only.example.com": "V4_ONLY",
    "v6only.example.com": "V6_ONLY",
    "auto.example.com": "AUTO",
    "v4preferred.example.com": "V4_PREFERRED",
}


def main() -> int:
    has_ipv6 = ipv6_loopback()
    if not has_ipv6:
        print("IPv6 loopback (::1) is not available here: no IPv6 listener or backend; "
              "the V6_ONLY site will have no address to connect to.")
    port = free_port()
    with contextlib.ExitStack() as stack:
        work = stack.enter_context(workdir("ipv6_and_dns"))
        ipv4 = stack.enter_context(Backend("ipv4-backend", "127.0.0.1", port))
        if has_ipv6:
            stack.enter_context(Backend("ipv6-backend", "::1", port))

        edge = EdgeProxy("dual-stack")
        for host in FAMILIES:
            edge.site(host, f"localhost:{port}")  # a name: a STRICT_DNS cluster
        edge.http(0, address="::1" if has_ipv6 else "127.0.0.1").admin(0)
        bootstrap = edge.build()
        for host, family in FAMILIES.items():  # the builder has no per-site option for it
            bootstrap.cluster(host.replace(".", "_")).dns_lookup_family = family
        validate(bootstrap)
        save_config(work, "ipv6_dns", bootstrap)

        with Supervisor(bootstrap, log_level="warning") as envoy, httpx.Client() as client:
            url = envoy.url_of("http")
            title(f"the listener: {url}")
            reached: dict[Family, str] = {}
            for host, family in FAMILIES.items():
                reply = client.get(f"{url}/", headers={"host": host})
                reached[family] = reply.headers.get("x-upstream", f"{reply.status_code}")
                show(f"{host} ({family})", reached[family])
            # the client's address as envoy saw it (an IPv6 one when the listener is on ::1)
            show("x-envoy-external-address at the backend", ipv4.requests[0].headers[
                "x-envoy-external-address"])

        title("what that shows")
        assert reached["V4_ONLY"] == reached["V4_PREFERRED"] == "ipv4-backend"
        assert reached["V6_ONLY"] != "ipv4-backend"  # AAAA only: never the IPv4 address
        if reached["V6_ONLY"] == "ipv6-backend":
            show("localhost resolves to", "127.0.0.1 (A) and ::1 (AAAA)")
            assert reached["AUTO"] == "ipv6-backend"  # AAAA first
        elif reached["AUTO"] == "ipv4-backend":
            show("localhost resolves to", "127.0.0.1 only: AUTO falls back to A")
        else:  # an AAAA record, but no IPv6 to use it
            assert not has_ipv6
            show("localhost has ::1 but IPv6 is unusable", "AUTO and V6_ONLY fail")
        show("V4_ONLY (the seed's advice without IPv6)", "works everywhere")
    return 0


if __name__ == "__main__":
    sys.exit(main())
