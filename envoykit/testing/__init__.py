"""Test helpers for code that runs behind Envoy (pytest plugin: ``envoykit.testing.plugin``).

    from envoykit.testing import EnvoyProxy, TestCA, Upstream, envoy_proxy_fixture

Names are imported lazily, so loading the pytest plugin stays cheap for test suites that
never use envoy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from envoykit.testing._fixtures import (
        ClientFactory,
        EnvoyProxyFactory,
        UpstreamFactory,
        envoy_proxy_fixture,
    )
    from envoykit.testing._proxy import EnvoyProxy
    from envoykit.testing.http import async_resolving_client, resolving_client
    from envoykit.testing.net import free_port, ipv6_loopback
    from envoykit.testing.tls import CertFiles, TestCA, private_dir
    from envoykit.testing.upstream import RecordedRequest, Upstream

__all__ = [
    "CertFiles",
    "ClientFactory",
    "EnvoyProxy",
    "EnvoyProxyFactory",
    "RecordedRequest",
    "TestCA",
    "Upstream",
    "UpstreamFactory",
    "async_resolving_client",
    "envoy_proxy_fixture",
    "free_port",
    "ipv6_loopback",
    "private_dir",
    "resolving_client",
]

_WHERE = {
    "ClientFactory": "_fixtures",
    "EnvoyProxyFactory": "_fixtures",
    "UpstreamFactory": "_fixtures",
    "envoy_proxy_fixture": "_fixtures",
    "EnvoyProxy": "_proxy",
    "async_resolving_client": "http",
    "resolving_client": "http",
    "free_port": "net",
    "ipv6_loopback": "net",
    "CertFiles": "tls",
    "TestCA": "tls",
    "private_dir": "tls",
    "RecordedRequest": "upstream",
    "Upstream": "upstream",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'envoykit.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"envoykit.testing.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
