"""Throwaway TLS material for tests and demos: a CA and leaf certificates (trustme)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import trustme

from envoykit._util import private_directory as private_dir
from envoykit._util import write_atomic
from envoykit.builder import Cert

__all__ = ["CertFiles", "TestCA", "private_dir"]


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
        write_atomic(Path(self.ca_file), self._ca.cert_pem.bytes(), fsync=False)

    def issue(self, *hosts: str, name: str | None = None) -> CertFiles:
        """A certificate for ``hosts`` (DNS names or IPs), signed by this CA."""
        leaf = self._ca.issue_cert(*hosts)
        stem = name or hosts[0].replace("*", "wildcard")
        cert = self.directory / f"{stem}.pem"
        key = self.directory / f"{stem}-key.pem"
        write_atomic(cert, b"".join(p.bytes() for p in leaf.cert_chain_pems), fsync=False)
        write_atomic(key, leaf.private_key_pem.bytes(), fsync=False)
        return CertFiles(str(cert), str(key))

    def client_cert(self, name: str) -> CertFiles:
        """A client certificate (for mTLS) whose SAN is ``name``."""
        return self.issue(name, name=f"client-{name}")
