"""Redirects that name another listener's port, filled in once that port is known.

The builder's ``https(port=0).redirect_http(...)`` cannot know the HTTPS port: Envoy picks
it when it binds. Instead of a port, the redirect route carries a mark in its metadata::

    metadata: {filter_metadata: {envoykit: {port_redirect_of_listener: https}}}

The Supervisor fills ``redirect.port_redirect`` from that listener's port before it writes
a config for Envoy: on a cold start it first gives a marked port-0 listener a free port
(:func:`reserve_marked_ports`), and every later epoch pins the ports that are bound
(``pin_listener_ports``), so the redirect follows the listener through hot restarts and
rebuilds. A config rendered without a Supervisor keeps the mark and no ``port_redirect``.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from envoykit._net import free_port
from envoykit.errors import ConfigError

__all__ = ["MARK_KEY", "fill_redirect_ports", "port_mark", "reserve_marked_ports"]

MARK_KEY = "port_redirect_of_listener"
_log = logging.getLogger("envoykit.process")


def port_mark(listener: str) -> dict[str, Any]:
    """Route metadata saying: the redirect's port is the port of ``listener``."""
    return {"filter_metadata": {"envoykit": {MARK_KEY: listener}}}


def reserve_marked_ports(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` where each port-0 listener a redirect names gets a free port of
    its address (so the redirect can name it before Envoy starts); others stay as they are."""
    out = copy.deepcopy(dict(config))
    named = {listener for _, listener in _marked_routes(out)}
    for listener in _listeners(out):
        sock = _socket(listener)
        if listener.get("name") in named and sock is not None \
                and int(sock.get("port_value", 0)) == 0:
            sock["port_value"] = free_port(str(sock.get("address", "127.0.0.1")))
            _log.debug("listener %r on port 0 named by a redirect: reserved port %d",
                       listener.get("name"), sock["port_value"])
    return out


def fill_redirect_ports(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` where each marked redirect gets ``port_redirect`` = the port of
    the listener it names. ConfigError when that listener is missing; a listener still on
    port 0 leaves the redirect without a port (nothing is known yet)."""
    out = copy.deepcopy(dict(config))
    marked = list(_marked_routes(out))
    if not marked:
        return out
    ports = {str(x.get("name")): int(sock.get("port_value", 0))
             for x in _listeners(out) if (sock := _socket(x)) is not None}
    for route, listener in marked:
        if listener not in ports:
            raise ConfigError(
                f"route {route.get('name') or route.get('match')!r}: its redirect takes the "
                f"port of listener {listener!r} (metadata.filter_metadata.envoykit."
                f"{MARK_KEY}), and the config has no listener of that name")
        if ports[listener]:
            route["redirect"]["port_redirect"] = ports[listener]
    return out


def _listeners(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = (config.get("static_resources") or {}).get("listeners") or []
    return [x for x in found if isinstance(x, dict)]


def _socket(listener: Mapping[str, Any]) -> dict[str, Any] | None:
    sock = (listener.get("address") or {}).get("socket_address")
    return sock if isinstance(sock, dict) else None


def _marked_routes(config: Mapping[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    """(route, listener name) for each route of a static listener with a port mark."""
    for listener in _listeners(config):
        yield from _walk(listener)


def _walk(node: Any) -> Iterator[tuple[dict[str, Any], str]]:
    if isinstance(node, dict):
        meta = node.get("metadata")
        found = meta.get("filter_metadata") if isinstance(meta, dict) else None
        mark = found.get("envoykit") if isinstance(found, dict) else None
        if isinstance(node.get("redirect"), dict) and isinstance(mark, dict) \
                and isinstance(mark.get(MARK_KEY), str):
            yield node, mark[MARK_KEY]
            return
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)
