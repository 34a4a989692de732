"""A type xds-protos lacks goes to Envoy as xds.type.v3.TypedStruct, and Envoy takes it.

The HTTP connection manager is made "missing" here (xds-protos has it; some newer
extensions it really lacks would need an Envoy build that uses them), then traffic proves
Envoy turned the TypedStruct back into a working connection manager."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

pytest.importorskip("envoy.service.discovery.v3.ads_pb2")

from envoykit import EdgeProxy, Supervisor
from envoykit.fleet import ControlPlane, Snapshot, _proto, fleet_member
from envoykit.fleet._snapshot import LISTENER
from envoykit.testing.upstream import Upstream

pytestmark = pytest.mark.integration

HCM = "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"


def test_envoy_accepts_a_connection_manager_sent_as_typed_struct(
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = _proto.message_class

    def without_hcm(full_name: str) -> Any:
        return None if full_name == HCM else real(full_name)

    monkeypatch.setattr(_proto, "message_class", without_hcm)
    with Upstream("typed") as upstream, ControlPlane() as plane:
        snapshot = Snapshot.from_config(
            EdgeProxy().site("a.example.com", upstream.address).http(port=0).no_admin())
        listener = snapshot.of_type(LISTENER)["http"].packed
        assert _proto.TYPED_STRUCT.encode() in listener.value      # sent as a TypedStruct
        plane.set_snapshot(snapshot)
        with Supervisor(fleet_member(plane.address, node_id="typed"), concurrency=1,
                        log_level="warning") as envoy:
            plane.wait_synced(timeout=60)
            assert plane.node("typed").in_sync
            with envoy.admin() as admin:
                port = admin.listeners()["http"][1]
            reply = httpx.get(f"http://127.0.0.1:{port}/", headers={"host": "a.example.com"},
                              timeout=10)
            assert json.loads(reply.text)["upstream"] == "typed"
