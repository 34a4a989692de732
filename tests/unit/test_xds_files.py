"""The atomic writer, the confirmation logic (with a fake admin) and the report."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest

from envoykit.admin import StatsSnapshot
from envoykit.xds import (
    ApplyReport,
    Confirmer,
    Counts,
    ResourceChange,
    Step,
    XdsFile,
    XdsUpdateRejected,
    write_atomic,
)
from envoykit.xds._confirm import reason_from_log, stats_regex
from envoykit.xds._files import remove_file

# --- the atomic writer ----------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_atomic_makes_private_files_in_private_directories(tmp_path: Path) -> None:
    target = tmp_path / "xds" / "rds" / "r1" / "rds.json"
    write_atomic(target, "{}")
    assert target.read_text() == "{}"
    assert mode(target) == 0o600
    for directory in (tmp_path / "xds", tmp_path / "xds" / "rds", target.parent):
        assert mode(directory) == 0o700


def test_write_atomic_replaces_by_a_rename_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "lds.json"
    write_atomic(target, "old")
    inode = target.stat().st_ino
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert target.stat().st_ino != inode  # a new file moved in: what envoy watches for
    assert os.listdir(tmp_path) == ["lds.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "cds.json"
    write_atomic(target, "old")

    def broken(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, "new")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["cds.json"]


def test_resource_files_are_written_atomically_without_fsync(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # they only carry the config to the running envoy and are all rewritten at start:
    # an fsync would cost every apply() milliseconds for nothing (docs/dynamic.md)
    def no_fsync(fd: int) -> None:
        raise AssertionError("a resource file was fsynced")

    monkeypatch.setattr(os, "fsync", no_fsync)
    item = XdsFile("route", "local", tmp_path / "rds" / "local" / "rds.json",
                   ({"name": "local"},))
    path = item.write()
    assert path.read_text() == item.render()
    assert mode(path) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["rds.json"]  # no temp file left


def test_remove_file_removes_its_empty_directory(tmp_path: Path) -> None:
    target = tmp_path / "eds" / "x" / "eds.json"
    write_atomic(target, "{}")
    remove_file(target)
    remove_file(target)  # twice is fine
    assert not target.parent.exists() and (tmp_path / "eds").exists()


# --- stats and confirmation -----------------------------------------------------------------

ROUTE = XdsFile("route", "local", Path("/x/rds/local/rds.json"), ({"name": "local"},))


def snap(success: int, rejected: int = 0, failure: int = 0, version: str = "v0",
         prefix: str = "http.ingress.rds.local") -> StatsSnapshot:
    return StatsSnapshot(
        counters={f"{prefix}.update_success": success, f"{prefix}.update_rejected": rejected,
                  f"{prefix}.update_failure": failure},
        text_readouts={f"{prefix}.version_text": version})


@pytest.mark.parametrize(("kind", "name", "stat"), [
    ("listener", "", "listener_manager.lds.update_success"),
    ("listener", "", "listener_manager.total_listeners_warming"),
    ("cluster", "", "cluster_manager.cds.version_text"),
    ("cluster", "", "cluster_manager.warming_clusters"),
    ("route", "https_a.example.com", "http.https_a.rds.https_a.example.com.update_rejected"),
    ("endpoints", "a_example_com", "cluster.a_example_com.update_failure"),
    ("secret", "https.a.cert0", "sds.https.a.cert0.version_text"),
])
def test_stats_regex_selects_the_subscription(kind: str, name: str, stat: str) -> None:
    assert re.search(stats_regex(kind, name), stat)


def test_stats_regex_is_exact_about_names() -> None:
    assert not re.search(stats_regex("route", "a.b"), "http.x.rds.aXb.update_success")
    assert not re.search(stats_regex("secret", "s1"), "sds.s10.update_success")


def test_counts_took_and_refused() -> None:
    before = Counts.of(snap(1), "route")
    assert Counts.of(snap(2, version=ROUTE.version), "route").took(ROUTE.version)
    assert not Counts.of(snap(2, version="v0"), "route").took(ROUTE.version)
    assert Counts.of(snap(1, rejected=1), "route").refused_since(before)
    assert Counts.of(snap(1, failure=1), "route").refused_since(before)
    assert not Counts.of(snap(5), "route").refused_since(before)
    warming = StatsSnapshot(counters={"listener_manager.lds.update_success": 2},
                            gauges={"listener_manager.total_listeners_warming": 1},
                            text_readouts={"listener_manager.lds.version_text": "v"})
    assert not Counts.of(warming, "listener").took("v")


class FakeAdmin:
    """Answers ``stats()`` with the next snapshot of a script."""

    def __init__(self, *snapshots: StatsSnapshot) -> None:
        self.snapshots = list(snapshots)
        self.filters: list[str] = []

    def stats(self, filter: str | None = None, **_: Any) -> StatsSnapshot:
        self.filters.append(filter or "")
        return self.snapshots.pop(0) if len(self.snapshots) > 1 else self.snapshots[0]


def confirmer(admin: FakeAdmin, tail: list[str], timeout: float = 1.0) -> Confirmer:
    return Confirmer(lambda: admin, lambda: tail, timeout=timeout)  # type: ignore[arg-type,return-value]


def test_confirmer_waits_for_the_new_version() -> None:
    admin = FakeAdmin(snap(1), snap(1), snap(2, version=ROUTE.version))
    check = confirmer(admin, [])
    before = check.baseline(ROUTE)
    assert check.wait(ROUTE, before).success == 2
    assert len(admin.filters) == 3 and all("rds" in f for f in admin.filters)


def test_confirmer_remembers_counters_between_updates_of_one_file() -> None:
    admin = FakeAdmin(snap(1), snap(2, version=ROUTE.version))
    generation = [1]
    check = Confirmer(lambda: admin, lambda: [], generation=lambda: generation[0])  # type: ignore[arg-type,return-value]
    check.wait(ROUTE, check.baseline(ROUTE))
    calls = len(admin.filters)
    assert check.baseline(ROUTE).success == 2 and len(admin.filters) == calls  # remembered
    generation[0] = 2  # another envoy process: ask again
    check.baseline(ROUTE)
    assert len(admin.filters) == calls + 1


REFUSAL = [
    "[2026-11-25 23:41:22.011][28029][info][main] [source/server/server.cc:989] runtime: {}",
    "[2026-11-25 23:41:22.968][28029][warning][config] [source/extensions/config_subscription/"
    "filesystem/filesystem_subscription_impl.cc:81] Filesystem config update rejected: "
    "Invalid duration: Expected positive duration: goo.gle/debugproto",
    "seconds: -1",
    "[2026-11-25 23:41:23.170][28029][info][upstream] [source/common/listener_manager/"
    "lds_api.cc:110] lds: add/update listener 'l1'",
]


def test_confirmer_raises_with_envoys_reason() -> None:
    check = confirmer(FakeAdmin(snap(1), snap(1, rejected=1)), REFUSAL)
    with pytest.raises(XdsUpdateRejected) as refused:
        check.wait(ROUTE, check.counts(ROUTE))
    error = refused.value
    assert error.kind == "route" and error.path == str(ROUTE.path)
    assert error.reason == ("Filesystem config update rejected: Invalid duration: Expected "
                            "positive duration: goo.gle/debugproto seconds: -1")
    assert "the previous config keeps serving" in str(error) and "envoy said:" in str(error)


def test_confirmer_gives_up_after_its_timeout() -> None:
    check = confirmer(FakeAdmin(snap(1)), [], timeout=0.05)
    with pytest.raises(XdsUpdateRejected, match="did not confirm"):
        check.wait(ROUTE, check.counts(ROUTE))


def test_reason_from_log_without_a_refusal() -> None:
    assert reason_from_log(REFUSAL[:1]) == ""
    failure = ("[t][1][warning][config] [x.cc:128] Filesystem config update failure: in "
               "/x/rds.json, Unable to parse JSON as proto")
    assert reason_from_log([failure]).startswith("Filesystem config update failure: in /x")


# --- the report ---------------------------------------------------------------------------


def test_report_text_and_dict() -> None:
    report = ApplyReport(
        "files", (ResourceChange("route", "http", "changed"),), (),
        (Step("check", 0.5), Step("write", 3.25, "route", "http", "/x/rds.json", "abc", True)),
        False, 10, 10, 0, 0, 4.0)
    text = str(report)
    assert text.splitlines()[0] == "files: changed route 'http' (4.0 ms)"
    assert "write ✓" in text and "envoy --mode validate: no" in text
    assert not report.restarted
    data = report.to_dict()
    assert data["changes"] == [{"kind": "route", "name": "http", "action": "changed"}]
    assert data["steps"][1]["confirmed"] is True and data["steps"][1]["ms"] == 3.25


def test_the_reason_is_looked_for_after_the_mark_only() -> None:
    old = REFUSAL[1]
    lines = [old, "[t][1][info][main] [x.cc:1] mark line"]
    check = confirmer(FakeAdmin(snap(1), snap(1, rejected=1)), lines)
    mark = check.log_mark()
    lines.append("[t][1][warning][config] [x.cc:81] Filesystem config update rejected: new one")
    with pytest.raises(XdsUpdateRejected) as refused:
        check.wait(ROUTE, check.baseline(ROUTE), mark)
    assert refused.value.reason == "Filesystem config update rejected: new one"


def test_a_long_reason_is_cut() -> None:
    line = "[t][1][warning][config] [x.cc:1] Filesystem config update failure: " + "x" * 900
    assert len(reason_from_log([line, "{", '"resources": []'])) == 600
