"""Process facts for tests (unit and integration)."""

from __future__ import annotations

import psutil


def exited(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie, not yet reaped by its parent, counts)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
