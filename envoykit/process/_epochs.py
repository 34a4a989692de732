"""Epoch bookkeeping: every Envoy process a supervisor started and has not cleaned up.

The current epoch serves; a retired one (replaced by a hot or cold restart, or crashed)
drains and exits by itself and is reaped by a short-lived thread, killed if it outstays its
grace. Shared memory of a hot-restart base id is removed once no process of it runs, and a
teardown kills whatever is left.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path

from envoykit.process._epoch import Epoch
from envoykit.process._orphan import Watchdog

__all__ = ["EpochBook", "shm_path"]

_log = logging.getLogger("envoykit.process")
_SHM_DIR = Path("/dev/shm")


def shm_path(base_id: int) -> Path:
    """The shared-memory file Envoy leaves behind for a base id (named base_id · 10)."""
    return _SHM_DIR / f"envoy_shared_memory_{base_id * 10}"


class EpochBook:
    """The current epoch, the retired ones, their base ids and the orphan watchdog.

    ``lock`` is the supervisor's: reaping threads take it to update the book. ``stopping``
    tells them a stop is under way (a slow epoch is then no news)."""

    def __init__(self, lock: threading.RLock, stopping: threading.Event) -> None:
        self.current: Epoch | None = None
        self.retired: list[Epoch] = []
        self.last: Epoch | None = None  # the last one torn down: its output stays readable
        self.base_ids: set[int] = set()
        self.watchdog: Watchdog | None = None
        self._lock = lock
        self._stopping = stopping

    def running(self) -> list[Epoch]:
        """Every epoch not cleaned up yet: retired ones first, the current one last."""
        return [*self.retired, *([self.current] if self.current else [])]

    def latest(self) -> Epoch | None:
        """The current epoch, else the newest retired one, else the last torn down."""
        return self.current or (self.retired[-1] if self.retired else None) or self.last

    def draining(self, base_id: int | None) -> list[Epoch]:
        """Retired epochs of ``base_id`` still running (draining after a hot restart)."""
        return [e for e in self.retired if e.base_id == base_id and e.alive()]

    def any_retired_alive(self) -> bool:
        return any(e.alive() for e in self.retired)

    def retire(self, epoch: Epoch, grace: float) -> None:
        """Move an epoch to the retired list; reap it in the background after ``grace``."""
        if epoch not in self.retired:
            self.retired.append(epoch)
        if self.current is epoch:
            self.current = None
        threading.Thread(target=self._reap, args=(epoch, grace), daemon=True,
                         name=f"envoykit-reap-{epoch.pid}").start()

    def _reap(self, epoch: Epoch, grace: float) -> None:
        if not epoch.wait(grace) and not self._stopping.is_set():
            _log.warning("epoch %d (pid %d) did not exit in %.0fs; killing it",
                         epoch.number, epoch.pid, grace)
        _finish(epoch)
        for path in (epoch.paths.config, epoch.paths.admin_address):
            with contextlib.suppress(OSError):
                path.unlink()
        with self._lock:
            if self.watchdog is not None:
                self.watchdog.unwatch(epoch.pid)
            if epoch in self.retired:
                self.retired.remove(epoch)
            self.remove_unused_shm()

    def teardown(self) -> None:
        """Kill every epoch, remove their shared memory and close the watchdog."""
        epochs = self.running()
        for epoch in epochs:
            _finish(epoch)
        if epochs:
            self.last = epochs[-1]
        self.current = None
        self.retired.clear()
        self.remove_unused_shm()
        if self.watchdog is not None:
            self.watchdog.close()
            self.watchdog = None

    def remove_unused_shm(self) -> None:
        """Remove the shared memory of every base id no running epoch uses."""
        running = {e.base_id for e in self.running() if e.alive()}
        for base_id in self.base_ids - running:
            with contextlib.suppress(OSError):
                shm_path(base_id).unlink()
            self.base_ids.discard(base_id)


def _finish(epoch: Epoch) -> None:
    """The one way an epoch ends here: terminate its process tree, close its output."""
    epoch.terminate()
    epoch.close()
