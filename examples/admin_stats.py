"""Start a real envoy on loopback and read it through envoykit's admin client.

    python examples/admin_stats.py

Does from Python what the walkthrough does with curl: ``/stats?filter=^http\\.ingress_http``,
the same in JSON, and ``/config_dump?resource=dynamic_listeners``. Envoy runs in a temporary
directory with admin and listener on 127.0.0.1 port 0 and is always stopped at the end.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from envoykit.admin import AdminClient
from envoykit.binary import find_envoy

HCM = (
    "type.googleapis.com/envoy.extensions.filters.network."
    "http_connection_manager.v3.HttpConnectionManager"
)
ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"


def listener(name: str) -> dict[str, Any]:
    """A listener on 127.0.0.1 (any port) answering every request with 200 "hello"."""
    route = {
        "match": {"prefix": "/"},
        "direct_response": {"status": 200, "body": {"inline_string": "hello\n"}},
    }
    hcm = {
        "@type": HCM,
        "stat_prefix": name,
        "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [route]}]},
        "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {"@type": ROUTER}}],
    }
    return {
        "name": name,
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
        "filter_chains": [
            {
                "filters": [
                    {"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}
                ]
            }
        ],
    }


def write_config(workdir: Path) -> Path:
    """A static listener ``ingress_http`` and a dynamic one (LDS from a file)."""
    lds = workdir / "lds.json"
    resource = {
        "@type": "type.googleapis.com/envoy.config.listener.v3.Listener",
        **listener("from_file"),
    }
    lds.write_text(json.dumps({"version_info": "v1", "resources": [resource]}))
    bootstrap = {
        "node": {"id": "example", "cluster": "envoykit"},
        "stats_flush_interval": "0.2s",  # histogram quantiles are computed at each flush
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "static_resources": {"listeners": [listener("ingress_http")]},
        "dynamic_resources": {"lds_config": {"path_config_source": {"path": str(lds)}}},
    }
    config = workdir / "envoy.json"
    config.write_text(json.dumps(bootstrap))
    return config


@contextlib.contextmanager
def run_envoy(workdir: Path) -> Iterator[str]:
    """Start envoy; yield its admin address once it is LIVE; always stop it."""
    address_file = workdir / "admin-address"
    args = [
        str(find_envoy().path), "-c", str(write_config(workdir)),
        "--admin-address-path", str(address_file),
        "--use-dynamic-base-id", "--base-id-path", str(workdir / "base-id"),
        "--concurrency", "1", "-l", "warning",
    ]  # fmt: skip
    log = open(workdir / "envoy.log", "wb")  # noqa: SIM115 (closed in finally)
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield wait_live(process, address_file)
    finally:
        process.kill()
        process.wait()
        log.close()
        base_id = (
            (workdir / "base-id").read_text().strip() if (workdir / "base-id").exists() else ""
        )
        Path(f"/dev/shm/envoy_shared_memory_{base_id}0").unlink(missing_ok=True)


def wait_live(process: subprocess.Popen[bytes], address_file: Path, timeout: float = 20) -> str:
    """Wait until envoy wrote its admin address and says it is ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = (address_file.parent / "envoy.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"envoy exited with code {process.returncode}:\n{tail}")
        if address_file.exists() and address_file.read_text().strip():
            address = address_file.read_text().strip()
            with AdminClient(address, timeout=1) as admin, contextlib.suppress(Exception):
                if admin.ready():
                    return address
        time.sleep(0.05)
    raise RuntimeError("envoy did not become ready")


def show_stats(admin: AdminClient) -> None:
    """Send three requests and show the seed's stats queries."""
    host, port = admin.listeners()["ingress_http"]
    before = admin.stats(filter=r"^http\.ingress_http\.")
    for _ in range(3):
        urllib.request.urlopen(f"http://{host}:{port}/").read()
    after = admin.stats(filter=r"^http\.ingress_http\.")

    # /stats?filter=^http\.ingress_http  (text, as curl shows it)
    text = admin.stats_text(filter=r"^http\.ingress_http\.downstream_rq_")
    print("\n/stats?filter=^http\\.ingress_http\\.downstream_rq_ (first lines):")
    print("\n".join(text.splitlines()[:6]))

    # the same stats from format=json, typed; after - before gives deltas
    delta = after - before
    print("\nrequests counted:", delta["http.ingress_http.downstream_rq_total"])
    print("2xx so far:", after["http.ingress_http.downstream_rq_2xx"])
    assert delta["http.ingress_http.downstream_rq_total"] == 3
    assert "http.ingress_http.downstream_rq_2xx" in text
    # histograms get their quantiles at the next stats flush: wait for it
    name = "http.ingress_http.downstream_rq_time"
    rq_time = admin.wait_for(name, lambda h: h.p50 is not None, timeout=30)
    print("downstream_rq_time p50/p99 (ms):", rq_time.p50, rq_time.p99)
    assert rq_time.p50 is not None and rq_time.p99 is not None


def show_config(admin: AdminClient) -> None:
    """``/config_dump?resource=dynamic_listeners``."""
    dump = admin.config_dump(resource="dynamic_listeners")
    for name, res in dump.dynamic_listeners.items():
        print(f"\ndynamic listener {name!r}: version_info={res.version_info!r}")
    assert dump.dynamic_listeners["from_file"].version_info == "v1"


def main() -> int:
    """Start envoy, send it a few requests, print what the admin API says."""
    with (
        tempfile.TemporaryDirectory(prefix="envoykit-example-") as tmp,
        run_envoy(Path(tmp)) as address,
        AdminClient(address) as admin,
    ):
        info = admin.server_info()
        print(f"envoy {info.version_number} is {info.state}, admin at {address}")
        for name, (host, port) in admin.listeners().items():
            print(f"listener {name:<14} bound to {host}:{port}")
        assert set(admin.listeners()) == {"ingress_http", "from_file"}
        show_stats(admin)
        show_config(admin)
    return 0


if __name__ == "__main__":
    sys.exit(main())
