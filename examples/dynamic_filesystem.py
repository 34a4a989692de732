"""Dynamic configuration from the filesystem, done right: change a live Envoy with apply().

    python examples/dynamic_filesystem.py

The seed document's "dynamic config from the filesystem" (LDS/CDS files, replaced by a
move) without its traps: envoykit splits a static config into a small bootstrap and one
file per resource, writes each file atomically in dependency order and waits until Envoy
confirms it. The example starts an HTTPS edge for ``a.example.com`` (listener and admin on
127.0.0.1, port 0), then

1. changes the route (``prefix_rewrite``): one RDS file, same process, same epoch;
2. rotates the certificate: one SDS file, and the new certificate is served;
3. tries a route to a cluster that does not exist: refused before any file is touched.

Everything lives in temporary directories and is removed at the end.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
import tempfile
from pathlib import Path

from envoykit import EdgeProxy
from envoykit.errors import SemanticError
from envoykit.testing.http import resolving_client
from envoykit.testing.tls import CertFiles, TestCA
from envoykit.testing.upstream import Upstream
from envoykit.xds import DynamicProxy

HOST = "a.example.com"


def edge(upstream: str, cert: CertFiles, rewrite: str | None = None) -> EdgeProxy:
    """The edge: HTTPS for ``a.example.com`` → ``upstream``."""
    return (EdgeProxy("dynamic-demo")
            .site(HOST, upstream, cert=cert.as_cert(), prefix_rewrite=rewrite)
            .https(port=0)
            .admin(port=0))


def served_certificate(address: tuple[str, int]) -> str:
    """The first 16 hex digits of the SHA-256 of the certificate Envoy presents."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(address, timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname=HOST) as tls:
        der = tls.getpeercert(binary_form=True) or b""
    return hashlib.sha256(der).hexdigest()[:16]


def fingerprint(cert: CertFiles) -> str:
    """The same digest as :func:`served_certificate`, of a certificate file."""
    der = ssl.PEM_cert_to_DER_cert(Path(cert.cert).read_text())
    return hashlib.sha256(der).hexdigest()[:16]


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="envoykit-dynamic-") as tmp, \
            Upstream("backend") as backend:
        ca = TestCA(Path(tmp) / "ca")
        first, second = ca.issue(HOST, name="first"), ca.issue(HOST, name="second")
        with DynamicProxy(edge(backend.address, first), log_level="warning") as proxy:
            pid, epoch = proxy.pid, proxy.epoch
            host, port = proxy.address_of("https")
            print(f"envoy pid {proxy.pid} serves https://{HOST}:{port} from the files in "
                  f"{proxy.directory}")
            for path in sorted(proxy.directory.rglob("*.json")):
                print(f"  {path.relative_to(proxy.directory)}")
            with resolving_client({HOST: host}, verify=ca.ca_file, timeout=5) as client:
                before = client.get(f"https://{HOST}:{port}/hello").json()["path"]
                print(f"\nGET /hello reaches the backend as {before}")

                print("\n1. route change")
                report = proxy.apply(edge(backend.address, first, rewrite="/v2/"))
                print(report)
                after = client.get(f"https://{HOST}:{port}/hello").json()["path"]
                print(f"GET /hello now reaches the backend as {after}")
                assert (before, after) == ("/hello", "/v2/hello")
                assert report.method == "files" and not report.restarted

            print("\n2. certificate rotation")
            old_cert = served_certificate((host, port))
            print(f"served certificate before: {old_cert}")
            report = proxy.apply(edge(backend.address, second, rewrite="/v2/"))
            print(report)
            new_cert = served_certificate((host, port))
            print(f"served certificate after:  {new_cert}")
            assert old_cert == fingerprint(first) and new_cert == fingerprint(second)
            assert report.method == "files" and not report.restarted

            print("\n3. a route to a cluster that does not exist")
            broken = edge(backend.address, second, rewrite="/v2/").to_dict()
            listener = broken["static_resources"]["listeners"][0]
            hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
            hcm["route_config"]["virtual_hosts"][0]["routes"][0]["route"]["cluster"] = "nope"
            try:
                proxy.apply(broken)
                raise AssertionError("a route to an unknown cluster was applied")
            except SemanticError as exc:
                print(f"refused, nothing changed: {exc}")
                assert "unknown cluster 'nope'" in str(exc)
            print(f"\nsame envoy throughout: pid {proxy.pid}, epoch {proxy.epoch}")
            assert (proxy.pid, proxy.epoch) == (pid, epoch)


if __name__ == "__main__":
    main()
