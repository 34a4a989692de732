"""Delta xDS on real Envoys: changing one route of a 1,000-site HTTPS edge (one route
config per site, behind its SNI filter chain) sends that one resource over delta, and all
1,000 over state of the world. Bytes on the wire are counted by the control plane."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("envoy.service.discovery.v3.ads_pb2")

from envoykit import EdgeProxy, Supervisor
from envoykit.fleet import ControlPlane, fleet_member
from envoykit.fleet._snapshot import ROUTE
from envoykit.testing.tls import TestCA

pytestmark = pytest.mark.integration

SITES = 1000


def thousand_sites(cert: tuple[str, str], rewrite_site: int | None = None) -> EdgeProxy:
    edge = EdgeProxy().https(port=0).no_admin()
    for i in range(SITES):
        edge.site(f"s{i}.example.com", "127.0.0.20:8080", cert=cert,
                  prefix_rewrite="/v2/" if i == rewrite_site else None)
    return edge


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    files = TestCA(tmp_path_factory.mktemp("ca")).issue("*.example.com")
    return str(files.cert), str(files.key)


@pytest.fixture(scope="module")
def plane() -> Iterator[ControlPlane]:
    with ControlPlane() as running:
        yield running


def test_one_changed_route_is_one_resource_on_the_wire(plane: ControlPlane,
                                                       cert: tuple[str, str]) -> None:
    first = plane.push(thousand_sites(cert))
    assert len(first.of_type(ROUTE)) == SITES
    members = [Supervisor(fleet_member(plane.address, node_id=name, delta=name == "delta"),
                          concurrency=1, log_level="warning", startup_timeout=120)
               for name in ("sotw", "delta")]
    try:
        for member in members:
            member.start()
        plane.wait_synced(timeout=120)
        before = {s.id: s.bytes_sent for s in plane.status()}
        changed = plane.push(thousand_sites(cert, rewrite_site=7), timeout=120)
        after = {s.id: s.bytes_sent for s in plane.status()}
    finally:
        for member in members:
            member.stop(graceful=False)
    sent = {node: after[node] - before[node] for node in after}
    differ = [n for n, r in changed.of_type(ROUTE).items() if r.version !=
              first.of_type(ROUTE)[n].version]
    assert len(differ) == 1                                       # one route config changed
    one = changed.of_type(ROUTE)[differ[0]].packed.ByteSize()
    every = sum(r.packed.ByteSize() for r in changed.of_type(ROUTE).values())
    assert one < sent["delta"] < 2 * one + 512, sent              # that one resource
    assert sent["sotw"] >= every, sent                            # all 1,000 of them
    assert {s.acked_version for s in plane.status()} == {changed.version}
