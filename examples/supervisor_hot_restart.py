"""Run Envoy under envoykit's supervisor and change its routes with zero-downtime hot restarts.

    python examples/supervisor_hot_restart.py

Two loopback upstreams stand in for the walkthrough's internal servers. The proxy starts
with one site (``a.example.com``), then a hot restart adds ``b.example.com`` while a client
keeps sending requests; a broken config is refused before anything starts and the
running one keeps serving; ``stop()`` drains gracefully. Listener and admin use port 0,
so nothing collides; everything (processes, run directory, shared memory) is gone at exit.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from envoykit import ConfigError, EdgeProxy
from envoykit.process import Supervisor, SupervisorEvent


@contextmanager
def backend(name: str) -> Iterator[int]:
    """A loopback HTTP server answering ``hello from <name>``; yields its port."""

    class Hello(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            body = f"hello from {name}\n".encode()
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()


def edge(sites: dict[str, int]) -> EdgeProxy:
    """Plain HTTP on 127.0.0.1 (port 0), one site per host name, admin on port 0."""
    proxy = EdgeProxy("example").http(0, address="127.0.0.1").admin(0)
    for host, port in sites.items():
        proxy.site(host, f"127.0.0.1:{port}")
    return proxy


def fetch(address: tuple[str, int], host: str) -> str:
    """GET / with a Host header; returns "status body"."""
    conn = http.client.HTTPConnection(*address, timeout=5)
    try:
        conn.request("GET", "/", headers={"host": host})
        response = conn.getresponse()
        return f"{response.status} {response.read().decode().strip()}"
    finally:
        conn.close()


class Client(threading.Thread):
    """Sends requests in a loop while the proxy is restarted; counts failures."""

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(daemon=True)
        self.address, self.sent, self.failed = address, 0, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.sent += 1
            try:
                ok = fetch(self.address, "a.example.com").startswith("200")
            except OSError:
                ok = False
            self.failed += not ok


def main() -> None:
    """Start, hot restart, refuse a bad config, stop."""
    with backend("a") as port_a, backend("b") as port_b:
        def report(event: SupervisorEvent) -> None:
            print(f"  event: {event.kind:<10} state={event.state.value:<10} {event.message}")

        with Supervisor(edge({"a.example.com": port_a}), on_event=report,
                        log_level="warning", concurrency=1) as proxy:
            [name] = proxy.listeners
            address = proxy.address_of(name)
            run_dir = proxy.run_dir
            print(f"listener {name!r} on {address}, admin on {proxy.admin_address}")
            print(f"run dir: {run_dir}")
            print("a:", fetch(address, "a.example.com"), "| b:", fetch(address, "b.example.com"))
            assert fetch(address, "b.example.com").startswith("404")  # b is not there yet

            client = Client(address)
            client.start()
            epoch = proxy.hot_restart(edge({"a.example.com": port_a, "b.example.com": port_b}))
            client.done.set()
            client.join()
            print(f"epoch {epoch}: a:", fetch(address, "a.example.com"),
                  "| b:", fetch(address, "b.example.com"))
            print(f"during the hot restart: {client.sent} requests, {client.failed} failed")
            assert epoch == 1 and fetch(address, "b.example.com") == "200 hello from b"
            assert client.failed == 0, "a request failed during the hot restart"

            broken = edge({"a.example.com": port_a}).to_dict()
            broken["static_resources"]["clusters"][0]["connect_timeout"] = "-1s"
            try:
                proxy.hot_restart(broken)
                raise AssertionError("a negative connect_timeout was accepted")
            except ConfigError as exc:
                print("refused before anything started:", str(exc).splitlines()[-1][-80:])
            print(f"still epoch {proxy.epoch}: b:", fetch(address, "b.example.com"))
            assert proxy.epoch == 1
            for info in proxy.processes():
                rss = f"{info.rss_bytes / 2**20:.0f} MiB" if info.rss_bytes else "-"
                print(f"  epoch {info.epoch} pid {info.pid} alive={info.alive} rss={rss}")
        print("stopped:", proxy.state.value)
        assert not run_dir.exists(), f"{run_dir} is left behind"


if __name__ == "__main__":
    main()
