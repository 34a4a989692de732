"""validation.py in detail: the message made of envoy's refusal (pure text handling, no envoy
here: the integration tests show envoy's real refusals), and the boundaries of the semantic
checks (written from the surviving mutants of ``envoykit/validation.py``)."""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import pytest

from envoykit import Bootstrap, EdgeProxy, check
from envoykit.errors import EnvoyValidationError
from envoykit.validation import envoy_refused

PREAMBLE = [f"[2026-11-30 07:00:0{i}.000][1][info][main] starting {i}" for i in range(6)]


def test_a_refusal_shows_envoy_s_error_lines_from_the_first_error_on() -> None:
    lines = [*PREAMBLE, "", "[2026-11-30][1][critical][main] error initializing config: bad",
             *(f"detail {i}" for i in range(10))]
    error = envoy_refused("edge.json", "\n".join(lines), 1)
    assert isinstance(error, EnvoyValidationError)
    assert str(error) == ("envoy --mode validate rejected edge.json:\n"
                          + "\n".join([lines[7], *(f"detail {i}" for i in range(7))]))
    assert error.output == "\n".join(lines) and error.returncode == 1


def test_an_error_line_counts_like_a_critical_one() -> None:
    output = "\n".join([*PREAMBLE, "[x][error][main] oops", "more"])
    assert str(envoy_refused("f", output, 2)).splitlines()[1:] == ["[x][error][main] oops",
                                                                    "more"]


def test_without_an_error_line_the_last_five_non_blank_lines_are_shown() -> None:
    output = "\n".join([*PREAMBLE, "  ", "last"])
    assert str(envoy_refused("f", output, 1)).splitlines()[1:] == [*PREAMBLE[2:], "last"]


# --- the semantic checks' boundaries ---------------------------------------------------------


L0 = "static_resources.listeners[0]"
HCM = f"{L0}.filter_chains[0].filters[0].typed_config"
ROUTE = f"{HCM}.route_config.virtual_hosts[0].routes[0].route"
_BASE = (EdgeProxy().site("a.example.com", "127.0.0.20:80").site("b.example.com", "127.0.0.21:80")
         .http(8080).build().to_dict())


def base() -> dict[str, Any]:
    return copy.deepcopy(_BASE)


def issues_of(data: dict[str, Any]) -> dict[str, str]:
    return {i.path: i.message for i in check(Bootstrap.from_dict(data))}


def hcm_of(data: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = data["static_resources"]["listeners"][0]["filter_chains"][0][
        "filters"][0]["typed_config"]
    return result


def with_listener_on(address: str, port: int = 8080) -> dict[str, Any]:
    data = base()
    second = copy.deepcopy(data["static_resources"]["listeners"][0])
    second["name"] = "other"
    second["address"]["socket_address"] = {"address": address, "port_value": port}
    data["static_resources"]["listeners"].append(second)
    return data


def test_a_wildcard_address_clashes_with_any_on_its_port_and_others_do_not() -> None:
    for address in ("0.0.0.0", "::"):
        assert issues_of(with_listener_on(address)) == {
            "static_resources.listeners[1].address":
                f"{address}:8080 clashes with listeners[0] (127.0.0.1:8080)"}
    assert issues_of(with_listener_on("127.0.0.2")) == {}
    assert issues_of(with_listener_on("0.0.0.0", 8081)) == {}
    data = with_listener_on("127.0.0.1", 9000)
    data["static_resources"]["listeners"][0]["address"]["socket_address"]["address"] = "::"
    assert issues_of(data) == {}


def test_duplicate_virtual_host_names_and_unknown_clusters_are_named() -> None:
    data = base()
    vhosts = hcm_of(data)["route_config"]["virtual_hosts"]
    vhosts[1]["name"] = vhosts[0]["name"]
    vhosts[0]["routes"][0]["route"] = {"weighted_clusters": {"clusters": [
        {"name": "a_example_com", "weight": 1}, {"name": "nope", "weight": 1}]}}
    assert issues_of(data) == {
        f"{HCM}.route_config.virtual_hosts[1].name": "duplicate name 'a_example_com'",
        f"{ROUTE}.weighted_clusters.clusters[1].name":
            "unknown cluster 'nope' (known: a_example_com, b_example_com)"}


def test_known_clusters_none_and_dynamic_clusters_are_not_checked() -> None:
    data = base()
    data["static_resources"]["clusters"] = []
    assert issues_of(data)[f"{ROUTE}.cluster"] == "unknown cluster 'a_example_com' (known: none)"
    data["dynamic_resources"] = {"cds_config": {"path_config_source": {"path": "/tmp/cds.yaml"}}}
    assert issues_of(data) == {}


def test_a_weighted_route_to_known_clusters_is_fine() -> None:
    data = base()
    hcm_of(data)["route_config"]["virtual_hosts"][0]["routes"][0]["route"] = {
        "weighted_clusters": {"clusters": [{"name": "a_example_com", "weight": 1}]}}
    assert issues_of(data) == {}


def test_a_static_cluster_needs_ips_a_dns_cluster_does_not() -> None:
    data = base()
    cluster = data["static_resources"]["clusters"][0]
    cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"][
        "socket_address"]["address"] = "backend.internal"
    assert issues_of(data) == {
        "static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint"
        ".address": "'backend.internal' is not an IP: a STATIC cluster needs IPs (use type "
                    "STRICT_DNS or LOGICAL_DNS for names)"}
    cluster["type"] = "STRICT_DNS"
    assert issues_of(data) == {}


def test_sni_on_a_tcp_proxy_chain_needs_no_tls_here() -> None:
    data = base()
    listener = data["static_resources"]["listeners"][0]
    listener["listener_filters"] = [{"name": "envoy.filters.listener.tls_inspector",
                                     "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3"
                 ".TlsInspector"}}]
    listener["filter_chains"][0]["filter_chain_match"] = {"server_names": ["a.example.com"]}
    assert issues_of(data) == {f"{L0}.filter_chains[0].filter_chain_match.server_names":
                               "SNI names without TLS: add a transport_socket with a "
                               "DownstreamTlsContext (or pass the TLS through with tcp_proxy)"}
    listener["filter_chains"][0]["filters"] = [{
        "name": "envoy.filters.network.tcp_proxy", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
            "stat_prefix": "t", "cluster": "a_example_com"}}]
    assert issues_of(data) == {}


DTLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"


def test_downstream_tls_needs_a_certificate_and_client_certs_a_trusted_ca() -> None:
    data = base()
    socket = {"name": "envoy.transport_sockets.tls",
              "typed_config": {"@type": DTLS, "common_tls_context": {}}}
    data["static_resources"]["listeners"][0]["filter_chains"][0]["transport_socket"] = socket
    where = f"{L0}.filter_chains[0].transport_socket.typed_config"
    assert issues_of(data) == {f"{where}.common_tls_context.tls_certificates":
                               "downstream TLS needs a certificate (tls_certificates or SDS)"}
    common = socket["typed_config"]["common_tls_context"]
    common["tls_certificate_sds_secret_configs"] = [{"name": "c"}]
    socket["typed_config"]["require_client_certificate"] = True
    assert issues_of(data) == {f"{where}.require_client_certificate":
                               "requiring client certificates needs a validation_context "
                               "(trusted_ca)"}
    common["validation_context_sds_secret_config"] = {"name": "ca"}
    assert issues_of(data) == {}


def test_a_rate_limit_of_zero_tokens_and_one_switched_off(
        caplog: pytest.LogCaptureFixture) -> None:
    data = base()
    filters = hcm_of(data)["http_filters"]
    limit = {"name": "envoy.filters.http.local_ratelimit", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3"
                 ".LocalRateLimit",
        "stat_prefix": "rl", "token_bucket": {"max_tokens": 0, "fill_interval": "1s"}}}
    filters.insert(0, limit)
    with caplog.at_level(logging.WARNING, logger="envoykit.validation"):
        found = issues_of(data)
    where = f"{HCM}.http_filters[0].typed_config"
    assert found == {f"{where}.token_bucket.max_tokens":
                     "a bucket of 0 tokens refuses every request"}
    assert [r.getMessage() for r in caplog.records] == [
        f"{where}: filter_enabled is unset (envoy's default 0%): the limit is off"]
    caplog.clear()
    limit["typed_config"]["filter_enabled"] = {"default_value": {"numerator": 100}}
    limit["typed_config"]["token_bucket"]["max_tokens"] = 1
    with caplog.at_level(logging.WARNING, logger="envoykit.validation"):
        assert issues_of(data) == {}
    del limit["typed_config"]["token_bucket"]
    del limit["typed_config"]["filter_enabled"]
    with caplog.at_level(logging.WARNING, logger="envoykit.validation"):
        issues_of(data)
    assert caplog.records == []


def test_a_wildcard_first_listener_clashes_too_and_port_zero_never_does() -> None:
    for address in ("0.0.0.0", "::"):
        data = with_listener_on("127.0.0.2")
        data["static_resources"]["listeners"][0]["address"]["socket_address"]["address"] = address
        assert list(issues_of(data)) == ["static_resources.listeners[1].address"]
    data = with_listener_on("127.0.0.1", 0)
    data["static_resources"]["listeners"][0]["address"]["socket_address"]["port_value"] = 0
    assert issues_of(data) == {}  # two ephemeral ports
    third = copy.deepcopy(data["static_resources"]["listeners"][1])
    third["name"], third["address"]["socket_address"]["port_value"] = "third", 9
    fourth = copy.deepcopy(third)
    fourth["name"] = "fourth"
    data["static_resources"]["listeners"] += [third, fourth]
    assert list(issues_of(data)) == ["static_resources.listeners[3].address"]


def test_listener_and_chain_problems_name_their_place() -> None:
    data = base()
    listener = data["static_resources"]["listeners"][0]
    listener["address"]["socket_address"]["address"] = "localhost"
    listener["default_filter_chain"] = copy.deepcopy(listener["filter_chains"][0])
    listener["default_filter_chain"]["filters"][0]["typed_config"]["http_filters"] = []
    assert issues_of(data) == {
        f"{L0}.address.socket_address.address":
            "'localhost' is not an IP address: envoy listens on IPs (0.0.0.0, ::, 127.0.0.1, ...)",
        f"{L0}.default_filter_chain.filters[0].typed_config.http_filters":
            "the last HTTP filter must be envoy.filters.http.router (requests go nowhere)"}


def test_sni_needs_the_inspector_and_each_name_one_chain() -> None:
    data = base()
    chains = data["static_resources"]["listeners"][0]["filter_chains"]
    chains[0]["filter_chain_match"] = {"server_names": ["a.example.com"]}
    chains[0]["filters"] = [{"name": "envoy.filters.network.tcp_proxy", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
        "stat_prefix": "t", "cluster": "a_example_com"}}]
    chains.append(copy.deepcopy(chains[0]))
    where = f"{L0}.filter_chains[1].filter_chain_match.server_names"
    found = [(i.path, i.message) for i in check(Bootstrap.from_dict(data))]
    assert found == [
        (f"{L0}.filter_chains[0].filter_chain_match.server_names",
         "matching on SNI needs the tls_inspector listener filter"),
        (where, "matching on SNI needs the tls_inspector listener filter"),
        (where, f"'a.example.com' is already matched by {L0}.filter_chains[0]")]


def test_every_named_file_is_checked_after_an_inline_one(tmp_path: Path) -> None:
    data = base()
    data["static_resources"]["secrets"] = [
        {"name": "a", "generic_secret": {"secret": {"inline_string": "x"}}},
        {"name": "b", "generic_secret": {"secret": {"filename": str(tmp_path / "nope")}}}]
    assert issues_of(data) == {"static_resources.secrets[1].generic_secret.secret.filename":
                               f"no such file: {tmp_path / 'nope'}"}


def test_an_admin_off_loopback_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    data = base()
    data["admin"] = {"address": {"socket_address": {"address": "0.0.0.0", "port_value": 9901}}}
    with caplog.at_level(logging.WARNING, logger="envoykit.validation"):
        assert issues_of(data) == {}
    assert [r.getMessage() for r in caplog.records] == [
        "admin listens on 0.0.0.0: it is unauthenticated and can stop envoy; bind it to "
        "127.0.0.1 or a unix socket"]
    caplog.clear()
    data["admin"]["address"]["socket_address"]["address"] = "127.0.0.1"
    with caplog.at_level(logging.WARNING, logger="envoykit.validation"):
        issues_of(data)
    assert caplog.records == []
