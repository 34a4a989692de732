"""The fast build path renders byte for byte what it rendered before it was made fast.

``golden_edge()`` uses every builder concept (services with health, outlier, limits, sticky,
upstream TLS, HTTP/2; routes with every matcher and action; splits; retries; per-route
filters, CORS, rate limits; HTTPS with certificates and mTLS; redirect to HTTPS; TCP and SNI
passthrough), and several sites share equal routes (the compiler reuses their compiled form).
The golden files were rendered by the builder before the speed work; regenerate them only
for an intended change of output: ``ENVOYKIT_REGOLD=1 pytest tests/unit/test_render_golden.py``.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest

from envoykit import (
    Backend,
    Cert,
    EdgeProxy,
    Header,
    Health,
    HttpRoute,
    Limits,
    Outlier,
    RateLimit,
    Redirect,
    Respond,
    Retry,
    Sticky,
    to_json,
    to_yaml,
)
from envoykit.config import StringMatcher
from envoykit.config.filters.cors import CorsPolicy

GOLDEN = Path(__file__).parent / "fixtures" / "render"
RBAC = {"@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute"}


def _routes(k: int) -> list[HttpRoute]:
    return [
        HttpRoute("/api/", methods=["GET", "POST"], headers={"x-canary": "1", "x-debug": True},
                  query={"v": "2"}, to=f"canary{k}"),
        HttpRoute("/api/", headers=[Header("x-env", regex="stag.*", invert=True)],
                  to={f"api{k}": 90, f"canary{k}": 10}, timeout="5s", idle_timeout="30s",
                  retries=Retry(attempts=2, per_try_timeout="1s", statuses=(503,),
                                backoff=("10ms", "100ms")),
                  rewrite_regex=("^/api/(.*)$", "/\\1"), host_rewrite="api.internal",
                  request_headers={"x-a": "b"}, remove_request_headers=["Cookie"],
                  response_headers={"x-c": "d"}, remove_response_headers=["server"],
                  rate_limit=RateLimit(5),
                  cors=CorsPolicy(allow_origin_string_match=[StringMatcher(exact="https://x")])),
        HttpRoute("/admin", to=f"api{k}", filters={"envoy.filters.http.rbac": RBAC},
                  rewrite_prefix="/"),
        HttpRoute("/ws", to=f"web{k}", websocket=True, mirror=f"api{k}"),
        HttpRoute(path="/healthz", respond=Respond(200, "ok")),
        HttpRoute(regex="/static/.*", respond=Respond(404)),
        HttpRoute(path="/old", redirect=Redirect(path="/new", code=308)),
        HttpRoute("/", to=f"web{k}", rate_limit=False),
    ]


def golden_edge() -> EdgeProxy:
    cert = Cert("CERT", "KEY", inline=True)
    edge = (EdgeProxy("golden").https(8443, address="127.0.0.1")
            .redirect_http(8080, address="127.0.0.1").rate_limit(100)
            .admin(9901).access_log())
    for k in range(2):
        edge.service(f"api{k}", f"127.0.1.{k + 1}:80", Backend("127.0.2.1", 80, weight=3),
                     lb="least_request",
                     health=Health.http("/healthz", expect=(200, 204), interval="1s"),
                     outlier=Outlier(consecutive_5xx=3), limits=Limits(max_retries=5),
                     http2=True)
        edge.service(f"canary{k}", f"127.0.3.{k + 1}:80", health=Health.tcp())
        edge.service(f"web{k}", f"web{k}.internal:80", sticky=Sticky.cookie("sid", ttl="1h"))
    edge.service("echo", "127.0.0.1:7")
    for i in range(4):  # sites 0/2 and 1/3 have equal routes
        edge.site(f"s{i}.example.com", routes=_routes(i % 2), cert=cert,
                  aliases=[f"www.s{i}.example.com"])
    edge.site("mtls.example.com", "127.0.0.9:8443", cert=cert, client_ca="CA",
              rate_limit=RateLimit(7), timeout="3s", prefix_rewrite="/v1/",
              host_rewrite="inner", http2_upstream=True)
    edge.site("plain.example.com", "127.0.0.10:80", "127.0.0.11:80", cert=cert,
              rate_limit=False)
    return edge.passthrough("pass.example.com", "echo").tcp(9000, "echo", name="raw")


@pytest.mark.parametrize(("name", "render"), [
    ("edge.json", lambda b: to_json(b, indent=None)),
    ("edge.yaml", to_yaml),
])
def test_render_is_byte_identical_to_golden(name: str, render: object) -> None:
    text = render(golden_edge().build())  # type: ignore[operator]
    path = GOLDEN / name
    if os.environ.get("ENVOYKIT_REGOLD"):
        path.write_text(text)
    assert text == path.read_text()


def test_repeated_builds_and_shared_routes_render_the_same() -> None:
    edge = golden_edge()
    first, second = to_json(edge.build(), indent=None), to_json(edge.build(), indent=None)
    assert first == second


def test_a_build_leaves_the_collector_as_it_found_it() -> None:
    """On: the built objects are filed as old (not left for a young-generation scan) and
    nothing stays frozen. Off: it stays off."""
    edge = golden_edge()
    for _ in range(20):
        edge.site(f"more{_}.example.com", "127.0.0.30:80", cert=Cert("C", "K", inline=True))
    was_enabled = gc.isenabled()
    try:
        gc.enable()
        gc.collect()
        built = edge.build()
        assert gc.isenabled() and gc.get_freeze_count() == 0
        assert any(o is built for o in gc.get_objects(generation=2))
        gc.disable()
        edge.build()
        assert not gc.isenabled()
    finally:
        (gc.enable if was_enabled else gc.disable)()
