"""The hot-restart config gate: Envoy's shared-memory layout guard and flag clearing."""

from __future__ import annotations

import struct
import threading
from pathlib import Path

import pytest

from envoykit.process._gate import (
    GateError,
    clear_initializing,
    feed_gate,
    gate_supported,
    make_gate,
)


def _shm(path: Path, *, size: int = 104, declared: int | None = None, version: int = 11,
         flags: int = 0) -> Path:
    body = struct.pack("<QQ", declared if declared is not None else size, version)
    body += b"\0" * (size - len(body) - 8) + struct.pack("<Q", flags)
    path.write_bytes(body)
    return path


def _flags(path: Path) -> int:
    return int(struct.unpack("<Q", path.read_bytes()[-8:])[0])


@pytest.mark.parametrize("size", [104, 120])
def test_clears_only_the_initializing_bit(tmp_path: Path, size: int) -> None:
    shm = _shm(tmp_path / "shm", size=size, flags=0b111)
    assert gate_supported(shm)
    assert clear_initializing(shm)
    assert _flags(shm) == 0b110
    assert _header_intact(shm, size)


def _header_intact(shm: Path, size: int) -> bool:
    data = shm.read_bytes()
    return len(data) == size and struct.unpack_from("<QQ", data) == (size, 11)


@pytest.mark.parametrize("kwargs", [
    {"version": 12},  # an Envoy with another hot-restart layout
    {"declared": 96},  # size_ does not match the file
    {"size": 112},  # a size we do not know
])
def test_unknown_layout_is_left_alone(tmp_path: Path, kwargs: dict[str, int]) -> None:
    shm = _shm(tmp_path / "shm", flags=1, **kwargs)
    before = shm.read_bytes()
    assert not gate_supported(shm)
    assert not clear_initializing(shm)
    assert shm.read_bytes() == before
    assert not gate_supported(tmp_path / "missing")


def test_feed_waits_for_the_reader_and_delivers_everything(tmp_path: Path) -> None:
    gate = tmp_path / "gate.json"
    make_gate(gate)
    text = "x" * 1_000_000  # more than a pipe buffer
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(gate.read_text()))
    reader.start()
    feed_gate(gate, text, lambda: True, timeout=30)
    reader.join(30)
    assert got == [text]
    assert (gate.stat().st_mode & 0o777) == 0o600


def test_feed_fails_when_the_child_is_gone(tmp_path: Path) -> None:
    gate = tmp_path / "gate.json"
    make_gate(gate)
    with pytest.raises(GateError, match="exited"):
        feed_gate(gate, "{}", lambda: False, timeout=30)
    with pytest.raises(GateError, match="did not read"):
        feed_gate(gate, "{}", lambda: True, timeout=0.05)
