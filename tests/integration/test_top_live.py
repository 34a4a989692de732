"""``envoykit top`` against a live edge: in tmux as a person sees it, and --once/--json.

The edge has two sites; ``a.example.com`` is hammered, the upstream of ``b.example.com``
is killed (an active health check marks it unhealthy; its requests get 503).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from envoykit import EdgeProxy, HttpRoute, RateLimit, Respond, to_dict
from envoykit.process import Supervisor
from envoykit.testing import Upstream, wait_until
from envoykit.testing.http import resolving_client
from envoykit.testing.tls import TestCA

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
HEALTH_CHECK = {"timeout": "1s", "interval": "0.2s", "no_traffic_interval": "0.2s",
                "unhealthy_threshold": 1, "healthy_threshold": 1, "tcp_health_check": {}}


@dataclass
class Edge:
    proxy: Supervisor
    dead: str  # the killed upstream's address

    def get(self, host: str, count: int = 1) -> list[int]:
        with httpx.Client(base_url=self.proxy.url_of("http"), timeout=30) as client:
            return [client.get("/", headers={"host": host}).status_code for _ in range(count)]


@pytest.fixture
def edge() -> Iterator[Edge]:
    """a: 5 answered requests; b: 3 answered, then its upstream dies, then 2 × 503."""
    with Upstream("a") as a, Upstream("b") as b:
        built = EdgeProxy().site("a.example.com", a.address).site("b.example.com", b.address)
        config = to_dict(built.http(0, address="127.0.0.1").admin(0).build())
        config["stats_flush_interval"] = "0.2s"  # latency quantiles are computed at a flush
        for cluster in config["static_resources"]["clusters"]:
            cluster["health_checks"] = [HEALTH_CHECK]
        with Supervisor(config, concurrency=1, log_level="warning") as proxy:
            result = Edge(proxy, b.address)
            assert result.get("a.example.com", 5) == [200] * 5
            assert result.get("b.example.com", 3) == [200] * 3
            b.close()
            with proxy.admin() as admin:
                wait_until(lambda: not admin.clusters()["b_example_com"].hosts[0].healthy,
                           what="b's upstream to be unhealthy")
                assert result.get("b.example.com", 2) == [503] * 2
                wait_until(lambda: admin.histogram("cluster.a_example_com.upstream_rq_time")
                           .count, expected=5, what="a's latency samples")
            yield result


def top(edge: Edge, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "envoykit.cli", "top", "--admin", edge.proxy.admin_address,
            "--interval", "0.2", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_once_json_is_exactly_the_edge(edge: Edge) -> None:
    done = top(edge, "--once", "--json")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1
    frame = json.loads(done.stdout)
    for row in frame["sites"]:
        latencies = [row.pop(q) for q in ("p50", "p95", "p99")]
        assert all(isinstance(v, float | int) and v >= 0 for v in latencies), latencies
    server = frame.pop("server")
    assert (server["version"], server["state"], server["epoch"]) == ("1.40.0", "LIVE", 0)
    assert server["uptime_s"] >= 0 and server["memory_allocated"] > 0
    assert frame.pop("sample_seconds") > 0
    assert frame == {
        "admin": edge.proxy.admin_address,
        "sites": [  # nothing happened during the sample: rate 0, sorted by name
            {"site": "a.example.com", "route": None, "cluster": "a_example_com", "rps": 0.0,
             "requests": 5,
             "2xx": 5, "3xx": 0, "4xx": 0, "5xx": 0, "rate_limited": 0, "history": [0.0]},
            {"site": "b.example.com", "route": None, "cluster": "b_example_com", "rps": 0.0,
             "requests": 5,
             "2xx": 3, "3xx": 0, "4xx": 0, "5xx": 2, "rate_limited": 0, "history": [0.0]},
        ],
        "upstreams": [
            {"cluster": "a_example_com", "healthy": 1, "hosts": 1, "unhealthy": [],
             "active_requests": 0, "retries": 0, "ejections": 0, "5xx": 0},
            {"cluster": "b_example_com", "healthy": 0, "hosts": 1, "unhealthy": [edge.dead],
             "active_requests": 0, "retries": 0, "ejections": 0, "5xx": 2},
        ],
    }


def test_once_text(edge: Edge) -> None:
    done = top(edge, "--once", "--filter", "b_")
    assert done.returncode == 0, done.stderr
    lines = [line.rstrip() for line in done.stdout.splitlines()]
    assert lines[0].startswith("envoy 1.40.0  LIVE  epoch 0  uptime ")
    assert lines[1:3] == ["SITES", " SITE           RQ/S  2XX  3XX  4XX  5XX  LIMITED  P50 MS"
                          "  P95 MS  P99 MS  LAST MINUTE"]
    assert re.fullmatch(r" b\.example\.com   0\.0    3    0    0    2        0 +[\d.]+ +"
                        r"[\d.]+ +[\d.]+  ▁", lines[3]), lines[3]
    assert lines[4:] == [
        "UPSTREAMS",
        " CLUSTER        HEALTHY  ACTIVE RQ  RETRIES  EJECTED  5XX  UNHEALTHY",
        f" b_example_com      0/1          0        0        0    2  {edge.dead}",
    ]


@pytest.fixture
def load(edge: Edge) -> Iterator[None]:
    """Hammer a.example.com (20 requests for each one to the dead b) until the test ends."""
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            edge.get("a.example.com", 20)
            edge.get("b.example.com")

    thread = threading.Thread(target=hammer, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=30)


@pytest.fixture
def tmux() -> Iterator[Callable[..., str]]:
    """``tmux(*args)`` on a private server (its own socket), killed at the end."""
    assert shutil.which("tmux"), "tmux is missing: `make .venv/.installed` installs it"
    socket = f"envoykit-top-{os.getpid()}"

    def run(*args: str) -> str:
        done = subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True,
                              timeout=30, check=False)
        return done.stdout if done.returncode == 0 else ""

    yield run
    run("kill-server")


def rows(pane: str, table: str) -> dict[str, list[str]]:
    """The rows of a table in the captured pane: first cell → cells."""
    lines = pane.splitlines()
    start = lines.index(table) + 2
    found = {}
    for line in lines[start:]:
        cells = line.split()
        if not cells or cells[0].isupper():
            break
        found[cells[0]] = cells
    return found


def test_top_in_tmux_under_load(edge: Edge, load: None, tmux: Callable[..., str]) -> None:
    # the pane's own size, not the COLUMNS/LINES the test runner may have set
    command = (f"env -u COLUMNS -u LINES {sys.executable} -m envoykit.cli top "
               f"--admin {edge.proxy.admin_address} --interval 0.5")
    tmux("new-session", "-d", "-s", "top", "-x", "150", "-y", "30", command)

    def screen() -> str:
        return tmux("capture-pane", "-p", "-t", "top")

    def looks_loaded() -> str | None:
        pane = screen()
        if "UPSTREAMS" not in pane or "SITES" not in pane:
            return None
        sites = rows(pane, "SITES")
        a, b = sites.get("a.example.com"), sites.get("b.example.com")
        return pane if a and b and float(a[1]) > float(b[1]) > 0 else None

    pane = wait_until(looks_loaded, what="top to show both sites with traffic", context=screen)
    sites = rows(pane, "SITES")
    assert next(iter(sites)) == "a.example.com", pane  # the hot site leads
    upstreams = rows(pane, "UPSTREAMS")
    assert upstreams["a_example_com"][1] == "1/1"
    assert upstreams["b_example_com"][1] == "0/1" and upstreams["b_example_com"][-1] == edge.dead
    first_5xx = int(sites["b.example.com"][5])
    assert first_5xx >= 2
    wait_until(lambda: int(rows(screen(), "SITES")["b.example.com"][5]) > first_5xx,
               what="the 5xx column of b.example.com to move", context=screen)
    tmux("send-keys", "-t", "top", "q")
    wait_until(lambda: "top" not in tmux("list-sessions", "-F", "#S").split(),
               what="top to quit on q")


def test_json_streams_one_object_per_frame(edge: Edge) -> None:
    argv = [sys.executable, "-m", "envoykit.cli", "top", "--admin", edge.proxy.admin_address,
            "--interval", "0.2", "--json", "--filter", "a_"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        frames = [json.loads(proc.stdout.readline()) for _ in range(3)]
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert [len(f["sites"][0]["history"]) for f in frames] == [1, 2, 3]
    assert all([s["site"] for s in f["sites"]] == ["a.example.com"] for f in frames)
    assert all(f["sites"][0]["requests"] == 5 and f["sample_seconds"] > 0 for f in frames)


def test_the_live_view_needs_a_terminal(edge: Edge) -> None:
    done = top(edge)
    assert done.returncode == 2
    assert "top needs a terminal; use --once or --json" in done.stderr


def test_https_sites_are_read_from_their_own_connection_manager(test_ca: TestCA) -> None:
    """By default an HTTPS site's router keeps no per-upstream stats: ``top`` reads the
    site's row from its connection manager, which also counts the answers no upstream gave
    (a 404 direct answer, the 429s of the flood limit), and names every cluster it uses."""
    with Upstream("web") as web, Upstream("api") as api:
        edge = (EdgeProxy().service("web", web.address).service("api", api.address)
                .site("shop.example.com", cert=test_ca.issue("shop.example.com").as_cert(),
                      routes=[HttpRoute("/api/", to="api"),
                              HttpRoute(path="/gone", respond=Respond(404)),
                              HttpRoute("/", to="web")],
                      rate_limit=RateLimit(4, per="1h"))
                .https(0, address="127.0.0.1").admin(0))
        config = to_dict(edge.build())
        config["stats_flush_interval"] = "0.2s"
        with Supervisor(config, concurrency=1, log_level="warning") as proxy, \
                resolving_client("shop.example.com", verify=test_ca.ca_file, timeout=30) as c:
            base = proxy.url_of("https", "https").replace("127.0.0.1", "shop.example.com")
            codes = [c.get(base + path).status_code
                     for path in ("/", "/api/x", "/gone", "/", "/", "/")]
            assert codes == [200, 200, 404, 200, 429, 429]
            with proxy.admin() as admin:
                wait_until(lambda: admin.histogram(
                    "http.https_shop_example_com.downstream_rq_time").count, expected=6,
                    what="the site's latency samples")
            edge_view = Edge(proxy, "")
            done = top(edge_view, "--once", "--json")
    assert done.returncode == 0, done.stderr
    sites = json.loads(done.stdout)["sites"]
    assert len(sites) == 1, sites
    [row] = sites
    assert all(row.pop(q) is not None for q in ("p50", "p95", "p99"))
    assert row == {"site": "shop.example.com", "route": None, "cluster": "api, web",
                   "rps": 0.0, "requests": 6, "2xx": 3, "3xx": 0, "4xx": 3, "5xx": 0,
                   "rate_limited": 2, "history": [0.0]}
