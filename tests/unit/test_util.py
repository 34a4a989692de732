"""The private helpers: atomic writes (private or keeping the file's mode), host:port."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from envoykit._util import (
    host_port,
    listener_address,
    private_directory,
    split_host_port,
    url,
    write_atomic,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("fsync", [True, False])
def test_private_write_is_0600_in_0700_and_atomic(tmp_path: Path, fsync: bool) -> None:
    target = tmp_path / "run" / "config.json"
    write_atomic(target, "{}", fsync=fsync)
    inode = target.stat().st_ino
    write_atomic(target, b"{1}", fsync=fsync)
    assert target.read_bytes() == b"{1}" and target.stat().st_ino != inode
    assert mode(target) == 0o600 and mode(target.parent) == 0o700
    assert os.listdir(target.parent) == ["config.json"]


def test_public_write_keeps_the_file_mode_and_leaves_the_directory(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    target = tmp_path / "envoy.yaml"
    target.write_text("old")
    target.chmod(0o644)
    write_atomic(target, "new", private=False, fsync=False)
    assert target.read_text() == "new"
    assert mode(target) == 0o644 and mode(tmp_path) == 0o755
    fresh = tmp_path / "fresh.yaml"
    umask = os.umask(0o022)
    try:
        write_atomic(fresh, "x", private=False)
    finally:
        os.umask(umask)
    assert mode(fresh) == 0o644


def test_private_directory_makes_each_missing_level_0700(tmp_path: Path) -> None:
    made = private_directory(tmp_path / "a" / "b")
    assert mode(tmp_path / "a") == 0o700 and mode(made) == 0o700
    temporary = private_directory(prefix="envoykit-test-")
    try:
        assert temporary.name.startswith("envoykit-test-") and mode(temporary) == 0o700
    finally:
        temporary.rmdir()


def test_host_port_brackets_ipv6() -> None:
    assert host_port("127.0.0.1", 9901) == "127.0.0.1:9901"
    assert host_port("::1", 9901) == "[::1]:9901"
    assert host_port("[::1]", 80) == "[::1]:80"


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_split_host_port_undoes_host_port(host: str) -> None:
    assert split_host_port(host_port(host, 9901)) == (host, 9901)


@pytest.mark.parametrize("text", ["unix:/run/admin.sock", "127.0.0.1", ":9901", "a:b"])
def test_split_host_port_names_what_it_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=rf"admin address {re.escape(repr(text))}: expected"):
        split_host_port(text, "admin address")
    assert url("https", "::1", 443, "/x") == "https://[::1]:443/x"


def test_listener_address_names_the_listeners_there_are() -> None:
    bound = {"https": ("127.0.0.1", 8443), "http": ("127.0.0.1", 8080)}
    assert listener_address(bound, "http") == ("127.0.0.1", 8080)
    with pytest.raises(KeyError, match=r"'admin'; listeners: \['http', 'https'\]"):
        listener_address(bound, "admin")
