"""Property: ``EdgeProxy.resolve()`` answers what the real envoy does.

Hypothesis draws random route tables (prefix / exact path / RE2 regex matches, methods,
header conditions including inverted and presence ones, query parameters; direct answers
and redirects) for two sites, plus requests whose targets go through Envoy's path handling
(dot segments, ``..;``, double slashes, backslashes, ``%2F``/``%5C``, percent-encoded
unreserved characters, upper case, query strings, fragments) with hosts in any case, with
ports and under a wildcard domain, and now and then a header with an underscore. One envoy
serves every example: each new table is applied as a route file (``DynamicProxy.apply``,
milliseconds) and the test waits until envoy serves the new version before sending the
requests. Each route answers with a body naming it, so the reply says which route envoy
picked. Requests go out byte for byte (``http.client``; httpx would tidy the path first).
"""

from __future__ import annotations

import dataclasses
import http.client
import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from itertools import count
from typing import Literal

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envoykit import EdgeProxy, Header, HttpRoute, Redirect, Respond, Supervisor, validate
from envoykit.builder import EdgeDefaults
from envoykit.builder._checks import route_issues
from envoykit.builder._resolve import EscapedSlashes
from envoykit.testing import wait_until
from envoykit.xds import DynamicProxy

pytestmark = pytest.mark.integration

EXAMPLES = 60
SITES = {"a.test": ("*.a.test",), "b.test": ()}
HOSTS = ["a.test", "a.test", "x.a.test", "b.test", "b.test", "c.test", "a.test:80", "A.Test",
         "X.A.test:8443", "B.TEST:1", "a.test."]

SEGMENT = st.sampled_from(["a", "b", "api", "v1", "API"])
PATH = st.builds(lambda parts, slash: "/" + "/".join(parts) + ("/" if slash and parts else ""),
                 st.lists(SEGMENT, max_size=3), st.booleans())


def spellings(segment: str) -> st.SearchStrategy[str]:
    """Ways a client may write ``segment`` that Envoy normalises back to it."""
    escaped = f"%{ord(segment[0]):02X}{segment[1:]}"  # %61pi, %41PI
    return st.sampled_from([segment, segment, segment, escaped, f"x/../{segment}",
                            f"./{segment}", f"%2e/{segment}", f"z/..;/{segment}",
                            f"v1/%2E%2e/{segment}", f"x%2F..%2F{segment}"])


# segments that normalise into the route segments, and odd ones (%2F: a 307; %00: a 400)
RAW_SEGMENT = st.one_of(*[SEGMENT.flatmap(spellings)] * 5, st.sampled_from(
    ["..", ".", "", "a%2Fb", "api%5Cv1", "a%2fv1", "%2e%2e%2F", "a;x", "%7e", "%zz", "%3F",
     "a%00"]))
SEPARATOR = st.sampled_from(["/", "/", "/", "/", "//", "\\"])
RAW_PATH = st.builds(lambda parts, slash: "/" + "".join(sep + seg for sep, seg in parts)[1:]
                     + ("/" if slash else ""),
                     st.lists(st.tuples(SEPARATOR, RAW_SEGMENT), min_size=1, max_size=3),
                     st.booleans())
QUERY_STRING = st.sampled_from(["", "", "", "?q=1", "?q=1", "?q=2", "?q", "?z=1&q=1", "?",
                                "?q=%31", "?q=%31", "?q=1&q=2", "?x=/../%2F", "#top"])
REGEX = st.sampled_from(["/a/.*", "/[ab]+(/.*)?", "/api/v[0-9]", "/(a|b)/b", ".*/v1",
                         "/api(/.*)?", "/API/.*"])
HEADERS = [Header("x-h", exact="1"), Header("x-h", exact="2", invert=True),
           Header("x-h", present=True), Header("x-h", present=False),
           Header("x-g", regex="[12]"), Header("x-g", present=True, invert=True),
           Header("x-g", regex="1", invert=True)]
QUERY: list[dict[str, str | bool]] = [{}, {}, {"q": "1"}, {"q": True}, {"q": "%31"}]


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
def respelled(draw: st.DrawFn, path: str) -> str:
    """``path`` (a route's) as a client may write it, maybe one segment longer."""
    parts = [draw(spellings(p)) if p else "" for p in path.split("/")[1:]]
    if draw(st.booleans()):
        parts.append(draw(SEGMENT))
    return "/" + "".join(draw(SEPARATOR) + p for p in parts)[1:]


@st.composite
def requests(draw: st.DrawFn, known: list[str]) -> tuple[str, str, str, dict[str, str]]:
    """A request; half of them aimed at a route's path (``known``), written oddly."""
    aimed = st.sampled_from(known).flatmap(respelled) if known else PATH
    path = draw(st.one_of(aimed, aimed, aimed, PATH, RAW_PATH)) + draw(QUERY_STRING)
    headers = {name: draw(st.sampled_from(values)) for name, values in
               (("x-h", ["1", "2", "3"]), ("x-g", ["1", "2", "x"]))
               if draw(st.booleans())}
    if draw(st.integers(0, 19)) == 7:  # 1 in 20 (hypothesis favours 0 and 19): a 400 first
        headers["x_u"] = "1"
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


def send(address: tuple[str, int], method: str, target: str, host: str,
         headers: Mapping[str, str]) -> tuple[int, str | None, str]:
    """One request with ``target`` sent as written: (status, Location, body)."""
    connection = http.client.HTTPConnection(*address, timeout=10)
    try:
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in {"host": host, **headers}.items():
            connection.putheader(name, value)
        connection.endheaders()
        reply = connection.getresponse()
        return reply.status, reply.getheader("location"), reply.read().decode()
    finally:
        connection.close()


def check(edge: EdgeProxy, address: tuple[str, int],
          sent: list[tuple[str, str, str, dict[str, str]]]) -> None:
    """Each request's answer from envoy is the one ``resolve()`` gave."""
    for host, path, method, headers in sent:
        want = edge.resolve(host, path, method, headers)
        status, location, body = send(address, method, path, host, headers)
        seen = (status, location, body if want.action == "respond" else None)
        expected = (want.status, want.location, want.body)
        assert seen == expected, (f"{method} {host} {path!r} {headers}: envoy {seen}, "
                                  f"resolve() {expected} ({want.where}, {want.reason})\n"
                                  + describe(edge))


def wait_for_version(client: httpx.Client, url: str, version: int) -> None:
    """Envoy confirmed the route file; wait until every host serves the new table."""
    for host in SITES:
        wait_until(lambda: client.get(f"{url}/__version", headers={"host": host}).text,  # noqa: B023
                   expected=f"v{version}", what=f"route table v{version} served for {host}")


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(tables=st.fixed_dictionaries({h: st.lists(routes(), min_size=1, max_size=6)
                                     for h in SITES}),
       data=st.data())
def test_resolve_agrees_with_envoy(proxy: DynamicProxy, tables: dict[str, list[HttpRoute]],
                                   data: st.DataObject) -> None:
    version = next(VERSION)
    edge = edge_for({h: reachable(h, t) for h, t in tables.items()}, version)
    known = sorted({match for t in tables.values() for r in t
                    if r.regex is None and (match := r.path or r.prefix)})
    sent = data.draw(st.lists(requests(known), min_size=6, max_size=12), label="requests")
    proxy.apply(edge)
    with httpx.Client(timeout=10) as client:
        wait_for_version(client, proxy.url_of("http"), version)
    check(edge, proxy.address_of("http"), sent)


ODD_REQUESTS = [(host, path, "GET", headers) for host in ("a.test", "X.a.test:8080")
                for path in ("/a%2Fb", "/api%5Cv1/../b", "/x/..%2Fapi%2fv1?q=%2F", "/API/%2e%2e/a",
                             "/a//b/./..", "/%2F%2F", "/a%2F%00", "/b#f", "/q?q=%31", "/q?q=1&q=2",
                             "/q?p&q=1", "/q?q=1%26")
                for headers in ({}, {"x_h": "1"}, {"x-h": "1", "X_G": "2"})]


@pytest.mark.parametrize(("slashes", "underscores"), [
    ("KEEP_UNCHANGED", "ALLOW"), ("UNESCAPE_AND_FORWARD", "DROP_HEADER"),
    ("REJECT_REQUEST", "REJECT_REQUEST")])
def test_resolve_honours_the_edge_defaults(
        slashes: EscapedSlashes, underscores: Literal["ALLOW", "DROP_HEADER", "REJECT_REQUEST"]
) -> None:
    """The path and header actions that are not the builder's defaults, on a fixed table
    (each needs its own listener settings, so its own envoy)."""
    defaults = dataclasses.replace(EdgeDefaults(), path_with_escaped_slashes_action=slashes,
                                   headers_with_underscores_action=underscores)
    edge = EdgeProxy("defaults", defaults=defaults).http(0).admin(port=0).site(
        "a.test", aliases=["*.a.test"], routes=[
            HttpRoute("/a/", headers=[Header("x_h", present=True)], respond=Respond(200, "0")),
            HttpRoute("/a/", headers=[Header("x-h", present=True)], respond=Respond(200, "1")),
            HttpRoute(regex="/a(/.*)?", respond=Respond(302, "2")),
            HttpRoute("/api/", headers=[Header("x_g", exact="2")], respond=Respond(200, "3")),
            HttpRoute("/b", redirect=Redirect(host="other.test", prefix="/p/", code=301)),
            HttpRoute(path="//", respond=Respond(200, "5")),
            HttpRoute(path="/q", query={"q": "1"}, respond=Respond(200, "6")),
        ])
    with Supervisor(validate(edge), log_level="warning") as proxy:
        check(edge, proxy.address_of("http"), ODD_REQUESTS)
