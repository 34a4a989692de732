"""See what the edge does: supervisor events, latency percentiles, Prometheus, ``top``.

    python examples/observe_edge.py

Two sites on loopback: ``a.example.com`` is busy, ``b.example.com`` has a slow upstream
(50 ms) that is then killed. The script reads the edge the ways docs/observe.md shows:
supervisor events as log records with fields, p50/p99 from envoy's histograms in one
line, the Prometheus scrape parsed by ``prometheus_client``, and ``envoykit top --once
--json`` (the hot site leads; the killed upstream is unhealthy and its site answers 503).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from typing import Any

import httpx
from _common import save_config, show, title, workdir

from envoykit import EdgeProxy, to_dict
from envoykit.admin import AdminClient, Histogram
from envoykit.process import Supervisor
from envoykit.testing.upstream import Upstream

SLOW_MS = 50
# an active health check, so a dead upstream shows as unhealthy within a second
HEALTH_CHECK = {"timeout": "1s", "interval": "0.2s", "no_traffic_interval": "0.2s",
                "unhealthy_threshold": 1, "healthy_threshold": 1, "tcp_health_check": {}}


class Events(logging.Handler):
    """Keeps the supervisor's lifecycle events (``envoykit.process.events``)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        fields = ("event", "state", "epoch", "pid", "reason")
        self.seen.append({name: getattr(record, name) for name in fields})


def main() -> int:
    events = Events()
    logging.getLogger("envoykit.process.events").addHandler(events)
    logging.getLogger("envoykit.process.events").setLevel(logging.INFO)
    with workdir("observe_edge") as work, Upstream("a") as a, Upstream("b") as b:
        b.respond_with(200, delay=SLOW_MS / 1000)
        edge = (EdgeProxy().site("a.example.com", a.address).site("b.example.com", b.address)
                .http(0, address="127.0.0.1").admin(0))
        config = to_dict(edge.build())
        config["stats_flush_interval"] = "0.5s"  # envoy computes percentiles at each flush
        for cluster in config["static_resources"]["clusters"]:
            cluster["health_checks"] = [HEALTH_CHECK]
        save_config(work, "observe", config)

        with Supervisor(config, log_level="warning") as envoy, envoy.admin() as admin:
            title("supervisor events (logging, structured fields)")
            for event in events.seen:
                show(str(event["event"]), f"state={event['state']} epoch={event['epoch']}")
            assert [e["event"] for e in events.seen] == ["state", "started"]
            assert events.seen[1]["pid"] == envoy.pid

            with httpx.Client(base_url=envoy.url_of("http")) as client:
                for _ in range(30):
                    client.get("/", headers={"host": "a.example.com"})
                for _ in range(5):
                    client.get("/", headers={"host": "b.example.com"})

            title(f"latency of b.example.com (upstream sleeps {SLOW_MS} ms)")
            latency = wait_for_samples(admin, "cluster.b_example_com.upstream_rq_time", 5)
            show("p50 / p95 / p99 ms", f"{latency.p50} / {latency.p95} / {latency.p99}")
            rq_time = "cluster.b_example_com.upstream_rq_time"
            assert admin.histogram(rq_time).percentile(50) >= SLOW_MS  # one line

            title("Prometheus (/stats/prometheus, parsed by prometheus_client)")
            metrics = admin.prometheus()
            a_total = metrics.value("envoy_cluster_upstream_rq_total",
                                    envoy_cluster_name="a_example_com")
            show("envoy_cluster_upstream_rq_total{a}", a_total)
            show("metric families", len(metrics))
            assert a_total == 30

            title("b's upstream dies; envoykit top --once --json")
            b.close()
            wait_until_unhealthy(admin, "b_example_com")
            with httpx.Client(base_url=envoy.url_of("http")) as client:
                codes = {client.get("/", headers={"host": "b.example.com"}).status_code
                         for _ in range(3)}
            assert codes == {503}
            frame = top_once(envoy.admin_address)
            for site in frame["sites"]:
                show(site["site"], f"2xx={site['2xx']} 5xx={site['5xx']} p50={site['p50']}")
            for up in frame["upstreams"]:
                show(up["cluster"], f"healthy {up['healthy']}/{up['hosts']}")
            assert frame["sites"][0]["site"] == "a.example.com"  # requests/s, then name
            assert frame["sites"][1]["5xx"] == 3
            assert [u["healthy"] for u in frame["upstreams"]] == [1, 0]
    return 0


def top_once(admin_address: str) -> dict[str, Any]:
    """``envoykit top --once --json``: one frame as a dict."""
    argv = [sys.executable, "-m", "envoykit.cli", "top", "--admin", admin_address,
            "--once", "--json", "--interval", "0.2"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
    frame: dict[str, Any] = json.loads(done.stdout)
    return frame


def wait_for_samples(admin: AdminClient, name: str, count: int,
                     timeout: float = 30.0) -> Histogram:
    """Envoy publishes percentiles at each stats flush: wait until ``count`` samples."""
    deadline = time.monotonic() + timeout
    while (histogram := admin.histogram(name)).count < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{name}: {histogram.count} samples, wanted {count}")
        time.sleep(0.1)
    return histogram


def wait_until_unhealthy(admin: AdminClient, cluster: str, timeout: float = 30.0) -> None:
    """The health check notices the dead upstream within a few intervals."""
    deadline = time.monotonic() + timeout
    while admin.clusters()[cluster].healthy_hosts:
        if time.monotonic() > deadline:
            raise AssertionError(f"{cluster} still healthy")
        time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
