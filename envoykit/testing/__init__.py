"""Test helpers for code that runs behind Envoy (pytest plugin: ``envoykit.testing.plugin``).

    from envoykit.testing import EnvoyProxy, TestCA, Upstream, envoy_proxy_fixture, wait_until

The names are listed once in ``__init__.pyi`` and imported lazily, so loading the pytest
plugin stays cheap for test suites that never use envoy.
"""

from envoykit._util import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__)
