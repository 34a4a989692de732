"""TLS grading of the edge's HTTPS listener with sslyze (Mozilla TLS profile 5.7).

* the default profile (``EdgeDefaults.tls_profile="intermediate"``) is fully compliant with
  Mozilla "intermediate" — and, because it still offers TLS 1.2, not with "modern";
* ``tls_profile="modern"`` is fully compliant with Mozilla "modern" (TLS 1.3 only);
* SSL 2/3 and TLS 1.0/1.1 are refused by both;
* every SNI name gets its own certificate;
* an unknown SNI name, or no SNI at all, gets the connection reset without any
  certificate: the builder writes no default filter chain (documented in docs/security.md).

The leaf certificates are issued here for 80 days, shaped like a public CA's, and their CA
is handed to sslyze as a custom trust store: the certificate checks (trust, lifespan < 90
days for "modern") pass for real rather than being filtered out.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sslyze import (
    CertificateInfoExtraArgument,
    ScanCommandsExtraArguments,
    Scanner,
    ServerNetworkConfiguration,
    ServerNetworkLocation,
    ServerScanRequest,
    ServerScanResult,
    ServerScanStatusEnum,
)
from sslyze.mozilla_tls_profile.tls_config_checker import (
    SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER,
    MozillaTlsConfiguration,
    ServerNotCompliantWithTlsConfiguration,
    TlsConfigurationEnum,
    check_server_against_tls_configuration,
)

from envoykit import EdgeDefaults, EdgeProxy
from envoykit.testing.upstream import Upstream
from envoykit.validation import validate
from tests.integration._edge_envoy import HOSTS, running_envoy

pytestmark = [
    pytest.mark.integration,
    # sslyze's bundled trust stores hold an old root with a non-positive serial number
    pytest.mark.filterwarnings("ignore:Parsed a serial number"),
]

PROFILES = ("intermediate", "modern")


@dataclass
class Graded:
    port: int
    ca_file: str
    certs: dict[str, bytes]  # host -> leaf certificate (DER)
    scans: dict[str, ServerScanResult]  # SNI host -> sslyze result


def _issue(tmp: Path) -> tuple[str, dict[str, tuple[str, str]], dict[str, bytes]]:
    """A CA and one 80-day P-256 leaf per host, shaped like a public CA's (non-critical SAN,
    server-auth EKU, key identifiers) so that sslyze's path validation can succeed."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "envoykit grading CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                     False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = tmp / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files, der = {}, {}
    for host in HOSTS:
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=79))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                         False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                ca_ski), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        cert_path, key_path = tmp / f"{host}.pem", tmp / f"{host}-key.pem"
        cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        key_path.chmod(0o600)
        files[host] = (str(cert_path), str(key_path))
        der[host] = leaf.public_bytes(serialization.Encoding.DER)
    return str(ca_file), files, der


def _scan(port: int, ca_file: str) -> dict[str, ServerScanResult]:
    """sslyze's Mozilla-checker scan of ``port``, once per SNI name."""
    hosts = {}
    for host in HOSTS:
        request = ServerScanRequest(
            server_location=ServerNetworkLocation(hostname=host, port=port,
                                                  ip_address="127.0.0.1"),
            network_configuration=ServerNetworkConfiguration(tls_server_name_indication=host,
                                                             network_timeout=5),
            scan_commands=SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER,
            scan_commands_extra_arguments=ScanCommandsExtraArguments(
                certificate_info=CertificateInfoExtraArgument(custom_ca_file=Path(ca_file))),
        )
        hosts[request.uuid] = (host, request)
    scanner = Scanner()
    scanner.queue_scans([request for _, request in hosts.values()])
    return {hosts[result.uuid][0]: result for result in scanner.get_results()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Graded]]:
    tmp = tmp_path_factory.mktemp("tls-grading")
    ca_file, files, der = _issue(tmp)
    out: dict[str, Graded] = {}
    with Upstream("A", "127.0.0.1", 0) as a, Upstream("B", "127.0.0.1", 0) as b, \
            contextlib.ExitStack() as stack:
        for profile in PROFILES:
            defaults = dataclasses.replace(EdgeDefaults(), tls_profile=profile)
            edge = (EdgeProxy(f"tls-{profile}", defaults=defaults)
                    .site(HOSTS[0], a.address, cert=files[HOSTS[0]])
                    .site(HOSTS[1], b.address, cert=files[HOSTS[1]])
                    .https(0).admin(0))
            envoy = stack.enter_context(running_envoy(tmp / profile, validate(edge)))
            port = envoy.ports["https"]
            out[profile] = Graded(port, ca_file, der, _scan(port, ca_file))
        yield out


def _profile(name: str) -> object:
    return MozillaTlsConfiguration.get(TlsConfigurationEnum(name))


def _issues(result: ServerScanResult, profile: str) -> dict[str, str]:
    assert result.scan_status == ServerScanStatusEnum.COMPLETED, result.connectivity_error_trace
    try:
        check_server_against_tls_configuration(result, _profile(profile))  # type: ignore[arg-type]
    except ServerNotCompliantWithTlsConfiguration as exc:
        return exc.issues
    return {}


@pytest.mark.parametrize("host", HOSTS)
def test_default_profile_is_mozilla_intermediate(graded: dict[str, Graded], host: str) -> None:
    scan = graded["intermediate"].scans[host]
    assert _issues(scan, "intermediate") == {}
    # and not "modern": it still offers TLS 1.2 (with forward-secret AEAD suites only)
    assert set(_issues(scan, "modern")) == {"tls_versions", "ciphers"}


@pytest.mark.parametrize("host", HOSTS)
def test_modern_profile_is_mozilla_modern(graded: dict[str, Graded], host: str) -> None:
    assert _issues(graded["modern"].scans[host], "modern") == {}


@pytest.mark.parametrize("profile", PROFILES)
def test_old_protocols_are_refused(graded: dict[str, Graded], profile: str) -> None:
    for host in HOSTS:
        result = graded[profile].scans[host].scan_result
        assert result is not None
        offered = {
            version: [s.cipher_suite.name for s in attempt.result.accepted_cipher_suites]
            for version in ("ssl_2_0", "ssl_3_0", "tls_1_0", "tls_1_1", "tls_1_2", "tls_1_3")
            for attempt in [getattr(result, f"{version}_cipher_suites")]
            if attempt.result is not None
        }
        assert len(offered) == 6, "a protocol scan did not complete"
        refused = ["ssl_2_0", "ssl_3_0", "tls_1_0", "tls_1_1"]
        if profile == "modern":
            refused.append("tls_1_2")
        assert {v: offered[v] for v in refused} == {v: [] for v in refused}
        assert offered["tls_1_3"], "TLS 1.3 must be offered"


@pytest.mark.parametrize("host", HOSTS)
def test_each_sni_name_gets_its_own_certificate(graded: dict[str, Graded], host: str) -> None:
    g = graded["intermediate"]
    ctx = ssl.create_default_context(cafile=g.ca_file)  # verifies chain *and* host name
    with socket.create_connection(("127.0.0.1", g.port), timeout=5) as sock, \
            ctx.wrap_socket(sock, server_hostname=host) as tls:
        served = tls.getpeercert(binary_form=True)
    assert served == g.certs[host]
    other = next(h for h in HOSTS if h != host)
    assert served != g.certs[other]


@pytest.mark.parametrize("server_name", ["c.example.com", None], ids=["unknown-sni", "no-sni"])
@pytest.mark.parametrize("profile", PROFILES)
def test_unknown_or_missing_sni_gets_a_reset_and_no_certificate(
        graded: dict[str, Graded], profile: str, server_name: str | None) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # any certificate at all would complete the handshake
    with socket.create_connection(("127.0.0.1", graded[profile].port), timeout=5) as sock, \
            pytest.raises((ConnectionResetError, ssl.SSLError)) as info:
        ctx.wrap_socket(sock, server_hostname=server_name).close()
    assert not isinstance(info.value, ssl.SSLCertVerificationError)
