"""Fleet proofs on real Envoys over real gRPC: 20 members (half SotW, half delta) of one
control plane on loopback. The module shares one fleet (starting 20 Envoys is the cost);
each test pushes the config it needs first. Nothing sleeps: every wait is for an event
(an ACK, a connection, a served request) with a generous deadline.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

pytest.importorskip("envoy.service.discovery.v3.ads_pb2")

from envoykit import EdgeProxy, Supervisor
from envoykit.errors import PushRejected
from envoykit.fleet import ControlPlane, fleet_member
from envoykit.testing import free_port, wait_until
from envoykit.testing.upstream import Upstream

pytestmark = pytest.mark.integration

HOST = "a.example.com"
MEMBERS = 20


def edge(upstream: Upstream) -> EdgeProxy:
    """The fleet's config: one site, a plain HTTP listener on a port of each Envoy's own."""
    return EdgeProxy().site(HOST, upstream.address).http(port=0).no_admin()


def bad_edge(upstream: Upstream) -> dict[str, Any]:
    """A change only Envoy refuses (a negative duration passes the protobuf mapping)."""
    config = edge(upstream).to_dict()
    config["static_resources"]["clusters"][0]["connect_timeout"] = "-1s"
    return config


@dataclass
class Fleet:
    plane: ControlPlane
    address: str
    a: Upstream
    b: Upstream
    envoys: dict[str, Supervisor] = field(default_factory=dict)

    def member(self, node_id: str) -> Supervisor:
        boot = fleet_member(self.address, node_id=node_id, delta=node_id.endswith(
            ("1", "3", "5", "7", "9")))
        return Supervisor(boot, concurrency=1, log_level="warning", drain_time_s=1,
                          parent_shutdown_time_s=2, startup_timeout=60)

    def start(self, node_id: str) -> None:
        envoy = self.member(node_id)
        envoy.start()
        self.envoys[node_id] = envoy

    def port(self, node_id: str) -> int:
        with self.envoys[node_id].admin() as admin:
            return admin.listeners()["http"][1]

    def served_by(self, node_id: str) -> str:
        reply = httpx.get(f"http://127.0.0.1:{self.port(node_id)}/", headers={"host": HOST},
                          timeout=10)
        return str(json.loads(reply.text)["upstream"]) if reply.status_code == 200 \
            else f"HTTP {reply.status_code}"

    def all_served_by(self) -> dict[str, str]:
        return {n: self.served_by(n) for n in sorted(self.envoys)}

    def connect_failures(self, node_id: str) -> int:
        name = "cluster.envoykit_xds.upstream_cx_connect_fail"
        with self.envoys[node_id].admin() as admin:
            return int(admin.stats(filter=f"^{name}$").counters.get(name, 0))

    def rejected(self, node_id: str) -> int:
        with self.envoys[node_id].admin() as admin:
            stats = admin.stats(filter=r"^cluster_manager\.cds\.update_rejected$")
            return int(stats.counters.get("cluster_manager.cds.update_rejected", 0))


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    address = f"127.0.0.1:{free_port()}"
    with Upstream("a") as a, Upstream("b") as b:
        plane = ControlPlane(address).start()
        state = Fleet(plane, address, a, b)
        try:
            plane.set_snapshot(edge(a))
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(state.start, [f"n{i:02d}" for i in range(MEMBERS)]))
            state.plane.wait_synced(timeout=60)
            yield state
        finally:
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda e: e.stop(graceful=False), state.envoys.values()))
            state.plane.stop()


def test_a_push_is_acked_and_served_by_all_twenty(fleet: Fleet) -> None:
    snapshot = fleet.plane.push(edge(fleet.b), timeout=60)
    status = fleet.plane.status()
    assert len(status) == MEMBERS and all(s.connected for s in status)
    assert sum(s.delta for s in status) == MEMBERS // 2
    assert {s.acked_version for s in status} == {snapshot.version}
    assert all(s.types["clusters"].acked == snapshot.versions[
        "type.googleapis.com/envoy.config.cluster.v3.Cluster"] for s in status)
    assert set(fleet.all_served_by().values()) == {"b"}


def test_a_nack_raises_with_envoys_message_and_is_not_resent(fleet: Fleet) -> None:
    good = fleet.plane.push(edge(fleet.a), timeout=60)
    before = {n: fleet.rejected(n) for n in fleet.envoys}
    with pytest.raises(PushRejected) as caught:
        fleet.plane.push(bad_edge(fleet.a), timeout=60)
    assert sorted(caught.value.rejections) == sorted(fleet.envoys)
    assert all("duration" in why.lower() for why in caught.value.rejections.values())
    sent = {s.id: s.responses_sent for s in fleet.plane.status()}
    assert set(fleet.all_served_by().values()) == {"a"}          # the old config serves
    after = {n: fleet.rejected(n) for n in fleet.envoys}
    assert {n: after[n] - before[n] for n in after} == dict.fromkeys(after, 1)  # once each
    assert {s.id: s.responses_sent for s in fleet.plane.status()} == sent      # parked
    status = fleet.plane.status()
    assert {s.acked_version for s in status} == {good.version}
    assert {s.nacked_version for s in status} == {caught.value.version}
    fleet.plane.push(edge(fleet.b), timeout=60)                  # a new snapshot moves on
    assert set(fleet.all_served_by().values()) == {"b"}


def test_rollback_sends_the_nacking_nodes_back_to_their_last_acked_snapshot(
        fleet: Fleet) -> None:
    good = fleet.plane.push(edge(fleet.a), timeout=60)
    targets = ["n00", "n01"]
    with pytest.raises(PushRejected) as caught:
        fleet.plane.push(bad_edge(fleet.b), nodes=targets, timeout=60, rollback=True)
    assert sorted(caught.value.rejections) == targets and caught.value.rolled_back == targets
    fleet.plane.wait_synced(timeout=60)
    status = {s.id: s for s in fleet.plane.status()}
    assert {status[n].target_version for n in targets} == {good.version}
    assert {s.acked_version for s in status.values()} == {good.version}
    assert {fleet.served_by(n) for n in targets} == {"a"}


def test_an_envoy_restarted_mid_fleet_gets_the_current_snapshot(fleet: Fleet) -> None:
    fleet.plane.push(edge(fleet.a), timeout=60)
    fleet.envoys.pop("n03").stop()
    current = fleet.plane.push(edge(fleet.b), timeout=60)        # n03 is away
    assert fleet.plane.node("n03").acked_version != current.version
    fleet.start("n03")
    fleet.plane.wait_synced(nodes=["n03"], timeout=60)
    assert fleet.plane.node("n03").acked_version == current.version
    assert fleet.served_by("n03") == "b"


def test_envoys_serve_while_the_control_plane_is_down_and_reconverge(fleet: Fleet) -> None:
    fleet.plane.push(edge(fleet.a), timeout=60)
    fleet.plane.stop()
    assert set(fleet.all_served_by().values()) == {"a"}          # still serving, plane gone
    before = {n: fleet.connect_failures(n) for n in fleet.envoys}
    wait_until(lambda: all(fleet.connect_failures(n) >= before[n] + 4 for n in fleet.envoys),
               what="each envoy backing off 4 times", timeout=90)
    fleet.plane = ControlPlane(fleet.address).start()
    back = time.monotonic()
    current = fleet.plane.set_snapshot(edge(fleet.b))
    fleet.plane.wait_connected(MEMBERS, timeout=60)
    fleet.plane.wait_synced(timeout=60)
    took = time.monotonic() - back
    assert {s.acked_version for s in fleet.plane.status()} == {current.version}
    assert took <= 5.0, f"re-converged in {took:.1f} s"          # the bound
    assert set(fleet.all_served_by().values()) == {"b"}


def test_twenty_pushes_under_load_fail_no_request(fleet: Fleet) -> None:
    fleet.plane.push(edge(fleet.a), timeout=60)
    url = f"http://127.0.0.1:{fleet.port('n00')}/"
    stop = threading.Event()
    results: list[int | str] = []

    def load() -> None:
        with httpx.Client(headers={"host": HOST}, timeout=10) as client:
            while not stop.is_set() and len(results) < 100_000:
                try:
                    results.append(client.get(url).status_code)
                except httpx.HTTPError as exc:
                    results.append(type(exc).__name__)

    worker = threading.Thread(target=load)
    worker.start()
    try:
        wait_until(lambda: len(results) > 0, what="the first answer of the load")
        for i in range(20):
            fleet.plane.push(edge(fleet.b if i % 2 == 0 else fleet.a), timeout=60)
    finally:
        stop.set()
        worker.join(30)
    failed = [r for r in results if r != 200]
    assert results and failed == [], f"{len(failed)} of {len(results)} failed: {failed[:5]}"
    assert fleet.served_by("n00") == "a"                         # the 20th push serves


def test_client_status_service_reports_every_node(fleet: Fleet) -> None:
    import grpc
    from envoy.service.status.v3 import csds_pb2, csds_pb2_grpc

    current = fleet.plane.push(edge(fleet.a), timeout=60)
    with grpc.insecure_channel(fleet.plane.address) as channel:
        reply = csds_pb2_grpc.ClientStatusDiscoveryServiceStub(channel).FetchClientStatus(
            csds_pb2.ClientStatusRequest(), timeout=30)
    nodes = {c.node.id: c for c in reply.config}
    assert sorted(nodes) == sorted(fleet.envoys)
    listeners = [x for x in nodes["n00"].generic_xds_configs if x.type_url.endswith("Listener")]
    assert listeners[0].config_status == csds_pb2.ConfigStatus.SYNCED
    assert listeners[0].version_info == current.versions[listeners[0].type_url]
