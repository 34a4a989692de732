"""The factories behind the pytest fixtures, and the fixture factory users compose.

Each factory remembers what it started and closes it in :meth:`close` (the fixture's
teardown), in reverse order, even when an earlier close fails. Proxies (and failed starts)
are also recorded on the pytest node of the fixture's scope, so a failing test's report can
show envoy's last lines.
"""

from __future__ import annotations

import inspect
import ipaddress
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import pytest

from envoykit.testing._settings import PluginSettings

if TYPE_CHECKING:
    import httpx

    from envoykit.binary import EnvoyBinary
    from envoykit.process import ConfigInput
    from envoykit.testing._proxy import EnvoyProxy
    from envoykit.testing.http import Hosts
    from envoykit.testing.tls import CertFiles
    from envoykit.testing.upstream import Upstream

__all__ = [
    "SETTINGS",
    "ClientFactory",
    "EnvoyProxyFactory",
    "FailedStart",
    "UpstreamFactory",
    "check_loopback",
    "envoy_proxy_fixture",
    "log_sections",
    "stop_leftovers",
]

Scope = Literal["session", "package", "module", "class", "function"]
SETTINGS = pytest.StashKey[PluginSettings]()
_LOGS = pytest.StashKey[list["LogSource"]]()
# Every proxy the factories of a session started: the safety net at the session's end.
_LIVE = pytest.StashKey["weakref.WeakSet[EnvoyProxy]"]()


class LogSource(Protocol):
    """Something whose envoy output a report can show: a proxy or a failed start."""

    name: str

    @property
    def pid(self) -> int | None: ...

    def log_tail(self, count: int = 50) -> list[str]: ...


@dataclass
class FailedStart:
    """An envoy that did not become ready: its label, exit code and last lines."""

    name: str
    returncode: int | None
    lines: list[str] = field(default_factory=list)
    pid: int | None = None

    def log_tail(self, count: int = 50) -> list[str]:
        """The last ``count`` lines it printed."""
        return self.lines[-count:] if count > 0 else []


def record(node: pytest.Item | pytest.Collector, source: LogSource) -> None:
    """Remember ``source`` on ``node`` for the failure reports of the tests under it."""
    node.stash.setdefault(_LOGS, []).append(source)


def log_sections(item: pytest.Item, count: int) -> list[tuple[str, str]]:
    """Report sections (title, text) with envoy's last ``count`` lines, for every proxy
    recorded on ``item`` or on a node above it (module-, session-scoped proxies)."""
    sections = []
    for node in item.listchain():
        for source in node.stash.get(_LOGS, []):
            sections.append((_title(source), "\n".join(source.log_tail(count)) or "(no output)"))
    return sections


def _title(source: LogSource) -> str:
    if isinstance(source, FailedStart):
        code = "" if source.returncode is None else f", exit code {source.returncode}"
        return f"envoy log: {source.name} (failed to start{code})"
    return f"envoy log: {source.name} (pid {source.pid})"


def stop_leftovers(session: pytest.Session) -> int:
    """Stop every proxy started in ``session`` that nobody stopped; returns how many."""
    live = session.stash.get(_LIVE, None)
    leftovers = [proxy for proxy in list(live or ()) if proxy.running]
    _close_all(list(reversed(leftovers)), lambda proxy: proxy.stop())
    return len(leftovers)


class EnvoyProxyFactory:
    """``envoy_proxy(config, name=None, **supervisor_options)`` → a running
    :class:`~envoykit.testing.EnvoyProxy`; :meth:`close` stops them all.

    ``config`` is anything :class:`~envoykit.process.Supervisor` takes (a builder, a
    ``Bootstrap``, a dict, YAML text, a path). ``defaults`` are Supervisor options every
    proxy gets unless the call overrides them.
    """

    def __init__(self, *, binary: EnvoyBinary | str | None = None,
                 defaults: Mapping[str, Any] | None = None,
                 node: pytest.Item | pytest.Collector | None = None) -> None:
        self.binary = binary
        self.defaults = dict(defaults or {})
        self.node = node
        self.proxies: list[EnvoyProxy] = []
        self._count = 0

    def __call__(self, config: ConfigInput, *, name: str | None = None,
                 **supervisor_options: Any) -> EnvoyProxy:
        """Start one envoy and wait until it is ready (StartupError otherwise)."""
        __tracebackhide__ = True
        from envoykit.errors import StartupError
        from envoykit.testing._proxy import EnvoyProxy

        self._count += 1
        label = name or f"envoy-{self._count}"
        options = {**self.defaults, **supervisor_options}
        try:
            proxy = EnvoyProxy.start(config, name=label, binary=self.binary, **options)
        except StartupError as exc:
            self._record(FailedStart(label, exc.returncode, list(exc.output_tail)))
            # The supervisor's frames tell a test author nothing: show the test's line and
            # the message (exit code and envoy's last lines).
            raise exc.with_traceback(None) from None
        self.proxies.append(proxy)
        self._record(proxy)
        if self.node is not None:
            self.node.session.stash.setdefault(_LIVE, weakref.WeakSet()).add(proxy)
        return proxy

    def _record(self, source: LogSource) -> None:
        if self.node is not None:
            record(self.node, source)

    def close(self) -> None:
        """Stop every proxy this factory started (newest first); re-raise the first error
        once all were tried."""
        _close_all(self.proxies, lambda proxy: proxy.stop())


def _close_all(items: list[Any], close: Callable[[Any], None]) -> None:
    """Close ``items`` newest first and empty the list; re-raise the first error after."""
    first: BaseException | None = None
    started = list(reversed(items))
    items.clear()
    for item in started:
        try:
            close(item)
        except BaseException as exc:  # keep closing the others, Ctrl-C included
            first = first or exc
    if first is not None:
        raise first


def check_loopback(host: str) -> str:
    """``host`` if it is a loopback IP address (127.0.0.0/8, ::1); ValueError otherwise."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"upstream host must be a loopback IP address, got {host!r}") from None
    if not address.is_loopback:
        raise ValueError(f"upstream host must be a loopback address (127.0.0.0/8 or ::1), "
                         f"got {host!r}: tests must not listen on the network")
    return host


class UpstreamFactory:
    """``upstream(name, host="127.0.0.1", port=0)`` → a running recording
    :class:`~envoykit.testing.Upstream`; :meth:`close` closes them all."""

    def __init__(self) -> None:
        self.upstreams: list[Upstream] = []

    def __call__(self, name: str = "upstream", host: str = "127.0.0.1", port: int = 0, *,
                 cert: tuple[str, str] | None = None,
                 client_ca: str | None = None) -> Upstream:
        """Start one upstream on a loopback address (port 0: a free one); ``cert`` makes it
        HTTPS and ``client_ca`` requires client certificates (see :class:`Upstream`)."""
        from envoykit.testing.upstream import Upstream

        server = Upstream(name, host=check_loopback(host), port=port, cert=cert,
                          client_ca=client_ca)
        self.upstreams.append(server)
        return server

    def __getitem__(self, name: str) -> Upstream:
        """The upstream started under ``name`` (the newest, if several)."""
        for server in reversed(self.upstreams):
            if server.name == name:
                return server
        raise KeyError(f"no upstream named {name!r}; started: "
                       f"{[server.name for server in self.upstreams]}")

    def close(self) -> None:
        """Close every upstream (newest first)."""
        _close_all(self.upstreams, lambda server: server.close())


class ClientFactory:
    """The ``resolving_client`` fixture: the arguments of
    :func:`envoykit.testing.http.resolving_client` (one signature), except that ``verify``
    defaults to the session's test CA and ``timeout`` to 10 s; :meth:`close` closes every
    client it made."""

    def __init__(self, ca_file: Callable[[], str]) -> None:
        self._ca_file = ca_file
        self.clients: list[httpx.Client] = []

    def __call__(self, hosts: Hosts, *, to: str = "127.0.0.1", verify: str | bool | None = None,
                 cert: CertFiles | tuple[str, str] | None = None, http2: bool = False,
                 **kwargs: Any) -> httpx.Client:
        """A client for ``hosts`` (names, or a name → address mapping)."""
        from envoykit.testing.http import resolving_client

        kwargs.setdefault("timeout", 10.0)
        client = resolving_client(hosts, to=to,
                                  verify=self._ca_file() if verify is None else verify,
                                  cert=cert, http2=http2, **kwargs)
        self.clients.append(client)
        return client

    def close(self) -> None:
        """Close every client."""
        _close_all(self.clients, lambda client: client.close())


def proxy_factory(request: pytest.FixtureRequest, binary: EnvoyBinary) -> EnvoyProxyFactory:
    """A factory with the session's settings and the ``@pytest.mark.envoy(...)`` options
    of the requesting node, recording on the node of the fixture's scope."""
    settings = request.config.stash.get(SETTINGS, None) or PluginSettings()
    defaults = settings.supervisor_defaults()
    marker = request.node.get_closest_marker("envoy")
    if marker is not None:
        defaults.update(marker.kwargs)
    return EnvoyProxyFactory(binary=binary, defaults=defaults, node=request.node)


ConfigSource = Any  # a ConfigInput, or a callable whose parameters name fixtures


def resolve_config(config: ConfigSource, request: pytest.FixtureRequest) -> ConfigInput:
    """``config`` itself, or ``config(**fixtures)`` when it is a callable: each parameter
    names a fixture (``request`` is the fixture request), as in a test function."""
    if not callable(config) or hasattr(config, "to_dict") or isinstance(config, (str, Path)):
        return config  # type: ignore[no-any-return]
    kwargs = {name: request if name == "request" else request.getfixturevalue(name)
              for name in inspect.signature(config).parameters}
    return config(**kwargs)  # type: ignore[no-any-return]


def envoy_proxy_fixture(
    config: ConfigSource,
    *,
    scope: Scope = "function",
    name: str | None = None,
    **supervisor_options: Any,
) -> Any:
    """A pytest fixture that runs one envoy for ``scope`` and yields its
    :class:`~envoykit.testing.EnvoyProxy`; compose your own named fixtures with it::

        def edge_config(upstream, test_ca):          # parameters are fixtures
            backend = upstream("backend")
            return EdgeProxy().site("a.example.com", backend.address, ...).https(0).admin(0)

        edge = envoy_proxy_fixture(edge_config, scope="function")

    ``config`` is a config (builder, Bootstrap, dict, YAML, path) or a callable returning
    one; ``supervisor_options`` go to the :class:`~envoykit.process.Supervisor`. The
    fixture is named after the variable it is assigned to, or ``name``.
    """

    def _envoy_fixture(request: pytest.FixtureRequest,
                       envoy_binary: EnvoyBinary) -> Iterator[EnvoyProxy]:
        factory = proxy_factory(request, envoy_binary)
        try:
            yield factory(resolve_config(config, request), name=request.fixturename,
                          **supervisor_options)
        finally:
            factory.close()

    return pytest.fixture(scope=scope, name=name)(_envoy_fixture)
