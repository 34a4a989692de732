"""The redirect of ``https(0).redirect_http(...)`` names the HTTPS listener instead of a
port; the Supervisor fills the port in (``envoykit._redirect_ports``). Pure logic, no envoy."""

from __future__ import annotations

from typing import Any

import pytest

from envoykit import Cert, EdgeProxy
from envoykit._redirect_ports import fill_redirect_ports, reserve_marked_ports
from envoykit.errors import ConfigError
from envoykit.load import load_bootstrap
from envoykit.render import to_yaml

CERT = Cert("cert", "key", inline=True)


def edge(https_port: int) -> EdgeProxy:
    return (EdgeProxy().site("a.example.com", "127.0.0.1:80", cert=CERT)
            .https(https_port).redirect_http(0))


def redirect_route(data: dict[str, Any]) -> dict[str, Any]:
    listeners = {x["name"]: x for x in data["static_resources"]["listeners"]}
    hcm = listeners["http"]["filter_chains"][0]["filters"][0]["typed_config"]
    route: dict[str, Any] = hcm["route_config"]["virtual_hosts"][0]["routes"][0]
    return route


def set_port(data: dict[str, Any], listener: str, port: int) -> None:
    for x in data["static_resources"]["listeners"]:
        if x["name"] == listener:
            x["address"]["socket_address"]["port_value"] = port


def test_https_on_port_zero_marks_the_redirect_with_the_listener_not_a_port() -> None:
    route = redirect_route(edge(0).to_dict())
    assert route["metadata"] == {
        "filter_metadata": {"envoykit": {"port_redirect_of_listener": "https"}}}
    assert "port_redirect" not in route["redirect"]


def test_a_fixed_https_port_is_written_into_the_redirect_without_a_mark() -> None:
    route = redirect_route(edge(8443).to_dict())
    assert route["redirect"]["port_redirect"] == 8443
    assert "metadata" not in route


def test_fill_takes_the_port_of_the_named_listener() -> None:
    data = edge(0).to_dict()
    set_port(data, "https", 40123)
    filled = fill_redirect_ports(data)
    assert redirect_route(filled)["redirect"]["port_redirect"] == 40123
    assert "port_redirect" not in redirect_route(data)["redirect"]  # a copy


def test_fill_leaves_the_redirect_alone_while_the_port_is_unknown() -> None:
    data = edge(0).to_dict()
    assert fill_redirect_ports(data) == data


def test_fill_names_a_missing_listener() -> None:
    data = edge(0).to_dict()
    data["static_resources"]["listeners"] = [
        x for x in data["static_resources"]["listeners"] if x["name"] != "https"]
    with pytest.raises(ConfigError, match=r"port of listener 'https'.*no listener"):
        fill_redirect_ports(data)


def test_reserve_gives_a_port_only_to_a_named_port_zero_listener() -> None:
    data = edge(0).to_dict()
    reserved = reserve_marked_ports(data)
    ports = {x["name"]: x["address"]["socket_address"]["port_value"]
             for x in reserved["static_resources"]["listeners"]}
    assert ports["https"] > 0
    assert ports["http"] == 0  # nothing names it: envoy picks it
    assert redirect_route(fill_redirect_ports(reserved))["redirect"]["port_redirect"] \
        == ports["https"]


def test_the_mark_survives_a_yaml_render_and_load(tmp_path: Any) -> None:
    path = tmp_path / "envoy.yaml"
    path.write_text(to_yaml(edge(0).build()))
    route = redirect_route(load_bootstrap(path).to_dict())
    assert route["metadata"]["filter_metadata"]["envoykit"] == {
        "port_redirect_of_listener": "https"}
