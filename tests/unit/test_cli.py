"""The envoykit command in-process: parsing, exit codes, render/validate/diff, messages.

Nothing here runs envoy: validate uses --no-envoy, version gets a missing binary, and the
admin commands only meet a closed port.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from envoykit import Bootstrap, EdgeProxy, SemanticError, to_yaml
from envoykit._cli.run import _prepared
from envoykit._cli.source import UsageError, parse_source
from envoykit._cli.status import format_status
from envoykit.cli import build_parser, main

EDGE_PY = """
from __future__ import annotations

import dataclasses

import envoykit

@dataclasses.dataclass
class Settings:  # a dataclass needs its module in sys.modules while it is created
    port: int = 10000

def _proxy(port):
    return (envoykit.EdgeProxy("edge")
            .site("a.example.com", "127.0.0.20:8080")
            .http(port=port).admin(port=0))

edge = _proxy(Settings().port)
other = _proxy(10001)
bootstrap_dict = edge.build().to_dict()

def make():
    return _proxy(10002)

def clash():
    proxy = _proxy(10003)
    proxy.build()
    data = proxy.build().to_dict()
    data["static_resources"]["listeners"].append(data["static_resources"]["listeners"][0])
    return data

def boom():
    raise RuntimeError("the config generator broke")

number = 42

def chatty():
    print("generating the config...")
    return edge
"""


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with edge.py and two rendered YAML configs."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "edge.py").write_text(EDGE_PY)
    old = EdgeProxy("e").site("a.example.com", "127.0.0.20:8080").http(port=10000).admin(port=0)
    new = EdgeProxy("e").site("a.example.com", "127.0.0.21:8080").http(port=10000).admin(port=0)
    (tmp_path / "old.yaml").write_text(to_yaml(old))
    (tmp_path / "new.yaml").write_text(to_yaml(new))
    return tmp_path


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on (bound, not listening: connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- parsing and help ----------------------------------------------------------------------


@pytest.mark.parametrize("command", ["render", "validate", "diff", "run", "stats", "status",
                                     "version", "demo"])
def test_every_command_has_help(capsys: pytest.CaptureFixture[str], command: str) -> None:
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    assert "usage:" in out and command in out


def test_top_level_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("render", "validate", "diff", "run", "stats", "status", "demo", "version"):
        assert command in out


@pytest.mark.parametrize("argv", [
    [],
    ["frobnicate"],
    ["render"],
    ["render", "edge.py", "--format", "toml"],
    ["diff", "old.yaml"],
    ["run", "edge.py", "-l", "loud"],
    ["run", "edge.py", "--component-log-level", "upstream=debug"],
    ["run", "edge.py", "--component-log-level", "upstream:loud"],
    ["run", "edge.py", "--concurrency", "0"],
    ["run", "edge.py", "--watch-interval", "soon"],
    ["stats"],
    ["stats", "--admin", "localhost"],
    ["stats", "--admin", "127.0.0.1:99999"],
    ["stats", "--admin", "127.0.0.1:9901", "--filter", "(unclosed"],
    ["status", "--admin", "127.0.0.1:9901", "--interval", "-1"],
])
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], work: Path,
                             argv: list[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert "error:" in err
    assert out == ""


@pytest.mark.parametrize("argv", [
    ["render", "missing.yaml"],
    ["render", "missing.py:edge"],
    ["validate", "no.such.module:edge", "--no-envoy"],
    ["render", "edge.py:nothing"],
    ["diff", "old.yaml", "missing.yaml"],
    ["run", "missing.yaml"],
    ["render", "old.yaml:edge"],
])
def test_missing_files_and_attributes_exit_2(capsys: pytest.CaptureFixture[str], work: Path,
                                             argv: list[str]) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith("envoykit: error: ")
    assert "Traceback" not in err


# --- render --------------------------------------------------------------------------------


def test_render_python_file_default_attribute(capsys: pytest.CaptureFixture[str],
                                              work: Path) -> None:
    code, out, _ = run(capsys, "render", "edge.py")
    assert code == 0
    listener = yaml.safe_load(out)["static_resources"]["listeners"][0]
    assert listener["address"]["socket_address"]["port_value"] == 10000


@pytest.mark.parametrize(("spec", "port"), [
    ("edge.py:other", 10001),  # a builder
    ("edge.py:make", 10002),  # a zero-argument callable
    ("edge.py:bootstrap_dict", 10000),  # a bootstrap dict
    ("old.yaml", 10000),  # envoy YAML
])
def test_render_sources(capsys: pytest.CaptureFixture[str], work: Path, spec: str,
                        port: int) -> None:
    code, out, _ = run(capsys, "render", spec, "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["static_resources"]["listeners"][0]["address"]["socket_address"][
        "port_value"] == port


def test_render_module_spec(capsys: pytest.CaptureFixture[str], work: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    package = work / "deploycfg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "prod.py").write_text(EDGE_PY)
    monkeypatch.syspath_prepend(str(work))
    monkeypatch.delitem(sys.modules, "deploycfg", raising=False)
    code, out, _ = run(capsys, "render", "deploycfg.prod:other")
    assert code == 0
    assert "port_value: 10001" in out
    assert parse_source("deploycfg.prod").watched_path() == package / "prod.py"


def test_render_to_file(capsys: pytest.CaptureFixture[str], work: Path) -> None:
    target = work / "out" / "envoy.json"
    target.parent.mkdir()
    code, out, err = run(capsys, "render", "edge.py", "--format", "json", "-o", str(target))
    assert code == 0
    assert out == ""
    assert "wrote" in err
    assert json.loads(target.read_text())["admin"]
    assert [p.name for p in target.parent.iterdir()] == ["envoy.json"]  # no temp file left


def test_render_yaml_with_a_tab_names_the_line(capsys: pytest.CaptureFixture[str],
                                               work: Path) -> None:
    (work / "tab.yaml").write_text("admin:\n  address:\n\tsocket_address: {}\n")
    code, out, err = run(capsys, "render", "tab.yaml")
    assert code == 1
    assert out == ""
    assert "tab.yaml:3" in err and "tab" in err
    assert "Traceback" not in err


def test_render_reports_model_errors_with_field_path(capsys: pytest.CaptureFixture[str],
                                                     work: Path) -> None:
    (work / "bad.yaml").write_text("static_resources:\n  clusters:\n  - name: c\n"
                                   "    connect_timeout: soon\n")
    code, _, err = run(capsys, "render", "bad.yaml")
    assert code == 1
    assert "static_resources.clusters[0].connect_timeout" in err


def test_render_rejects_a_value_that_is_no_config(capsys: pytest.CaptureFixture[str],
                                                  work: Path) -> None:
    code, _, err = run(capsys, "render", "edge.py:number")
    assert code == 1
    assert "int" in err and "builder" in err


def test_user_code_exception_is_one_line_with_file_and_line(
    capsys: pytest.CaptureFixture[str], work: Path
) -> None:
    code, _, err = run(capsys, "render", "edge.py:boom")
    assert code == 1
    assert "RuntimeError: the config generator broke" in err
    assert "edge.py:" in err
    assert "Traceback" not in err
    assert err.count("\n") == 1


# --- validate ------------------------------------------------------------------------------


def test_validate_no_envoy_ok(capsys: pytest.CaptureFixture[str], work: Path) -> None:
    code, out, _ = run(capsys, "validate", "edge.py", "--no-envoy")
    assert code == 0
    assert out.startswith("ok: edge.py passed")


def test_validate_semantic_errors_name_the_path(capsys: pytest.CaptureFixture[str],
                                                work: Path) -> None:
    code, out, err = run(capsys, "validate", "edge.py:clash", "--no-envoy")
    assert code == 1
    assert out == ""
    assert "static_resources.listeners[1].name" in err
    assert "duplicate name" in err


def test_validate_json(capsys: pytest.CaptureFixture[str], work: Path) -> None:
    code, out, _ = run(capsys, "validate", "edge.py:clash", "--no-envoy", "--json")
    assert code == 1
    result = json.loads(out)
    assert result["ok"] is False
    assert result["stage"] == "check"
    assert result["envoy"] == "skipped"
    assert {"path": "static_resources.listeners[1].name",
            "message": "duplicate name 'http'"} in result["issues"]


def test_validate_json_ok(capsys: pytest.CaptureFixture[str], work: Path) -> None:
    code, out, _ = run(capsys, "validate", "old.yaml", "--no-envoy", "--json")
    assert code == 0
    assert json.loads(out) | {"config": "x"} == {
        "config": "x", "ok": True, "stage": None, "issues": [], "envoy": "skipped",
        "error": None}


def test_validate_json_load_error(capsys: pytest.CaptureFixture[str], work: Path) -> None:
    (work / "broken.yaml").write_text("admin: {}\nadmin: {}\n")
    code, out, err = run(capsys, "validate", "broken.yaml", "--no-envoy", "--json")
    assert code == 1
    result = json.loads(out)
    assert result["stage"] == "load"
    assert result["issues"][0]["path"].startswith("broken.yaml:")
    assert err == ""


def test_validate_missing_binary_exits_1(capsys: pytest.CaptureFixture[str], work: Path) -> None:
    code, _, err = run(capsys, "validate", "old.yaml", "--envoy", str(work / "no-envoy"))
    assert code == 1
    assert "does not exist" in err


# --- diff ----------------------------------------------------------------------------------


def test_diff_text(capsys: pytest.CaptureFixture[str], work: Path) -> None:
    code, out, _ = run(capsys, "diff", "old.yaml", "new.yaml")
    assert code == 0
    assert "~ cluster a_example_com (changed)" in out
    assert '"127.0.0.20" → "127.0.0.21"' in out
    assert out.rstrip().endswith("1 change(s): 0 added, 0 removed, 1 changed")


def test_diff_exit_code(capsys: pytest.CaptureFixture[str], work: Path) -> None:
    assert run(capsys, "diff", "old.yaml", "new.yaml", "--exit-code")[0] == 1
    code, out, _ = run(capsys, "diff", "old.yaml", "old.yaml", "--exit-code")
    assert code == 0
    assert out == "no differences\n"


def test_diff_python_against_yaml(capsys: pytest.CaptureFixture[str], work: Path) -> None:
    (work / "rendered.yaml").write_text(run(capsys, "render", "edge.py")[1])
    code, out, _ = run(capsys, "diff", "edge.py", "rendered.yaml", "--exit-code")
    assert (code, out) == (0, "no differences\n")


def test_diff_json(capsys: pytest.CaptureFixture[str], work: Path) -> None:
    code, out, _ = run(capsys, "diff", "edge.py", "edge.py:other", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["equal"] is False
    assert result["changes"] == [{
        "kind": "listener", "name": "http", "action": "changed",
        "fields": [{"path": "address.socket_address.port_value", "action": "changed",
                    "old": 10000, "new": 10001}],
    }]


# --- admin commands, version, demo -----------------------------------------------------------


@pytest.mark.parametrize("command", ["stats", "status"])
def test_admin_unreachable_exits_1(capsys: pytest.CaptureFixture[str], closed_port: int,
                                   command: str) -> None:
    code, out, err = run(capsys, command, "--admin", f"127.0.0.1:{closed_port}", "--json")
    assert code == 1
    assert out == ""
    assert "cannot connect to envoy admin" in err
    assert err.count("\n") == 1


def test_version_without_envoy(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "version", "--json", "--envoy", str(tmp_path / "envoy"))
    assert code == 1
    info = json.loads(out)
    assert info["envoykit"] and info["envoy"] is None
    assert "does not exist" in err


def test_demo_forwards_its_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "demo", "--help")
    assert code == 0
    assert "envoykit demo" in out and "--check" in out


def test_format_status_tables() -> None:
    status = {
        "admin": "http://127.0.0.1:9901",
        "server": {"version": "1.40.0", "state": "LIVE", "epoch": 1, "uptime_s": 75.0,
                   "uptime_all_epochs_s": 3700.0},
        "listeners": {"https": "127.0.0.1:8443"},
        "clusters": {"a": {"hosts": [{"address": "127.0.0.20:8080", "healthy": False,
                                      "health_flags": ["failed_active_health_check"]}],
                           "healthy_hosts": 0, "rq_per_s": 2.5, "rq_total": 10, "rq_4xx": 1,
                           "rq_5xx": 2}},
        "http": {"https": {"rq_per_s": 2.5, "rq_total": 12, "rq_4xx": 3, "rq_5xx": 2}},
        "rate_limited": {"http.https.http_local_rate_limit.rate_limited": 3},
    }
    text = format_status(status)
    assert "state LIVE  epoch 1  uptime 1m15s (all epochs 1h01m40s)" in text
    assert textwrap.dedent("""\
        LISTENER  ADDRESS
        https     127.0.0.1:8443""") in text
    assert "a        0/1      2.5   10     1    2    127.0.0.20:8080 (unhealthy)" in text
    assert "https               2.5   12     3    2" in text
    assert "http.https.http_local_rate_limit.rate_limited  3" in text


def test_parse_source_kinds(work: Path) -> None:
    assert parse_source("edge.py").kind == "file"
    assert parse_source("edge.py:other").attr == "other"
    assert parse_source("old.yaml").kind == "data"
    assert parse_source("json:dumps").kind == "module"
    with pytest.raises(UsageError, match="not a Python attribute"):
        parse_source("edge.py:not-a-name")


def test_docs_describe_every_command_and_flag() -> None:
    """docs/cli.md has a section per command naming each of its flags (and no stale ones)."""
    docs = (Path(__file__).parents[2] / "docs" / "cli.md").read_text()
    sections = dict(re.findall(r"^## `envoykit ([\w-]+)`\n(.*?)(?=^## |\Z)", docs, re.M | re.S))
    commands = next(a.choices for a in build_parser()._actions
                    if isinstance(a, argparse._SubParsersAction))
    assert set(sections) == set(commands)
    for name, sub in commands.items():
        flags = {o for a in sub._actions for o in a.option_strings if o not in ("-h", "--help")}
        documented = set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", sections[name]))
        assert flags <= documented, f"{name}: undocumented {flags - documented}"


def test_prints_of_the_config_code_go_to_stderr(capsys: pytest.CaptureFixture[str],
                                                work: Path) -> None:
    code, out, err = run(capsys, "render", "edge.py:chatty", "--format", "json")
    assert code == 0
    assert json.loads(out)["admin"]
    assert "generating the config..." in err


def test_run_gives_a_config_without_admin_a_loopback_admin() -> None:
    data = EdgeProxy("e").site("a.example.com", "127.0.0.20:8080").http(port=0).to_dict()
    data.pop("admin", None)
    prepared = _prepared(Bootstrap.from_dict(data)).to_dict()
    assert prepared["admin"]["address"] == {
        "socket_address": {"address": "127.0.0.1", "port_value": 0}}
    with_admin = EdgeProxy("e").site("a.example.com", "127.0.0.20:8080").http(port=0).admin(
        port=9901)
    assert _prepared(with_admin.build()) == with_admin.build()


def test_run_refuses_a_config_that_fails_the_checks() -> None:
    data = EdgeProxy("e").site("a.example.com", "127.0.0.20:8080").http(port=0).to_dict()
    data["static_resources"]["clusters"] = []
    with pytest.raises(SemanticError, match="unknown cluster"):
        _prepared(Bootstrap.from_dict(data))


def test_docs_python_blocks_run(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The ```python blocks of docs/cli.md run, in order, in one namespace; the first one
    is the docs' edge.py, which the command renders."""
    docs = (Path(__file__).parents[2] / "docs" / "cli.md").read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", docs, re.M | re.S)
    assert len(blocks) >= 2
    namespace: dict[str, object] = {"__name__": "docs_cli"}
    for block in blocks:
        exec(compile(block, "docs/cli.md", "exec"), namespace)
    assert "~ cluster b_example_com (changed)" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path)
    (tmp_path / "edge.py").write_text(blocks[0])
    code, out, _ = run(capsys, "render", "edge.py:staging")
    assert code == 0 and "port_value: 20000" in out


def test_every_command_module_is_assembled() -> None:
    """Each ``envoykit._cli`` module with ``register``/``run`` is a command of ``cli.py``,
    and each command's parser runs its own module."""
    import importlib
    import pkgutil

    import envoykit._cli
    from envoykit.cli import COMMANDS

    modules = [importlib.import_module(f"envoykit._cli.{m.name}")
               for m in pkgutil.iter_modules(envoykit._cli.__path__)]
    commands = [m for m in modules if hasattr(m, "register") and hasattr(m, "run")]
    assert set(commands) == set(COMMANDS)
    parsers = next(a.choices for a in build_parser()._actions
                   if isinstance(a, argparse._SubParsersAction))
    for module in COMMANDS:
        name = module.__name__.rsplit(".", 1)[1].replace("_", "-")  # serve_xds: serve-xds
        assert parsers[name].get_default("handler") is module.run, name


# --- a new user's rough edges ----------------------------------------------------------


def test_validate_a_yaml_file_with_a_control_character_names_file_and_line(
        capsys: pytest.CaptureFixture[str], work: Path) -> None:
    (work / "stray.yaml").write_bytes(b"static_resources:\n  clusters: []\n  x: \"a\x08b\"\n")
    code, out, err = run(capsys, "validate", "stray.yaml")
    assert code == 1
    assert err.startswith("envoykit: error: stray.yaml:3: unacceptable character #x0008")
    assert "Traceback" not in err and out == ""


def test_validate_an_empty_file_fails_unless_allowed(capsys: pytest.CaptureFixture[str],
                                                       work: Path) -> None:
    (work / "empty.yaml").write_text("# nothing here yet\n")
    code, _, err = run(capsys, "validate", "empty.yaml")
    assert code == 1
    assert "empty.yaml:1: the config is empty" in err
    code, out, _ = run(capsys, "validate", "--allow-empty", "--no-envoy", "empty.yaml")
    assert code == 0 and out.startswith("ok: empty.yaml")


def test_render_to_a_directory_that_does_not_exist_is_a_clean_error(
        capsys: pytest.CaptureFixture[str], work: Path) -> None:
    code, out, err = run(capsys, "render", "edge.py", "-o", "/no/such/dir/envoy.yaml")
    assert code == 2
    assert err == ("envoykit: error: cannot write /no/such/dir/envoy.yaml: "
                   "No such file or directory\n")
    assert out == ""
