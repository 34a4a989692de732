"""HTTPS ends at the proxy: two sites on one IP and port, each with its own certificate (SNI).

    python examples/https_sni.py

The seed: "SSL ends where the proxy is", and "provide multiple TLS domains at the same IP
address with SNI". Each ``site(..., cert=...)`` becomes one filter chain matched by server
name (the TLS inspector reads the SNI), with TLS 1.2+ and Mozilla-intermediate ciphers.
Certificates come from a throwaway CA (``TestCA``, trustme) that the client trusts.
"""

from __future__ import annotations

import socket
import ssl
import sys
from typing import Any

from _common import save_config, show, title, workdir

from envoykit import EdgeProxy, validate
from envoykit.process import Supervisor
from envoykit.testing.http import resolving_client
from envoykit.testing.tls import TestCA
from envoykit.testing.upstream import Upstream

HOSTS = ("a.example.com", "b.example.com")


def served_certificate(port: int, server_name: str, ca_file: str) -> dict[str, Any]:
    """Connect to 127.0.0.1:port asking for ``server_name`` (SNI); the certificate we get."""
    context = ssl.create_default_context(cafile=ca_file)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        return dict(tls.getpeercert() or {})


def main() -> int:
    with (
        workdir("https_sni") as work,
        Upstream("server-a", host="127.0.0.20") as server_a,
        Upstream("server-b", host="127.0.0.21") as server_b,
    ):
        ca = TestCA(work / "certs")
        edge = (
            EdgeProxy("company")
            .site("a.example.com", server_a.address, cert=ca.issue("a.example.com").as_cert())
            .site("b.example.com", server_b.address, cert=ca.issue("b.example.com").as_cert())
            .https(port=0)
            .admin(port=0)
        )
        bootstrap = validate(edge)
        save_config(work, "https", bootstrap)

        with Supervisor(bootstrap, log_level="warning") as envoy:
            _, port = envoy.address_of("https")

            title(f"which certificate 127.0.0.1:{port} presents for each SNI name")
            for name in HOSTS:
                cert = served_certificate(port, name, ca.ca_file)
                subject = ", ".join(f"{k}={v}" for rdn in cert["subject"] for k, v in rdn)
                sans = [value for kind, value in cert["subjectAltName"]]
                show(f"SNI {name}", f"subject: {subject}")
                show("", f"SAN: {sans}, expires {cert['notAfter']}")
                assert sans == [name]

            # A name with no filter chain: envoy has no certificate for it and closes.
            try:
                served_certificate(port, "unknown.example.com", ca.ca_file)
            except (ssl.SSLError, OSError) as error:
                show("SNI unknown.example.com", f"refused ({type(error).__name__})")
            else:
                raise AssertionError("an unknown SNI name must not get a certificate")

            title("HTTPS requests (curl --resolve a.example.com:PORT:127.0.0.1 equivalent)")
            hosts = dict.fromkeys(HOSTS, "127.0.0.1")
            with resolving_client(hosts, verify=ca.ca_file) as client:
                for name in HOSTS:
                    reply = client.get(f"https://{name}:{port}/secure")
                    show(f"https://{name}:{port}/secure",
                         f"{reply.status_code} from {reply.headers['x-upstream']}")
                    show("  strict-transport-security", reply.headers["strict-transport-security"])
                    assert reply.status_code == 200
            # The upstream learns the request came over HTTPS.
            show("server-a saw x-forwarded-proto", server_a.requests[-1].headers[
                "x-forwarded-proto"])
            assert server_b.requests[-1].headers["x-forwarded-proto"] == "https"
    return 0


if __name__ == "__main__":
    sys.exit(main())
