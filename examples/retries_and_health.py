"""Retries, active health checks and outlier detection: failures the client never sees.

    python examples/retries_and_health.py

1. A flaky server answers every other request with 503: ``Retry(statuses=(503,))`` gives
   the client 200 each time, and envoy's ``upstream_rq_retry`` counts each retry.
2. Two servers with an HTTP health check every 250 ms: one stops; after two failed checks
   it is out and every request goes to the other; started again, it is back.
3. Outlier detection ejects a server that answers 503 three times in a row.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from _common import save_config, show, title, workdir

from envoykit import EdgeProxy, Health, HttpRoute, Outlier, Retry, validate
from envoykit.process import Supervisor
from envoykit.testing.upstream import Upstream

HOST = {"host": "api.example.com"}


class Flaky(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen = 0

    def do_GET(self) -> None:
        Flaky.seen += 1
        self.send_response(503 if Flaky.seen % 2 else 200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def wait_for(probe: Callable[[], bool], what: str) -> float:
    start = time.monotonic()
    while not probe():
        if time.monotonic() - start > 60:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - start


def retries(work: Any) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    edge = (EdgeProxy("retries").http(port=0).admin(port=0)
            .service("flaky", f"127.0.0.1:{server.server_address[1]}")
            .site("api.example.com", routes=[
                HttpRoute("/", to="flaky", timeout="5s",
                      retries=Retry(attempts=2, statuses=(503,), per_try_timeout="1s"))]))
    validate(edge)  # our checks, then envoy --mode validate
    save_config(work, "retries", edge)
    with Supervisor(edge.build(), log_level="warning") as envoy, httpx.Client() as client:
        statuses = [client.get(envoy.url_of("http") + "/", headers=HOST).status_code
                    for _ in range(10)]
        with envoy.admin() as admin:
            retried = admin.stats(filter="upstream_rq_retry$").number(
                "cluster.flaky.upstream_rq_retry")
    server.shutdown()
    title("1. retries")
    show("client saw", statuses)
    show("server answered", f"{Flaky.seen} requests, {Flaky.seen // 2} of them 503")
    show("cluster.flaky.upstream_rq_retry", retried)
    assert statuses == [200] * 10 and retried == 10 and Flaky.seen == 20


def health(work: Any) -> None:
    a, b = Upstream("A", host="127.0.0.20"), Upstream("B", host="127.0.0.21")
    check = Health.http("/healthz", interval="250ms", timeout="200ms", unhealthy=2, healthy=1)
    edge = (EdgeProxy("health").http(port=0).admin(port=0)
            .service("api", a.address, b.address, health=check)
            .site("api.example.com", routes=[HttpRoute("/", to="api")]))
    validate(edge)  # our checks, then envoy --mode validate
    save_config(work, "health", edge)
    with Supervisor(edge.build(), log_level="warning") as envoy, httpx.Client() as client:
        def who() -> str:
            return client.get(envoy.url_of("http") + "/", headers=HOST).headers.get(
                "x-upstream", "(failed)")

        def a_is(healthy: bool) -> bool:
            with envoy.admin() as admin:
                hosts = admin.clusters()["api"].hosts
            return any(h.address[0] == "127.0.0.20" and h.healthy is healthy for h in hosts)

        wait_for(lambda: a_is(True), "A healthy")
        before = sorted({who() for _ in range(10)})
        a.close()
        took = wait_for(lambda: a_is(False), "A out")
        after = [who() for _ in range(20)]
        a = Upstream("A", host="127.0.0.20", port=int(a.address.rsplit(":", 1)[1]))
        wait_for(lambda: a_is(True), "A back")
        wait_for(lambda: "A" in {who() for _ in range(4)}, "A serving")
    a.close()
    b.close()
    title("2. active health checks")
    show("both up", before)
    show("A stopped: out after", f"{took:.2f} s (check every 0.25 s, 2 failures)")
    show("then 20 requests", sorted(set(after)))
    show("A started again", "back in rotation")
    assert before == ["A", "B"] and after == ["B"] * 20


def outlier(work: Any) -> None:
    with Upstream("good", host="127.0.0.20") as good, Upstream("bad", host="127.0.0.21") as bad:
        bad.respond_with(503)
        edge = (EdgeProxy("outlier").http(port=0).admin(port=0)
                .service("api", good.address, bad.address,
                         outlier=Outlier(consecutive_5xx=3, interval="100ms", ejection="60s"))
                .site("api.example.com", routes=[HttpRoute("/", to="api")]))
        validate(edge)  # our checks, then envoy --mode validate
        save_config(work, "outlier", edge)
        with Supervisor(edge.build(), log_level="warning") as envoy, \
                httpx.Client() as client:
            first = [client.get(envoy.url_of("http") + "/", headers=HOST).status_code
                     for _ in range(10)]
            with envoy.admin() as admin:
                wait_for(lambda: admin.stats(filter="ejections_enforced_total").number(
                    "cluster.api.outlier_detection.ejections_enforced_total") == 1, "ejection")
            later = [client.get(envoy.url_of("http") + "/", headers=HOST).status_code
                     for _ in range(20)]
    title("3. outlier detection")
    show("first 10 requests", first)
    show("after the ejection", later)
    assert first.count(503) >= 3 and later == [200] * 20


def main() -> int:
    with workdir("retries_and_health") as work:
        retries(work)
        health(work)
        outlier(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
