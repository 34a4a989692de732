"""Which snapshot a node gets: groups by node id, by cluster, or by a function."""

from __future__ import annotations

import pytest

pytest.importorskip("envoy.service.discovery.v3.ads_pb2")

from envoy.config.core.v3 import base_pb2

from envoykit import EdgeProxy
from envoykit.fleet import AsyncControlPlane, Snapshot
from envoykit.fleet._streams import SotwStream


def snapshot(upstream: str) -> Snapshot:
    return Snapshot.from_config(EdgeProxy().site("a.example.com", upstream).http(port=0))


def connect(plane: AsyncControlPlane, node_id: str, cluster: str) -> SotwStream:
    stream = SotwStream("peer", plane._on_answer)
    stream.node = base_pb2.Node(id=node_id, cluster=cluster)
    plane._register(stream)
    return stream


def test_groups_by_cluster_share_a_snapshot_and_fall_back_to_the_default() -> None:
    plane = AsyncControlPlane(group_by="cluster")
    for node_id, cluster in (("eu-1", "eu"), ("eu-2", "eu"), ("us-1", "us")):
        connect(plane, node_id, cluster)
    default, eu = snapshot("127.0.0.20:8080"), snapshot("127.0.0.21:8080")
    plane.set_snapshot(default)
    plane.set_snapshot(eu, nodes=["eu"])
    assert plane.snapshot_for("eu-1") is eu and plane.snapshot_for("eu-2") is eu
    assert plane.snapshot_for("us-1") is default
    plane.set_snapshot(default)                          # everybody: groups are dropped
    assert plane.snapshot_for("eu-1") is default


def test_group_by_a_function_of_the_node() -> None:
    plane = AsyncControlPlane(group_by=lambda node: node.id.split("-")[0])
    connect(plane, "blue-7", "c")
    blue = snapshot("127.0.0.22:8080")
    plane.set_snapshot(blue, nodes=["blue"])
    assert plane.snapshot_for("blue-7") is blue
    assert [s.group for s in plane.status()] == ["blue"]


def test_forget_drops_a_gone_node_and_its_own_snapshot() -> None:
    plane = AsyncControlPlane()
    stream = connect(plane, "n1", "c")
    own = snapshot("127.0.0.23:8080")
    plane.set_snapshot(own, nodes=["n1"])
    assert plane.forget("n1") is False                   # still connected
    plane._unregister(stream)
    assert plane.forget("n1") is True
    assert plane.status() == [] and plane.snapshot_for("n1") is None
