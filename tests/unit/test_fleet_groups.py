"""The control plane without envoy: groups (by id, cluster, function), forget, push timeouts,
NACKs and rollback (streams fed by hand)."""

from __future__ import annotations

import pytest

pytest.importorskip("envoy.service.discovery.v3.ads_pb2")

from envoy.config.core.v3 import base_pb2

from envoykit import EdgeProxy
from envoykit.fleet import AsyncControlPlane, Snapshot
from envoykit.fleet._streams import SotwStream
from envoykit.testing import async_wait_until


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


def test_push_names_the_nodes_that_did_not_answer() -> None:
    import asyncio

    from envoykit.errors import PushTimeout

    async def scenario() -> PushTimeout:
        async with AsyncControlPlane() as plane:
            connect(plane, "quiet", "c")
            connect(plane, "other", "d")
            try:
                await plane.push(snapshot("127.0.0.24:8080"), nodes=["quiet"], timeout=0.2)
            except PushTimeout as exc:
                return exc
            raise AssertionError("no timeout")

    error = asyncio.run(scenario())
    assert error.nodes == ["quiet"]                      # only the targeted node
    assert "quiet" in str(error) and "0.2 s" in str(error)


def test_push_raises_the_nack_and_rolls_back_to_the_last_acked_snapshot() -> None:
    import asyncio

    from envoy.service.discovery.v3 import discovery_pb2

    from envoykit.errors import PushRejected
    from envoykit.fleet._snapshot import CLUSTER, TYPE_ORDER

    good, bad = snapshot("127.0.0.25:8080"), snapshot("127.0.0.26:8080")

    def answer(stream: SotwStream, target: Snapshot, error: str = "") -> None:
        """Play Envoy: subscribe to every type, then ACK (or NACK) what is sent."""
        for type_url in TYPE_ORDER:
            names = sorted(target.names(type_url)) if type_url not in (CLUSTER,) else []
            request = discovery_pb2.DiscoveryRequest(type_url=type_url, resource_names=names,
                                                     node=stream.node)
            stream.on_request(request)
        for response in stream.answer(target):
            request = discovery_pb2.DiscoveryRequest(
                type_url=response.type_url, version_info=response.version_info,
                response_nonce=response.nonce, node=stream.node,
                resource_names=sorted(target.names(response.type_url))
                if response.type_url != CLUSTER else [])
            if error:
                request.error_detail.message = error
            stream.on_request(request)

    async def scenario() -> tuple[PushRejected, Snapshot | None]:
        async with AsyncControlPlane() as plane:
            stream = connect(plane, "n1", "c")
            plane.set_snapshot(good)
            answer(stream, good)
            assert plane.status()[0].acked_version == good.version
            pushing = asyncio.ensure_future(plane.push(bad, timeout=30, rollback=True))
            await async_wait_until(lambda: plane.snapshot_for("n1") is bad,  # push() sets it,
                                   what="push() to set the snapshot")     # then waits
            answer(stream, bad, error="port taken")
            try:
                await pushing
            except PushRejected as exc:
                return exc, plane.snapshot_for("n1")
            raise AssertionError("no rejection")

    error, now = asyncio.run(scenario())
    assert error.rejections == {"n1": "port taken"} and error.rolled_back == ["n1"]
    assert error.version == bad.version and now is good
