"""Closed-loop HTTP load shared by the benchmarks (run in a child process of its own)."""

from __future__ import annotations

import http.client
import json
import sys
import threading
from dataclasses import dataclass, field


@dataclass
class Load:
    """Keep-alive clients in a closed loop; counts requests, non-2xx and socket errors."""

    address: tuple[str, int]
    clients: int
    path: str = "/"
    headers: dict[str, str] = field(default_factory=dict)
    requests: int = 0
    non_2xx: int = 0
    socket_errors: int = 0
    errors_seen: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def failed(self) -> int:
        return self.non_2xx + self.socket_errors

    def start(self) -> Load:
        for index in range(self.clients):
            thread = threading.Thread(target=self._client, name=f"load-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)

    def _client(self) -> None:
        requests = non_2xx = errors = 0
        conn = http.client.HTTPConnection(*self.address, timeout=5)
        while not self._stop.is_set():
            requests += 1
            try:
                conn.request("GET", self.path, headers=self.headers)
                response = conn.getresponse()
                response.read()
                non_2xx += not 200 <= response.status < 300
                if response.getheader("connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                errors += 1
                with self._lock:
                    self.errors_seen.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection(*self.address, timeout=5)
        conn.close()
        with self._lock:
            self.requests += requests
            self.non_2xx += non_2xx
            self.socket_errors += errors


def load_worker(host: str, port: int, clients: int, *, path: str = "/",
                headers: dict[str, str] | None = None) -> None:
    """Child process: run the load until stdin closes, then print the counts as JSON."""
    load = Load((host, port), clients, path, dict(headers or {})).start()
    sys.stdin.read()
    load.stop()
    print(json.dumps({"requests": load.requests, "non_2xx": load.non_2xx,
                      "socket_errors": load.socket_errors, "failed": load.failed,
                      "errors_seen": sorted(set(load.errors_seen))[:5]}), flush=True)
