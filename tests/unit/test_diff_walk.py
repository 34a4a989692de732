"""envoykit.diff in detail: how a bootstrap is split into resources (inline route configs,
virtual hosts, every HTTP connection manager of every chain), the order of the report, the
alignment of unnamed lists and the exact text of each line (written from the surviving
mutants of ``envoykit/diff.py``)."""

from __future__ import annotations

import copy
from typing import Any

from envoykit.diff import MISSING, Change, ConfigDiff, FieldChange, diff_configs, diff_resources

HCM_TYPE = ("type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
            "HttpConnectionManager")


def hcm(rc_name: str | None, *domains: str, by: str = "name") -> dict[str, Any]:
    """An HTTP connection manager filter with an inline route config, found ``by`` its
    filter name or only by its ``@type``."""
    rc: dict[str, Any] = {"virtual_hosts": [{"name": "vh", "domains": list(domains)}]}
    if rc_name is not None:
        rc["name"] = rc_name
    config = {"@type": HCM_TYPE, "stat_prefix": "s", "route_config": rc}
    name = "envoy.filters.network.http_connection_manager" if by == "name" else "custom"
    return {"name": name, "typed_config": config}


def listener(name: str, *chains: dict[str, Any], default: dict[str, Any] | None = None
             ) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "filter_chains": list(chains)}
    if default is not None:
        out["default_filter_chain"] = default
    return out


def config(*listeners: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"static_resources": {"listeners": list(listeners)}, **top}


def keys(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str]]:
    return [c.key for c in diff_configs(old, new).changes]


def test_every_hcm_of_every_chain_is_a_route_config_of_its_own() -> None:
    """Two chains, the second's HCM found by its @type only, and a default chain: a change
    in each one's routes is reported on that route config, not on the listener."""
    old = config(listener("l",
                          {"filters": [hcm("first", "a")]},
                          {"name": "second", "filters": [{"name": "tcp"}, hcm("two", "b", by="t")]},
                          default={"filters": [hcm("dflt", "c")]}))
    new = copy.deepcopy(old)
    chains = new["static_resources"]["listeners"][0]
    chains["filter_chains"][1]["filters"][1]["typed_config"]["route_config"]["virtual_hosts"][0][
        "domains"] = ["b2"]
    chains["default_filter_chain"]["filters"][0]["typed_config"]["route_config"][
        "virtual_hosts"][0]["domains"] = ["c2"]
    assert keys(old, new) == [("virtual_host", "two/vh"), ("virtual_host", "dflt/vh")]


def test_a_route_config_renamed_is_a_listener_change_and_two_route_configs() -> None:
    old = config(listener("l", {"filters": [hcm("r1", "a")]}))
    new = config(listener("l", {"filters": [hcm("r2", "a")]}))
    result = diff_configs(old, new)
    assert [(c.key, c.action) for c in result.changes] == [
        (("listener", "l"), "changed"),
        (("route_config", "r1"), "removed"), (("route_config", "r2"), "added"),
        (("virtual_host", "r1/vh"), "removed"), (("virtual_host", "r2/vh"), "added"),
    ]
    (field,) = result.changes[0].fields
    assert field == FieldChange("filter_chains[0].filters[envoy.filters.network."
                                "http_connection_manager].typed_config.route_config.name",
                                "r1", "r2")


def test_unnamed_or_same_named_route_configs_are_named_by_where_they_are() -> None:
    old = config(listener("l", {"filters": [hcm(None, "a")]}, {"name": "tls",
                                                                 "filters": [hcm("x", "b")]}),
                 listener("m", {"filters": [hcm("x", "c")]}))
    new = copy.deepcopy(old)
    for lst in new["static_resources"]["listeners"]:
        for chain in lst["filter_chains"]:
            chain["filters"][-1]["typed_config"]["route_config"]["virtual_hosts"][0][
                "domains"].append("z")
    assert keys(old, new) == [("virtual_host", "l/filter_chains[0]/vh"),
                              ("virtual_host", "l/tls/x/vh"),
                              ("virtual_host", "m/filter_chains[0]/x/vh")]


def test_unnamed_resources_are_named_by_their_index() -> None:
    old = {"static_resources": {"clusters": [{"type": "STATIC"}],
                                "listeners": [{"filter_chains": [{"filters": [hcm("r", "a")]}],
                                               "per_connection_buffer_limit_bytes": 1}]}}
    new = copy.deepcopy(old)
    new["static_resources"]["clusters"][0]["type"] = "STRICT_DNS"
    new["static_resources"]["listeners"][0]["per_connection_buffer_limit_bytes"] = 2
    vh = new["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    vh["typed_config"]["route_config"]["virtual_hosts"][0].pop("name")
    vh["typed_config"]["route_config"]["virtual_hosts"][0]["domains"] = ["b"]
    assert keys(old, new) == [("listener", "#0"), ("virtual_host", "r/vh"),
                              ("virtual_host", "r/#0"), ("cluster", "#0")]


def test_other_static_sections_and_top_level_sections_are_singletons() -> None:
    old = {"static_resources": {"secrets": [{"name": "s", "generic_secret": {"a": 1}}],
                                "something": {"v": 1}},
           "node": {"id": "a"}, "admin": {"x": 1}}
    new = {"static_resources": {"secrets": [{"name": "s", "generic_secret": {"a": 2}}],
                                "something": {"v": 2}},
           "node": {"id": "b"}, "admin": {"x": 1}}
    assert keys(old, new) == [("secret", "s"), ("static_resources.something", ""),
                              ("node", "")]


def test_report_order_is_by_kind_then_old_order_then_new() -> None:
    old = {"node": {"id": "a"}, "static_resources": {
        "clusters": [{"name": "c2"}, {"name": "c1"}],
        "listeners": [listener("l", {"filters": [hcm("r", "a")]})]}}
    new = {"node": {"id": "b"}, "static_resources": {
        "clusters": [{"name": "c1", "x": 1}, {"name": "c3"}, {"name": "c2", "x": 1}],
        "listeners": [listener("l", {"filters": [hcm("r", "b")]})],
        "secrets": [{"name": "s"}]}}
    assert keys(old, new) == [("virtual_host", "r/vh"), ("cluster", "c2"), ("cluster", "c1"),
                              ("cluster", "c3"), ("secret", "s"), ("node", "")]


def test_an_equal_length_replacement_is_compared_item_by_item() -> None:
    old = {"admin": {"routes": [{"a": 1}, {"b": 1}, {"c": 1}, {"d": 1}]}}
    new = {"admin": {"routes": [{"a": 1}, {"b": 2}, {"c": 2}, {"d": 1}]}}
    (change,) = diff_configs(old, new).changes
    assert change.fields == (FieldChange("routes[1].b", 1, 2), FieldChange("routes[2].c", 1, 2))


def test_an_unequal_replacement_is_removals_then_additions() -> None:
    old = {"admin": {"routes": [{"a": 1}, {"b": 1}, {"z": 1}]}}
    new = {"admin": {"routes": [{"a": 1}, {"c": 1}, {"c": 2}, {"c": 3}, {"z": 1}]}}
    (change,) = diff_configs(old, new).changes
    assert change.fields == (FieldChange("routes[1]", {"b": 1}, MISSING),
                             FieldChange("routes[1]", MISSING, {"c": 1}),
                             FieldChange("routes[2]", MISSING, {"c": 2}),
                             FieldChange("routes[3]", MISSING, {"c": 3}))


def test_a_deletion_in_an_unnamed_list_is_one_removal() -> None:
    old = {"admin": {"routes": [{"a": 1}, {"b": 1}, {"c": 1}]}}
    new = {"admin": {"routes": [{"a": 1}, {"c": 1}]}}
    (change,) = diff_configs(old, new).changes
    assert change.fields == (FieldChange("routes[1]", {"b": 1}, MISSING),)


def test_lists_with_unnamed_or_duplicate_names_are_aligned_not_matched() -> None:
    for names in (["a", "a"], ["a", ""], ["a", None]):
        old = {"admin": {"f": [{"name": n, "v": 1} for n in names]}}
        new = {"admin": {"f": [{"name": n, "v": 2 if i else 1} for i, n in enumerate(names)]}}
        (change,) = diff_configs(old, new).changes
        assert change.fields == (FieldChange("f[1].v", 1, 2),), names


def test_a_list_against_a_mapping_is_one_change_of_the_whole_value() -> None:
    (change,) = diff_configs({"admin": {"x": [1]}}, {"admin": {"x": {"a": 1}}}).changes
    assert change.fields == (FieldChange("x", [1], {"a": 1}),)
    (change,) = diff_configs({"admin": [{"a": 1}]}, {"admin": {"a": 1}}).changes
    assert change.fields == (FieldChange("<root>", [{"a": 1}], {"a": 1}),)


def test_a_named_list_change_inside_a_renamed_order_reports_both() -> None:
    old = {"admin": {"f": [{"name": "a", "v": 1}, {"name": "b", "v": 1}, {"name": "c"}]}}
    new = {"admin": {"f": [{"name": "b", "v": 2}, {"name": "a", "v": 1}]}}
    (change,) = diff_configs(old, new).changes
    assert change.fields == (FieldChange("f (order)", ["a", "b", "c"], ["b", "a"]),
                             FieldChange("f[b].v", 1, 2),
                             FieldChange("f[c]", {"name": "c"}, MISSING))


def test_each_secret_like_field_is_redacted_on_both_sides() -> None:
    for key in ("private_key", "password", "hmac_secret", "client_secret", "token_secret"):
        (change,) = diff_configs({"admin": {key: "old"}}, {"admin": {key: "new"}}).changes
        assert change.fields == (FieldChange(key, "<redacted>", "<redacted>"),), key
        (change,) = diff_configs({"admin": {}}, {"admin": {key: "new"}}).changes
        assert change.fields == (FieldChange(key, MISSING, "<redacted>"),), key
        whole = diff_configs({}, {"admin": {"a": [{key: "k", "b": 1}]}}).changes[0]
        assert whole.to_dict()["new"] == {"a": [{key: "<redacted>", "b": 1}]}


def test_a_removed_resource_shows_its_redacted_content() -> None:
    old = {"static_resources": {"secrets": [{"name": "s", "private_key": "K"}]}}
    (change,) = diff_configs(old, {"static_resources": {"secrets": []}}).changes
    assert change.to_dict() == {"kind": "secret", "name": "s", "action": "removed",
                                "fields": [], "old": {"name": "s", "private_key": "<redacted>"}}
    assert str(change) == ('- secret s (removed)\n'
                           '    {"name": "s", "private_key": "<redacted>"}')


def test_the_text_of_each_kind_of_line() -> None:
    added = Change("node", "", "added", new={"id": "é"})
    assert str(added) == '+ node (added)\n    {"id": "é"}'
    changed = Change("cluster", "c", "changed",
                     (FieldChange("a", 1, MISSING), FieldChange("b", MISSING, [1])))
    assert str(changed) == "~ cluster c (changed)\n    a: 1 → (absent)\n    b: (absent) → [1]"
    assert str(Change("cluster", "c", "removed")) == "- cluster c (removed)"
    assert changed.to_dict()["fields"] == [{"path": "a", "action": "removed", "old": 1},
                                           {"path": "b", "action": "added", "new": [1]}]
    assert "old" not in changed.to_dict() and "new" not in changed.to_dict()


def test_a_long_value_is_cut_to_120_characters() -> None:
    assert str(FieldChange("p", "x" * 118, 1)) == f'p: "{"x" * 118}" → 1'  # 120: whole
    cut = str(FieldChange("p", "x" * 119, 1))
    assert cut == f'p: "{"x" * 116}... → 1'


def test_the_summary_counts_each_action() -> None:
    result = ConfigDiff((Change("a", "1", "added"), Change("a", "2", "removed"),
                         Change("a", "3", "removed"), Change("b", "4", "changed")))
    assert result.summary() == "4 change(s): 1 added, 2 removed, 1 changed"
    assert [c.name for c in result.of_kind("a")] == ["1", "2", "3"]
    assert result.to_dict()["summary"] == {"added": 1, "removed": 2, "changed": 1}
    assert str(result).splitlines()[-1] == result.summary()
    assert not result.is_empty and ConfigDiff().is_empty


def test_diff_resources_matches_by_the_given_key_and_keeps_old_order() -> None:
    old = [{"id": "x", "v": 1}, {"id": "y", "v": 1}, {"v": 9}]
    new = [{"id": "z", "v": 1}, {"id": "y", "v": 2}, {"id": "x", "v": 1}]
    result = diff_resources("cluster", old, new, key="id")
    assert [(c.key, c.action) for c in result.changes] == [
        (("cluster", "y"), "changed"), (("cluster", "2"), "removed"),
        (("cluster", "z"), "added")]
    assert result.changes[0].fields == (FieldChange("v", 1, 2),)
    assert result.changes[0].old == {"id": "y", "v": 1}
    assert result.changes[0].new == {"id": "y", "v": 2}


# --- more places and shapes ------------------------------------------------------------------


def test_route_configs_are_named_by_listener_index_and_default_chain() -> None:
    unnamed = {"filter_chains": [{"filters": [hcm(None, "a")]}],
               "default_filter_chain": {"filters": [hcm(None, "b")]}}
    twice = listener("m", {"filters": [hcm("rX", "c")]}, {"filters": [hcm("rX", "d")]})
    old = config(unnamed, twice)
    new = copy.deepcopy(old)
    for lst in new["static_resources"]["listeners"]:
        for chain in [*lst["filter_chains"], *filter(None, [lst.get("default_filter_chain")])]:
            chain["filters"][0]["typed_config"]["route_config"]["virtual_hosts"][0][
                "domains"].append("z")
    assert keys(old, new) == [("virtual_host", "#0/filter_chains[0]/vh"),
                              ("virtual_host", "#0/default_filter_chain/vh"),
                              ("virtual_host", "m/filter_chains[0]/rX/vh"),
                              ("virtual_host", "m/filter_chains[1]/rX/vh")]


def test_an_hcm_named_as_such_without_a_type_is_found() -> None:
    flt = hcm("r", "a")
    del flt["typed_config"]["@type"]
    old = config(listener("l", {"filters": [{"name": "x", "typed_config": {"route_config": 1}},
                                            flt]}))
    new = copy.deepcopy(old)
    new["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][1]["typed_config"][
        "route_config"]["virtual_hosts"][0]["domains"] = ["b"]
    assert keys(old, new) == [("virtual_host", "r/vh")]


def test_naming_a_route_config_is_a_listener_field_change() -> None:
    old = config(listener("l", {"filters": [hcm(None, "a")]}))
    new = config(listener("l", {"filters": [hcm("r", "a")]}))
    change = diff_configs(old, new).changes[0]
    assert change.key == ("listener", "l")
    assert [(f.old, f.new) for f in change.fields] == [("", "r")]


def test_a_route_config_field_change_and_the_whole_resources() -> None:
    old = config(listener("l", {"filters": [hcm("r", "a")]}))
    new = copy.deepcopy(old)
    rc = new["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0][
        "typed_config"]["route_config"]
    rc["validate_clusters"] = True
    rc["virtual_hosts"].append({"name": "vh2", "domains": ["b"]})
    rc_change, vh_change = diff_configs(old, new).changes
    assert rc_change.key == ("route_config", "r")
    assert rc_change.fields == (FieldChange("validate_clusters", MISSING, True),)
    assert rc_change.new == rc
    assert vh_change.key == ("virtual_host", "r/vh2") and vh_change.new == rc["virtual_hosts"][1]


def test_a_section_after_an_unknown_static_section_is_still_compared() -> None:
    old = {"static_resources": {"other": {"v": 1}, "clusters": [{"name": "c", "x": 1}]}}
    new = {"static_resources": {"other": {"v": 1}, "clusters": [{"name": "c", "x": 2}],
                                "more": {"v": 2}}}
    result = diff_configs(old, new)
    assert [c.key for c in result.changes] == [("cluster", "c"), ("static_resources.more", "")]
    assert result.changes[1].new == {"v": 2}


def test_two_separate_replacements_in_an_unnamed_list() -> None:
    old = {"admin": {"l": [{"a": 1}, {"b": 1}, {"c": 1}, {"d": 1}, {"e": 1}]}}
    new = {"admin": {"l": [{"a": 1}, {"b": 2}, {"c": 1}, {"d": 2}, {"e": 1}]}}
    (change,) = diff_configs(old, new).changes
    assert change.fields == (FieldChange("l[1].b", 1, 2), FieldChange("l[3].d", 1, 2))


def test_key_order_inside_an_item_does_not_count() -> None:
    old = {"admin": {"l": [{"a": 1, "b": 2}]}}
    new = {"admin": {"l": [{"b": 2, "a": 1}, {"c": 1}]}}
    (change,) = diff_configs(old, new).changes
    assert change.fields == (FieldChange("l[1]", MISSING, {"c": 1}),)


def test_a_long_list_of_alike_items_is_aligned_all_the_same() -> None:
    """difflib's autojunk would treat an item seen in over 1% of a 200+ list as junk."""
    items = [{"a": 1}] * 300
    old = {"admin": {"l": items}}
    new = {"admin": {"l": [*items[:150], {"b": 1}, *items[150:]]}}
    (change,) = diff_configs(old, new).changes
    assert change.fields == (FieldChange("l[150]", MISSING, {"b": 1}),)


def test_lists_named_on_one_side_only_or_mixed_are_aligned() -> None:
    old = {"admin": {"f": [{"name": "a"}, {"name": "b"}]}}
    new = {"admin": {"f": [{"name": "a"}, {"name": "a"}]}}
    (change,) = diff_configs(old, new).changes
    assert change.fields == (FieldChange("f[1].name", "b", "a"),)
    (change,) = diff_configs({"admin": {"f": [{"name": "a"}, 1]}},
                             {"admin": {"f": [{"name": "a"}, 2]}}).changes
    assert change.fields == (FieldChange("f[1]", 1, 2),)


def test_values_that_are_not_json_are_shown_and_aligned_by_their_text() -> None:
    from pathlib import Path

    old = {"admin": {"l": [{"p": Path("/a")}]}}
    new = {"admin": {"l": [{"p": Path("/a")}, {"p": Path("/b")}]}}
    (change,) = diff_configs(old, new).changes
    assert str(change.fields[0]) == 'l[1]: (absent) → {"p": "/b"}'


def test_a_removed_secret_field_is_redacted() -> None:
    (change,) = diff_configs({"admin": {"password": "p"}}, {"admin": {}}).changes
    assert change.fields == (FieldChange("password", "<redacted>", MISSING),)
    assert repr(MISSING) == "<missing>"


def test_diff_resources_names_an_unkeyed_new_resource_by_its_index() -> None:
    result = diff_resources("cluster", [{"name": "a"}], [{"name": "a"}, {"x": 1}])
    assert [c.key for c in result.changes] == [("cluster", "1")]
