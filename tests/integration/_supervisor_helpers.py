"""Helpers for the supervisor tests and benchmarks: loopback upstreams, bootstraps, GETs."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ROUTER = {
    "name": "envoy.filters.http.router",
    "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
    },
}
HCM_TYPE = (
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3"
    ".HttpConnectionManager"
)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes

    def do_GET(self) -> None:
        body = f"{self.server.server_port} {self.path}".encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def upstream() -> Iterator[int]:
    """A real HTTP/1.1 server on 127.0.0.1, port 0, in a thread; yields its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()


def bootstrap(upstream_port: int, *, tag: str = "v1", port: int = 0) -> dict[str, Any]:
    """Listener ``ingress`` (127.0.0.1:port) → cluster ``upstream``; every response carries
    ``x-tag: <tag>`` so a client can tell which config served it. Admin on port 0."""
    route = {
        "match": {"prefix": "/"},
        "route": {"cluster": "upstream"},
        "response_headers_to_add": [{"header": {"key": "x-tag", "value": tag}}],
    }
    hcm = {
        "stat_prefix": "ingress",
        "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [route]}]},
        "http_filters": [ROUTER],
    }
    listener = {
        "name": "ingress",
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
        "filter_chains": [{"filters": [{
            "name": "envoy.filters.network.http_connection_manager",
            "typed_config": {"@type": HCM_TYPE, **hcm},
        }]}],
    }
    endpoint = {"endpoint": {"address": {"socket_address": {
        "address": "127.0.0.1", "port_value": upstream_port}}}}
    cluster = {
        "name": "upstream",
        "connect_timeout": "1s",
        "type": "STATIC",
        "load_assignment": {
            "cluster_name": "upstream", "endpoints": [{"lb_endpoints": [endpoint]}]},
    }
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "static_resources": {"listeners": [listener], "clusters": [cluster]},
    }


def get(address: tuple[str, int], path: str = "/", timeout: float = 2.0) -> tuple[int, str, str]:
    """One GET on a new connection: (status, x-tag header, body)."""
    conn = http.client.HTTPConnection(address[0], address[1], timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read().decode()
        return response.status, response.getheader("x-tag", ""), body
    finally:
        conn.close()


def envoy_pids_with(marker: str) -> list[int]:
    """Pids of envoy processes whose command line mentions ``marker`` (a run dir)."""
    import psutil

    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if any(marker in part for part in cmdline) and cmdline and "envoy" in cmdline[0]:
            found.append(proc.info["pid"])
    return found
