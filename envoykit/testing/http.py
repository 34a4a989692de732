"""HTTP clients for tests: trust a test CA and resolve public names to the proxy (``--resolve``).

    with resolving_client({"a.example.com": "127.0.0.1"}, verify=ca.ca_file) as client:
        client.get("https://a.example.com:8443/")   # TCP to 127.0.0.1, SNI and Host a.example.com
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Mapping
from typing import Any

import httpcore
import httpx

from envoykit.testing.tls import CertFiles

CertLike = CertFiles | tuple[str, str]

__all__ = ["async_resolving_client", "resolving_client"]


class _Resolving(httpcore.NetworkBackend):
    def __init__(self, hosts: Mapping[str, str]) -> None:
        self._hosts = {k.lower(): v for k, v in hosts.items()}
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return self._inner.connect_tcp(self._hosts.get(host.lower(), host), port, timeout,
                                       local_address, socket_options)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return self._inner.connect_unix_socket(path, timeout, socket_options)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncResolving(httpcore.AsyncNetworkBackend):
    def __init__(self, hosts: Mapping[str, str]) -> None:
        self._hosts = {k.lower(): v for k, v in hosts.items()}
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None
                          ) -> httpcore.AsyncNetworkStream:
        return await self._inner.connect_tcp(self._hosts.get(host.lower(), host), port, timeout,
                                             local_address, socket_options)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None
                                  ) -> httpcore.AsyncNetworkStream:
        return await self._inner.connect_unix_socket(path, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _ssl_context(verify: str | bool) -> ssl.SSLContext:
    if verify is False:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    return ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)


def _client_ctx(verify: str | bool, cert: tuple[str, str] | None, http2: bool) -> ssl.SSLContext:
    ctx = _ssl_context(verify)
    if cert is not None:
        ctx.load_cert_chain(*cert)
    ctx.set_alpn_protocols(["h2", "http/1.1"] if http2 else ["http/1.1"])
    return ctx


class _ResolvingTransport(httpx.HTTPTransport):
    def __init__(self, hosts: Mapping[str, str], ctx: ssl.SSLContext, http2: bool) -> None:
        super().__init__()
        self._pool = httpcore.ConnectionPool(ssl_context=ctx, http1=True, http2=http2,
                                             network_backend=_Resolving(hosts))


class _AsyncResolvingTransport(httpx.AsyncHTTPTransport):
    def __init__(self, hosts: Mapping[str, str], ctx: ssl.SSLContext, http2: bool) -> None:
        super().__init__()
        self._pool = httpcore.AsyncConnectionPool(ssl_context=ctx, http1=True, http2=http2,
                                                  network_backend=_AsyncResolving(hosts))


Hosts = Mapping[str, str] | Iterable[str] | str
"""Host names to resolve: ``{"a.example.com": "127.0.0.1"}``, or names (all go to ``to``)."""


def hosts_map(hosts: Hosts, to: str = "127.0.0.1") -> dict[str, str]:
    """``{"a.example.com": "127.0.0.1"}`` from a mapping, one name or several names."""
    if isinstance(hosts, str):
        return {hosts: to}
    if isinstance(hosts, Mapping):
        return {str(name): str(address) for name, address in hosts.items()}
    return {name: to for name in hosts}


def _pair(cert: CertLike | None) -> tuple[str, str] | None:
    return (cert.cert, cert.key) if cert is not None and not isinstance(cert, tuple) else cert


def resolving_client(hosts: Hosts, *, to: str = "127.0.0.1", verify: str | bool = True,
                     cert: CertLike | None = None, http2: bool = False,
                     **kwargs: Any) -> httpx.Client:
    """An ``httpx.Client`` that connects to ``hosts[name]`` for ``name`` (like
    ``curl --resolve``; names given without an address go to ``to``), trusting the CA file
    ``verify``; ``cert`` is a client certificate (mTLS): ``CertFiles`` or ``(cert, key)``.
    The ``resolving_client`` fixture takes the same arguments (``verify`` defaults to the
    session's test CA there, and its clients are closed for you)."""
    ctx = _client_ctx(verify, _pair(cert), http2)
    return httpx.Client(transport=_ResolvingTransport(hosts_map(hosts, to), ctx, http2),
                        **kwargs)


def async_resolving_client(hosts: Hosts, *, to: str = "127.0.0.1", verify: str | bool = True,
                           cert: CertLike | None = None, http2: bool = False,
                           **kwargs: Any) -> httpx.AsyncClient:
    """The ``httpx.AsyncClient`` twin of :func:`resolving_client`."""
    ctx = _client_ctx(verify, _pair(cert), http2)
    transport = _AsyncResolvingTransport(hosts_map(hosts, to), ctx, http2)
    return httpx.AsyncClient(transport=transport, **kwargs)
