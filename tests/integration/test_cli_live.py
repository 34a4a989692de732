"""The envoykit command against the real envoy: validate, stats, status, run.

Every envoy started here binds loopback port 0, uses a dynamic base id and is killed in
teardown, so the tests run in parallel under ``pytest -n 2``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import yaml

from envoykit.admin import AdminClient
from envoykit.binary import find_envoy
from envoykit.testing import wait_until

pytestmark = pytest.mark.integration

HCM = ("type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
       "HttpConnectionManager")
ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
LOCAL_RL = "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit"


def config(body: str = "hello", *, rate_limit: bool = False,
           extra_filter: dict[str, Any] | None = None) -> dict[str, Any]:
    """A bootstrap: admin and one listener on 127.0.0.1 port 0, a direct response, and a
    cluster whose only host is a closed port."""
    filters: list[dict[str, Any]] = [extra_filter] if extra_filter else []
    if rate_limit:
        filters.append({"name": "envoy.filters.http.local_ratelimit", "typed_config": {
            "@type": LOCAL_RL, "stat_prefix": "web_rl",
            "token_bucket": {"max_tokens": 2, "tokens_per_fill": 2, "fill_interval": "60s"},
            "filter_enabled": {"default_value": {"numerator": 100}},
            "filter_enforced": {"default_value": {"numerator": 100}}}})
    filters.append({"name": "envoy.filters.http.router", "typed_config": {"@type": ROUTER}})
    routes = [
        {"match": {"prefix": "/missing"}, "direct_response": {"status": 404}},
        {"match": {"prefix": "/"}, "direct_response": {"status": 200,
                                                       "body": {"inline_string": body}}},
    ]
    hcm = {"@type": HCM, "stat_prefix": "web", "http_filters": filters,
           "route_config": {"name": "local", "virtual_hosts": [
               {"name": "all", "domains": ["*"], "routes": routes}]}}
    return {
        "admin": {"address": _sock(0)},
        "static_resources": {
            "listeners": [{"name": "web", "address": _sock(0), "filter_chains": [
                {"filters": [{"name": "envoy.filters.network.http_connection_manager",
                              "typed_config": hcm}]}]}],
            "clusters": [{"name": "backend", "type": "STATIC", "connect_timeout": "1s",
                          "load_assignment": {"cluster_name": "backend", "endpoints": [
                              {"lb_endpoints": [{"endpoint": {"address": _sock(1)}}]}]}}],
        },
    }


def _sock(port: int) -> dict[str, Any]:
    return {"socket_address": {"address": "127.0.0.1", "port_value": port}}


def cli(*argv: str, cwd: Path | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``python -m envoykit.cli ARGV`` to completion."""
    return subprocess.run([sys.executable, "-m", "envoykit.cli", *argv], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd, check=False)


def read_text(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def kill_tree(pid: int) -> None:
    """SIGKILL a process and every descendant (teardown)."""
    try:
        parent = psutil.Process(pid)
        procs = [*parent.children(recursive=True), parent]
    except psutil.NoSuchProcess:
        return
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(procs, timeout=5)


# --- validate ------------------------------------------------------------------------------


def test_validate_with_envoy_ok(tmp_path: Path) -> None:
    (tmp_path / "envoy.yaml").write_text(yaml.safe_dump(config()))
    done = cli("validate", "envoy.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "passed envoykit's checks and envoy --mode validate (envoy 1." in done.stdout


def test_validate_envoy_rejects(tmp_path: Path) -> None:
    unknown = {"name": "my.filter", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.nothing.v3.Nothing"}}
    (tmp_path / "envoy.yaml").write_text(yaml.safe_dump(config(extra_filter=unknown)))
    assert cli("validate", "envoy.yaml", "--no-envoy", cwd=tmp_path).returncode == 0
    done = cli("validate", "envoy.yaml", cwd=tmp_path)
    assert done.returncode == 1
    assert "envoy --mode validate rejected envoy.yaml" in done.stderr
    assert "could not find @type" in done.stderr
    assert "Traceback" not in done.stderr
    result = json.loads(cli("validate", "envoy.yaml", "--json", cwd=tmp_path).stdout)
    assert (result["ok"], result["stage"], result["envoy"]) == (False, "envoy", "failed")
    assert "could not find @type" in result["envoy_output"]


# --- stats and status against an envoy started here --------------------------------------------


@pytest.fixture
def envoy(tmp_path: Path) -> Iterator[str]:
    """A running envoy (our own launch, not envoykit's); yields its admin address."""
    (tmp_path / "envoy.yaml").write_text(yaml.safe_dump(config(rate_limit=True)))
    admin_path = tmp_path / "admin.txt"
    argv = [str(find_envoy().path), "-c", str(tmp_path / "envoy.yaml"), "-l", "warn",
            "--admin-address-path", str(admin_path), "--use-dynamic-base-id",
            "--base-id-path", str(tmp_path / "base-id.txt")]
    with open(tmp_path / "envoy.log", "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        address = wait_until(lambda: proc.poll() is None and read_text(admin_path),
                             what="envoy's admin address")
        with AdminClient(address) as admin:
            wait_until(admin.ready, what="envoy ready")
        yield address
    finally:
        kill_tree(proc.pid)


def traffic(admin_address: str) -> None:
    """2 allowed requests (one a 404), then 2 rate-limited (429)."""
    with AdminClient(admin_address) as admin:
        host, port = admin.listeners()["web"]
    with httpx.Client(base_url=f"http://{host}:{port}") as client:
        codes = [client.get(path).status_code for path in ("/", "/missing", "/", "/")]
    assert codes == [200, 404, 429, 429]


def test_status_json(envoy: str) -> None:
    traffic(envoy)
    done = cli("status", "--admin", envoy, "--json", "--interval", "0.2")
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["server"]["state"] == "LIVE"
    assert status["server"]["epoch"] == 0
    assert status["listeners"]["web"].startswith("127.0.0.1:")
    assert status["clusters"]["backend"]["hosts"][0]["address"] == "127.0.0.1:1"
    web = status["http"]["web"]
    assert (web["rq_total"], web["rq_4xx"], web["rq_5xx"]) == (4, 3, 0)
    assert "admin" not in status["http"]
    assert status["rate_limited"] == {"web_rl.http_local_rate_limit.rate_limited": 2}


def test_status_table(envoy: str) -> None:
    done = cli("status", "--admin", envoy, "--interval", "0")
    assert done.returncode == 0, done.stderr
    assert "state LIVE  epoch 0" in done.stdout
    assert "LISTENER" in done.stdout and "web" in done.stdout
    assert "backend" in done.stdout and "127.0.0.1:1" in done.stdout


def test_stats_text_and_json(envoy: str) -> None:
    traffic(envoy)
    text = cli("stats", "--admin", envoy, "--filter", r"^http\.web\.downstream_rq_total$")
    assert text.returncode == 0, text.stderr
    assert text.stdout.strip() == "http.web.downstream_rq_total: 4"
    done = cli("stats", "--admin", envoy, "--filter", r"^http\.web\.", "--json")
    stats = json.loads(done.stdout)
    assert stats["counters"]["http.web.downstream_rq_4xx"] == 3
    assert all(name.startswith("http.web.") for name in stats["counters"])


# --- run -----------------------------------------------------------------------------------


def envoy_pids(pid: int) -> set[int]:
    """The pids of every envoy process below ``pid``."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return set()
    return {c.pid for c in children if "envoy" in c.name()}


def test_run_hot_restart_and_graceful_stop(tmp_path: Path) -> None:
    cfg, admin_path, err = tmp_path / "envoy.yaml", tmp_path / "admin.txt", tmp_path / "err"
    cfg.write_text(yaml.safe_dump(config("epoch-zero")))
    argv = [sys.executable, "-m", "envoykit.cli", "run", str(cfg), "-l", "warn",
            "--admin-address-path", str(admin_path), "--drain-time-s", "1",
            "--parent-shutdown-time-s", "2"]
    with open(err, "wb") as stderr:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seen: set[int] = set()
    try:
        first = wait_until(lambda: read_text(admin_path), what="admin address of epoch 0")
        assert epoch_and_body(first) == (0, "epoch-zero")
        seen |= envoy_pids(proc.pid)

        cfg.write_text(yaml.safe_dump(config("epoch-one")))
        proc.send_signal(signal.SIGHUP)
        second = wait_until(lambda: (a := read_text(admin_path)) != first and a,
                            what="admin address of epoch 1")
        assert epoch_and_body(second) == (1, "epoch-one")
        seen |= envoy_pids(proc.pid)

        broken = config("broken")
        broken["static_resources"]["clusters"] *= 2  # a duplicate name: epoch 1 keeps serving
        cfg.write_text(yaml.safe_dump(broken))
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "reload failed" in read_text(err), what="reload failure report")
        assert epoch_and_body(second) == (1, "epoch-one")

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, read_text(err)
    finally:
        kill_tree(proc.pid)
    log = read_text(err)
    assert "envoy is live: epoch 0" in log and "epoch 1 is live" in log
    assert "duplicate name 'backend'" in log
    assert "Traceback" not in log
    assert seen and not [p for p in seen if psutil.pid_exists(p) and
                         psutil.Process(p).status() != psutil.STATUS_ZOMBIE]


def epoch_and_body(admin_address: str) -> tuple[int, str]:
    """The restart epoch from /server_info and what the listener answers."""
    with AdminClient(admin_address) as admin:
        epoch = admin.server_info().restart_epoch
        host, port = admin.listeners()["web"]
    return epoch, httpx.get(f"http://{host}:{port}/").text


def test_run_watch_reloads_on_file_change(tmp_path: Path) -> None:
    cfg, admin_path = tmp_path / "envoy.yaml", tmp_path / "admin.txt"
    cfg.write_text(yaml.safe_dump(config("before")))
    argv = [sys.executable, "-m", "envoykit.cli", "run", str(cfg), "-l", "warn", "--watch",
            "--watch-interval", "0.1", "--admin-address-path", str(admin_path)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        first = wait_until(lambda: read_text(admin_path), what="admin address of epoch 0")
        assert epoch_and_body(first) == (0, "before")
        cfg.write_text(yaml.safe_dump(config("after")))
        second = wait_until(lambda: (a := read_text(admin_path)) != first and a,
                            what="hot restart after the file changed")
        assert epoch_and_body(second) == (1, "after")
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        assert proc.wait(timeout=20) == 0
    finally:
        kill_tree(proc.pid)


def test_example_cli_validate_and_diff_runs() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "cli_validate_and_diff.py"
    done = subprocess.run([sys.executable, str(example)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok: validate and diff behaved as a deploy script expects" in done.stdout


def test_run_writes_the_admin_address_file_before_it_says_envoy_is_live(tmp_path: Path) -> None:
    """A deploy script waits for "envoy is live" on stderr, then reads the file."""
    cfg, admin_path = tmp_path / "envoy.yaml", tmp_path / "admin.txt"
    cfg.write_text(yaml.safe_dump(config("live")))
    argv = [sys.executable, "-m", "envoykit.cli", "run", str(cfg), "-l", "warn",
            "--admin-address-path", str(admin_path)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # the script's way: read until the line, then the file
            if "envoy is live" in line:
                address = admin_path.read_text().strip()  # must be there already
                break
        else:
            raise AssertionError("envoykit run ended without saying envoy is live")
        assert epoch_and_body(address) == (0, "live")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        kill_tree(proc.pid)
