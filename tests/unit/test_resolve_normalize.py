"""Envoy's path handling before route matching, as ``resolve()`` models it.

Each row is what Envoy 1.40 did with that request target on the edge's connection manager
(``normalize_path``, ``merge_slashes``, ``path_with_escaped_slashes_action``), measured
against the real binary; the property test ``tests/integration/test_resolve_property.py``
keeps checking random ones.
"""

from __future__ import annotations

import dataclasses

import pytest

from envoykit import EdgeProxy, Header, HttpRoute, Redirect, Respond
from envoykit.builder import EdgeDefaults
from envoykit.builder._resolve import normalize_target

NORMALISED = [  # target -> the path envoy routes on (and its query string)
    # RFC 3986 dot segments; ".." never climbs above the root
    ("/a/./b", "/a/b"), ("/a/../b", "/b"), ("/../a", "/a"), ("/a/b/../../..", "/"),
    ("/a/..", "/"), ("/a/.", "/a/"), ("/.", "/"), ("/a/.../b", "/a/.../b"),
    # dots written as %2e count as dots; inside a longer segment %2e is just "."
    ("/%2e%2e/a", "/a"), ("/a/.%2E/b", "/b"), ("/a/%2E%2e/", "/"), ("/a%2e/b", "/a./b"),
    # parameters of dot segments are dropped (..;x is ..), other ";" stay
    ("/a/..;/b", "/b"), ("/a/.;x/b", "/a/b"), ("/a;x/../b", "/b"), ("/a..;/b", "/a..;/b"),
    ("/a/%2e;/b", "/a/.;/b"),
    # slashes merged after the dot segments are removed; a backslash is a slash
    ("//a//b/", "/a/b/"), ("/a//../b", "/a/b"), ("/a/b//..", "/a/b/"), ("/..//a", "/a"),
    ("/a\\b", "/a/b"), ("/a\\..\\b", "/b"),
    # percent-encoded unreserved characters decoded; other escapes kept as written
    ("/%41PI", "/API"), ("/a%7eb", "/a~b"), ("/a%5F%2E%30%2d", "/a_.0-"),
    ("/a%25b", "/a%25b"), ("/a%3Fb", "/a%3Fb"), ("/a%2a", "/a%2a"), ("/A%c3%a9", "/A%c3%a9"),
    ("/a%zz", "/a%zz"), ("/a%2", "/a%2"),
    # characters a URL must not carry raw are escaped; sub-delims pass
    ('/a"b<c>d', "/a%22b%3Cc%3Ed"), ("/a^`{|}", "/a%5E%60%7B%7C%7D"),
    ("/a'b;c:d@[e]", "/a'b;c:d@[e]"),
    # no case normalisation; the query string is left as it came (a bare "?" stays)
    ("/API/V1", "/API/V1"), ("/a/../b?x=/../%2F", "/b?x=/../%2F"), ("/a?", "/a?"),
    ("/a??b", "/a??b"),
]

REDIRECTED = [  # %2F / %5C: UNESCAPE_AND_REDIRECT answers 307 to the unescaped path
    ("/a%2Fb", "/a/b"), ("/a%2fb?x=%2F", "/a/b?x=%2F"), ("/a%5Cb", "/a/b"),
    ("/a/%2e%2e%2fb", "/b"), ("/a%2F..%2Fb", "/b"), ("/a/%2F", "/a/"),
    ("/%2F%2F", "//"),  # envoy's merge keeps a leading and a trailing slash of "///"
]

REJECTED = [  # envoy answers 400
    ("/a#frag", "fragment"), ("/a?x=1#f", "fragment"), ("/a%00b", "%00"),
    ("a/b", "does not start with '/'"), ("*", "does not start with '/'"),
    ("/a b", "request line"), ("/é", "request line"), ("/a\x7f", "request line"),
]


@pytest.mark.parametrize(("target", "routed"), NORMALISED)
def test_normalised_like_envoy(target: str, routed: str) -> None:
    got = normalize_target(target)
    assert (got.full, got.redirect, got.rejected) == (routed, False, None)


@pytest.mark.parametrize(("target", "location"), REDIRECTED)
def test_escaped_slashes_redirect(target: str, location: str) -> None:
    got = normalize_target(target)
    assert (got.full, got.redirect, got.rejected) == (location, True, None)


@pytest.mark.parametrize(("target", "why"), REJECTED)
def test_rejected_like_envoy(target: str, why: str) -> None:
    got = normalize_target(target)
    assert got.rejected is not None and why in got.rejected


def test_each_escaped_slashes_action() -> None:
    assert normalize_target("/a%2Fb", "KEEP_UNCHANGED").full == "/a%2Fb"
    forwarded = normalize_target("/a%5cb/..%2Fc", "UNESCAPE_AND_FORWARD")
    assert (forwarded.full, forwarded.redirect) == ("/a/c", False)
    assert "REJECT_REQUEST" in str(normalize_target("/a%2fb", "REJECT_REQUEST").rejected)
    assert normalize_target("/a/b?x=%2F", "REJECT_REQUEST").rejected is None  # query untouched


def edge(**defaults: object) -> EdgeProxy:
    return (EdgeProxy("norm", defaults=dataclasses.replace(EdgeDefaults(), **defaults))
            .http(0).service("api", "127.0.0.30:8080").service("admin", "127.0.0.31:8080")
            .site("shop.example.com", aliases=["*.shop.example.com"], routes=[
                HttpRoute("/api/", to="api"),
                HttpRoute(path="/admin", headers=[Header("x_role", present=True)], to="admin"),
                HttpRoute(path="/q", query={"k": "%41"}, respond=Respond(200, "raw %41")),
                HttpRoute(path="/q", query={"k": "a b"}, respond=Respond(200, "a b")),
                HttpRoute(path="/old", redirect=Redirect(path="/new", code=302)),
                HttpRoute(path="/moved", respond=Respond(302, "")),
            ]))


def test_routes_match_the_normalised_path() -> None:
    shop = edge()
    assert shop.resolve("shop.example.com", "/static/../api/x").service == "api"
    assert shop.resolve("shop.example.com", "//api//x").service == "api"
    assert shop.resolve("shop.example.com", "/%61pi/x").service == "api"
    assert shop.resolve("shop.example.com", "/API/x").action == "not_found"  # case-sensitive
    assert shop.resolve("shop.example.com", "/api/x#top").action == "reject"


def test_escaped_slash_is_redirected_before_routing() -> None:
    moved = edge().resolve("nowhere.example.com", "/api%2Fx?y=1")
    assert (moved.action, moved.status, moved.location, moved.site) == (
        "redirect", 307, "/api/x?y=1", None)
    assert moved.where == "(before routing)"
    grpc = edge().resolve("shop.example.com", "/api%2Fx",
                          headers={"content-type": "application/grpc"})
    assert (grpc.action, grpc.status) == ("reject", 400)
    forwarded = edge(path_with_escaped_slashes_action="UNESCAPE_AND_FORWARD")
    assert forwarded.resolve("shop.example.com", "/x/..%2Fapi%2Fx").service == "api"
    kept = edge(path_with_escaped_slashes_action="KEEP_UNCHANGED")
    assert kept.resolve("shop.example.com", "/x/..%2Fapi%2Fx").action == "not_found"


def test_header_with_an_underscore_per_defaults() -> None:
    headers = {"X_Role": "ops"}
    rejected = edge().resolve("shop.example.com", "/admin", headers=headers)
    assert (rejected.action, rejected.status) == ("reject", 400)
    assert rejected.reason is not None and "X_Role" in rejected.reason
    dropped = edge(headers_with_underscores_action="DROP_HEADER")
    assert dropped.resolve("shop.example.com", "/admin", headers=headers).action == "not_found"
    allowed = edge(headers_with_underscores_action="ALLOW")
    assert allowed.resolve("shop.example.com", "/admin", headers=headers).service == "admin"


def test_query_parameters_are_matched_raw() -> None:
    shop = edge()
    assert shop.resolve("shop.example.com", "/q?k=%41").body == "raw %41"
    assert shop.resolve("shop.example.com", "/q?k=A").action == "not_found"  # not decoded
    assert shop.resolve("shop.example.com", "/q?k=a+b").action == "not_found"  # "+" is no space
    assert shop.resolve("shop.example.com", "/q?j&k=%41&k=x").body == "raw %41"  # first value


def test_locations_keep_the_host_as_sent_and_a_bare_question_mark() -> None:
    shop = edge()
    assert shop.resolve("Shop.Example.com:8080", "/moved?").location == \
        "http://Shop.Example.com/moved?"
    assert shop.resolve("shop.example.com", "/x/../old?").location == \
        "http://shop.example.com/new?"
    with_port = edge(strip_any_host_port=False)
    assert with_port.resolve("shop.example.com:8080", "/api/x").action == "not_found"


def test_an_absolute_url_is_refused() -> None:
    with pytest.raises(ValueError, match="host and the path apart"):
        edge().resolve("shop.example.com", "http://shop.example.com/api/x")
