"""Fleet: one Python control plane drives many Envoys over xDS (ADS over gRPC).

    from envoykit.fleet import ControlPlane, fleet_member
    from envoykit import Supervisor

    with ControlPlane("127.0.0.1:18000") as plane:
        plane.set_snapshot(edge)                       # an EdgeProxy, Bootstrap or dict
        with Supervisor(fleet_member(plane.address, node_id="edge-1")) as envoy:
            plane.push(changed_edge)                   # returns when every node ACKed
            print(plane.status())                      # per node: ACKed / NACKed + why

Needs the ``fleet`` extra (``pip install 'envoykit[fleet]'``: grpcio, protobuf, xds-protos).
See ``docs/fleet.md``.
"""

from envoykit.errors import FleetError, PushRejected, PushTimeout
from envoykit.fleet._member import XDS_CLUSTER, MemberTLS, fleet_member
from envoykit.fleet._server import (
    AsyncControlPlane,
    FleetEvent,
    NodeStatus,
    ServerTLS,
    TypeStatus,
)
from envoykit.fleet._snapshot import Resource, Snapshot
from envoykit.fleet._sync import ControlPlane

__all__ = [
    "XDS_CLUSTER",
    "AsyncControlPlane",
    "ControlPlane",
    "FleetError",
    "FleetEvent",
    "MemberTLS",
    "NodeStatus",
    "PushRejected",
    "PushTimeout",
    "Resource",
    "ServerTLS",
    "Snapshot",
    "TypeStatus",
    "fleet_member",
]
