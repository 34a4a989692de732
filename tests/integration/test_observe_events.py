"""Supervisor lifecycle events reach ``logging`` with structured fields."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from envoykit.process import Supervisor, SupervisorState
from envoykit.testing import wait_until
from tests.integration._supervisor_helpers import bootstrap, upstream
from tests.integration.test_cli_live import config, kill_tree, read_text

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


def test_run_log_format_json_prints_one_object_per_line(tmp_path: Path) -> None:
    cfg, admin_path, err = tmp_path / "envoy.yaml", tmp_path / "admin.txt", tmp_path / "err"
    cfg.write_text(yaml.safe_dump(config("hello")))
    argv = [sys.executable, "-m", "envoykit.cli", "run", str(cfg), "-l", "warn",
            "--log-format", "json", "--admin-address-path", str(admin_path),
            "--drain-time-s", "1", "--parent-shutdown-time-s", "2"]
    with open(err, "wb") as stderr:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        wait_until(lambda: read_text(admin_path), what="admin address")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, read_text(err)
    finally:
        kill_tree(proc.pid)
    lines = read_text(err).splitlines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    events = [r for r in records if "event" in r]
    assert [r["event"] for r in events] == ["state", "started", "draining", "stopped"]
    started = events[1]
    assert started["state"] == "live" and started["epoch"] == 0 and started["pid"] > 0
    assert started["logger"] == "envoykit.process.events" and started["level"] == "info"
    assert started["time"].endswith("Z") and started["message"].startswith("started: ")
    assert any(r["message"].startswith("envoy is live: epoch 0") for r in records)
