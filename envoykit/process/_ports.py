"""Port probing before a cold start: refuse a fixed port another process listens on.

With ``reuse_port`` (on by default on Linux) a second Envoy would bind such a port silently
and share its connections, so the supervisor looks first and names who holds it.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Mapping
from typing import Any

from envoykit.errors import StartupError
from envoykit.process._launch import static_listeners

__all__ = ["check_fixed_ports", "port_in_use"]


def check_fixed_ports(data: Mapping[str, Any]) -> None:
    """StartupError naming the listener when a fixed TCP port of ``data`` is in use."""
    for listener in static_listeners(data):
        if listener.port and listener.protocol == "TCP" and port_in_use(
            listener.host, listener.port
        ):
            raise StartupError(
                f"listener {listener.name!r}: {listener.host}:{listener.port} is already "
                f"in use{_who_listens(listener.port)}. Envoy sets SO_REUSEPORT on Linux, so "
                "it would start anyway and silently share connections with that process. "
                "Stop it, pick another port (or 0), or pass check_ports=False."
            )


def port_in_use(host: str, port: int) -> bool:
    """True when a TCP socket is already bound/listening on ``host:port``.

    The probe binds without SO_REUSEPORT, so it also sees a socket Envoy would silently
    share through ``reuse_port``; TIME_WAIT leftovers are ignored (SO_REUSEADDR)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            # anything but EADDRINUSE (EACCES, EADDRNOTAVAIL...) is for envoy to report
            return exc.errno == errno.EADDRINUSE
    return False


def _who_listens(port: int) -> str:
    """`` (pid N, name)`` of the process listening on ``port``, when psutil can tell."""
    import psutil

    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == "LISTEN" and conn.pid:
                return f" by pid {conn.pid} ({psutil.Process(conn.pid).name()})"
    except (psutil.Error, OSError):
        pass
    return ""
