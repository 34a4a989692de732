"""mTLS between fleet members and the control plane; node metadata; events; forgetting a
node."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("envoy.service.discovery.v3.ads_pb2")

import grpc
from envoy.service.status.v3 import csds_pb2, csds_pb2_grpc

from envoykit import EdgeProxy, Supervisor
from envoykit.fleet import ControlPlane, FleetEvent, MemberTLS, ServerTLS, fleet_member
from envoykit.testing import wait_until
from envoykit.testing.tls import TestCA

pytestmark = pytest.mark.integration

EDGE = EdgeProxy().site("a.example.com", "127.0.0.20:8080").http(port=0).no_admin()


def test_members_reach_an_mtls_control_plane_and_others_are_refused(tmp_path: Path) -> None:
    ca = TestCA(tmp_path / "ca")
    server = ca.issue("xds.example.com")
    client = ca.client_cert("edge-1")
    tls = ServerTLS(server.cert, server.key, client_ca=ca.ca_file)
    events: list[FleetEvent] = []
    with ControlPlane("127.0.0.1:0", tls=tls, on_event=events.append) as plane:
        plane.set_snapshot(EDGE)
        member = fleet_member(plane.address, node_id="edge-1", metadata={"zone": "eu-1"},
                              tls=MemberTLS(ca.ca_file, "xds.example.com", client.cert,
                                            client.key))
        with Supervisor(member, concurrency=1, log_level="warning"):
            plane.wait_synced(timeout=60)
            [node] = plane.status()
            assert node.id == "edge-1" and node.in_sync
            assert node.metadata == {"zone": "eu-1"}                # as the node said it
            assert plane.forget("edge-1") is False                  # connected: kept
        # a client without a certificate gets no answer
        trusted = grpc.ssl_channel_credentials(Path(ca.ca_file).read_bytes())
        options = [("grpc.ssl_target_name_override", "xds.example.com")]
        with grpc.secure_channel(plane.address, trusted, options) as channel:
            stub = csds_pb2_grpc.ClientStatusDiscoveryServiceStub(channel)
            with pytest.raises(grpc.RpcError) as refused:
                stub.FetchClientStatus(csds_pb2.ClientStatusRequest(), timeout=20)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        wait_until(lambda: not plane.node("edge-1").connected, what="the stream of edge-1 closed")
        kinds = [(e.kind, e.node_id) for e in events]
        assert kinds[0] == ("connected", "edge-1") and kinds[-1] == ("disconnected", "edge-1")
        assert {e.type_url.rsplit(".", 1)[-1] for e in events if e.kind == "ack"} == {
            "Cluster", "ClusterLoadAssignment", "Listener", "RouteConfiguration"}
        assert plane.forget("edge-1") is True
        assert plane.status() == []
