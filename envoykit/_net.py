"""Small loopback socket facts shared by the library, its test helpers and benchmarks."""

from __future__ import annotations

import functools
import ipaddress
import socket

__all__ = ["free_port", "ipv6_loopback", "is_ip", "is_loopback"]


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now on ``host`` (IPv4 or IPv6)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def ipv6_loopback() -> bool:
    """True when this machine can listen on and connect to ``::1``."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as server:
            server.bind(("::1", 0))
            server.listen(1)
            with socket.create_connection(("::1", server.getsockname()[1]), timeout=1):
                return True
    except OSError:
        return False


def is_ip(host: str) -> bool:
    """True for an IPv4 or IPv6 literal (not a host name)."""
    try:
        socket.inet_pton(socket.AF_INET, host)  # the common case, ~20x faster than ipaddress
    except (OSError, ValueError, TypeError):
        return _is_ip(host)
    return True


@functools.lru_cache(maxsize=4096)
def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_loopback(address: str) -> bool:
    """True for ``localhost`` and loopback IPs (127.0.0.0/8, ::1)."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
