"""A fleet: one Python control plane drives three Envoys over xDS (ADS over gRPC).

    python examples/fleet.py

Everything runs on loopback: two local web servers (``blue`` and ``green``), a control
plane on a free port, and three supervised Envoys started with ``fleet_member`` — two on
state-of-the-world xDS, one on delta. Then

1. a change (the site moves from ``blue`` to ``green``) is pushed to all three: ``push``
   returns once every Envoy ACKed it, and each one serves ``green``;
2. a bad change (a negative connect timeout: the protobuf mapping takes it, only Envoy
   refuses it) is NACKed by every Envoy: ``push`` raises with Envoy's message, the nodes
   are rolled back to their last ACKed snapshot and keep serving ``green``;
3. ``status()`` tells, per node, the version ACKed, the version NACKed and why.
"""

from __future__ import annotations

import json

import httpx

from envoykit import EdgeProxy, Supervisor
from envoykit.errors import PushRejected
from envoykit.fleet import ControlPlane, fleet_member
from envoykit.testing.upstream import Upstream

HOST = "shop.example.com"


def edge(upstream: Upstream) -> EdgeProxy:
    """The fleet's config: one site, HTTP on a port each Envoy picks (port 0)."""
    return EdgeProxy().site(HOST, upstream.address).http(port=0).no_admin()


def served_by(envoy: Supervisor) -> str:
    """Which web server answers a request through this Envoy."""
    with envoy.admin() as admin:
        port = admin.listeners()["http"][1]
    reply = httpx.get(f"http://127.0.0.1:{port}/", headers={"host": HOST}, timeout=10)
    assert reply.status_code == 200, reply.status_code
    return str(json.loads(reply.text)["upstream"])


def main() -> None:
    with Upstream("blue") as blue, Upstream("green") as green, ControlPlane() as plane:
        plane.set_snapshot(edge(blue))
        members = {name: Supervisor(fleet_member(plane.address, node_id=name,
                                                 delta=name == "edge-3"),
                                    concurrency=1, log_level="warning")
                   for name in ("edge-1", "edge-2", "edge-3")}
        for envoy in members.values():
            envoy.start()
        try:
            plane.wait_synced(timeout=60)
            assert {served_by(e) for e in members.values()} == {"blue"}
            print(f"3 Envoys connected to {plane.address}, all serving blue")

            # 1. a change pushed to all: push() returns when every node ACKed it
            snapshot = plane.push(edge(green), timeout=60)
            assert {s.acked_version for s in plane.status()} == {snapshot.version}
            assert {served_by(e) for e in members.values()} == {"green"}
            print(f"pushed {snapshot.version}: ACKed by all 3, all serving green")

            # 2. a change only Envoy refuses: NACKed by all, rolled back, still green
            bad = edge(blue).to_dict()
            bad["static_resources"]["clusters"][0]["connect_timeout"] = "-1s"
            try:
                plane.push(bad, timeout=60, rollback=True)
                raise AssertionError("the bad change was accepted")
            except PushRejected as rejected:
                assert sorted(rejected.rejections) == sorted(members)
                assert rejected.rolled_back == sorted(members)
                reason = rejected.rejections["edge-1"].splitlines()[0]
                print(f"bad change NACKed by all 3 and rolled back; envoy said: {reason}")
            plane.wait_synced(timeout=60)
            assert {served_by(e) for e in members.values()} == {"green"}

            # 3. per-node status
            for node in plane.status():
                assert node.acked_version == snapshot.version and node.error_detail
                mode = "delta" if node.delta else "sotw"
                print(f"  {node.id} ({mode}): ACKed {node.acked_version}, "
                      f"NACKed {node.nacked_version}")
        finally:
            for envoy in members.values():
                envoy.stop()
    print("ok")


if __name__ == "__main__":
    main()
