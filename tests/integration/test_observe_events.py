"""Supervisor lifecycle events reach ``logging`` with structured fields."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from envoykit.process import Supervisor, SupervisorState
from tests.integration._supervisor_helpers import bootstrap, upstream

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
OPTIONS: dict[str, Any] = {"concurrency": 1, "log_level": "warning", "drain_time_s": 1,
                           "parent_shutdown_time_s": 2}


@pytest.fixture
def up() -> Iterator[int]:
    with upstream() as port:
        yield port


def test_every_lifecycle_event_is_a_log_record_with_fields(
    up: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="envoykit.process.events")
    with Supervisor(bootstrap(up), **OPTIONS) as proxy:
        first = proxy.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        proxy.wait_for_state(SupervisorState.RESTARTING, timeout=10)
        proxy.wait_for_state(SupervisorState.LIVE, timeout=20)
    records = [r for r in caplog.records if r.name == "envoykit.process.events"]
    kinds = [getattr(r, "event", None) for r in records]
    assert kinds[:2] == ["state", "started"] and kinds[-2:] == ["draining", "stopped"]
    assert {"crash", "restarting", "backoff"} <= set(kinds)
    crash = records[kinds.index("crash")]
    assert crash.levelno == logging.WARNING
    assert (crash.event, crash.epoch, crash.pid) == ("crash", 0, first)  # type: ignore[attr-defined]
    assert "exited with code" in crash.reason  # type: ignore[attr-defined]
    backoff = records[kinds.index("backoff")]
    assert "restarting in" in backoff.getMessage() and backoff.state == "restarting"  # type: ignore[attr-defined]
    assert records[-1].state == "stopped" and records[-1].getMessage() == "stopped: stopped"  # type: ignore[attr-defined]
