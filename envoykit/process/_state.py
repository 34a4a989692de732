"""Supervisor state, events, per-epoch process facts and the crash-restart backoff."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field

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
    ``gave_up`` (too many quick crashes: state FAILED), ``unready`` / ``ready`` (``/ready``
    of a running process changed), ``draining``, ``stopped``.
    """

    kind: str
    state: SupervisorState
    epoch: int | None = None
    pid: int | None = None
    message: str = ""
    time: float = field(default_factory=time.time)


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
