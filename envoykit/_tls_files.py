"""Check TLS material the way envoy will: PEM that parses, keys that match, known ciphers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from envoykit.config import DataSource, TlsCertificate
from envoykit.errors import Issue

__all__ = ["BORINGSSL_CIPHERS", "check_key_pair", "known_cipher"]

BORINGSSL_CIPHERS = frozenset({
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    "ECDHE-PSK-CHACHA20-POLY1305", "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA",
    "ECDHE-PSK-AES128-CBC-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA",
    "ECDHE-PSK-AES256-CBC-SHA", "AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES128-SHA",
    "PSK-AES128-CBC-SHA", "AES256-SHA", "PSK-AES256-CBC-SHA", "DES-CBC3-SHA",
    "ECDHE-ECDSA-CHACHA20-POLY1305-OLD", "ECDHE-RSA-CHACHA20-POLY1305-OLD",
})
"""Cipher suite names BoringSSL (envoy's TLS library) accepts for TLS 1.2 and below."""


def known_cipher(name: str) -> bool:
    """True for a BoringSSL cipher name or an equal-preference group ``[A|B]``."""
    parts = name.strip("[]").split("|") if name.startswith("[") else [name]
    return all(part in BORINGSSL_CIPHERS for part in parts)


def _pem(source: DataSource | None) -> bytes | None:
    if source is None:
        return None
    if source.inline_string is not None:
        return source.inline_string.encode()
    if source.filename is not None:
        try:
            return Path(source.filename).read_bytes()
        except OSError:
            return None  # reported by the file checks
    return None  # inline_bytes / environment variables: left to envoy


def _spki(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    der: bytes = key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return der


def check_key_pair(path: str, cert: TlsCertificate) -> list[Issue]:
    """The chain and key parse as PEM and the key belongs to the first certificate."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
    except ImportError:  # pragma: no cover - cryptography comes with trustme
        return []
    chain, key = _pem(cert.certificate_chain), _pem(cert.private_key)
    issues: list[Issue] = []
    leaf = public = None
    if chain is not None:
        try:
            leaf = x509.load_pem_x509_certificates(chain)[0]
        except ValueError:
            issues.append(Issue(f"{path}.certificate_chain", "not a PEM certificate chain"))
    if key is not None and cert.password is None:
        try:
            public = serialization.load_pem_private_key(key, password=None).public_key()
        except (ValueError, TypeError) as exc:
            issues.append(Issue(f"{path}.private_key", f"not a usable PEM private key ({exc})"))
    if leaf is not None and public is not None and _spki(leaf.public_key()) != _spki(public):
        issues.append(Issue(path, "the private key does not belong to the certificate"))
    return issues
