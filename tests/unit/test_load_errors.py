"""Loading a config: what is read as a path and what as text, and the exact place and
wording of each load error (written from the surviving mutants of ``envoykit/load.py``)."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from envoykit import ConfigLoadError, ModelError, SemanticError, load_bootstrap
from envoykit.errors import Issue
from envoykit.load import load_data, semantic_error


def test_something_that_is_neither_path_nor_text_is_named_by_its_type() -> None:
    with pytest.raises(ConfigLoadError) as info:
        load_data(42)  # type: ignore[arg-type]
    assert str(info.value) == "<string>: expected a path or YAML/JSON text, got int"


def test_a_string_with_a_brace_or_a_newline_is_text_and_one_without_is_a_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_data('{"admin": {}}') == ({"admin": {}}, '{"admin": {}}', "<string>")
    assert load_data("admin: {}\n")[2] == "<string>"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "edge.yaml").write_text("admin: {}\n")
    data, text, name = load_data("edge.yaml")
    assert (data, text, name) == ({"admin": {}}, "admin: {}\n", "edge.yaml")


def test_an_unreadable_path_says_why_and_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigLoadError) as info:
        load_data(missing)
    assert str(info.value) == f"{missing}: cannot read config: No such file or directory"
    assert info.value.source == str(missing) and info.value.line is None


def test_a_file_that_is_not_utf8_names_the_byte_and_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"admin: {}\n# caf\xe9\nnode: {}\n")
    with pytest.raises(ConfigLoadError) as info:
        load_data(bad)
    assert str(info.value) == (f"{bad}:2: not UTF-8 text (byte 0xe9); envoy reads configs "
                               "as UTF-8")
    assert info.value.line == 2
    bad.write_bytes(b"\n\xe9\n")  # a leading blank line is a line too
    with pytest.raises(ConfigLoadError) as info:
        load_data(bad)
    assert info.value.line == 2


def test_a_json_file_is_parsed_as_json(tmp_path: Path) -> None:
    """YAML would accept this text too (as a one-key mapping); JSON refuses the comment."""
    text = '{"admin": {}}\n# a YAML comment is not JSON\n'
    as_yaml, as_json = tmp_path / "c.yaml", tmp_path / "c.json"
    as_yaml.write_text(text)
    as_json.write_text(text)
    assert load_data(as_yaml)[0] == {"admin": {}}
    with pytest.raises(ConfigLoadError) as info:
        load_data(as_json)
    assert str(info.value) == f"{as_json}:2: Extra data"


def test_an_empty_document_is_refused_at_line_one_unless_allowed() -> None:
    with pytest.raises(ConfigLoadError) as info:
        load_data("# only a comment\n")
    assert str(info.value) == ("<string>:1: the config is empty (no YAML/JSON document); pass "
                               "allow_empty=True (--allow-empty) if that is meant")
    assert load_data("# only a comment\n", allow_empty=True)[0] == {}


def test_a_top_level_scalar_is_refused_naming_its_type() -> None:
    with pytest.raises(ConfigLoadError) as info:
        load_data("just text\n")
    assert str(info.value) == "<string>:1: expected a mapping at the top, got str"


def test_a_syntax_error_joins_context_and_problem_and_hints_a_tab_only_on_its_line() -> None:
    with pytest.raises(ConfigLoadError) as info:
        load_data("admin: {\n  a: 1\n")
    message = str(info.value)
    assert message.startswith("<string>:3: while parsing a flow mapping did not find "
                              "expected ',' or '}'")
    assert "tab" not in message
    with pytest.raises(ConfigLoadError) as info:
        load_data("admin:\n\tx: 1\n")
    assert str(info.value) == ("<string>:2: while scanning for the next token found character "
                               "that cannot start any token (a tab character: YAML "
                               "indentation must use spaces)")
    with pytest.raises(ConfigLoadError) as info:
        load_data("\tadmin: {}\n")
    assert info.value.line == 1 and str(info.value).endswith("must use spaces)")


def test_a_tab_elsewhere_than_the_error_line_gives_no_tab_hint() -> None:
    with pytest.raises(ConfigLoadError) as info:
        load_data("a: 'x\ty'\nb: [\n")
    assert info.value.line == 3
    assert "tab" not in str(info.value)


def test_a_control_character_names_its_code_and_line() -> None:
    with pytest.raises(ConfigLoadError) as info:
        load_data('admin: {}\nnode:\n  id: "a\x08b"\n')
    assert str(info.value) == ("<string>:3: unacceptable character #x0008: control "
                               "characters are not allowed")
    assert info.value.line == 3
    with pytest.raises(ConfigLoadError) as info:
        load_data('\nnode: "a\x08b"\n')  # a leading blank line is a line too
    assert info.value.line == 2


def test_a_duplicate_key_names_the_line_of_its_first_use() -> None:
    with pytest.raises(ConfigLoadError) as info:
        load_data("node: {}\nadmin: {}\nnode: {}\n")
    assert str(info.value) == "<string>:3: duplicate key 'node' (first on line 1)"


LISTENERS = """\
static_resources:
  listeners:
  - name: a
    address: {socket_address: {address: 127.0.0.1, port_value: 1}}
  - name: b
    address:
      socket_address:
        address: 127.0.0.1
        port_value: 99999
"""


def test_a_field_error_inside_a_list_names_the_line_of_that_item() -> None:
    with pytest.raises(ModelError) as info:
        load_bootstrap(LISTENERS)
    assert str(info.value).startswith("<string>: invalid Bootstrap:\n  - static_resources")
    [issue] = info.value.issues
    assert issue.path == "static_resources.listeners[1].address.socket_address.port_value (line 9)"
    assert "65535" in issue.message


def test_a_semantic_error_of_a_loaded_file_names_each_issue_line(tmp_path: Path) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text(LISTENERS.replace("99999", "2") + "node:\n  metadata: {v1x: 1}\n")
    bootstrap = load_bootstrap(path)
    paths = {
        "static_resources.listeners[1].address": 6,
        "static_resources.listeners[1]": 5,            # the item itself
        "static_resources.listeners[2]": 2,            # no such item: its list's line
        "static_resources.listeners[a]": 2,            # not an index: its list's line
        "static_resources.nothing_here": 1,            # an unknown key: its parent's line
        "static_resources.listeners[0].name.deeper": 3,  # below a scalar: the scalar's line
        "node.metadata.v1x": 11,                       # a key with digits is a key
    }
    error = semantic_error([Issue(p, "x") for p in [*paths, "[0]"]], bootstrap)
    assert isinstance(error, SemanticError) and error.source == str(path)
    assert [i.path for i in error.issues] == [
        *(f"{p} (line {n})" for p, n in paths.items()),
        "[0]",                                          # not into a mapping: no line
    ]


def test_a_semantic_error_of_an_equal_but_other_config_names_no_file(tmp_path: Path) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text(LISTENERS.replace("99999", "2"))
    other = load_bootstrap(LISTENERS.replace("99999", "2"))
    error = semantic_error([Issue("static_resources", "x")], other.model_copy())
    assert error.source == "" and error.issues == [Issue("static_resources", "x")]


def test_a_forgotten_bootstrap_leaves_no_source_behind() -> None:
    from envoykit import load as load_module

    bootstrap = load_bootstrap(LISTENERS.replace("99999", "2"))
    key = id(bootstrap)
    assert load_module._SOURCES[key][1:] == ("<string>", LISTENERS.replace("99999", "2"))
    del bootstrap
    gc.collect()
    assert key not in load_module._SOURCES
