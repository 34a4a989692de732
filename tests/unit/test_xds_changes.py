"""The static → file-xDS split and the change plan between two configs (no envoy)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from envoykit import EdgeProxy
from envoykit.errors import ConfigError
from envoykit.testing.tls import TestCA
from envoykit.xds import KINDS, compute_changes, to_dynamic
from envoykit.xds._apply import needs_envoy_validation
from envoykit.xds._split import safe_name

HOST = "a.example.com"


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("ca"))


def edge(*sites: tuple[str, str], ca: TestCA | None = None, port: int = 0,
         **site_options: Any) -> EdgeProxy:
    proxy = EdgeProxy().admin(port=0)
    for host, upstream in sites:
        cert = ca.issue(host).as_cert() if ca else None
        proxy.site(host, upstream, cert=cert, **site_options)
    return proxy.https(port=8443) if ca else proxy.http(port=port)


def split(proxy: EdgeProxy, directory: Path) -> Any:
    return to_dynamic(proxy.build().to_dict(), directory)


def kinds_and_names(files: Any) -> list[tuple[str, str]]:
    return [(f.kind, f.name) for f in files]


# --- the split ----------------------------------------------------------------------------


def test_split_moves_every_resource_to_its_own_file(tmp_path: Path, ca: TestCA) -> None:
    dynamic = split(edge((HOST, "127.0.0.20:80"), ("b.example.com", "127.0.0.21:80"), ca=ca),
                    tmp_path)
    assert kinds_and_names(dynamic.files) == [
        ("secret", "https.a.example.com.cert0"), ("secret", "https.b.example.com.cert0"),
        ("endpoints", "a_example_com"), ("endpoints", "b_example_com"), ("cluster", ""),
        ("route", "https_a_example_com"), ("route", "https_b_example_com"), ("listener", "")]
    assert [KINDS.index(f.kind) for f in dynamic.files] == sorted(
        KINDS.index(f.kind) for f in dynamic.files)
    paths = {f.path.relative_to(tmp_path).as_posix() for f in dynamic.files}
    assert {"lds/lds.json", "cds/cds.json", "rds/https_a_example_com/rds.json",
            "sds/https.a.example.com.cert0/sds.json", "eds/a_example_com/eds.json"} <= paths


def test_the_bootstrap_keeps_everything_but_static_resources(tmp_path: Path) -> None:
    dynamic = split(edge((HOST, "127.0.0.20:80")).runtime(x=1), tmp_path)
    boot = dynamic.bootstrap
    assert "static_resources" not in boot
    assert {"admin", "layered_runtime", "overload_manager", "node"} <= set(boot)
    assert boot["node"] == {"id": "envoykit", "cluster": "envoykit"}
    lds = boot["dynamic_resources"]["lds_config"]
    assert lds == {"path_config_source": {"path": str(tmp_path / "lds" / "lds.json"),
                                          "watched_directory": {"path": str(tmp_path / "lds")}},
                   "resource_api_version": "V3"}
    assert dynamic.static["static_resources"]["listeners"]  # the equivalent static config


def test_routes_go_to_rds_and_static_endpoints_to_eds(tmp_path: Path) -> None:
    dynamic = split(edge((HOST, "127.0.0.20:80"), ("b.example.com", "b.internal:80")), tmp_path)
    (listener,) = dynamic.by_path()[tmp_path / "lds" / "lds.json"].resources
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    assert "route_config" not in hcm and hcm["rds"]["route_config_name"] == "http"
    clusters = {c["name"]: c for c in dynamic.by_path()[tmp_path / "cds" / "cds.json"].resources}
    static = clusters["a_example_com"]
    assert static["type"] == "EDS" and "load_assignment" not in static
    assert static["eds_cluster_config"]["service_name"] == "a_example_com"
    dns = clusters["b_example_com"]  # STRICT_DNS keeps its endpoints in the cluster
    assert dns["type"] == "STRICT_DNS" and "load_assignment" in dns
    assert all(r["@type"].endswith("v3.Cluster") for r in clusters.values())


def test_certificates_become_sds_secrets_with_the_pem_inlined(tmp_path: Path, ca: TestCA) -> None:
    dynamic = split(edge((HOST, "127.0.0.20:80"), ca=ca), tmp_path)
    secret = dynamic.resources()[("secret", "https.a.example.com.cert0")]
    cert = secret["tls_certificate"]
    assert cert["certificate_chain"]["inline_string"].startswith("-----BEGIN CERTIFICATE")
    assert "PRIVATE KEY" in cert["private_key"]["inline_string"]
    (listener,) = dynamic.files[-1].resources
    common = listener["filter_chains"][0]["transport_socket"]["typed_config"]["common_tls_context"]
    assert "tls_certificates" not in common
    (ref,) = common["tls_certificate_sds_secret_configs"]
    assert ref["name"] == "https.a.example.com.cert0" and "path_config_source" in ref["sds_config"]


def test_a_dynamic_config_is_refused(tmp_path: Path) -> None:
    data = edge((HOST, "127.0.0.20:80")).build().to_dict()
    data["dynamic_resources"] = {"ads_config": {}}
    with pytest.raises(ConfigError, match="already dynamic"):
        to_dynamic(data, tmp_path)


def test_route_configs_with_one_name_and_two_contents_are_kept_apart(tmp_path: Path) -> None:
    data = edge((HOST, "127.0.0.20:80")).build().to_dict()
    listeners = data["static_resources"]["listeners"]
    twin = json.loads(json.dumps(listeners[0]))
    twin["name"] = "other"
    twin["filter_chains"][0]["filters"][0]["typed_config"]["route_config"]["virtual_hosts"][0][
        "domains"] = ["other.example.com"]
    listeners.append(twin)
    names = [f.name for f in to_dynamic(data, tmp_path).files if f.kind == "route"]
    assert names == ["http", "other.chain0.http"]


def test_safe_names() -> None:
    assert safe_name("https_a.example.com") == "https_a.example.com"
    assert safe_name("a/b").startswith("a_b-") and safe_name("a/b") != safe_name("a_b")
    assert safe_name("..").startswith("resource-")


def test_versions_are_content_hashes(tmp_path: Path) -> None:
    one = split(edge((HOST, "127.0.0.20:80")), tmp_path)
    two = split(edge((HOST, "127.0.0.20:80")), tmp_path)
    assert [f.version for f in one.files] == [f.version for f in two.files]
    body = json.loads(one.files[0].render())
    assert body["version_info"] == one.files[0].version and len(body["resources"]) == 1


# --- the change plan ----------------------------------------------------------------------


def test_nothing_changed(tmp_path: Path) -> None:
    config = edge((HOST, "127.0.0.20:80"))
    changes = compute_changes(split(config, tmp_path), split(config, tmp_path))
    assert changes.is_empty and changes.summary() == "no change"


def test_a_route_change_is_one_rds_file(tmp_path: Path) -> None:
    old = split(edge((HOST, "127.0.0.20:80")), tmp_path)
    new = split(edge((HOST, "127.0.0.20:80"), prefix_rewrite="/v2/"), tmp_path)
    changes = compute_changes(old, new)
    assert [str(c) for c in changes.resources] == ["changed route 'http'"]
    assert kinds_and_names(changes.writes) == [("route", "http")]
    assert not changes.needs_restart and not changes.final and not changes.deletes
    assert not needs_envoy_validation(changes, "auto")
    assert needs_envoy_validation(changes, "always")


def test_an_added_site_writes_endpoints_and_cluster_before_the_route(tmp_path: Path) -> None:
    old = split(edge((HOST, "127.0.0.20:80")), tmp_path)
    new = split(edge((HOST, "127.0.0.20:80"), ("b.example.com", "127.0.0.21:80")), tmp_path)
    changes = compute_changes(old, new)
    assert kinds_and_names(changes.writes) == [
        ("endpoints", "b_example_com"), ("cluster", ""), ("route", "http")]
    assert changes.summary() == "1 endpoints added, 1 cluster added, 1 route changed"
    assert needs_envoy_validation(changes, "auto")
    assert not needs_envoy_validation(changes, "never")


def test_a_removed_cluster_stays_until_the_routes_stop_using_it(tmp_path: Path) -> None:
    old = split(edge((HOST, "127.0.0.20:80"), ("b.example.com", "127.0.0.21:80")), tmp_path)
    new = split(edge((HOST, "127.0.0.20:80")), tmp_path)
    changes = compute_changes(old, new)
    # the union cds.json equals the old one, so only the route goes first, then the final cds
    assert kinds_and_names(changes.writes) == [("route", "http")]
    assert kinds_and_names(changes.final) == [("cluster", "")]
    assert [f.path.relative_to(tmp_path).as_posix() for f in changes.deletes] == [
        "eds/b_example_com/eds.json"]


def test_a_removed_cluster_with_another_cluster_change_keeps_it_in_a_union(
    tmp_path: Path,
) -> None:
    old = split(edge((HOST, "127.0.0.20:80"), ("b.example.com", "127.0.0.21:80")), tmp_path)
    new = split(edge((HOST, "a.internal:80")), tmp_path)
    changes = compute_changes(old, new)
    (union,) = [f for f in changes.writes if f.kind == "cluster"]
    assert {r["name"] for r in union.resources} == {"a_example_com", "b_example_com"}
    (final,) = changes.final
    assert [r["name"] for r in final.resources] == ["a_example_com"]


def test_a_bootstrap_change_needs_a_restart(tmp_path: Path) -> None:
    old = split(edge((HOST, "127.0.0.20:80")), tmp_path)
    new = split(edge((HOST, "127.0.0.20:80")).runtime(flag=True), tmp_path)
    changes = compute_changes(old, new)
    assert changes.bootstrap_fields == ("layered_runtime",) and changes.needs_restart
    assert changes.resources == () and not changes.is_empty
    assert needs_envoy_validation(changes, "auto")


def test_the_first_config_writes_everything(tmp_path: Path) -> None:
    new = split(edge((HOST, "127.0.0.20:80")), tmp_path)
    changes = compute_changes(None, new)
    assert len(changes.writes) == len(new.files) and not changes.bootstrap_fields


# --- the proxy's options (no envoy started) -----------------------------------------------


def test_the_proxy_rejects_unknown_dynamic_fields_and_owns_its_run_dir() -> None:
    from envoykit.xds import DynamicProxy

    proxy = DynamicProxy(edge((HOST, "127.0.0.20:80")), extra_args=["--log-format-escaped"])
    flags = ("--log-format-escaped", "--reject-unknown-dynamic-fields")
    assert proxy._options["extra_args"] == flags
    with pytest.raises(TypeError, match="directory="):
        DynamicProxy(edge((HOST, "127.0.0.20:80")), run_dir="/tmp/x")
    with pytest.raises(RuntimeError, match="not started"):
        proxy.apply(edge((HOST, "127.0.0.20:80")))


def test_listeners_on_port_0_get_a_port_they_keep() -> None:
    from envoykit.xds._proxy import _pin_ports

    first = edge((HOST, "127.0.0.20:80")).build().to_dict()
    pinned = _pin_ports(first, {})
    port = first["static_resources"]["listeners"][0]["address"]["socket_address"]["port_value"]
    assert pinned == {"http": port} and port > 0
    again = edge((HOST, "127.0.0.20:80")).build().to_dict()
    assert _pin_ports(again, pinned) == {"http": port}
    fixed = EdgeProxy().site(HOST, "127.0.0.20:80").http(port=8080).build().to_dict()
    assert _pin_ports(fixed, pinned) == {}  # a fixed port is left alone


def test_the_split_leaves_the_static_config_as_it_was(tmp_path: Path, ca: TestCA) -> None:
    static = edge((HOST, "127.0.0.20:80"), ca=ca).build().to_dict()
    before = json.dumps(static, sort_keys=True)
    dynamic = to_dynamic(static, tmp_path)
    assert json.dumps(static, sort_keys=True) == before and dynamic.static is static
