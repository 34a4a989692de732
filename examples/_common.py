"""Plumbing shared by the examples: a work directory, free ports, a backend that can do TLS
and IPv6, a tiny JWT issuer, a lookup of a listener's HTTP connection manager, printing.
Nothing here is envoykit API.

``ENVOYKIT_EXAMPLE_RENDER=DIR``: every example then keeps its files (certificates, logs and
each Envoy config it builds, as ``DIR/<example>/<name>.envoy.yaml``) instead of using a
temporary directory, and runs as usual. The test suite uses it to check every config with
``envoy --mode validate``; you can use it to read the YAML an example produced.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from envoykit import Bootstrap, EdgeProxy, to_yaml
from envoykit.config import HttpConnectionManager
from envoykit.render import ConfigLike
from envoykit.testing.upstream import Upstream

RENDER_ENV = "ENVOYKIT_EXAMPLE_RENDER"


# --- files and ports ------------------------------------------------------------------------


@contextlib.contextmanager
def workdir(example: str) -> Iterator[Path]:
    """A private directory for one run: ``$ENVOYKIT_EXAMPLE_RENDER/<example>`` (kept) or a
    temporary directory (removed at the end)."""
    keep = os.environ.get(RENDER_ENV)
    if keep:
        path = Path(keep) / example
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix=f"envoykit-{example}-") as tmp:
        yield Path(tmp)


def save_config(work: Path, name: str, config: ConfigLike) -> Path:
    """Write ``config`` as Envoy YAML to ``work/<name>.envoy.yaml`` (what ``envoy -c`` reads).
    An :class:`EdgeProxy` renders by its fast path; that it writes what the typed model
    writes is checked here on every example's edge."""
    path = work / f"{name}.envoy.yaml"
    text = to_yaml(config)
    if isinstance(config, EdgeProxy):
        assert text == to_yaml(config.build()), f"{name}: the fast render differs from the model"
    path.write_text(text, encoding="utf-8")
    return path


# --- the typed model -------------------------------------------------------------------------


def http_manager(bootstrap: Bootstrap, listener: str, server_name: str | None = None
                 ) -> HttpConnectionManager:
    """The HTTP connection manager of a built listener (of the filter chain serving
    ``server_name`` on an HTTPS listener), to edit what the builder has no option for."""
    for chain in bootstrap.listener(listener).filter_chains or []:
        names = (chain.filter_chain_match and chain.filter_chain_match.server_names) or []
        if server_name is not None and server_name not in names:
            continue
        for network_filter in chain.filters or []:
            if isinstance(network_filter.typed_config, HttpConnectionManager):
                return network_filter.typed_config
    raise KeyError(f"no HTTP connection manager on listener {listener!r} ({server_name})")


# --- a tiny JWT issuer (what an identity provider does) -----------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class TokenIssuer:
    """Signs RS256 JWTs with a fresh RSA key; ``jwks`` is the public key set for Envoy."""

    def __init__(self, issuer: str, kid: str = "key-1") -> None:
        self.issuer = issuer
        self.kid = kid
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def jwks(self) -> str:
        """The JSON Web Key Set with the public key (``local_jwks`` or a JWKS endpoint)."""
        public = self._key.public_key().public_numbers()
        return json.dumps({"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig",
                                     "kid": self.kid, "n": _uint(public.n),
                                     "e": _uint(public.e)}]})

    def sign(self, **claims: Any) -> str:
        """A signed token with ``iss`` set and the given claims."""
        header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": self.kid}).encode())
        payload = _b64url(json.dumps({"iss": self.issuer, **claims}).encode())
        signature = self._key.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(),
                                   hashes.SHA256())
        return f"{header}.{payload}.{_b64url(signature)}"


# --- printing -------------------------------------------------------------------------------


def title(text: str) -> None:
    """A section header in the example's output."""
    print(f"\n== {text}")


def show(label: str, value: object) -> None:
    """One aligned ``label: value`` line."""
    print(f"   {label:<44} {value}")


# --- a backend that can speak TLS and IPv6 ------------------------------------------------------


Backend = Upstream
"""The examples' upstreams: :class:`envoykit.testing.Upstream` (IPv4/IPv6, HTTP or HTTPS
with ``cert=``, client certificates with ``client_ca=``, SNI recorded per request)."""
