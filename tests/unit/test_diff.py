"""envoykit.diff: resources matched by kind and name, field paths, old → new values."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any

import pytest

from envoykit import EdgeProxy
from envoykit.diff import MISSING, ConfigDiff, FieldChange, diff_configs, diff_resources


def edge(**changes: Any) -> EdgeProxy:
    """A small edge proxy; keyword arguments tweak one thing at a time."""
    proxy = EdgeProxy("edge").site("a.example.com", changes.get("a", "127.0.0.20:8080"))
    if changes.get("b", True):
        proxy = proxy.site("b.example.com", "127.0.0.21:8080")
    proxy = proxy.http(port=changes.get("port", 10000)).admin(port=changes.get("admin", 9901))
    if "rate" in changes:
        proxy = proxy.rate_limit(requests=changes["rate"])
    return proxy


def listener(name: str, port: int, filters: list[str] | None = None) -> dict[str, Any]:
    chain_filters = [{"name": f, "typed_config": {"n": f}} for f in filters or ["hcm"]]
    return {"name": name,
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
            "filter_chains": [{"filters": chain_filters}]}


def bootstrap(*listeners: dict[str, Any], clusters: Sequence[str] = ()) -> dict[str, Any]:
    return {"static_resources": {"listeners": list(listeners),
                                 "clusters": [{"name": c, "type": "STATIC"} for c in clusters]}}


def test_equal_configs_have_no_changes() -> None:
    result = diff_configs(edge().build(), edge().build())
    assert result.is_empty
    assert result.changes == ()
    assert str(result) == "no differences"


def test_reordering_resources_is_no_change() -> None:
    old = bootstrap(listener("a", 1), listener("b", 2), clusters=["x", "y"])
    new = bootstrap(listener("b", 2), listener("a", 1), clusters=["y", "x"])
    assert diff_configs(old, new).is_empty


def test_changed_field_has_path_and_old_and_new_values() -> None:
    result = diff_configs(edge(port=10000).build(), edge(port=10001).build())
    (change,) = result.changes
    assert (change.kind, change.name, change.action) == ("listener", "http", "changed")
    assert change.fields == (FieldChange("address.socket_address.port_value", 10000, 10001),)
    assert "~ listener http" in str(result)
    assert "address.socket_address.port_value: 10000 → 10001" in str(result)


def test_added_and_removed_resources_by_kind_and_name() -> None:
    result = diff_configs(edge(b=True).build(), edge(b=False).build())
    removed = {c.key for c in result.removed}
    assert removed == {("cluster", "b_example_com"), ("virtual_host", "http/b_example_com")}
    assert result.added == ()
    assert "- cluster b_example_com (removed)" in str(result)
    back = diff_configs(edge(b=False).build(), edge(b=True).build())
    assert {c.key for c in back.added} == removed


def test_upstream_address_change_is_reported_on_the_cluster() -> None:
    result = diff_configs(edge(a="127.0.0.20:8080").build(), edge(a="127.0.0.22:8080").build())
    (change,) = result.of_kind("cluster")
    (field,) = change.fields
    assert field.path.endswith("socket_address.address")
    assert (field.old, field.new) == ("127.0.0.20", "127.0.0.22")


def test_singleton_sections_like_admin() -> None:
    result = diff_configs(edge(admin=9901).build(), edge(admin=9902).build())
    (change,) = result.changes
    assert change.key == ("admin", "")
    assert change.fields[0].old == 9901 and change.fields[0].new == 9902


def test_named_lists_are_matched_by_name() -> None:
    old = bootstrap(listener("l", 1, ["a", "c"]))
    new = bootstrap(listener("l", 1, ["a", "b", "c"]))
    (change,) = diff_configs(old, new).changes
    (field,) = change.fields
    assert field.path == "filter_chains[0].filters[b]"
    assert field.action == "added"
    assert field.old is MISSING


def test_reordered_named_list_reports_the_order() -> None:
    old = bootstrap(listener("l", 1, ["a", "b"]))
    new = bootstrap(listener("l", 1, ["b", "a"]))
    (change,) = diff_configs(old, new).changes
    assert change.fields == (FieldChange("filter_chains[0].filters (order)", ["a", "b"],
                                         ["b", "a"]),)


def test_unnamed_lists_are_aligned_so_an_insertion_is_one_change() -> None:
    routes = [{"match": {"prefix": f"/{i}"}} for i in range(4)]
    old = {"admin": {"routes": routes}}
    new = {"admin": {"routes": [routes[0], {"match": {"prefix": "/new"}}, *routes[1:]]}}
    (change,) = diff_configs(old, new).changes
    (field,) = change.fields
    assert field.path == "routes[1]"
    assert field.action == "added"
    assert field.new == {"match": {"prefix": "/new"}}


def test_scalar_lists_are_compared_whole() -> None:
    old = {"admin": {"domains": ["a", "b"]}}
    new = {"admin": {"domains": ["a", "c"]}}
    (field,) = diff_configs(old, new).changes[0].fields
    assert (field.path, field.old, field.new) == ("domains", ["a", "b"], ["a", "c"])


def test_rate_limit_filter_added_to_the_hcm() -> None:
    result = diff_configs(edge().build(), edge(rate=10).build())
    (change,) = result.of_kind("listener")
    paths = [f.path for f in change.fields]
    assert any(p.endswith("http_filters[envoy.filters.http.local_ratelimit]") for p in paths)


def test_route_config_changes_are_not_repeated_on_the_listener() -> None:
    old = edge().build().to_dict()
    new = copy.deepcopy(old)
    hcm = new["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    hcm["typed_config"]["route_config"]["virtual_hosts"][0]["domains"].append("x.example.com")
    result = diff_configs(old, new)
    assert [c.key for c in result.changes] == [("virtual_host", "http/a_example_com")]


def test_private_keys_are_redacted() -> None:
    old = {"static_resources": {"secrets": [{"name": "s", "tls_certificate": {
        "private_key": {"inline_string": "OLD-KEY"}}}]}}
    new = json.loads(json.dumps(old).replace("OLD-KEY", "NEW-KEY"))
    text = str(diff_configs(old, new))
    assert "secret s" in text
    assert "KEY" not in text.replace("<redacted>", "")


def test_to_dict_is_json_ready() -> None:
    result = diff_configs(edge(port=1).build(), edge(port=2, b=False).build())
    data = json.loads(json.dumps(result.to_dict()))
    assert data["summary"] == {"added": 0, "removed": 2, "changed": 1}
    changed = next(c for c in data["changes"] if c["action"] == "changed")
    assert changed["fields"][0] == {"path": "address.socket_address.port_value",
                                    "action": "changed", "old": 1, "new": 2}


def test_builders_and_dicts_are_accepted() -> None:
    assert diff_configs(edge(), edge().build().to_dict()).is_empty


def test_diff_resources_for_lists_of_one_kind() -> None:
    result = diff_resources("listener", [listener("a", 1)], [listener("a", 2), listener("b", 3)])
    assert [(c.name, c.action) for c in result.changes] == [("a", "changed"), ("b", "added")]
    assert result.summary() == "2 change(s): 1 added, 0 removed, 1 changed"


@pytest.mark.parametrize("value", [None, 0, "", False])
def test_falsy_values_still_differ_from_absent(value: Any) -> None:
    result = diff_configs({"admin": {"x": value}}, {"admin": {}})
    (field,) = result.changes[0].fields
    assert field.action == "removed"
    assert field.to_dict() == {"path": "x", "action": "removed", "old": value}


def test_type_change_is_a_change() -> None:
    assert not diff_configs({"admin": {"x": 1}}, {"admin": {"x": True}}).is_empty
    assert isinstance(diff_configs({}, {}), ConfigDiff)


def test_changes_carry_the_whole_resources() -> None:
    old, new = edge(b=True).build().to_dict(), edge(b=False, rate=5).build().to_dict()
    result = diff_configs(old, new)
    (removed,) = [c for c in result.removed if c.kind == "cluster"]
    assert removed.old == old["static_resources"]["clusters"][1]
    assert removed.new is MISSING
    assert removed.to_dict()["old"]["name"] == "b_example_com"
    assert '"name": "b_example_com"' in str(removed)  # a preview of what goes away
    (listener_change,) = result.of_kind("listener")
    assert listener_change.new == new["static_resources"]["listeners"][0]  # routes included
