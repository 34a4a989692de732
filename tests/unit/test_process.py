"""Unit tests for the supervisor's pure logic: argv, config input, ports, output, backoff."""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from envoykit._util import write_atomic
from envoykit.errors import AdminError, ConfigLoadError
from envoykit.process import Backoff, SupervisorState, _epoch
from envoykit.process._launch import (
    EpochPaths,
    LaunchOptions,
    build_argv,
    config_to_dict,
    make_run_dir,
    pin_listener_ports,
    render_config,
    static_listeners,
)
from envoykit.process._output import OutputPump, RingBuffer, envoy_level
from envoykit.process._ports import port_in_use
from envoykit.testing.net import free_port

PATHS = EpochPaths(config=Path("/run/c.json"), admin_address=Path("/run/a.txt"),
                   base_id=Path("/run/b.txt"))


def _listener(name: str, port: int, host: str = "127.0.0.1") -> dict[str, Any]:
    return {"name": name, "address": {"socket_address": {"address": host, "port_value": port}}}


BOOT = {"static_resources": {"listeners": [_listener("a", 0), _listener("b", 8080),
                                           {"name": "p", "address": {"pipe": {"path": "/x"}}}]}}


# --- argv ------------------------------------------------------------------------------
def test_epoch_zero_uses_a_dynamic_base_id_and_persists_it() -> None:
    argv = build_argv("/bin/envoy", LaunchOptions(), epoch=0, paths=PATHS, base_id=None)
    assert argv[:5] == ["/bin/envoy", "-c", "/run/c.json", "--restart-epoch", "0"]
    assert "--use-dynamic-base-id" in argv
    assert argv[argv.index("--base-id-path") + 1] == "/run/b.txt"
    assert "--base-id" not in argv
    assert argv[argv.index("--admin-address-path") + 1] == "/run/a.txt"


def test_later_epochs_reuse_the_base_id() -> None:
    argv = build_argv("/bin/envoy", LaunchOptions(), epoch=3, paths=PATHS, base_id=42)
    assert argv[argv.index("--restart-epoch") + 1] == "3"
    assert argv[argv.index("--base-id") + 1] == "42"
    assert "--use-dynamic-base-id" not in argv


def test_every_epoch_gets_both_drain_times_and_the_options() -> None:
    options = LaunchOptions(
        log_level="debug", component_log_level={"upstream": "debug", "connection": "trace"},
        log_path="/var/log/envoy.log", concurrency=2, drain_time_s=4, parent_shutdown_time_s=6,
        config_yaml={"admin": {"address": {"socket_address": {"port_value": 0}}}},
        extra_args=("--service-node", "n1"),
    )
    for epoch, base_id in ((0, None), (1, 7)):
        argv = build_argv("envoy", options, epoch=epoch, paths=PATHS, base_id=base_id)
        assert argv[argv.index("-l") + 1] == "debug"
        assert argv[argv.index("--drain-time-s") + 1] == "4"
        assert argv[argv.index("--parent-shutdown-time-s") + 1] == "6"
        assert argv[argv.index("--component-log-level") + 1] == "upstream:debug,connection:trace"
        assert argv[argv.index("--log-path") + 1] == "/var/log/envoy.log"
        assert argv[argv.index("--concurrency") + 1] == "2"
        override = json.loads(argv[argv.index("--config-yaml") + 1])
        assert override["admin"]["address"]["socket_address"]["port_value"] == 0
        assert argv[-2:] == ["--service-node", "n1"]
        assert all(isinstance(part, str) for part in argv)


def test_yaml_text_override_is_passed_verbatim() -> None:
    options = LaunchOptions(config_yaml="admin: {}")
    assert options.override_args() == ["--config-yaml", "admin: {}"]
    assert LaunchOptions().override_args() == []


@pytest.mark.parametrize("flag", ["--base-id", "-c", "--restart-epoch", "--drain-time-s=5", "-l"])
def test_extra_args_cannot_override_managed_flags(flag: str) -> None:
    with pytest.raises(ValueError, match="manages it"):
        LaunchOptions(extra_args=(flag, "1"))


def test_negative_drain_time_is_refused() -> None:
    with pytest.raises(ValueError):
        LaunchOptions(drain_time_s=-1)


# --- config input ----------------------------------------------------------------------
class _Model:
    def to_dict(self) -> dict[str, Any]:
        return {"admin": {}}


def test_config_inputs_all_become_a_private_dict(tmp_path: Path) -> None:
    source = {"static_resources": {"listeners": []}}
    copy = config_to_dict(source)
    assert copy == source and copy is not source
    copy["static_resources"]["listeners"].append(1)
    assert source["static_resources"]["listeners"] == []
    assert config_to_dict("admin: {x: 1}") == {"admin": {"x": 1}}
    assert config_to_dict(_Model()) == {"admin": {}}
    (tmp_path / "b.json").write_text('{"a": 1}')
    (tmp_path / "b.yaml").write_text("a: 2\n")
    assert config_to_dict(tmp_path / "b.json") == {"a": 1}
    assert config_to_dict(tmp_path / "b.yaml") == {"a": 2}


def test_yaml_with_a_tab_names_the_line() -> None:
    text = "static_resources:\n  clusters:\n  - name: x\n\tconnect_timeout: 1s\n"
    with pytest.raises(ConfigLoadError) as info:
        config_to_dict(text)
    assert info.value.line == 4


def test_bad_json_file_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n  "a": 1,\n}\n')
    with pytest.raises(ConfigLoadError) as info:
        config_to_dict(path)
    # the comma's line (Python 3.13+) or the closing brace's (older)
    assert info.value.line in (2, 3) and str(path) in str(info.value)


def test_a_non_mapping_is_refused() -> None:
    with pytest.raises(ConfigLoadError, match="mapping"):
        config_to_dict("- a\n- b\n")


def test_render_is_json_in_insertion_order() -> None:
    text = render_config({"b": 1, "a": {"c": [1, 2]}})
    assert json.loads(text) == {"b": 1, "a": {"c": [1, 2]}}
    assert text.index('"b"') < text.index('"a"')


# --- run dir and files -----------------------------------------------------------------
def test_run_dir_and_files_are_private(tmp_path: Path) -> None:
    run_dir, owned = make_run_dir(None)
    try:
        assert owned and stat.S_IMODE(run_dir.stat().st_mode) == 0o700
        write_atomic(run_dir / "envoy.json", "{}", fsync=False)
        assert stat.S_IMODE((run_dir / "envoy.json").stat().st_mode) == 0o600
    finally:
        (run_dir / "envoy.json").unlink()
        run_dir.rmdir()
    given, owned = make_run_dir(tmp_path / "mine")
    assert owned and stat.S_IMODE(given.stat().st_mode) == 0o700
    assert make_run_dir(given) == (given, False)


# --- listeners and ports ---------------------------------------------------------------
def test_static_listeners_skip_pipes() -> None:
    found = static_listeners(BOOT)
    assert [(x.name, x.port, x.protocol) for x in found] == [("a", 0, "TCP"), ("b", 8080, "TCP")]


def test_pinning_only_touches_port_zero_listeners_it_knows() -> None:
    pinned = pin_listener_ports(BOOT, {"a": ("127.0.0.1", 4321), "b": ("127.0.0.1", 9)})
    ports = [x.port for x in static_listeners(pinned)]
    assert ports == [4321, 8080]
    assert static_listeners(BOOT)[0].port == 0  # the input is not modified


def test_port_probe_sees_a_listener_and_a_free_port() -> None:
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # like envoy
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert port_in_use("127.0.0.1", port)
    assert not port_in_use("127.0.0.1", port)
    assert not port_in_use("192.0.2.1", 80)  # not a local address: for envoy to report


# --- output ----------------------------------------------------------------------------
@pytest.mark.parametrize(("level", "expected"), [
    ("trace", 5), ("debug", logging.DEBUG), ("info", logging.INFO),
    ("warning", logging.WARNING), ("error", logging.ERROR), ("critical", logging.CRITICAL),
])
def test_envoy_levels_map_to_logging(level: str, expected: int) -> None:
    line = f"[2026-11-25 23:25:23.123][12][{level}][main] [source/server/server.cc:1] hi"
    assert envoy_level(line) == expected


def test_lines_without_a_level_have_none() -> None:
    assert envoy_level("cannot bind '1.2.3.4:80'") is None
    assert envoy_level('[2026-11-25T10:00:00.000Z] "GET / HTTP/1.1" 200') is None


def test_ring_buffer_keeps_the_last_lines() -> None:
    ring = RingBuffer(3)
    ring.extend(["a", "b", "c", "d"])
    assert ring.tail(10) == ["b", "c", "d"]
    assert ring.tail(2) == ["c", "d"]
    assert ring.tail(0) == []
    assert len(ring) == 3


def test_ring_buffer_tail_is_a_consistent_snapshot_while_writers_run() -> None:
    """What readers rely on: every tail() taken while 4 threads write holds whole lines,
    each writer's lines in order, never more than the size; the last tail is the size.
    (The lock itself cannot be observed on CPython, where deque operations are atomic
    under the GIL: this guards the contract, not the lock.)"""
    ring = RingBuffer(100)
    tails: list[list[str]] = []

    def write(name: str) -> None:
        for i in range(2000):
            ring.append(f"{name}:{i}")

    writers = [threading.Thread(target=write, args=(name,)) for name in "abcd"]
    for writer in writers:
        writer.start()
    while any(w.is_alive() for w in writers):
        tails.append(ring.tail(100))
    for writer in writers:
        writer.join()
    tails.append(ring.tail(100))
    for tail in tails:
        assert len(tail) <= 100
        for name in "abcd":
            numbers = [int(line.split(":")[1]) for line in tail if line.startswith(name)]
            assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    assert len(tails[-1]) == len(ring) == 100


def test_pump_drains_a_pipe_into_buffer_and_logging(caplog: pytest.LogCaptureFixture) -> None:
    read_fd, write_fd = os.pipe()
    lines = [
        "[2026-11-25 23:25:23.123][12][critical][main] [server.cc:449] error initializing",
        "  /tmp/config.json'",
        "[2026-11-25 23:25:23.124][12][info][main] [server.cc:1] fine",
    ]
    with os.fdopen(write_fd, "wb") as writer:
        writer.write(("\n".join(lines) + "\n").encode())
    ring = RingBuffer(10)
    caplog.set_level(logging.DEBUG, logger="envoykit.envoy")
    pump = OutputPump(os.fdopen(read_fd, "rb"), ring, name="test", extra={"envoy_pid": 12})
    pump.start().join(5)
    assert ring.tail() == lines
    levels = [r.levelno for r in caplog.records if r.name == "envoykit.envoy"]
    assert levels == [logging.CRITICAL, logging.CRITICAL, logging.INFO]
    assert all(getattr(r, "envoy_pid", None) == 12 for r in caplog.records)


# --- backoff and state -----------------------------------------------------------------
def test_backoff_doubles_up_to_the_cap_then_gives_up() -> None:
    backoff = Backoff(initial=0.1, cap=0.5, max_quick_failures=5, stable_after=10)
    delays = [backoff.record_crash(live_for=1.0) for _ in range(6)]
    assert delays == [0.1, 0.2, 0.4, 0.5, 0.5, None]


def test_a_stable_run_resets_the_backoff() -> None:
    backoff = Backoff(initial=1, cap=60, max_quick_failures=3, stable_after=10)
    assert backoff.record_crash(0) == 1
    assert backoff.record_crash(0) == 2
    assert backoff.record_crash(live_for=30) == 1
    backoff.reset()
    assert backoff.quick_failures == 0


def test_states_have_plain_names() -> None:
    assert {s.value for s in SupervisorState} == {
        "stopped", "starting", "live", "restarting", "draining", "failed"}


def test_a_bootstrap_without_admin_gets_a_loopback_one() -> None:
    from envoykit.process._launch import with_admin

    added = with_admin({"static_resources": {}})
    assert added["admin"]["address"]["socket_address"] == {"address": "127.0.0.1",
                                                           "port_value": 0}
    kept = {"admin": {"address": {"pipe": {"path": "/run/admin.sock"}}}}
    assert with_admin(kept) is kept
    override = {"admin": {"address": {"pipe": {"path": "/x"}}}}
    assert "admin" not in with_admin({}, override)
    assert "admin" not in with_admin({}, "admin: {address: {pipe: {path: /x}}}")


# --- the validation memo -----------------------------------------------------------------


def test_validation_memo_keys_on_content_flags_and_named_files(tmp_path: Path) -> None:
    from envoykit.process._memo import ValidationMemo

    cert = tmp_path / "cert.pem"
    cert.write_text("one")
    data = {"static_resources": {"secrets": [{"tls_certificate": {
        "certificate_chain": {"filename": str(cert)}}}]}}
    memo = ValidationMemo(LaunchOptions(), size=2)
    key = memo.key(data)
    memo.remember(key)
    assert key in memo and memo.key(data) == key
    cert.write_text("two, longer")  # the file a config names changed: validate again
    assert memo.key(data) not in memo
    assert ValidationMemo(LaunchOptions(config_yaml="admin: {}")).key(data) != key
    memo.remember("b")
    memo.remember("c")  # the oldest of more than `size` keys is forgotten
    assert key not in memo and "b" in memo and "c" in memo


def _serve_once(status: int, body: bytes) -> tuple[str, threading.Thread]:
    """A one-request HTTP server on loopback answering ``status`` with ``body``."""
    server = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        conn, _ = server.accept()
        with conn, server:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 %d X\r\ncontent-length: %d\r\n\r\n%s"
                         % (status, len(body), body))

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return f"127.0.0.1:{server.getsockname()[1]}", thread


def test_listeners_of_a_starting_epoch_over_plain_http() -> None:
    """``start()`` reads the bound listeners with one plain GET; every failure is an
    AdminError (which ``start()`` turns into NotReady), never a stray OSError."""
    good = b'{"listener_statuses": [{"name": "ingress", "local_address": ' \
           b'{"socket_address": {"address": "127.0.0.1", "port_value": 8080}}}]}'
    address, thread = _serve_once(200, good)
    assert _epoch._listeners(address) == {"ingress": ("127.0.0.1", 8080)}
    thread.join(10)
    for status, body, message in ((503, b"", "answered 503"), (200, b"{", "/listeners")):
        address, thread = _serve_once(status, body)
        with pytest.raises(AdminError, match=message):
            _epoch._listeners(address)
        thread.join(10)
    with pytest.raises(AdminError, match="/listeners"):
        _epoch._listeners(f"127.0.0.1:{free_port()}")  # nobody listens
