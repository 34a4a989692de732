"""Plain HTTP is answered with a redirect to HTTPS (the seed's "http 요청 https로 redirecting").

    python examples/http_to_https_redirect.py

``redirect_http(port)`` adds a plain-HTTP listener whose only route is a 301 to the same
host and path on the HTTPS port; HTTPS responses carry HSTS so browsers stay on HTTPS. Both
listeners are on port 0 here: the Supervisor fills the real HTTPS port into the redirect,
and keeps it through a hot restart with a fresh build of the same edge.
"""

from __future__ import annotations

import sys

import httpx
from _common import save_config, show, title, workdir

from envoykit import EdgeProxy, validate
from envoykit.process import Supervisor
from envoykit.testing.http import resolving_client
from envoykit.testing.tls import TestCA
from envoykit.testing.upstream import Upstream


def company_edge(ca: TestCA, server: Upstream) -> EdgeProxy:
    return (
        EdgeProxy("company")
        .site("a.example.com", server.address, cert=ca.issue("a.example.com").as_cert())
        .https(port=0)  # the seed would use 443 and 80; envoy picks both ports here
        .redirect_http(port=0)
        .admin(port=0)
    )


def main() -> int:
    with workdir("http_to_https_redirect") as work, Upstream("server-a") as server_a:
        ca = TestCA(work / "certs")
        bootstrap = validate(company_edge(ca, server_a))
        save_config(work, "redirect", bootstrap)  # the redirect names listener "https"

        with Supervisor(bootstrap, log_level="warning") as envoy:
            _, http_port = envoy.address_of("http")
            _, https_port = envoy.address_of("https")  # the port envoy really bound

            title("plain HTTP")
            # curl -i -H 'Host: a.example.com' http://127.0.0.1:HTTP_PORT/login?next=/home
            with httpx.Client() as client:
                reply = client.get(f"http://127.0.0.1:{http_port}/login?next=/home",
                                   headers={"host": f"a.example.com:{http_port}"})
            show(f"GET http://a.example.com:{http_port}/login?next=/home", reply.status_code)
            show("Location", reply.headers["location"])
            assert reply.status_code == 301
            assert reply.headers["location"] == (
                f"https://a.example.com:{https_port}/login?next=/home")
            assert not server_a.requests  # the redirect never reaches the server

            title("follow the redirect over HTTPS")
            with resolving_client({"a.example.com": "127.0.0.1"}, verify=ca.ca_file) as client:
                final = client.get(reply.headers["location"])
            show(str(final.url), f"{final.status_code} from {final.headers['x-upstream']}")
            show("strict-transport-security", final.headers["strict-transport-security"])
            assert final.status_code == 200
            assert server_a.requests[-1].path == "/login?next=/home"

            title("an unknown host gets no redirect")
            with httpx.Client() as client:
                other = client.get(f"http://127.0.0.1:{http_port}/",
                                   headers={"host": "evil.example.net"})
            show("Host: evil.example.net", other.status_code)
            assert other.status_code == 404

            title("after a hot restart (a fresh build): same port, same Location")
            envoy.hot_restart(company_edge(ca, server_a))
            assert envoy.address_of("https")[1] == https_port
            with httpx.Client() as client:
                again = client.get(f"http://127.0.0.1:{http_port}/login?next=/home",
                                   headers={"host": "a.example.com"})
            show(f"epoch {envoy.epoch}: Location", again.headers["location"])
            assert again.headers["location"] == reply.headers["location"]
    return 0


if __name__ == "__main__":
    sys.exit(main())
