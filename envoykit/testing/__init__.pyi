# The public API of envoykit.testing: this table (name -> module) is the one list of it.
# envoykit/testing/__init__.py loads each name lazily from it (lazy_loader.attach_stub),
# __all__ is its names, type checkers read it, tests/unit/test_public_api.py checks it.
from ._fixtures import (
    ClientFactory as ClientFactory,
    EnvoyProxyFactory as EnvoyProxyFactory,
    UpstreamFactory as UpstreamFactory,
    envoy_proxy_fixture as envoy_proxy_fixture,
)
from ._proxy import (
    EnvoyProxy as EnvoyProxy,
)
from .http import (
    async_resolving_client as async_resolving_client,
    resolving_client as resolving_client,
)
from .net import (
    free_port as free_port,
    ipv6_loopback as ipv6_loopback,
)
from .tls import (
    CertFiles as CertFiles,
    TestCA as TestCA,
    private_dir as private_dir,
)
from .upstream import (
    RecordedRequest as RecordedRequest,
    Upstream as Upstream,
)
from .wait import (
    async_wait_until as async_wait_until,
    wait_until as wait_until,
)
