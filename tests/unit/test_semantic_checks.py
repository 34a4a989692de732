"""Cross-resource checks: each problem is found and named by its field path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from envoykit import Bootstrap, EdgeProxy, SemanticError, check, load_bootstrap, validate
from envoykit.testing.tls import TestCA


def base(tmp_path: Path) -> dict[str, Any]:
    files = TestCA(tmp_path / "ca").issue("a.example.com", "b.example.com", name="k")
    cert = files.as_cert()
    edge = (EdgeProxy().site("a.example.com", "127.0.0.20:80", cert=cert)
            .site("b.example.com", "127.0.0.21:80", cert=cert)
            .https(8443).redirect_http(8080).rate_limit(10))
    return edge.build().to_dict()


def chain(data: dict[str, Any], i: int = 0) -> dict[str, Any]:
    result: dict[str, Any] = data["static_resources"]["listeners"][0]["filter_chains"][i]
    return result


def hcm(data: dict[str, Any], i: int = 0) -> dict[str, Any]:
    result: dict[str, Any] = chain(data, i)["filters"][0]["typed_config"]
    return result


def issues_of(data: dict[str, Any]) -> dict[str, str]:
    return {i.path: i.message for i in check(Bootstrap.from_dict(data))}


HCM0 = "static_resources.listeners[0].filter_chains[0].filters[0].typed_config"


def test_clean_config_has_no_issues(tmp_path: Path) -> None:
    assert issues_of(base(tmp_path)) == {}


def test_route_to_unknown_cluster(tmp_path: Path) -> None:
    data = base(tmp_path)
    hcm(data)["route_config"]["virtual_hosts"][0]["routes"][0]["route"]["cluster"] = "nope"
    found = issues_of(data)
    path = f"{HCM0}.route_config.virtual_hosts[0].routes[0].route.cluster"
    assert "unknown cluster 'nope'" in found[path]


def test_duplicate_listener_names_and_addresses(tmp_path: Path) -> None:
    data = base(tmp_path)
    listeners = data["static_resources"]["listeners"]
    listeners[1]["name"] = "https"
    listeners[1]["address"] = listeners[0]["address"]
    found = issues_of(data)
    assert "duplicate name 'https'" in found["static_resources.listeners[1].name"]
    assert "clashes with listeners[0]" in found["static_resources.listeners[1].address"]


def test_wildcard_address_clashes_with_specific_one(tmp_path: Path) -> None:
    data = base(tmp_path)
    data["static_resources"]["listeners"][1]["address"]["socket_address"] = {
        "address": "0.0.0.0", "port_value": 8443}
    assert "clashes" in issues_of(data)["static_resources.listeners[1].address"]


def test_duplicate_domains_across_vhosts(tmp_path: Path) -> None:
    data = base(tmp_path)
    vhosts = hcm(data)["route_config"]["virtual_hosts"]
    vhosts.append({"name": "other", "domains": ["A.example.com"],
                   "routes": [{"match": {"prefix": "/"}, "direct_response": {"status": 200}}]})
    found = issues_of(data)
    assert "also claimed by virtual_hosts[0]" in found[
        f"{HCM0}.route_config.virtual_hosts[1].domains[0]"]


def test_tls_without_certificates(tmp_path: Path) -> None:
    data = base(tmp_path)
    del chain(data)["transport_socket"]["typed_config"]["common_tls_context"]["tls_certificates"]
    found = issues_of(data)
    path = ("static_resources.listeners[0].filter_chains[0].transport_socket.typed_config"
            ".common_tls_context.tls_certificates")
    assert "needs a certificate" in found[path]


def test_sni_without_tls_and_without_inspector(tmp_path: Path) -> None:
    data = base(tmp_path)
    del chain(data)["transport_socket"]
    del data["static_resources"]["listeners"][0]["listener_filters"]
    found = issues_of(data)
    path = "static_resources.listeners[0].filter_chains[0].filter_chain_match.server_names"
    assert "SNI names without TLS" in found[path] or "tls_inspector" in found[path]
    assert len([p for p in found if p.endswith("server_names")]) == 2


def test_same_sni_in_two_chains(tmp_path: Path) -> None:
    data = base(tmp_path)
    chain(data, 1)["filter_chain_match"]["server_names"] = ["a.example.com"]
    found = issues_of(data)
    assert "already matched" in found[
        "static_resources.listeners[0].filter_chains[1].filter_chain_match.server_names"]


def test_zero_token_bucket_and_missing_router(tmp_path: Path) -> None:
    data = base(tmp_path)
    filters = hcm(data)["http_filters"]
    filters[0]["typed_config"]["token_bucket"]["max_tokens"] = 0
    filters.pop()  # the router
    found = issues_of(data)
    assert "refuses every request" in found[
        f"{HCM0}.http_filters[0].typed_config.token_bucket.max_tokens"]
    assert "must be envoy.filters.http.router" in found[f"{HCM0}.http_filters"]


def test_missing_certificate_file(tmp_path: Path) -> None:
    data = base(tmp_path)
    (tmp_path / "ca" / "k-key.pem").unlink()
    found = issues_of(data)
    assert any(p.endswith("private_key.filename") and "no such file" in m
               for p, m in found.items())


def test_static_cluster_with_a_host_name(tmp_path: Path) -> None:
    data = base(tmp_path)
    ep = data["static_resources"]["clusters"][0]["load_assignment"]["endpoints"][0]
    ep["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]["address"] = "web.internal"
    found = issues_of(data)
    assert any("a STATIC cluster needs IPs" in m for m in found.values())


def test_require_client_cert_without_validation_context(tmp_path: Path) -> None:
    data = base(tmp_path)
    chain(data)["transport_socket"]["typed_config"]["require_client_certificate"] = True
    assert any("validation_context" in m for m in issues_of(data).values())


def test_validate_raises_semantic_error_before_running_envoy(tmp_path: Path) -> None:
    data = base(tmp_path)
    hcm(data)["route_config"]["virtual_hosts"][0]["routes"][0]["route"]["cluster"] = "nope"
    with pytest.raises(SemanticError, match="unknown cluster"):
        validate(data, envoy=False)


def test_garbage_key_and_mismatched_pair(tmp_path: Path) -> None:
    data = base(tmp_path)
    tls = chain(data)["transport_socket"]["typed_config"]["common_tls_context"]
    other = TestCA(tmp_path / "other").issue("a.example.com")
    tls["tls_certificates"][0]["private_key"]["filename"] = other.key
    path = ("static_resources.listeners[0].filter_chains[0].transport_socket.typed_config"
            ".common_tls_context.tls_certificates[0]")
    assert "does not belong" in issues_of(data)[path]
    (tmp_path / "garbage.pem").write_text("not a key")
    tls["tls_certificates"][0]["private_key"]["filename"] = str(tmp_path / "garbage.pem")
    assert "not a usable PEM private key" in issues_of(data)[f"{path}.private_key"]


def test_unknown_cipher_and_equal_preference_groups(tmp_path: Path) -> None:
    data = base(tmp_path)
    params = chain(data)["transport_socket"]["typed_config"]["common_tls_context"]["tls_params"]
    params["cipher_suites"] = ["[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]",
                               "RC4-MD5"]
    found = issues_of(data)
    assert list(found.values()) == ["unknown cipher suite 'RC4-MD5' (BoringSSL knows e.g. "
                                    "ECDHE-ECDSA-AES128-GCM-SHA256, ECDHE-RSA-AES128-GCM-SHA256)"]


def test_listener_address_must_be_an_ip(tmp_path: Path) -> None:
    data = base(tmp_path)
    data["static_resources"]["listeners"][0]["address"]["socket_address"]["address"] = "edge.lan"
    assert "not an IP address" in issues_of(data)[
        "static_resources.listeners[0].address.socket_address.address"]


def test_raw_type_under_a_modelled_filter_name(tmp_path: Path) -> None:
    data = base(tmp_path)
    hcm(data)["http_filters"][-1]["typed_config"] = {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Routr"}
    found = issues_of(data)
    assert "is not the type of envoy.filters.http.router" in found[
        f"{HCM0}.http_filters[1].typed_config"]


# --- a loaded file keeps its lines in semantic errors ----------------------------------

HCM_T = ("type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3"
         ".HttpConnectionManager")
ROUTER_T = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
LISTENER_YAML = f"""\
static_resources:
  listeners:
  - name: web
    address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": {HCM_T}
          stat_prefix: web
          route_config:
            virtual_hosts:
            - name: a
              domains: ["*"]
              routes:
              - match: {{prefix: /}}
                route: {{cluster: nowhere}}
          http_filters:
          - {{name: envoy.filters.http.router, typed_config: {{"@type": {ROUTER_T}}}}}
"""


@pytest.mark.parametrize(("text", "says"), [
    (LISTENER_YAML, "route.cluster (line 17): unknown cluster 'nowhere'"),
    (LISTENER_YAML.replace("HttpConnectionManager", "HttpConnMgr"),
     "filters[0].typed_config (line 8): @type"),
    (LISTENER_YAML.split("    filter_chains:")[0] + "    filter_chains: []\n",
     "listeners[0].filter_chains (line 5): a listener needs at least one filter chain"),
], ids=["unknown-cluster", "type-url-typo", "no-filter-chains"])
def test_semantic_errors_of_a_loaded_file_name_file_and_line(
        tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text(text)
    with pytest.raises(SemanticError) as info:
        validate(load_bootstrap(path), envoy=False)  # the user's way
    assert str(info.value).startswith(f"{path}: 1 config problem(s)")
    assert says in str(info.value)
    assert info.value.source == str(path)


def test_a_built_config_has_no_file_to_name() -> None:
    data = yaml.safe_load(LISTENER_YAML)
    with pytest.raises(SemanticError) as info:
        validate(Bootstrap.from_dict(data), envoy=False)
    assert str(info.value).startswith("1 config problem(s)") and "(line" not in str(info.value)
