"""`make demo` runs envoykit.demo: its self-check passes, SIGTERM leaves nothing behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import psutil
import pytest

from envoykit.testing import wait_until
from envoykit.testing.net import free_port
from tests._processes import exited

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
    stdout = proc.stdout

    def envoy_pid() -> int | None:
        line = stdout.readline()
        assert line or proc.poll() is None, "demo exited early"
        match = re.search(r"envoy pid (\d+)", line)
        return int(match.group(1)) if match else None

    pid = wait_until(envoy_pid, what="the demo printing its envoy pid")
    assert psutil.pid_exists(pid)
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    proc.stdout.close()
    wait_until(lambda: exited(pid), what=f"envoy pid {pid} gone after the demo stopped")

