"""``envoykit fleet status --control-plane HOST:PORT``: what each node of a fleet runs.

Asks the control plane's client status service (CSDS, ``envoy.service.status.v3``), the
standard one Envoy's own tooling reads, and prints per node and resource type the version
ACKed, whether it is the one the control plane wants, and Envoy's NACK message if any.
"""

from __future__ import annotations

import argparse
from typing import Any

from envoykit._cli.args import SubParsers, seconds
from envoykit.errors import FleetError

__all__ = ["fetch_status", "format_fleet", "register", "run"]


def register(subparsers: SubParsers) -> argparse.ArgumentParser:
    """Add ``fleet`` (with ``fleet status``) to the ``envoykit`` command."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "fleet", help="a fleet's control plane (see `fleet status`)",
        description="Ask an envoykit control plane about its fleet.")
    actions = p.add_subparsers(dest="fleet_command", metavar="ACTION", required=True)
    status = actions.add_parser("status", help="each node's ACKed / NACKed versions",
                                description="List every node the control plane has seen, "
                                "with the version of each resource type it ACKed and "
                                "Envoy's message for what it NACKed.")
    status.add_argument("--control-plane", required=True, metavar="HOST:PORT")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.add_argument("--timeout", type=seconds, default=10.0, metavar="SECONDS")
    status.add_argument("--ca", metavar="PEM", help="verify the control plane's TLS with this CA")
    return p


def run(args: argparse.Namespace) -> int:
    """Print the fleet's status; exit 1 when a node NACKed or is not in sync."""
    from envoykit._cli.output import print_json

    nodes = fetch_status(args.control_plane, timeout=args.timeout, ca=args.ca)
    if args.json:
        print_json(nodes)
    else:
        print(format_fleet(nodes))
    return 0 if all(n["in_sync"] for n in nodes if n["connected"]) else 1


def fetch_status(address: str, *, timeout: float = 10.0,
                 ca: str | None = None) -> list[dict[str, Any]]:
    """Every node as a JSON-ready dict: id, cluster, connected, in_sync and per type
    ``{"version", "status", "error"}``."""
    import grpc
    from envoy.service.status.v3 import csds_pb2, csds_pb2_grpc

    if ca is None:
        channel = grpc.insecure_channel(address)
    else:
        with open(ca, "rb") as handle:
            channel = grpc.secure_channel(address, grpc.ssl_channel_credentials(handle.read()))
    try:
        stub = csds_pb2_grpc.ClientStatusDiscoveryServiceStub(channel)
        reply = stub.FetchClientStatus(csds_pb2.ClientStatusRequest(), timeout=timeout)
    except grpc.RpcError as exc:
        raise FleetError(f"control plane {address}: {exc.code().name}: {exc.details()}") \
            from None
    finally:
        channel.close()
    return [_node(config) for config in reply.config]


def _node(config: Any) -> dict[str, Any]:
    from envoy.service.status.v3 import csds_pb2

    types = {}
    for item in config.generic_xds_configs:
        kind = item.type_url.rsplit(".", 1)[-1]
        types[kind] = {"version": item.version_info,
                       "status": csds_pb2.ConfigStatus.Name(item.config_status),
                       "error": item.error_state.details}
    return {
        "id": config.node.id, "cluster": config.node.cluster,
        "connected": config.client_scope == "connected",
        "in_sync": bool(types) and all(t["status"] == "SYNCED" for t in types.values()),
        "types": types,
    }


def format_fleet(nodes: list[dict[str, Any]]) -> str:
    """A table: one row per node and type; NACK messages below it."""
    from envoykit._cli.output import table

    rows = []
    errors = []
    for node in nodes:
        state = "connected" if node["connected"] else "gone"
        for kind, item in sorted(node["types"].items()):
            rows.append([node["id"], node["cluster"], state, kind, item["version"],
                         item["status"]])
            if item["error"]:
                errors.append(f"{node['id']} {kind}: {item['error'].strip()}")
        if not node["types"]:
            rows.append([node["id"], node["cluster"], state, "-", "-", "-"])
    text = table(["NODE", "CLUSTER", "STREAM", "TYPE", "ACKED", "STATUS"], rows) \
        if rows else "no node has connected"
    if errors:
        text += "\n\nNACKed:\n" + "\n".join(f"  {e}" for e in errors)
    return text
