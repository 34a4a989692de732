"""Throwaway TLS material for tests and demos: a CA and leaf certificates (trustme)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import trustme

from envoykit.builder import Cert

__all__ = ["CertFiles", "TestCA", "private_dir"]


def private_dir(path: str | os.PathLike[str] | None = None, prefix: str = "envoykit-") -> Path:
    """A directory only the owner can enter (0700): given, or a new temporary one."""
    directory = Path(path) if path is not None else Path(tempfile.mkdtemp(prefix=prefix))
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    return directory


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    path.chmod(0o600)


@dataclass(frozen=True)
class CertFiles:
    """A leaf certificate (chain) and key on disk."""

    cert: str
    key: str

    def as_cert(self) -> Cert:
        """For the builder: ``site(..., cert=files.as_cert())``."""
        return Cert(self.cert, self.key)


class TestCA:
    """A throwaway certificate authority writing its files (0600) into a 0700 directory."""

    __test__ = False  # not a pytest test class

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = private_dir(directory, prefix="envoykit-ca-")
        self._ca = trustme.CA()
        self.ca_file = str(self.directory / "ca.pem")
        _write_private(Path(self.ca_file), self._ca.cert_pem.bytes())

    def issue(self, *hosts: str, name: str | None = None) -> CertFiles:
        """A certificate for ``hosts`` (DNS names or IPs), signed by this CA."""
        leaf = self._ca.issue_cert(*hosts)
        stem = name or hosts[0].replace("*", "wildcard")
        cert = self.directory / f"{stem}.pem"
        key = self.directory / f"{stem}-key.pem"
        _write_private(cert, b"".join(p.bytes() for p in leaf.cert_chain_pems))
        _write_private(key, leaf.private_key_pem.bytes())
        return CertFiles(str(cert), str(key))

    def client_cert(self, name: str) -> CertFiles:
        """A client certificate (for mTLS) whose SAN is ``name``."""
        return self.issue(name, name=f"client-{name}")
