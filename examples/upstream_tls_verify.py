"""Upstream TLS that verifies the server: trusted CA, expected name (SAN) and SNI.

    python examples/upstream_tls_verify.py

The seed's "validate an endpoint's certificates when connecting" and "connect to an endpoint
with SNI". ``UpstreamTLS(sni=..., ca=...)`` makes the cluster speak TLS, send ``sni`` and
accept only a certificate signed by ``ca`` whose DNS SAN is ``san`` (default: the SNI name).
Three internal servers answer on 127.0.0.1: the real one, one with a certificate from the
same CA but for another name, and one with the right name from a CA we do not trust. Only
the first is reachable; for the others Envoy refuses the handshake and answers 503.
"""

from __future__ import annotations

import sys

import httpx
from _common import Backend, save_config, show, title, workdir

from envoykit import EdgeProxy, UpstreamTLS, validate
from envoykit.process import Supervisor
from envoykit.testing.tls import TestCA

NAME = "api.internal.test"  # the name the internal API's certificate must carry


def main() -> int:
    with workdir("upstream_tls_verify") as work:
        ca = TestCA(work / "ca")  # our internal CA: envoy trusts it
        rogue_ca = TestCA(work / "rogue-ca")  # someone else's CA
        good = ca.issue(NAME)
        wrong_name = ca.issue("other.internal.test")
        untrusted = rogue_ca.issue(NAME)
        with (
            Backend("api", cert=(good.cert, good.key)) as api,
            Backend("wrong-name", cert=(wrong_name.cert, wrong_name.key)) as impostor,
            Backend("untrusted", cert=(untrusted.cert, untrusted.key)) as rogue,
        ):
            verify = UpstreamTLS(sni=NAME, ca=ca.ca_file)  # san defaults to the SNI name
            edge = (
                EdgeProxy("company")
                .site("api.example.com", api.address, upstream_tls=verify)
                .site("wrong-name.example.com", impostor.address, upstream_tls=verify)
                .site("untrusted.example.com", rogue.address, upstream_tls=verify)
                .http(0)
                .admin(0)
            )
            bootstrap = validate(edge)
            save_config(work, "upstream_tls", bootstrap)

            with Supervisor(bootstrap, log_level="warning") as envoy, httpx.Client() as client:
                title("one request per site; every cluster verifies CA + SAN and sends SNI")
                results = {}
                for host in ("api.example.com", "wrong-name.example.com",
                             "untrusted.example.com"):
                    reply = client.get(envoy.url_of("http") + "/v1/items",
                                       headers={"host": host})
                    results[host] = reply.status_code
                    answer = (f"from {reply.headers['x-upstream']}" if reply.status_code == 200
                              else reply.text.rpartition("reset reason: ")[2].strip())
                    show(host, f"{reply.status_code} {answer}")
                show("the real server saw SNI", api.requests[-1].sni)
                assert results == {"api.example.com": 200, "wrong-name.example.com": 503,
                                   "untrusted.example.com": 503}
                assert api.requests[-1].sni == NAME
                assert not impostor.requests and not rogue.requests

                title("why: the TLS counters of each cluster (/stats?filter=ssl)")
                with envoy.admin() as admin:
                    stats = admin.stats(filter=r"^cluster\..*\.ssl\.(handshake|fail_verify_)")
                for name in sorted(stats):
                    if stats.number(name):
                        show(name, stats.number(name))
                assert stats.number("cluster.wrong_name_example_com.ssl.fail_verify_san") >= 1
                assert stats.number("cluster.untrusted_example_com.ssl.fail_verify_error") >= 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
