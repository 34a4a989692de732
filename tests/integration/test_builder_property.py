"""Property: whatever the builder and the semantic checks accept, real envoy accepts too."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envoykit import ConfigError, EdgeDefaults, EdgeProxy, RateLimit, check, validate
from envoykit.testing.tls import TestCA

pytestmark = pytest.mark.integration

LABEL = st.from_regex(r"\A[a-z][a-z0-9-]{0,10}[a-z0-9]\Z")
HOST = st.builds(lambda a, b: f"{a}.{b}.test", LABEL, LABEL)
UPSTREAM = st.builds(lambda b, c, p: f"127.0.{b}.{c}:{p}",
                     st.integers(0, 255), st.integers(1, 254), st.integers(1, 65535))
DURATION = st.sampled_from(["250ms", "1s", "5s", "1m"])


@st.composite
def site_specs(draw: st.DrawFn) -> list[dict[str, object]]:
    hosts = draw(st.lists(HOST, min_size=1, max_size=4, unique=True))
    return [{
        "host": host,
        "upstreams": draw(st.lists(UPSTREAM, min_size=1, max_size=3)),
        "rate": draw(st.none() | st.just(False) | st.integers(1, 10_000)),
        "timeout": draw(st.none() | DURATION),
        "prefix_rewrite": draw(st.none() | st.sampled_from(["/", "/api/"])),
        "http2": draw(st.booleans()),
    } for host in hosts]


@pytest.fixture(scope="module")
def cert_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    files = TestCA(tmp_path_factory.mktemp("ca")).issue("property.test")
    return files.cert, files.key


def make_edge(specs: list[dict[str, object]], https: bool, redirect: bool, profile: str,
              default_rate: int | None, cert: tuple[str, str]) -> EdgeProxy:
    edge = EdgeProxy(defaults=EdgeDefaults(tls_profile=profile))  # type: ignore[arg-type]
    for spec in specs:
        rate = spec["rate"]
        edge.site(str(spec["host"]), *spec["upstreams"],  # type: ignore[misc]
                  cert=cert if https else None,
                  rate_limit=RateLimit(rate) if isinstance(rate, int) and rate else rate,  # type: ignore[arg-type]
                  timeout=spec["timeout"], prefix_rewrite=spec["prefix_rewrite"],  # type: ignore[arg-type]
                  http2_upstream=bool(spec["http2"]))
    if https:
        edge.https(8443)
        if redirect:
            edge.redirect_http(8080)
    else:
        edge.http(8080)
    if default_rate:
        edge.rate_limit(default_rate, per="1s")
    return edge.admin(port=0)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(specs=site_specs(), https=st.booleans(), redirect=st.booleans(),
       profile=st.sampled_from(["intermediate", "modern"]),
       default_rate=st.none() | st.integers(1, 1000))
def test_what_we_accept_envoy_accepts(specs: list[dict[str, object]], https: bool,
                                      redirect: bool, profile: str, default_rate: int | None,
                                      cert_files: tuple[str, str]) -> None:
    try:
        bootstrap = make_edge(specs, https, redirect, profile, default_rate, cert_files).build()
    except ConfigError:
        return  # refused in Python: nothing for envoy to judge
    if check(bootstrap):
        return
    validate(bootstrap)  # raises EnvoyValidationError with envoy's message if envoy disagrees


def test_property_covers_an_accepted_config(cert_files: tuple[str, str], tmp_path: Path) -> None:
    """The property above is not vacuous: a typical draw builds, checks clean, validates."""
    specs: list[dict[str, object]] = [{"host": "a.example.test", "upstreams": ["127.0.0.20:80"],
                                       "rate": 5, "timeout": "1s", "prefix_rewrite": None,
                                       "http2": True}]
    bootstrap = make_edge(specs, True, True, "intermediate", 100, cert_files).build()
    assert check(bootstrap) == []
    assert validate(bootstrap).to_dict() == bootstrap.to_dict()
