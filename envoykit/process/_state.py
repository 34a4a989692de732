"""Supervisor state, events, per-epoch process facts and the crash-restart backoff."""

from __future__ import annotations

import enum
import logging
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Backoff", "EpochInfo", "SupervisorEvent", "SupervisorState"]


class SupervisorState(str, enum.Enum):
    """Where the supervised Envoy is in its lifecycle."""

    STOPPED = "stopped"
    STARTING = "starting"
    LIVE = "live"
    RESTARTING = "restarting"
    DRAINING = "draining"
    FAILED = "failed"


@dataclass(frozen=True)
class SupervisorEvent:
    """Something the supervisor did or saw; passed to every ``on_event`` callback.

    ``kind``: ``state`` (plain state change), ``started`` (an epoch 0 is live: start,
    cold restart, restart after a crash), ``restarting`` (a hot, cold or crash restart
    begins), ``hot_restart`` (the new epoch is live), ``hot_restart_failed``,
    ``recovered`` (old config serving again after a failed hot restart), ``crash``,
    ``backoff`` (waiting before a restart after a crash), ``gave_up`` (too many quick
    crashes: state FAILED), ``unready`` / ``ready`` (``/ready`` of a running process
    changed), ``draining``, ``stopped``.

    The supervisor also logs every event on the ``envoykit.process.events`` logger, with
    :meth:`fields` as the record's extra attributes (``record.event``, ``record.epoch``…).
    """

    kind: str
    state: SupervisorState
    epoch: int | None = None
    pid: int | None = None
    message: str = ""
    time: float = field(default_factory=time.time)

    @property
    def level(self) -> int:
        """The logging level the event is logged at."""
        if self.kind == "gave_up":
            return logging.ERROR
        return logging.WARNING if self.kind in _WARNING_KINDS else logging.INFO

    def fields(self) -> dict[str, Any]:
        """The structured fields: ``event``, ``state``, ``epoch``, ``pid``, ``reason``."""
        return {"event": self.kind, "state": self.state.value, "epoch": self.epoch,
                "pid": self.pid, "reason": self.message}

    def describe(self) -> str:
        """One line for people, e.g. ``crash: envoy pid 7 exited with code 1 [epoch 0]``."""
        where = ", ".join(f"{k} {v}" for k, v in (("epoch", self.epoch), ("pid", self.pid))
                          if v is not None)
        text = f"{self.kind.replace('_', ' ')}: {self.message or self.state.value}"
        return f"{text} [{where}]" if where else text


_WARNING_KINDS = frozenset({"crash", "backoff", "hot_restart_failed", "unready"})


# the package's own short names (public names are SupervisorState / SupervisorEvent)
State = SupervisorState
Event = SupervisorEvent


@dataclass(frozen=True)
class EpochInfo:
    """One Envoy process (one hot-restart epoch) as psutil sees it."""

    epoch: int
    pid: int
    alive: bool
    current: bool
    rss_bytes: int | None
    cpu_percent: float | None
    cpu_seconds: float | None
    returncode: int | None


@dataclass
class Backoff:
    """Exponential backoff for crash restarts with a cap and a give-up count.

    A crash is *quick* when the process had been live for less than ``stable_after``
    seconds. Quick crashes double the delay (``initial`` · 2ⁿ, at most ``cap``) and count
    toward ``max_quick_failures``; a crash after a stable run resets both.
    """

    initial: float = 0.1
    cap: float = 5.0
    max_quick_failures: int = 5
    stable_after: float = 10.0
    quick_failures: int = 0

    def record_crash(self, live_for: float) -> float | None:
        """Count one crash; return the delay before restarting, or None to give up."""
        if live_for >= self.stable_after:
            self.quick_failures = 0
        self.quick_failures += 1
        if self.quick_failures > self.max_quick_failures:
            return None
        delay: float = self.initial * 2.0 ** (self.quick_failures - 1)
        return min(self.cap, delay)

    def reset(self) -> None:
        """Forget earlier crashes (after a manual start or hot restart)."""
        self.quick_failures = 0
