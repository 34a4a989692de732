"""Property: ``EdgeProxy.resolve()`` answers what the real envoy does.

Hypothesis draws random route tables (prefix / exact path / RE2 regex matches, methods,
header conditions including inverted and presence ones, query parameters; direct answers
and redirects) for two sites, plus requests. One envoy serves every example: each new table
is applied as a route file (``DynamicProxy.apply``, milliseconds) and the test waits until
envoy serves the new version before sending the requests. Each route answers with a body
naming it, so the reply says which route envoy picked.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import timedelta
from itertools import count

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envoykit import EdgeProxy, Header, HttpRoute, Redirect, Respond
from envoykit.builder._checks import route_issues
from envoykit.testing import wait_until
from envoykit.xds import DynamicProxy

pytestmark = pytest.mark.integration

EXAMPLES = 60
SITES = {"a.test": ("*.a.test",), "b.test": ()}
HOSTS = ["a.test", "x.a.test", "b.test", "c.test", "a.test:80"]

SEGMENT = st.sampled_from(["a", "b", "api", "v1"])
PATH = st.builds(lambda parts, slash: "/" + "/".join(parts) + ("/" if slash and parts else ""),
                 st.lists(SEGMENT, max_size=3), st.booleans())
REGEX = st.sampled_from(["/a/.*", "/[ab]+(/.*)?", "/api/v[0-9]", "/(a|b)/b", ".*/v1",
                         "/api(/.*)?"])
HEADERS = [Header("x-h", exact="1"), Header("x-h", exact="2", invert=True),
           Header("x-h", present=True), Header("x-h", present=False),
           Header("x-g", regex="[12]"), Header("x-g", present=True, invert=True),
           Header("x-g", regex="1", invert=True)]
QUERY: list[dict[str, str | bool]] = [{}, {}, {"q": "1"}, {"q": True}]


@st.composite
def routes(draw: st.DrawFn) -> HttpRoute:
    kind = draw(st.sampled_from(["prefix", "prefix", "path", "regex"]))
    match = {kind: draw(REGEX if kind == "regex" else PATH)}
    methods = draw(st.sampled_from([(), (), ("GET",), ("POST",), ("GET", "POST")]))
    headers = draw(st.lists(st.sampled_from(HEADERS), max_size=2, unique=True))
    query = draw(st.sampled_from(QUERY))
    action = draw(st.sampled_from(["respond", "respond", "redirect", "rewrite"]))
    if action == "respond":
        body = {"respond": Respond(draw(st.sampled_from([200, 201, 302, 403])), "")}
    elif action == "redirect":
        body = {"redirect": Redirect(path=draw(st.sampled_from(["/moved", "/moved?x=1"])),
                                     code=302)}
    else:
        body = {"redirect": Redirect(host="other.test", prefix="/p/",
                                     strip_query=draw(st.booleans()))}
    return HttpRoute(**match, methods=methods, headers=headers, query=query,  # type: ignore[arg-type]
                 **body)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, str, dict[str, str]]:
    path = draw(PATH) + draw(st.sampled_from(["", "", "?q=1", "?q=2", "?q", "?z=1&q=1"]))
    headers = {name: draw(st.sampled_from(values)) for name, values in
               (("x-h", ["1", "2", "3"]), ("x-g", ["1", "2", "x"]))
               if draw(st.booleans())}
    return draw(st.sampled_from(HOSTS)), path, draw(st.sampled_from(["GET", "POST"])), headers


def reachable(host: str, table: list[HttpRoute]) -> list[HttpRoute]:
    """The table without the routes the builder refuses (shadowed ones, redirect loops),
    each direct answer labelled with its site and index so the reply names the route."""
    domains = [host, *SITES[host]]
    while True:
        issues = route_issues(f"site({host!r})", tuple(table), domains, timedelta(seconds=15))
        bad = {int(m.group(1)) for i in issues if (m := re.search(r"routes\[(\d+)\]", i.path))}
        if not bad:
            break
        table = [r for i, r in enumerate(table) if i not in bad]
    table = table or [HttpRoute(path="/never", respond=Respond(200, ""))]
    return [dataclasses.replace(r, respond=Respond(r.respond.status, f"{host}#{i}"))
            if r.respond else r for i, r in enumerate(table)]


VERSION = count(1)


def edge_for(tables: dict[str, list[HttpRoute]], version: int) -> EdgeProxy:
    edge = EdgeProxy("property").http(0).admin(port=0)
    for host, table in tables.items():
        marker = HttpRoute(path="/__version", respond=Respond(200, f"v{version}"))
        edge.site(host, aliases=SITES[host], routes=[marker, *table])
    return edge


def describe(edge: EdgeProxy) -> str:
    """The route tables, one line per route (for a failure message)."""
    lines = []
    for site in edge.sites:
        for i, r in enumerate(site.routes):
            conds = [f"{h.name}{'!' if h.invert else ''}"
                     f"{'=' + h.exact if h.exact else '~' + h.regex if h.regex else ''}"
                     f"{'' if h.present is None else ' present' if h.present else ' absent'}"
                     for h in r.header_matchers]
            lines.append(f"  {site.host}[{i}] {r.match_text} {list(r.method_list)} {conds} "
                         f"{dict(r.query_matchers)} -> {r.respond or r.redirect}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def proxy() -> Iterator[DynamicProxy]:
    start = {h: [HttpRoute(respond=Respond(200, "start"))] for h in SITES}
    with DynamicProxy(edge_for(start, 0), log_level="warning") as running:
        yield running


def wait_for_version(client: httpx.Client, url: str, version: int) -> None:
    """Envoy confirmed the route file; wait until every host serves the new table."""
    for host in SITES:
        wait_until(lambda: client.get(f"{url}/__version", headers={"host": host}).text,  # noqa: B023
                   expected=f"v{version}", what=f"route table v{version} served for {host}")


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(tables=st.fixed_dictionaries({h: st.lists(routes(), min_size=1, max_size=6)
                                     for h in SITES}),
       sent=st.lists(requests(), min_size=6, max_size=12))
def test_resolve_agrees_with_envoy(proxy: DynamicProxy,
                                   tables: dict[str, list[HttpRoute]],
                                   sent: list[tuple[str, str, str, dict[str, str]]]) -> None:
    version = next(VERSION)
    edge = edge_for({h: reachable(h, t) for h, t in tables.items()}, version)
    proxy.apply(edge)
    url = proxy.url_of("http")
    with httpx.Client(timeout=10) as client:
        wait_for_version(client, url, version)
        for host, path, method, headers in sent:
            want = edge.resolve(host, path, method, headers)
            got = client.request(method, url + path, headers={**headers, "host": host})
            seen = (got.status_code, got.headers.get("location"),
                    got.text if want.action == "respond" else None)
            expected = (want.status, want.location, want.body)
            assert seen == expected, (f"{method} {host}{path} {headers}: envoy {seen}, "
                                      f"resolve() {expected} ({want.where})\n"
                                      + describe(edge))
