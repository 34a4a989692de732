"""Snapshots: versions from the deterministic serialization, consistency, TypedStruct."""

from __future__ import annotations

from typing import Any

import pytest

from envoykit import EdgeProxy, SemanticError
from envoykit.errors import ConfigError, PushRejected, PushTimeout
from envoykit.fleet import Snapshot, fleet_member
from envoykit.fleet._proto import TYPE_PREFIX, TYPED_STRUCT, to_any
from envoykit.fleet._snapshot import CLUSTER, ENDPOINT, LISTENER, ROUTE


def edge(upstream: str = "127.0.0.20:8080") -> EdgeProxy:
    return (EdgeProxy().site("a.example.com", upstream).site("b.example.com", "127.0.0.21:8080")
            .http(port=8080))


def test_snapshot_splits_routes_and_endpoints_over_ads() -> None:
    snap = Snapshot.from_config(edge())
    assert snap.names(CLUSTER) == {"a_example_com", "b_example_com"}
    assert snap.names(ENDPOINT) == {"a_example_com", "b_example_com"}
    assert snap.names(LISTENER) == {"http"}
    assert snap.names(ROUTE) == {"http"}
    hcm = snap.of_type(LISTENER)["http"].data["filter_chains"][0]["filters"][0]["typed_config"]
    assert hcm["rds"]["config_source"] == {"ads": {}, "resource_api_version": "V3"}
    cluster = snap.of_type(CLUSTER)["a_example_com"].data
    assert cluster["type"] == "EDS" and "ads" in cluster["eds_cluster_config"]["eds_config"]


def test_versions_are_content_hashes_per_type_and_resource() -> None:
    one, same = Snapshot.from_config(edge()), Snapshot.from_config(edge())
    assert one.version == same.version and one.versions == same.versions
    moved = Snapshot.from_config(edge("127.0.0.22:8080"))
    assert moved.version != one.version
    changed = [t for t in one.versions if one.versions[t] != moved.versions[t]]
    assert changed == [ENDPOINT]                       # only the endpoint set differs
    a_old, a_new = one.of_type(ENDPOINT)["a_example_com"], moved.of_type(ENDPOINT)["a_example_com"]
    assert a_old.version != a_new.version
    b = "b_example_com"
    assert one.of_type(ENDPOINT)[b].version == moved.of_type(ENDPOINT)[b].version


def _resources() -> dict[str, list[dict[str, Any]]]:
    snap = Snapshot.from_config(edge())
    kinds = {CLUSTER: "cluster", ENDPOINT: "endpoints", LISTENER: "listener", ROUTE: "route"}
    return {kinds[t]: [r.data for r in snap.of_type(t).values()] for t in kinds}


def test_route_config_named_by_listener_must_exist() -> None:
    resources = _resources()
    resources["route"] = []
    with pytest.raises(SemanticError) as caught:
        Snapshot.from_resources(resources)
    assert "listener[http]" in str(caught.value) and "'http'" in str(caught.value)


def test_every_endpoint_set_must_be_named_by_a_cluster() -> None:
    resources = _resources()
    resources["cluster"] = [c for c in resources["cluster"] if c["name"] != "b_example_com"]
    with pytest.raises(SemanticError) as caught:
        Snapshot.from_resources(resources)
    assert [i.path for i in caught.value.issues] == ["endpoints[b_example_com]"]


def test_unreferenced_route_config_is_refused() -> None:
    resources = _resources()
    resources["route"].append({"name": "orphan"})
    with pytest.raises(SemanticError, match=r"route\[orphan\]: no listener names"):
        Snapshot.from_resources(resources)


def test_bad_field_names_the_resource() -> None:
    resources = _resources()
    resources["cluster"][0] = {**resources["cluster"][0], "connect_timeout": "soon"}
    with pytest.raises(ConfigError, match=r"cluster\[a_example_com\].*connect_timeout"):
        Snapshot.from_resources(resources)


def test_type_missing_from_xds_protos_goes_as_typed_struct() -> None:
    unknown = TYPE_PREFIX + "envoy.extensions.filters.network.not_in_protos.v3.Thing"
    listener = {"@type": TYPE_PREFIX + "envoy.config.listener.v3.Listener", "name": "l",
                "filter_chains": [{"filters": [{"name": "thing", "typed_config": {
                    "@type": unknown, "answer": 42}}]}]}
    packed = to_any(listener, "listener[l]")          # imports what it needs by itself
    from envoy.config.listener.v3 import listener_pb2
    from xds.type.v3 import typed_struct_pb2

    message = listener_pb2.Listener.FromString(packed.value)
    inner = message.filter_chains[0].filters[0].typed_config
    assert inner.type_url == TYPE_PREFIX + TYPED_STRUCT
    struct = typed_struct_pb2.TypedStruct.FromString(inner.value)
    assert struct.type_url == unknown and struct.value["answer"] == 42


def test_member_bootstrap_takes_everything_from_ads() -> None:
    boot = fleet_member("127.0.0.1:18000", node_id="edge-1", cluster="eu", delta=True,
                        base=edge().admin(port=0))
    assert boot["node"] == {"id": "edge-1", "cluster": "eu"}
    ads = boot["dynamic_resources"]["ads_config"]
    assert ads["api_type"] == "DELTA_GRPC"
    assert boot["dynamic_resources"]["lds_config"] == {"ads": {}, "resource_api_version": "V3"}
    assert [c["name"] for c in boot["static_resources"]["clusters"]] == ["envoykit_xds"]
    assert boot["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"
    assert "layered_runtime" in boot and "overload_manager" in boot
    with pytest.raises(ValueError, match="host:port"):
        fleet_member("nowhere", node_id="x")


def test_push_errors_name_nodes_and_messages() -> None:
    rejected = PushRejected("v2", {"n2": "port taken", "n1": "bad field"}, ["n1"])
    text = str(rejected)
    assert "n1: bad field" in text and "n2: port taken" in text and "rolled back" in text
    assert "n3, n4" in str(PushTimeout("v2", ["n4", "n3"], 5.0))


def test_member_bootstrap_is_a_valid_typed_bootstrap() -> None:
    from envoykit import Bootstrap
    from envoykit.fleet import MemberTLS

    boot = fleet_member("127.0.0.1:18000", node_id="edge-1", metadata={"zone": "eu"},
                        tls=MemberTLS("ca.pem", "xds.example.com", "c.pem", "k.pem"))
    assert Bootstrap.from_dict(boot).to_dict() == boot          # the model takes all of it
    xds = boot["static_resources"]["clusters"][0]
    context = xds["transport_socket"]["typed_config"]
    assert context["sni"] == "xds.example.com"
    assert context["common_tls_context"]["tls_params"]["tls_minimum_protocol_version"] == \
        "TLSv1_2"
