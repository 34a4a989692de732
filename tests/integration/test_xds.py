"""File xDS on the real envoy: apply() changes a live proxy without a restart.

Every test runs its own envoy (port 0, dynamic base id), so the module is safe under
``pytest -n 2``. Nothing sleeps: every wait polls with a deadline.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from envoykit import EdgeProxy
from envoykit.admin import AdminClient
from envoykit.config import Bootstrap
from envoykit.errors import EnvoyValidationError, SemanticError
from envoykit.testing import wait_until
from envoykit.testing.http import resolving_client
from envoykit.testing.tls import CertFiles, TestCA
from envoykit.testing.upstream import Upstream
from envoykit.xds import DynamicProxy, XdsUpdateRejected

pytestmark = pytest.mark.integration

HOST = "a.example.com"
HCM = ("type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
       "HttpConnectionManager")
ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"


# --- helpers ------------------------------------------------------------------------------




def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` with its content."""
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def routes_config(routes: dict[str, str], clusters: dict[str, Upstream],
                  **route_extra: Any) -> Bootstrap:
    """A plain-HTTP proxy: path prefix → cluster, one STATIC cluster per upstream."""
    entries = [{"match": {"prefix": prefix, **route_extra.get(prefix, {})},
                "route": {"cluster": cluster}} for prefix, cluster in routes.items()]
    hcm = {"@type": HCM, "stat_prefix": "ingress",
           "route_config": {"name": "local", "virtual_hosts": [
               {"name": "all", "domains": ["*"], "routes": entries}]},
           "http_filters": [{"name": "envoy.filters.http.router",
                             "typed_config": {"@type": ROUTER}}]}
    listener = {"name": "http", "address": _sock(0),
                "filter_chains": [{"filters": [
                    {"name": "envoy.filters.network.http_connection_manager",
                     "typed_config": hcm}]}]}
    config: Bootstrap = Bootstrap.from_dict({
        "admin": {"address": _sock(0)},
        "static_resources": {"listeners": [listener],
                             "clusters": [_cluster(n, u) for n, u in clusters.items()]},
    })
    return config


def unknown_per_route_type(config: Bootstrap) -> Bootstrap:
    """A route carrying a per-filter config whose ``@type`` does not exist: an extension
    envoykit does not model is kept verbatim, so only envoy can refuse it."""
    data = config.to_dict()
    hcm = data["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    route = hcm["typed_config"]["route_config"]["virtual_hosts"][0]["routes"][0]
    route["typed_per_filter_config"] = {"envoy.filters.http.buffer": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Bufer"}}
    result: Bootstrap = Bootstrap.from_dict(data)
    return result


def _sock(port: int) -> dict[str, Any]:
    return {"socket_address": {"address": "127.0.0.1", "port_value": port}}


def _cluster(name: str, upstream: Upstream) -> dict[str, Any]:
    endpoint = {"endpoint": {"address": _sock(upstream.port)}}
    return {"name": name, "type": "STATIC", "connect_timeout": "1s",
            "load_assignment": {"cluster_name": name,
                                "endpoints": [{"lb_endpoints": [endpoint]}]}}


def served_fingerprint(address: tuple[str, int], server_name: str = HOST) -> str:
    """SHA-256 of the DER certificate envoy presents for ``server_name``."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(address, timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname=server_name) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return hashlib.sha256(der).hexdigest()


def file_fingerprint(files: CertFiles) -> str:
    """SHA-256 of the DER form of the leaf certificate in ``files``."""
    pem = Path(files.cert).read_text()
    leaf = pem[: pem.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")]
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(leaf)).hexdigest()


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, Upstream]]:
    with Upstream("one") as one, Upstream("two") as two:
        yield {"one": one, "two": two}


@pytest.fixture
def ca(tmp_path: Path) -> TestCA:
    return TestCA(tmp_path / "ca")


def start(config: Any, **options: Any) -> DynamicProxy:
    return DynamicProxy(config, log_level="info", **options).start()


# --- tests --------------------------------------------------------------------------------


def test_route_change_is_applied_without_restart(upstreams: dict[str, Upstream]) -> None:
    one = upstreams["one"]
    edge = EdgeProxy().site(HOST, one.address).http(port=0).admin(port=0)
    changed = EdgeProxy().site(HOST, one.address, prefix_rewrite="/v2/").http(port=0).admin(port=0)
    proxy = start(edge)
    try:
        url = proxy.url_of("http")
        pid, epoch = proxy.pid, proxy.epoch
        assert proxy.admin_address == proxy.supervisor.admin_address  # one shape: "host:port"
        host, port = proxy.admin_socket_address  # and as a tuple, like address_of()
        assert (host, port) == proxy.supervisor.admin_socket_address
        assert proxy.admin_address == f"{host}:{port}"
        with AdminClient(proxy.admin_address) as admin:
            assert admin.server_info().restart_epoch == epoch
        with httpx.Client(headers={"host": HOST}, timeout=5) as client:
            assert client.get(f"{url}/x").json()["path"] == "/x"
            report = proxy.apply(changed)
            seen = wait_until(lambda: client.get(f"{url}/x").json()["path"], expected="/v2/x",
                              what="the rewritten route served")
        assert seen == "/v2/x"
        assert report.method == "files" and not report.restarted
        assert [str(c) for c in report.changes] == ["changed route 'http'"]
        assert (proxy.pid, proxy.epoch) == (pid, epoch)
        assert [s.action for s in report.steps] == ["check", "write"]
        assert report.steps[-1].confirmed and report.steps[-1].kind == "route"
        assert proxy.apply(changed).method == "unchanged"
    finally:
        proxy.stop()


def test_cluster_added_then_a_route_to_it(upstreams: dict[str, Upstream]) -> None:
    one, two = upstreams["one"], upstreams["two"]
    proxy = start(routes_config({"/": "one"}, {"one": one}))
    try:
        url, pid = proxy.url_of("http"), proxy.pid
        added = proxy.apply(routes_config({"/": "one"}, {"one": one, "two": two}))
        assert added.method == "files"
        assert {(c.kind, c.name, c.action) for c in added.changes} == {
            ("cluster", "two", "added"), ("endpoints", "two", "added")}
        with proxy.admin() as admin:
            assert "two" in admin.clusters()
        routed = proxy.apply(routes_config({"/two": "two", "/": "one"}, {"one": one, "two": two}))
        assert [str(c) for c in routed.changes] == ["changed route 'local'"]
        with httpx.Client(timeout=5) as client:
            assert client.get(f"{url}/two/x").headers["x-upstream"] == "two"
            assert client.get(f"{url}/x").headers["x-upstream"] == "one"
        assert (proxy.pid, proxy.epoch) == (pid, 0)
    finally:
        proxy.stop()


def test_one_apply_writes_clusters_before_the_routes_that_use_them(
    upstreams: dict[str, Upstream],
) -> None:
    one, two = upstreams["one"], upstreams["two"]
    proxy = start(EdgeProxy().site(HOST, one.address).http(port=0).admin(port=0))
    try:
        bigger = (EdgeProxy().site(HOST, one.address).site("b.example.com", two.address)
                  .http(port=0).admin(port=0))
        report = proxy.apply(bigger)
        kinds = [s.kind for s in report.steps if s.action == "write"]
        assert kinds == ["endpoints", "cluster", "route"]
        # the new endpoints file has no subscriber yet: unconfirmed; the changed CDS and RDS
        # files are confirmed (the module docstring says exactly this)
        assert [s.confirmed for s in report.steps if s.action == "write"] == [False, True, True]
        assert report.validated  # more than one change: envoy --mode validate ran first
        url = proxy.url_of("http")
        with httpx.Client(headers={"host": "b.example.com"}, timeout=5) as client:
            assert client.get(url).headers["x-upstream"] == "two"
        removed = proxy.apply(EdgeProxy().site(HOST, one.address).http(port=0).admin(port=0))
        assert [s.kind for s in removed.steps if s.action == "write"] == ["route", "cluster"]
        assert [s.kind for s in removed.steps if s.action == "delete"] == ["endpoints"]
        with proxy.admin() as admin:
            assert "b_example_com" not in admin.clusters()
    finally:
        proxy.stop()


def test_invalid_updates_leave_the_proxy_as_it_was(upstreams: dict[str, Upstream]) -> None:
    one, two = upstreams["one"], upstreams["two"]
    good = routes_config({"/": "one"}, {"one": one, "two": two})
    proxy = start(good)
    try:
        url, pid, files = proxy.url_of("http"), proxy.pid, snapshot(proxy.directory)
        with pytest.raises(SemanticError, match=r"route\.cluster: unknown cluster 'nope'"):
            proxy.apply(routes_config({"/": "nope"}, {"one": one, "two": two}))
        bad_type = unknown_per_route_type(routes_config({"/": "two"}, {"one": one, "two": two}))
        with pytest.raises(EnvoyValidationError, match="Bufer"):
            proxy.apply(bad_type, validate="always")
        assert snapshot(proxy.directory) == files
        with pytest.raises(XdsUpdateRejected) as refused:
            proxy.apply(bad_type, validate="never")  # envoy itself refuses the RDS file
        error = refused.value
        assert error.kind == "route" and "rejected" in str(error)
        assert "Bufer" in error.reason
        assert snapshot(proxy.directory) == files  # the refused file was put back
        with httpx.Client(timeout=5) as client:
            assert client.get(f"{url}/x").headers["x-upstream"] == "one"
        assert proxy.pid == pid and proxy.epoch == 0
        ok = proxy.apply(routes_config({"/": "two"}, {"one": one, "two": two}))
        assert ok.method == "files"
    finally:
        proxy.stop()


def test_certificate_rotation_serves_the_new_certificate(
    upstreams: dict[str, Upstream], ca: TestCA
) -> None:
    first, second = ca.issue(HOST, name="first"), ca.issue(HOST, name="second")
    assert file_fingerprint(first) != file_fingerprint(second)

    def edge(cert: CertFiles) -> EdgeProxy:
        return (EdgeProxy().site(HOST, upstreams["one"].address, cert=cert.as_cert())
                .https(port=0).admin(port=0))

    proxy = start(edge(first))
    try:
        address, pid = proxy.address_of("https"), proxy.pid
        assert served_fingerprint(address) == file_fingerprint(first)
        report = proxy.apply(edge(second))
        assert [str(c) for c in report.changes] == ["changed secret 'https.a.example.com.cert0'"]
        assert report.method == "files" and not report.restarted
        served = wait_until(lambda: served_fingerprint(address),
                            expected=file_fingerprint(second), what="the second certificate")
        assert served == file_fingerprint(second)
        # in place: new PEM under the same file names, then rotate_certificates()
        third = ca.issue(HOST, name="third")
        shutil.copyfile(third.cert, second.cert)
        shutil.copyfile(third.key, second.key)
        rotated = proxy.rotate_certificates()
        assert [c.kind for c in rotated.changes] == ["secret"]
        served = wait_until(lambda: served_fingerprint(address),
                            expected=file_fingerprint(third), what="the third certificate")
        assert served == file_fingerprint(third)
        with resolving_client({HOST: address[0]}, verify=ca.ca_file, timeout=5) as client:
            assert client.get(f"https://{HOST}:{address[1]}/").status_code == 200
        assert proxy.pid == pid and proxy.epoch == 0
    finally:
        proxy.stop()


def test_a_bad_key_pair_is_refused_and_the_old_certificate_serves(
    upstreams: dict[str, Upstream], ca: TestCA
) -> None:
    good, other = ca.issue(HOST, name="good"), ca.issue(HOST, name="other")
    mixed = CertFiles(cert=other.cert, key=good.key)  # certificate and key do not match

    def edge(cert: CertFiles) -> EdgeProxy:
        return (EdgeProxy().site(HOST, upstreams["one"].address, cert=cert.as_cert())
                .https(port=0).admin(port=0))

    proxy = start(edge(good))
    try:
        address = proxy.address_of("https")
        files = snapshot(proxy.directory)
        for mode in ("never", "auto"):  # the pair is checked in Python before any write
            with pytest.raises(SemanticError, match="does not belong to the certificate"):
                proxy.apply(edge(mixed), validate=mode)  # type: ignore[arg-type]
        assert snapshot(proxy.directory) == files
        assert served_fingerprint(address) == file_fingerprint(good)
    finally:
        proxy.stop()


def test_a_bootstrap_change_is_a_validated_hot_restart(upstreams: dict[str, Upstream]) -> None:
    edge = EdgeProxy().site(HOST, upstreams["one"].address).http(port=0).admin(port=0)
    proxy = start(edge, drain_time_s=0, parent_shutdown_time_s=1)  # a quick stop afterwards
    try:
        url, pid = proxy.url_of("http"), proxy.pid
        report = proxy.apply(
            EdgeProxy().site(HOST, upstreams["one"].address).http(port=0).admin(port=0)
            .runtime(**{"envoykit.flag": 1}))
        assert report.method == "hot_restart" and report.restarted and report.validated
        assert report.bootstrap_fields == ("layered_runtime",)
        assert (proxy.epoch, proxy.url_of("http")) == (1, url) and proxy.pid != pid
        with httpx.Client(headers={"host": HOST}, timeout=5) as client:
            assert client.get(url).headers["x-upstream"] == "one"
        with proxy.admin() as admin:
            assert admin.runtime().values["envoykit.flag"] == "1"
    finally:
        proxy.stop()


def test_stop_leaves_nothing_behind(upstreams: dict[str, Upstream]) -> None:
    proxy = start(EdgeProxy().site(HOST, upstreams["one"].address).http(port=0).admin(port=0))
    root, pid = proxy.directory.parent, proxy.pid
    assert (proxy.directory / "lds" / "lds.json").stat().st_mode & 0o777 == 0o600
    assert (proxy.directory / "lds").stat().st_mode & 0o777 == 0o700
    proxy.stop()
    assert not root.exists()
    assert pid is not None and not Path(f"/proc/{pid}").exists()


def test_a_refused_listener_rolls_back_the_clusters_and_routes_written_before_it(
    upstreams: dict[str, Upstream],
) -> None:
    one, two = upstreams["one"], upstreams["two"]
    proxy = start(EdgeProxy().site(HOST, one.address).http(port=0).admin(port=0))
    try:
        files, url = snapshot(proxy.directory), proxy.url_of("http")
        bigger = (EdgeProxy().site(HOST, one.address).site("b.example.com", two.address)
                  .http(port=0).admin(port=0).to_dict())
        hcm = bigger["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0][
            "typed_config"]
        unknown = "type.googleapis.com/envoy.extensions.filters.http.nope.v3.Nope"
        hcm["http_filters"].insert(0, {"name": "nope", "typed_config": {"@type": unknown}})
        with pytest.raises(XdsUpdateRejected) as refused:
            proxy.apply(bigger, validate="never")
        assert refused.value.kind == "listener"
        assert "nope" in refused.value.reason.lower()
        assert snapshot(proxy.directory) == files  # cds.json and rds restored, eds/b removed
        with proxy.admin() as admin:
            assert "b_example_com" not in admin.clusters()
        with httpx.Client(timeout=5) as client:
            assert client.get(url, headers={"host": HOST}).headers["x-upstream"] == "one"
            assert client.get(url, headers={"host": "b.example.com"}).status_code == 404
    finally:
        proxy.stop()


def test_after_a_crash_envoy_comes_back_with_the_applied_config(
    upstreams: dict[str, Upstream],
) -> None:
    import os
    import signal

    from envoykit.process import SupervisorState

    one = upstreams["one"]
    proxy = start(EdgeProxy().site(HOST, one.address).http(port=0).admin(port=0))
    try:
        url = proxy.url_of("http")
        proxy.apply(EdgeProxy().site(HOST, one.address, prefix_rewrite="/v2/")
                    .http(port=0).admin(port=0))
        crashed = proxy.pid
        assert crashed is not None
        os.kill(crashed, signal.SIGKILL)
        supervisor = proxy.supervisor
        wait_until(lambda: supervisor.pid not in (None, crashed)
                   and supervisor.state is SupervisorState.LIVE, what="envoy restarted")
        assert proxy.pid != crashed and proxy.url_of("http") == url  # the port was pinned
        with httpx.Client(headers={"host": HOST}, timeout=5) as client:
            assert client.get(f"{url}/x").json()["path"] == "/v2/x"  # the files are the truth
    finally:
        proxy.stop()


def test_the_async_face(upstreams: dict[str, Upstream]) -> None:
    import asyncio

    from envoykit.admin import AsyncAdminClient
    from envoykit.xds import AsyncDynamicProxy

    one = upstreams["one"]

    async def scenario() -> tuple[str, int | None, bool]:
        config = EdgeProxy().site(HOST, one.address).http(port=0).admin(port=0)
        async with AsyncDynamicProxy(config) as proxy:
            report = await proxy.apply(EdgeProxy().site(HOST, one.address, prefix_rewrite="/a/")
                                       .http(port=0).admin(port=0))
            async with proxy.admin() as admin:  # an asyncio client for async callers
                assert isinstance(admin, AsyncAdminClient)
                ready = await admin.ready()
            return report.method, proxy.epoch, ready

    assert asyncio.run(scenario()) == ("files", 0, True)


def test_a_failed_hot_restart_puts_the_files_back(upstreams: dict[str, Upstream]) -> None:
    from envoykit.errors import HotRestartError

    one = upstreams["one"]
    proxy = start(EdgeProxy().site(HOST, one.address).http(port=0).admin(port=0),
                  drain_time_s=0, parent_shutdown_time_s=1)
    try:
        files, url = snapshot(proxy.directory), proxy.url_of("http")
        with socket.socket() as taken:  # the new admin port is taken: the new epoch fails
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            busy = taken.getsockname()[1]
            new = (EdgeProxy().site(HOST, one.address, prefix_rewrite="/v2/").http(port=0)
                   .admin(port=busy))
            with pytest.raises(HotRestartError):
                proxy.apply(new)
        assert snapshot(proxy.directory) == files  # the route file was put back
        with httpx.Client(headers={"host": HOST}, timeout=5) as client:
            assert client.get(f"{proxy.url_of('http')}/x").json()["path"] == "/x"
        assert proxy.url_of("http") == url
    finally:
        proxy.stop()


def test_a_start_with_a_file_envoy_refuses_fails_loudly(upstreams: dict[str, Upstream]) -> None:
    config = EdgeProxy().site(HOST, upstreams["one"].address).http(port=0).admin(port=0).to_dict()
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0][
        "typed_config"]
    unknown = "type.googleapis.com/envoy.extensions.filters.http.nope.v3.Nope"
    hcm["http_filters"].insert(0, {"name": "nope", "typed_config": {"@type": unknown}})
    proxy = DynamicProxy(config, log_level="info")
    refusal = r"listener_manager\.lds\.update_failure"
    with pytest.raises(XdsUpdateRejected, match=refusal) as refused:
        proxy.start()
    assert "could not find @type" in refused.value.reason
    with pytest.raises(RuntimeError, match="not started"):
        proxy.directory  # noqa: B018 - the property raises once everything is cleaned up
