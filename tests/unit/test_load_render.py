"""Loading envoy YAML/JSON (with file:line errors) and deterministic rendering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from envoykit import ConfigLoadError, ModelError, load_bootstrap, to_json, to_yaml

DATA = Path(__file__).parent.parent / "data"


def test_seed_demo_loads_and_renders_back_equivalent() -> None:
    path = DATA / "seed_demo.yaml"
    bootstrap = load_bootstrap(path)
    original = yaml.safe_load(path.read_text())
    assert yaml.safe_load(to_yaml(bootstrap)) == original
    assert json.loads(to_json(bootstrap)) == original


def test_seed_demo_with_its_tab_names_the_line() -> None:
    path = DATA / "seed_demo_tab.yaml"
    tab_line = next(i for i, ln in enumerate(path.read_text().splitlines(), 1) if "\t" in ln)
    with pytest.raises(ConfigLoadError) as info:
        load_bootstrap(path)
    assert info.value.line == tab_line
    assert f"seed_demo_tab.yaml:{tab_line}" in str(info.value)
    assert "tab" in str(info.value)


def test_rendering_is_deterministic() -> None:
    first = to_yaml(load_bootstrap(DATA / "seed_demo.yaml"))
    second = to_yaml(load_bootstrap(DATA / "seed_demo.yaml"))
    assert first == second
    assert to_json(load_bootstrap(DATA / "seed_demo.yaml")) == to_json(
        load_bootstrap(DATA / "seed_demo.yaml"))


def test_field_errors_carry_path_and_line(tmp_path: Path) -> None:
    text = (DATA / "seed_demo.yaml").read_text().replace("port_value: 443", "port_value: 99999")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "99999" in ln)
    with pytest.raises(ModelError) as info:
        load_bootstrap(bad)
    message = str(info.value)
    assert "bad.yaml" in message
    assert "socket_address.port_value" in message
    assert f"(line {line})" in message


def test_unknown_top_level_field_is_an_error_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("admin: {}\nstatic_resource: {}\n")
    with pytest.raises(ModelError) as info:
        load_bootstrap(bad)
    assert info.value.issues[0].path.startswith("static_resource")
    assert "(line 2)" in str(info.value)


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "dup.yaml"
    bad.write_text("admin:\n  address: {pipe: {path: /tmp/a}}\nadmin: {}\n")
    with pytest.raises(ConfigLoadError, match=r"dup.yaml:3: .*duplicate key 'admin'"):
        load_bootstrap(bad)


def test_json_syntax_errors_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "admin": {\n  }\n  "x": 1\n}\n')
    with pytest.raises(ConfigLoadError, match=r"bad.json:4"):
        load_bootstrap(bad)


def test_yaml_text_loads_too() -> None:
    bootstrap = load_bootstrap("admin:\n  address:\n    pipe: {path: /tmp/admin.sock, mode: 384}\n")
    assert bootstrap.admin is not None and bootstrap.admin.address is not None
    assert bootstrap.admin.address.pipe is not None
    assert bootstrap.admin.address.pipe.mode == 0o600


def test_missing_file_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigLoadError, match="cannot read"):
        load_bootstrap(tmp_path / "nope.yaml")


def test_top_level_list_is_refused() -> None:
    with pytest.raises(ConfigLoadError, match="expected a mapping"):
        load_bootstrap("- a\n- b\n")


def test_syntax_error_at_the_end_of_the_text_names_the_line() -> None:
    with pytest.raises(ConfigLoadError, match=r"<string>:2"):
        load_bootstrap("admin: [\n")
