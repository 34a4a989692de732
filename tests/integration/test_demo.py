"""`make demo` runs envoykit.demo: its self-check passes, SIGTERM leaves nothing behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import psutil
import pytest

from envoykit.testing.net import free_port

pytestmark = pytest.mark.integration


def demo_argv(*extra: str) -> list[str]:
    return [sys.executable, "-m", "envoykit.demo",
            "--https-port", str(free_port()), "--http-port", str(free_port()),
            "--admin-port", str(free_port()),
            "--upstream-a", f"127.0.0.20:{free_port('127.0.0.20')}",
            "--upstream-b", f"127.0.0.21:{free_port('127.0.0.21')}", *extra]


def test_demo_check_tours_the_company_edge() -> None:
    done = subprocess.run(demo_argv("--check"), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"https://a\.example\.com:\d+/ -> 200 from upstream A: ok", done.stdout)
    assert re.search(r"https://b\.example\.com:\d+/ -> 200 from upstream B: ok", done.stdout)
    assert re.search(r"-> 301 https://a\.example\.com:\d+/x: ok", done.stdout)


def test_demo_stops_on_sigterm_and_leaves_no_envoy() -> None:
    proc = subprocess.Popen(demo_argv(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    assert proc.stdout is not None
    pid = None
    deadline = time.monotonic() + 30
    while pid is None and time.monotonic() < deadline:
        line = proc.stdout.readline()
        match = re.search(r"envoy pid (\d+)", line)
        pid = int(match.group(1)) if match else None
        assert line or proc.poll() is None, "demo exited early"
    assert pid is not None and psutil.pid_exists(pid)
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    proc.stdout.close()
    gone_by = time.monotonic() + 5
    while psutil.pid_exists(pid) and time.monotonic() < gone_by:
        time.sleep(0.05)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE

