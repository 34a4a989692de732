"""A running Envoy for a test: URLs by listener name, its admin client and its logs.

    proxy = EnvoyProxy.start(config, binary=binary, log_level="info")
    proxy.url("https")          # "https://127.0.0.1:40123" (port 0 resolved, scheme guessed)
    proxy.admin.stats()         # one admin client, closed with the proxy
    proxy.log_tail(20)          # what envoy printed last
    proxy.stop()                # idempotent; nothing is left running

The pytest fixtures (:mod:`envoykit.testing.plugin`) create these handles and stop them at
teardown; they also work on their own (``with EnvoyProxy.start(config) as proxy:``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from envoykit._util import url
from envoykit.process import ConfigInput, Supervisor, config_to_dict

if TYPE_CHECKING:
    from envoykit.admin import AdminClient
    from envoykit.binary import EnvoyBinary

__all__ = ["EnvoyProxy", "ephemeral_admin", "listener_schemes"]

_TLS_SOCKET = "envoy.transport_sockets.tls"


def listener_schemes(config: Mapping[str, Any]) -> dict[str, str]:
    """Static listener name → ``"https"`` when one of its filter chains terminates TLS,
    else ``"http"``."""
    listeners = (config.get("static_resources") or {}).get("listeners") or []
    schemes: dict[str, str] = {}
    for index, listener in enumerate(listeners):
        name = str(listener.get("name", f"listener_{index}"))
        chains = [*(listener.get("filter_chains") or []),
                  *([listener["default_filter_chain"]]
                    if listener.get("default_filter_chain") else [])]
        tls = any(_is_tls(chain.get("transport_socket")) for chain in chains)
        schemes[name] = "https" if tls else "http"
    return schemes


def _is_tls(socket: Mapping[str, Any] | None) -> bool:
    if not socket:
        return False
    kind = str((socket.get("typed_config") or {}).get("@type", ""))
    return socket.get("name") == _TLS_SOCKET or kind.endswith("DownstreamTlsContext")


def ephemeral_admin(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` whose admin TCP port is 0 (two test envoys never collide on a
    fixed admin port such as the default 9901; the real port is read back)."""
    data = copy.deepcopy(dict(config))
    sock = ((data.get("admin") or {}).get("address") or {}).get("socket_address")
    if isinstance(sock, dict) and int(sock.get("port_value", 0)) != 0:
        sock["port_value"] = 0
    return data


class EnvoyProxy:
    """A started :class:`~envoykit.process.Supervisor` with test conveniences.

    ``name`` labels it in reports; ``supervisor`` is the underlying supervisor (hot
    restart, events, processes). Build one with :meth:`start`.
    """

    def __init__(self, supervisor: Supervisor, *, name: str = "envoy") -> None:
        self.name = name
        self.supervisor = supervisor
        self._schemes = listener_schemes(supervisor.config)
        self._admin: AdminClient | None = None
        self._final_logs: list[str] | None = None
        self._pid = supervisor.pid

    @classmethod
    def start(
        cls,
        config: ConfigInput,
        *,
        name: str = "envoy",
        binary: EnvoyBinary | str | None = None,
        fixed_admin_port: bool = False,
        **supervisor_options: Any,
    ) -> EnvoyProxy:
        """Start envoy with ``config`` and wait until it is ready.

        The admin port is made ephemeral unless ``fixed_admin_port``. Raises
        :class:`~envoykit.errors.StartupError` (with envoy's last lines); nothing is left
        running then."""
        data = config_to_dict(config)
        if not fixed_admin_port:
            data = ephemeral_admin(data)
        supervisor = Supervisor(data, binary=binary, **supervisor_options)
        supervisor.start()  # tears everything down itself when it fails
        return cls(supervisor, name=name)

    # --- addresses ----------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        """The pid of the envoy serving now (the last one, once stopped)."""
        return self.supervisor.pid or self._pid

    @property
    def listeners(self) -> dict[str, tuple[str, int]]:
        """Listener name → bound (host, port)."""
        return self.supervisor.listeners

    def address(self, listener: str) -> tuple[str, int]:
        """The bound (host, port) of a listener."""
        return self.supervisor.address_of(listener)

    def port(self, listener: str) -> int:
        """The bound port of a listener."""
        return self.address(listener)[1]

    def url(self, listener: str, path: str = "", *, scheme: str | None = None,
            host: str | None = None) -> str:
        """``scheme://host:port`` + ``path`` of a listener. The scheme is ``https`` for a
        listener that terminates TLS, else ``http``; ``host`` replaces the bound address
        (``url("https", host="a.example.com")`` for a resolving client)."""
        chosen = scheme or self._schemes.get(listener, "http")
        if host is None:
            return self.supervisor.url_of(listener, chosen) + path
        return url(chosen, host, self.port(listener), path)

    @property
    def admin_address(self) -> str:
        """``host:port`` of the admin interface."""
        return self.supervisor.admin_address

    @property
    def admin_socket_address(self) -> tuple[str, int]:
        """``(host, port)`` of the admin interface, the shape of ``supervisor.address_of()``."""
        return self.supervisor.admin_socket_address

    @property
    def admin(self) -> AdminClient:
        """An admin client for this envoy (one per proxy, closed when it stops)."""
        if self._admin is None:
            self._admin = self.supervisor.admin()
        return self._admin

    # --- logs ---------------------------------------------------------------------------
    @property
    def logs(self) -> list[str]:
        """Every line envoy printed that is still buffered (``output_lines`` of them)."""
        return self.log_tail(self.supervisor.output_lines)

    def log_tail(self, count: int = 50) -> list[str]:
        """The last ``count`` lines envoy printed (kept after :meth:`stop`)."""
        if self._final_logs is not None:
            return self._final_logs[-count:] if count > 0 else []
        return self.supervisor.output_tail(count)

    # --- lifecycle ----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True until :meth:`stop` (or a crash the supervisor gave up on)."""
        return self.supervisor.pid is not None

    def stop(self, graceful: bool = False) -> None:
        """Stop envoy and remove what it left behind; keeps the logs. Idempotent."""
        if self._final_logs is None:
            self._final_logs = self.supervisor.output_tail(self.supervisor.output_lines)
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        self.supervisor.stop(graceful=graceful)

    def __enter__(self) -> EnvoyProxy:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<EnvoyProxy {self.name!r} pid={self.pid} state={self.supervisor.state.value}>"
