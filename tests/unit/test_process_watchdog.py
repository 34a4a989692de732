"""The orphan watchdog kills what it guards when its owner goes away (no envoy needed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from envoykit.process._orphan import Watchdog
from envoykit.testing import wait_until
from tests._processes import exited


def wait_gone(pid: int) -> None:
    wait_until(lambda: exited(pid), what=f"pid {pid} gone")


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
    registered = subprocess.Popen(["sleep", "infinity"], env=dog.env(), start_new_session=True)
    unregistered = subprocess.Popen(["sleep", "infinity"], env=dog.env(), start_new_session=True)
    bystander = subprocess.Popen(["sleep", "infinity"], start_new_session=True)
    try:
        dog.watch(registered.pid)
        dog.close()
        wait_gone(registered.pid)
        wait_gone(unregistered.pid)
        assert bystander.poll() is None
        assert not run_dir.exists()
        assert not shm.exists()
    finally:
        shm.unlink(missing_ok=True)
        for proc in (registered, unregistered, bystander):
            proc.kill()
            proc.wait()


def test_a_deferred_watchdog_starts_with_the_first_watch_and_guards_earlier_processes(
    tmp_path: Path,
) -> None:
    dog = Watchdog(tmp_path, owns_run_dir=False, start=False)
    assert dog.pid is None  # no process yet: the supervisor starts envoy first
    early = subprocess.Popen(["sleep", "infinity"], env=dog.env(), start_new_session=True)
    watched = subprocess.Popen(["sleep", "infinity"], env=dog.env(), start_new_session=True)
    try:
        dog.watch(watched.pid)
        watchdog_pid = dog.pid
        assert watchdog_pid is not None and not exited(watchdog_pid)
        dog.close()
        wait_gone(watched.pid)
        wait_gone(early.pid)  # marked before the watchdog existed, never registered
        wait_gone(watchdog_pid)
    finally:
        for proc in (early, watched):
            proc.kill()
            proc.wait()


def test_watchdog_fires_when_its_parent_is_sigkilled(tmp_path: Path) -> None:
    code = (
        "import signal, subprocess\n"
        "from envoykit.process._orphan import Watchdog\n"
        f"dog = Watchdog({str(tmp_path)!r}, owns_run_dir=False)\n"
        "child = subprocess.Popen(['sleep', 'infinity'], env=dog.env(), start_new_session=True)\n"
        "dog.watch(child.pid)\n"
        "print(child.pid, flush=True)\n"
        "signal.pause()  # until the test SIGKILLs it\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    try:
        wait_gone(child_pid)
    finally:
        if not exited(child_pid):
            os.kill(child_pid, signal.SIGKILL)
    assert tmp_path.exists()  # not ours: left in place
