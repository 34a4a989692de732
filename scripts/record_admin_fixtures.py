"""Record real envoy admin responses as fixtures for the admin client's unit tests.

    .venv/bin/python scripts/record_admin_fixtures.py [--out tests/unit/fixtures/admin]

Starts envoy (the test bootstrap of tests/integration/_admin_helpers.py: static and file-xDS
listeners, clusters and routes, TLS secrets, a health-checked dead cluster, an admin runtime
layer), sends some traffic, then saves each admin answer as a file plus ``index.json``
(method, path, query, status, content type, file). A second envoy stuck initializing gives
the 503 of ``/ready``. Everything runs on 127.0.0.1 and is killed at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from _admin_helpers import (  # noqa: E402
    dead_port,
    rich_envoy,
    running_envoy,
    sock,
)

Query = list[tuple[str, str]]
HTTP_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"

# name, method, path, query — recorded in this order against the rich envoy.
REQUESTS: list[tuple[str, str, str, Query]] = [
    ("help", "GET", "/help", []),
    ("ready", "GET", "/ready", []),
    ("server_info", "GET", "/server_info", []),
    ("listeners", "GET", "/listeners", [("format", "json")]),
    ("stats_counters", "GET", "/stats", [("format", "json"), ("type", "Counters")]),
    ("stats_gauges", "GET", "/stats", [("format", "json"), ("type", "Gauges")]),
    ("stats_text_readouts", "GET", "/stats", [("format", "json"), ("type", "TextReadouts")]),
    ("stats_histograms", "GET", "/stats", [("format", "json"), ("type", "Histograms")]),
    ("stats_all", "GET", "/stats", [("format", "json")]),
    ("stats_text_ingress", "GET", "/stats", [("filter", r"^http\.ingress_http")]),
    ("prometheus_ingress", "GET", "/stats/prometheus", [("filter", r"^http\.ingress_http")]),
    ("config_dump", "GET", "/config_dump", []),
    ("config_dump_eds", "GET", "/config_dump", [("include_eds", "")]),
    (
        "config_dump_dynamic_listeners",
        "GET",
        "/config_dump",
        [("resource", "dynamic_listeners")],
    ),
    (
        "config_dump_static_clusters_mask",
        "GET",
        "/config_dump",
        [("resource", "static_clusters"), ("mask", "cluster.name")],
    ),
    ("config_dump_unknown_resource", "GET", "/config_dump", [("resource", "nope")]),
    ("clusters", "GET", "/clusters", [("format", "json")]),
    ("certs", "GET", "/certs", []),
    ("memory", "GET", "/memory", []),
    ("runtime_modify", "POST", "/runtime_modify", [("envoykit.test.knob", "42")]),
    ("runtime", "GET", "/runtime", []),
    ("logging", "POST", "/logging", []),
    ("logging_paths", "POST", "/logging", [("paths", "upstream:debug,connection:trace")]),
    ("logging_level", "POST", "/logging", [("level", "warning")]),
    ("logging_bad_level", "POST", "/logging", [("level", "loud")]),
    ("logging_get", "GET", "/logging", []),
    ("stats_bad_type", "GET", "/stats", [("format", "json"), ("type", "Foo")]),
    ("stats_bad_regex", "GET", "/stats", [("filter", "(")]),
    ("healthcheck_fail", "POST", "/healthcheck/fail", []),
    ("healthcheck_ok", "POST", "/healthcheck/ok", []),
    ("reset_counters", "POST", "/reset_counters", []),
    ("drain_listeners", "POST", "/drain_listeners", [("graceful", ""), ("skip_exit", "")]),
    ("quitquitquit", "POST", "/quitquitquit", []),
]


def record(client: httpx.Client, name: str, method: str, path: str, query: Query) -> dict[str, Any]:
    """Send one request; return its index entry (the body is kept under ``_body``)."""
    response = client.request(method, path, params=list(query))
    kind = "json" if "json" in response.headers.get("content-type", "") else "txt"
    return {
        "name": name,
        "method": method,
        "path": path,
        "query": query,
        "status": response.status_code,
        "content_type": response.headers.get("content-type", ""),
        "file": f"{name}.{kind}",
        "_body": response.content,
    }


def traffic(listeners: dict[str, Any]) -> None:
    """A few requests so counters and histograms have values."""
    port = listeners["ingress_http"]
    with httpx.Client(timeout=5) as http:
        for path in ("/", "/", "/up", "/up", "/missing"):
            http.get(f"http://127.0.0.1:{port}{path}")


def listener_ports(client: httpx.Client) -> dict[str, int]:
    """Listener name → port, read the plain way (not through the client under test)."""
    data = client.get("/listeners", params={"format": "json"}).json()
    return {
        s["name"]: s["local_address"]["socket_address"]["port_value"]
        for s in data["listener_statuses"]
    }


def record_rich(workdir: Path) -> list[dict[str, Any]]:
    """Every request of REQUESTS against the rich envoy."""
    with rich_envoy(workdir) as envoy, httpx.Client(base_url=f"http://{envoy.admin_address}") as c:
        traffic(listener_ports(c))
        time.sleep(5.5)  # one stats flush, so histograms have interval values
        entries = [record(c, *request) for request in REQUESTS]
        envoy.process.wait(timeout=10)
    return entries


def initializing_bootstrap(dead_port: int) -> dict[str, Any]:
    """An envoy whose CDS comes from an unreachable gRPC server: it stays INITIALIZING."""
    grpc = {"envoy_grpc": {"cluster_name": "xds"}}
    source = {
        "api_config_source": {
            "api_type": "GRPC",
            "transport_api_version": "V3",
            "grpc_services": [grpc],
        },
        "resource_api_version": "V3",
        "initial_fetch_timeout": "0s",
    }
    endpoint = {"endpoint": {"address": sock("127.0.0.1", dead_port)}}
    xds = {
        "name": "xds",
        "type": "STATIC",
        "connect_timeout": "0.25s",
        "typed_extension_protocol_options": {
            HTTP_OPTIONS: {
                "@type": f"type.googleapis.com/{HTTP_OPTIONS}",
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        },
        "load_assignment": {"cluster_name": "xds", "endpoints": [{"lb_endpoints": [endpoint]}]},
    }
    return {
        "admin": {"address": sock("127.0.0.1", 0)},
        "node": {"id": "envoykit-initializing", "cluster": "envoykit"},
        "dynamic_resources": {"cds_config": source},
        "static_resources": {"clusters": [xds]},
    }


def record_initializing(workdir: Path) -> list[dict[str, Any]]:
    """``/ready`` (503) and ``/server_info`` of an envoy that never finishes initializing."""
    with dead_port() as port:
        bootstrap = initializing_bootstrap(port)
        with running_envoy(workdir, bootstrap, wait_ready=False) as envoy:
            base = f"http://{envoy.admin_address}"
            with httpx.Client(base_url=base) as c:
                return [
                    record(c, "ready_initializing", "GET", "/ready", []),
                    record(c, "server_info_initializing", "GET", "/server_info", []),
                ]


def save(out: Path, entries: list[dict[str, Any]]) -> None:
    """Write each body and the index."""
    out.mkdir(parents=True, exist_ok=True)
    index = []
    for entry in entries:
        (out / entry["file"]).write_bytes(entry.pop("_body"))
        index.append(entry)
    (out / "index.json").write_text(json.dumps(index, indent=1) + "\n")


def main() -> int:
    """Record the fixtures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "tests/unit/fixtures/admin")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="envoykit-rec-") as tmp:
        rich_dir, init_dir = Path(tmp, "rich"), Path(tmp, "init")
        rich_dir.mkdir()
        init_dir.mkdir()
        entries = record_rich(rich_dir) + record_initializing(init_dir)
    save(args.out, entries)
    print(f"recorded {len(entries)} responses into {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
