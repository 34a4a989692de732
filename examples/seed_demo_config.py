"""The walkthrough's demo config (``envoy-demo.yaml``), written with envoykit's typed model.

    python examples/seed_demo_config.py

The seed downloads envoy-demo.yaml: a listener on :10000 that proxies everything to
https://www.envoyproxy.io — TLS with SNI, the Host header rewritten (``host_rewrite_literal``),
a ``LOGICAL_DNS`` cluster with ``dns_lookup_family: V4_ONLY`` and ``connect_timeout: 5s`` and an
access log on stdout. Here the same config is built in Python and pointed at a local TLS
server that presents a certificate for a made-up name (no internet needed). Then the seed's
YAML file itself is loaded with ``load_bootstrap`` and checked like
``envoy --mode validate -c envoy-demo.yaml``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
from _common import Backend, save_config, show, title, workdir

from envoykit import ConfigLoadError, load_bootstrap
from envoykit.config import (
    AccessLog,
    Address,
    Bootstrap,
    Cluster,
    ClusterLoadAssignment,
    Filter,
    FilterChain,
    HttpConnectionManager,
    HttpFilter,
    Listener,
    Route,
    RouteAction,
    RouteConfiguration,
    RouteMatch,
    Router,
    StaticResources,
    UpstreamTlsContext,
    VirtualHost,
    tls_transport_socket,
)
from envoykit.diff import diff_configs
from envoykit.process import Supervisor
from envoykit.testing.tls import TestCA
from envoykit.validation import envoy_validate_file

SEED_YAML = Path(__file__).resolve().parents[1] / "tests" / "data" / "seed_demo.yaml"
SEED_WITH_TAB = SEED_YAML.with_name("seed_demo_tab.yaml")  # the post's copy: a tab in it
SITE = "www.envoykit.test"  # stands in for www.envoyproxy.io


def demo_config(upstream_port: int) -> Bootstrap:
    """envoy-demo.yaml, field for field (the seed's names kept), aimed at a local upstream."""
    hcm = HttpConnectionManager(
        stat_prefix="ingress_http",
        access_log=[AccessLog.stdout()],
        http_filters=[HttpFilter.of(Router())],
        route_config=RouteConfiguration(name="local_route", virtual_hosts=[VirtualHost(
            name="local_service",
            domains=["*"],
            routes=[Route(match=RouteMatch(prefix="/"), route=RouteAction(
                host_rewrite_literal=SITE, cluster="service_envoyproxy_io"))],
        )]),
    )
    listener = Listener(
        name="listener_0",
        address=Address.tcp("127.0.0.1", 0),  # the seed: 0.0.0.0:10000; here any free port
        filter_chains=[FilterChain(filters=[Filter.of(hcm)])],
    )
    cluster = Cluster(
        name="service_envoyproxy_io",
        type="LOGICAL_DNS",
        connect_timeout="5s",  # the line the post adds (with a tab, see below)
        dns_lookup_family="V4_ONLY",
        # the seed: www.envoyproxy.io:443; here a name resolved by DNS to our local server
        load_assignment=ClusterLoadAssignment.of("service_envoyproxy_io",
                                                 ("localhost", upstream_port)),
        transport_socket=tls_transport_socket(UpstreamTlsContext(sni=SITE)),
    )
    # No admin, like the demo: the supervisor adds one on 127.0.0.1 (any port) for itself.
    return Bootstrap(static_resources=StaticResources(listeners=[listener], clusters=[cluster]))


def main() -> int:
    with workdir("seed_demo_config") as work:
        ca = TestCA(work / "certs")
        site_cert = ca.issue(SITE)
        with Backend("www", cert=(site_cert.cert, site_cert.key)) as www:
            config = demo_config(www.port)
            save_config(work, "envoy-demo", config)

            title("envoy -c envoy-demo.yaml  (built in Python)")
            with Supervisor(config, log_level="warning") as envoy:
                url = envoy.url_of("listener_0")
                # curl -v localhost:10000
                with httpx.Client() as client:
                    reply = client.get(f"{url}/docs")
                show("GET /docs through listener_0", reply.status_code)
                seen = www.requests[-1]
                show("upstream saw Host", seen.headers["host"])
                show("upstream saw TLS SNI", seen.sni)
                assert reply.status_code == 200
                assert seen.headers["host"] == SITE and seen.sni == SITE
                access_log = wait_for_access_log(envoy)
                show("stdout access log", access_log)

        title("load the seed's YAML file (tests/data/seed_demo.yaml)")
        seed = load_bootstrap(SEED_YAML)
        cluster = seed.cluster("service_envoyproxy_io")
        show("cluster type / dns_lookup_family", f"{cluster.type} / {cluster.dns_lookup_family}")
        show("connect_timeout", cluster.to_dict()["connect_timeout"])
        # envoy --mode validate -c envoy-demo.yaml
        output = envoy_validate_file(SEED_YAML)
        show("envoy --mode validate", next(line for line in output.splitlines() if "OK" in line))

        title("the post's copy has a tab before connect_timeout")
        try:
            load_bootstrap(SEED_WITH_TAB)
        except ConfigLoadError as error:
            show("load_bootstrap says", error)
        else:
            raise AssertionError("a tab in YAML indentation must not load")

        title("what differs between the seed's YAML and ours (envoykit.diff)")
        print(diff_configs(seed, config))
    return 0


def wait_for_access_log(envoy: Supervisor, timeout: float = 5.0) -> str:
    """The access log line envoy printed on stdout (the stream logger flushes ~every second)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [line for line in envoy.output_tail(50) if '"GET /docs' in line]
        if lines:
            return lines[-1]
        time.sleep(0.05)
    raise AssertionError("no access log line on envoy's stdout")


if __name__ == "__main__":
    sys.exit(main())
