"""The xDS stream state machines, driven by hand-made requests (no envoy, no gRPC)."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("envoy.service.discovery.v3.discovery_pb2")

from envoy.config.core.v3 import base_pb2
from envoy.service.discovery.v3 import discovery_pb2
from google.rpc import status_pb2

from envoykit import EdgeProxy
from envoykit.fleet import Snapshot
from envoykit.fleet._snapshot import CLUSTER, ENDPOINT, LISTENER, ROUTE
from envoykit.fleet._streams import DeltaStream, SotwStream, Stream

NODE = base_pb2.Node(id="n1", cluster="c")


def edge(*sites: str, upstream: str = "127.0.0.20:8080") -> Snapshot:
    proxy = EdgeProxy().http(port=8080)
    for site in sites:
        proxy.site(site, upstream)
    return Snapshot.from_config(proxy)


def sotw(stream: SotwStream, type_url: str, names: tuple[str, ...] = (), *, version: str = "",
         nonce: str = "", error: str = "") -> None:
    request = discovery_pb2.DiscoveryRequest(
        node=NODE, type_url=type_url, resource_names=names, version_info=version,
        response_nonce=nonce)
    if error:
        request.error_detail.CopyFrom(status_pb2.Status(code=3, message=error))
    stream.on_request(request)


def names_of(response: Any) -> list[str]:
    out = []
    for item in response.resources:
        packed = getattr(item, "resource", item)
        if packed.type_url.endswith("Cluster"):
            from envoy.config.cluster.v3 import cluster_pb2
            out.append(cluster_pb2.Cluster.FromString(packed.value).name)
        elif packed.type_url.endswith("ClusterLoadAssignment"):
            from envoy.config.endpoint.v3 import endpoint_pb2
            out.append(endpoint_pb2.ClusterLoadAssignment.FromString(packed.value).cluster_name)
        else:
            out.append("?")
    return out


class Answers:
    def __init__(self) -> None:
        self.reported: list[str] = []

    def __call__(self, stream: Stream, type_url: str) -> None:
        self.reported.append(type_url)


def test_sotw_sends_once_and_acks_count_only_with_the_nonce() -> None:
    snap = edge("a.example.com", "b.example.com")
    stream = SotwStream("peer", Answers())
    sotw(stream, CLUSTER)
    [response] = stream.answer(snap)
    assert response.version_info == snap.versions[CLUSTER]
    assert sorted(names_of(response)) == ["a_example_com", "b_example_com"]
    sotw(stream, CLUSTER, version="old", nonce="not-the-nonce")        # stale: ignored
    assert stream.types[CLUSTER].acked == "" and not stream.answer(snap)
    sotw(stream, CLUSTER, version=response.version_info, nonce=response.nonce)
    assert stream.types[CLUSTER].acked == snap.versions[CLUSTER]
    assert stream.answer(snap) == []                                   # up to date


def test_sotw_nack_is_parked_until_the_snapshot_changes() -> None:
    good, bad = edge("a.example.com"), edge("a.example.com", "b.example.com")
    stream = SotwStream("peer", Answers())
    sotw(stream, CLUSTER)
    [first] = stream.answer(good)
    sotw(stream, CLUSTER, version=first.version_info, nonce=first.nonce)
    [refused] = stream.answer(bad)
    sotw(stream, CLUSTER, version=first.version_info, nonce=refused.nonce, error="no way")
    state = stream.types[CLUSTER]
    assert (state.acked, state.nacked, state.error) == (good.versions[CLUSTER],
                                                        bad.versions[CLUSTER], "no way")
    for _ in range(3):
        assert stream.answer(bad) == []                                # not re-sent
    [again] = stream.answer(good)                                      # a new snapshot is
    assert again.version_info == good.versions[CLUSTER]                # (the rollback)


def test_sotw_holds_endpoints_until_every_name_is_asked() -> None:
    snap = edge("a.example.com", "b.example.com")
    stream = SotwStream("peer", Answers())
    sotw(stream, ENDPOINT, ("a_example_com",))
    assert stream.answer(snap) == []
    sotw(stream, ENDPOINT, ("a_example_com", "b_example_com"))
    [response] = stream.answer(snap)
    assert sorted(names_of(response)) == ["a_example_com", "b_example_com"]


def _converge(stream: SotwStream, snap: Snapshot) -> None:
    """Answer every response with an ACK until nothing is due."""
    for _ in range(10):
        responses = stream.answer(snap)
        if not responses:
            return
        for response in responses:
            names = (("http",) if response.type_url == ROUTE else
                     tuple(sorted(snap.names(ENDPOINT))) if response.type_url == ENDPOINT else ())
            sotw(stream, response.type_url, names, version=response.version_info,
                 nonce=response.nonce)


def test_stale_clusters_are_removed_after_listeners_and_routes() -> None:
    both, one = edge("a.example.com", "b.example.com"), edge("a.example.com")
    stream = SotwStream("peer", Answers())
    sotw(stream, CLUSTER)
    sotw(stream, LISTENER)
    sotw(stream, ENDPOINT, tuple(sorted(both.names(ENDPOINT))))
    sotw(stream, ROUTE, ("http",))
    _converge(stream, both)
    assert stream.types[ROUTE].acked == both.versions[ROUTE]
    first = stream.answer(one)
    assert [r.type_url for r in first] == [CLUSTER, ENDPOINT, ROUTE]   # in Envoy's order
    assert sorted(names_of(first[0])) == ["a_example_com", "b_example_com"]   # b kept for now
    for response in first:
        names = ("http",) if response.type_url == ROUTE else ()
        sotw(stream, response.type_url, names, version=response.version_info,
             nonce=response.nonce)
    [final] = stream.answer(one)                                      # routes moved: b goes
    assert final.type_url == CLUSTER and names_of(final) == ["a_example_com"]
    assert final.version_info == one.versions[CLUSTER]


def delta(stream: DeltaStream, type_url: str, subscribe: tuple[str, ...] = (), *,
          nonce: str = "", error: str = "", initial: dict[str, str] | None = None) -> None:
    request = discovery_pb2.DeltaDiscoveryRequest(
        node=NODE, type_url=type_url, resource_names_subscribe=subscribe, response_nonce=nonce,
        initial_resource_versions=initial or {})
    if error:
        request.error_detail.CopyFrom(status_pb2.Status(code=3, message=error))
    stream.on_request(request)


def test_delta_sends_only_what_changed_and_removes_what_went() -> None:
    sites = [f"s{i}.example.com" for i in range(20)]
    before = edge(*sites)
    proxy = EdgeProxy().http(port=8080).site(sites[0], "127.0.0.30:8080")
    for site in sites[1:-1]:
        proxy.site(site, "127.0.0.20:8080")
    after = Snapshot.from_config(proxy)                # s0 moved, s19 gone
    stream = DeltaStream("peer", Answers())
    delta(stream, ENDPOINT, tuple(sorted(before.names(ENDPOINT))))
    [full] = stream.answer(before)
    assert len(full.resources) == 20
    delta(stream, ENDPOINT, nonce=full.nonce)
    assert stream.types[ENDPOINT].acked == before.versions[ENDPOINT]
    [change] = stream.answer(after)
    assert names_of(change) == ["s0_example_com"]
    assert list(change.removed_resources) == ["s19_example_com"]
    assert change.system_version_info == after.versions[ENDPOINT]


def test_delta_nack_is_parked_and_known_versions_are_kept() -> None:
    before, after = edge("a.example.com"), edge("a.example.com", upstream="127.0.0.30:8080")
    stream = DeltaStream("peer", Answers())
    delta(stream, ENDPOINT, ("a_example_com",))
    [first] = stream.answer(before)
    delta(stream, ENDPOINT, nonce=first.nonce)
    [refused] = stream.answer(after)
    delta(stream, ENDPOINT, nonce=refused.nonce, error="nope")
    assert stream.types[ENDPOINT].nacked == after.versions[ENDPOINT]
    assert stream.answer(after) == []
    assert stream.types[ENDPOINT].known == {"a_example_com":
                                            before.of_type(ENDPOINT)["a_example_com"].version}


def test_delta_reconnect_with_current_versions_sends_nothing() -> None:
    snap = edge("a.example.com")
    stream = DeltaStream("peer", Answers())
    held = {n: r.version for n, r in snap.of_type(CLUSTER).items()}
    delta(stream, CLUSTER, initial=held)
    assert stream.types[CLUSTER].wildcard
    assert stream.answer(snap) == []
    assert stream.types[CLUSTER].acked == snap.versions[CLUSTER]
