"""Start a real envoy for the admin client's tests (a small private launcher).

It does not use envoykit.process (written in parallel); it only needs: a bootstrap in a
temporary directory, admin and listeners on 127.0.0.1 port 0, a dynamic base id so
parallel envoys never collide, a readiness wait, and a kill that always runs.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import trustme

from envoykit.binary import find_envoy
from envoykit.testing.wait import DEFAULT_TIMEOUT, wait_until

HCM = (
    "type.googleapis.com/envoy.extensions.filters.network."
    "http_connection_manager.v3.HttpConnectionManager"
)
ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
TLS_DOWN = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"
TLS_UP = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
LISTENER = "type.googleapis.com/envoy.config.listener.v3.Listener"
CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
ROUTE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"


@dataclass
class Envoy:
    """A running envoy: its process, admin address and working directory."""

    process: subprocess.Popen[bytes]
    admin_address: str
    workdir: Path

    def log_tail(self, lines: int = 30) -> str:
        """The last lines envoy printed."""
        log = self.workdir / "envoy.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def sock(host: str, port: int) -> dict[str, Any]:
    """An envoy Address."""
    return {"socket_address": {"address": host, "port_value": port}}


def hcm(stat_prefix: str, route: dict[str, Any]) -> dict[str, Any]:
    """An http_connection_manager filter with an inline route_config or an RDS reference."""
    config: dict[str, Any] = {"@type": HCM, "stat_prefix": stat_prefix, **route}
    config["http_filters"] = [
        {"name": "envoy.filters.http.router", "typed_config": {"@type": ROUTER}}
    ]
    return {"name": "envoy.filters.network.http_connection_manager", "typed_config": config}


def route_config(name: str, cluster: str | None) -> dict[str, Any]:
    """Routes ``/up`` to ``cluster`` (when given) and answers everything else directly."""
    routes: list[dict[str, Any]] = []
    if cluster:
        routes.append({"match": {"prefix": "/up"}, "route": {"cluster": cluster}})
    direct = {"status": 200, "body": {"inline_string": "hello"}}
    routes.append({"match": {"prefix": "/"}, "direct_response": direct})
    vhost = {"name": "all", "domains": ["*"], "routes": routes}
    return {"name": name, "virtual_hosts": [vhost]}


def static_cluster(name: str, port: int, **extra: Any) -> dict[str, Any]:
    """A STATIC cluster with one endpoint on 127.0.0.1:port."""
    endpoint = {"endpoint": {"address": sock("127.0.0.1", port)}}
    assignment = {"cluster_name": name, "endpoints": [{"lb_endpoints": [endpoint]}]}
    return {
        "name": name,
        "connect_timeout": "0.5s",
        "type": "STATIC",
        "load_assignment": assignment,
        **extra,
    }


def write_json(path: Path, data: Any) -> str:
    """Write ``data`` as JSON; return the path as text."""
    path.write_text(json.dumps(data, indent=1))
    return str(path)


def xds_file(path: Path, version: str, type_url: str, resources: list[dict[str, Any]]) -> str:
    """A filesystem xDS DiscoveryResponse."""
    typed = [{"@type": type_url, **r} for r in resources]
    return write_json(path, {"version_info": version, "resources": typed})


def rich_bootstrap(workdir: Path, upstream_port: int, dead_port: int) -> dict[str, Any]:
    """A bootstrap exercising every admin endpoint: static and file-xDS listeners, clusters
    and routes, TLS secrets, a health-checked dead cluster and an admin runtime layer."""
    ca = trustme.CA()
    leaf = ca.issue_cert("a.example.com", "b.example.com")
    leaf.cert_chain_pems[0].write_to_path(str(workdir / "cert.pem"))
    leaf.private_key_pem.write_to_path(str(workdir / "key.pem"))
    ca.cert_pem.write_to_path(str(workdir / "ca.pem"))
    return {
        "node": {"id": "envoykit-admin-test", "cluster": "envoykit"},
        "admin": {"address": sock("127.0.0.1", 0)},
        "layered_runtime": {
            "layers": [
                {"name": "static", "static_layer": {"envoykit.test.flag": "on"}},
                {"name": "admin", "admin_layer": {}},
            ]
        },
        "dynamic_resources": _dynamic(workdir),
        "static_resources": {
            "listeners": [_http_listener(), _https_listener()],
            "clusters": [
                static_cluster("backend", upstream_port),
                _dead_cluster(dead_port),
                _tls_cluster(upstream_port),
            ],
            "secrets": [
                {
                    "name": "server_cert",
                    "tls_certificate": {
                        "certificate_chain": {"filename": str(workdir / "cert.pem")},
                        "private_key": {"filename": str(workdir / "key.pem")},
                    },
                },
                {
                    "name": "upstream_ca",
                    "validation_context": {"trusted_ca": {"filename": str(workdir / "ca.pem")}},
                },
            ],
        },
    }


def _http_listener() -> dict[str, Any]:
    route = {"route_config": route_config("local_route", "backend")}
    return {
        "name": "ingress_http",
        "address": sock("127.0.0.1", 0),
        "filter_chains": [{"filters": [hcm("ingress_http", route)]}],
    }


def _https_listener() -> dict[str, Any]:
    tls = {
        "@type": TLS_DOWN,
        "common_tls_context": {"tls_certificate_sds_secret_configs": [{"name": "server_cert"}]},
    }
    route = {"route_config": route_config("tls_route", None)}
    chain = {
        "filters": [hcm("ingress_https", route)],
        "transport_socket": {"name": "envoy.transport_sockets.tls", "typed_config": tls},
    }
    return {
        "name": "ingress_https",
        "address": sock("127.0.0.1", 0),
        "traffic_direction": "INBOUND",  # drain_listeners(inbound_only=True) drains only this
        "filter_chains": [chain],
    }


def _dead_cluster(port: int) -> dict[str, Any]:
    check = {
        "timeout": "0.5s",
        "interval": "5s",
        "unhealthy_threshold": 1,
        "healthy_threshold": 1,
        "tcp_health_check": {},
    }
    return static_cluster("dead", port, health_checks=[check])


def _tls_cluster(port: int) -> dict[str, Any]:
    context = {"validation_context_sds_secret_config": {"name": "upstream_ca"}}
    tls = {"@type": TLS_UP, "sni": "a.example.com", "common_tls_context": context}
    socket_ = {"name": "envoy.transport_sockets.tls", "typed_config": tls}
    return static_cluster("tls_backend", port, transport_socket=socket_)


def _dynamic(workdir: Path) -> dict[str, Any]:
    rds = xds_file(
        workdir / "rds.json", "r1", ROUTE, [route_config("dynamic_route", "dyn_backend")]
    )
    rds_ref = {"rds": {"route_config_name": "dynamic_route", "config_source": _file_source(rds)}}
    listener = {
        "name": "dynamic_http",
        "address": sock("127.0.0.1", 0),
        "filter_chains": [{"filters": [hcm("dynamic_http", rds_ref)]}],
    }
    lds = xds_file(workdir / "lds.json", "l1", LISTENER, [listener])
    cds = xds_file(workdir / "cds.json", "c1", CLUSTER, [static_cluster("dyn_backend", 9)])
    return {"lds_config": _file_source(lds), "cds_config": _file_source(cds)}


def _file_source(path: str) -> dict[str, Any]:
    return {"path_config_source": {"path": path}, "resource_api_version": "V3"}


@contextlib.contextmanager
def running_envoy(
    workdir: Path, bootstrap: dict[str, Any], timeout: float = DEFAULT_TIMEOUT, *,
    wait_ready: bool = True,
) -> Iterator[Envoy]:
    """Start envoy on ``bootstrap``; yield once ``/ready`` is 200 (or, without ``wait_ready``,
    once admin answers); always kill it."""
    config = write_json(workdir / "bootstrap.json", bootstrap)
    args = [
        str(find_envoy().path),
        "-c", config,
        "--admin-address-path", str(workdir / "admin.txt"),
        "--use-dynamic-base-id", "--base-id-path", str(workdir / "base-id.txt"),
        "--concurrency", "1", "-l", "warning",
        "--drain-time-s", "1", "--parent-shutdown-time-s", "2",
    ]  # fmt: skip
    with open(workdir / "envoy.log", "wb") as log:
        process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    envoy = Envoy(process, "", workdir)
    try:
        envoy.admin_address = _wait_ready(envoy, timeout, wait_ready)
        yield envoy
    finally:
        _stop(envoy)


def _wait_ready(envoy: Envoy, timeout: float, wait_ready: bool) -> str:
    path = envoy.workdir / "admin.txt"

    def ready_address() -> str:
        if envoy.process.poll() is not None:
            raise RuntimeError(f"envoy exited with {envoy.process.returncode}:\n{envoy.log_tail()}")
        address = path.read_text().strip() if path.exists() else ""
        return address if address and _is_ready(address, wait_ready) else ""

    return wait_until(ready_address, timeout=timeout, what="envoy admin ready",
                      context=envoy.log_tail)


def _is_ready(address: str, wait_ready: bool) -> bool:
    try:
        status = httpx.get(f"http://{address}/ready", timeout=1.0).status_code
        return status == 200 or not wait_ready
    except httpx.HTTPError:
        return False


def _stop(envoy: Envoy) -> None:
    process = envoy.process
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)
    base_id = envoy.workdir / "base-id.txt"
    if base_id.exists() and base_id.read_text().strip():
        for epoch in range(3):
            shm = Path(f"/dev/shm/envoy_shared_memory_{base_id.read_text().strip()}{epoch}")
            with contextlib.suppress(OSError):
                shm.unlink()


class _Upstream(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"upstream"
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def upstream_server() -> Iterator[int]:
    """A tiny HTTP server on 127.0.0.1 (port 0); yields its port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def dead_port() -> Iterator[int]:
    """A loopback port that is bound but not listening: connections are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


@contextlib.contextmanager
def rich_envoy(workdir: Path) -> Iterator[Envoy]:
    """An envoy on :func:`rich_bootstrap`, with its upstream and dead port."""
    with upstream_server() as up, dead_port() as dead:
        bootstrap = rich_bootstrap(workdir, up, dead)
        with running_envoy(workdir, bootstrap) as envoy:
            yield envoy
