"""The orphan watchdog kills what it guards when its owner goes away (no envoy needed)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

from envoykit.process._orphan import Watchdog


def _gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.02)
    return False


def test_closing_the_watchdog_kills_marked_processes_and_cleans_the_run_dir(
    tmp_path: Path,
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    base_id = 900_000_000 + os.getpid() % 90_000_000
    (run_dir / "base-id-1.txt").write_text(str(base_id))  # as envoy writes it: no newline
    shm = Path(f"/dev/shm/envoy_shared_memory_{base_id * 10}")
    shm.write_bytes(b"")
    dog = Watchdog(run_dir, owns_run_dir=True)
    registered = subprocess.Popen(["sleep", "30"], env=dog.env(), start_new_session=True)
    unregistered = subprocess.Popen(["sleep", "30"], env=dog.env(), start_new_session=True)
    bystander = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        dog.watch(registered.pid)
        dog.close()
        assert _gone(registered.pid) and _gone(unregistered.pid)
        assert bystander.poll() is None
        assert not run_dir.exists()
        assert not shm.exists()
    finally:
        shm.unlink(missing_ok=True)
        for proc in (registered, unregistered, bystander):
            proc.kill()
            proc.wait()


def test_watchdog_fires_when_its_parent_is_sigkilled(tmp_path: Path) -> None:
    code = (
        "import subprocess, sys, time\n"
        "from envoykit.process._orphan import Watchdog\n"
        f"dog = Watchdog({str(tmp_path)!r}, owns_run_dir=False)\n"
        "child = subprocess.Popen(['sleep', '30'], env=dog.env(), start_new_session=True)\n"
        "dog.watch(child.pid)\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(30)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    assert _gone(child_pid)
    assert tmp_path.exists()  # not ours: left in place
