"""Mutual TLS in both directions: clients must show a certificate to Envoy, and Envoy shows
its own certificate to an internal server that requires one.

    python examples/mtls.py

The seed's "use mTLS to enforce client certificate authentication" (downstream) and "use mTLS
to connect with client certificates" (upstream):

* ``site(..., client_ca="ca.pem")`` makes the site's filter chain require a client certificate
  signed by that CA: a client without one fails the TLS handshake;
* ``UpstreamTLS(..., client_cert=Cert(...))`` makes Envoy present a certificate to the upstream.

Envoy also tells the upstream who the client was, in the ``x-forwarded-client-cert`` header
(set on the typed model: the builder has no option for it).
"""

from __future__ import annotations

import sys

import httpx
from _common import Backend, http_manager, save_config, show, title, workdir

from envoykit import EdgeProxy, UpstreamTLS, validate
from envoykit.process import Supervisor
from envoykit.testing.http import resolving_client
from envoykit.testing.tls import TestCA

SITES = ("orders.example.com", "orders-nocert.example.com")
INTERNAL = "orders.internal.test"


def main() -> int:
    with workdir("mtls") as work:
        ca = TestCA(work / "ca")  # one CA for every party here; it could be several
        server = ca.issue(INTERNAL)
        envoy_identity = ca.client_cert("envoy.internal.test")  # what envoy shows upstream
        alice = ca.client_cert("alice.clients.test")  # a client of ours
        stranger = TestCA(work / "other-ca").client_cert("mallory.clients.test")

        # The internal server requires a client certificate signed by our CA.
        with Backend("orders", cert=(server.cert, server.key), client_ca=ca.ca_file) as orders:
            edge = (
                EdgeProxy("company")
                .site("orders.example.com", orders.address,
                      cert=ca.issue("orders.example.com").as_cert(),
                      client_ca=ca.ca_file,  # downstream mTLS: clients need a cert from our CA
                      upstream_tls=UpstreamTLS(sni=INTERNAL, ca=ca.ca_file,
                                               client_cert=envoy_identity.as_cert()))
                # the same server without a client certificate: it will refuse envoy
                .site("orders-nocert.example.com", orders.address,
                      cert=ca.issue("orders-nocert.example.com").as_cert(),
                      client_ca=ca.ca_file,
                      upstream_tls=UpstreamTLS(sni=INTERNAL, ca=ca.ca_file))
                .https(0)
                .admin(0)
            )
            bootstrap = edge.build()
            # Tell the upstream who the client is (x-forwarded-client-cert: By=...;DNS=...).
            hcm = http_manager(bootstrap, "https", "orders.example.com")
            hcm.forward_client_cert_details = "SANITIZE_SET"
            hcm.set_current_client_cert_details = {"dns": True}
            validate(bootstrap)
            save_config(work, "mtls", bootstrap)

            with Supervisor(bootstrap, log_level="warning") as envoy:
                _, port = envoy.address_of("https")
                hosts = dict.fromkeys(SITES, "127.0.0.1")
                url = f"https://orders.example.com:{port}/orders/42"

                title("downstream: Envoy requires a client certificate")
                for who, cert in (("no certificate", None),
                                  ("mallory (another CA)", (stranger.cert, stranger.key))):
                    with resolving_client(hosts, verify=ca.ca_file, cert=cert) as client:
                        try:
                            client.get(url)
                        except httpx.TransportError as error:
                            show(who, f"refused: {type(error).__name__}")
                        else:
                            raise AssertionError(f"{who}: the handshake must fail")
                with resolving_client(hosts, verify=ca.ca_file,
                                      cert=(alice.cert, alice.key)) as client:
                    reply = client.get(url)
                    upstream = reply.headers["x-upstream"]
                    show("alice (our CA)", f"{reply.status_code} from {upstream}")
                    assert reply.status_code == 200

                    title("upstream: Envoy presents its own certificate")
                    seen = orders.requests[-1]
                    show("the server saw a client cert for", seen.client_cert)
                    show("x-forwarded-client-cert", seen.headers["x-forwarded-client-cert"])
                    assert seen.client_cert == "envoy.internal.test"
                    assert "DNS=alice.clients.test" in seen.headers["x-forwarded-client-cert"]

                    # Without a client certificate the server refuses envoy: 503.
                    refused = client.get(f"https://orders-nocert.example.com:{port}/orders/42")
                    show("same server, envoy without a cert", refused.status_code)
                    assert refused.status_code == 503
                    assert len(orders.requests) == 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
