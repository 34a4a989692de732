"""Equal route values are made once (``envoykit.builder._shared``): shared when their
arguments are equal and of the same types, never confused when they differ, bounded, and
errors are raised on every construction of a bad value."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from collections.abc import Iterator
from datetime import timedelta

import pytest

from envoykit import ConfigError, Header, HttpRoute, RateLimit, Redirect, Respond, Retry
from envoykit.builder import _shared
from envoykit.builder._shared import CACHE_SIZE, cache_info, clear_caches, unshared


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    clear_caches()
    yield
    clear_caches()


def test_equal_calls_return_one_value() -> None:
    def table(retry: Retry) -> list[HttpRoute]:
        return [HttpRoute("/api/", headers={"x-canary": "1"}, to="canary"),
                HttpRoute("/api/", to={"api": 90, "canary": 10}, retries=retry, timeout="5s"),
                HttpRoute(path="/healthz", respond=Respond(200, "ok")),
                HttpRoute(path="/old", redirect=Redirect(path="/new")),
                HttpRoute("/", methods=["GET", "HEAD"], headers=[Header("x-a", present=True)],
                          to="web", remove_request_headers=["x-b"])]

    retry = Retry(attempts=1, per_try_timeout="2s")
    first, second = table(retry), table(retry)
    assert all(a is b for a, b in zip(first, second, strict=True))
    assert Retry(attempts=1, per_try_timeout="2s") is retry
    assert Header("x-a", present=True) is first[4].header_matchers[0]
    assert cache_info(HttpRoute).hits == 5


def test_values_that_differ_only_in_type_are_not_confused() -> None:
    present = HttpRoute("/", headers={"x-debug": True}, to="a")
    exact = HttpRoute("/", headers={"x-debug": 1}, to="a")
    assert present.header_matchers == (Header("x-debug", present=True),)
    assert exact.header_matchers == (Header("x-debug", exact="1"),)
    assert HttpRoute("/", query={"q": True}, to="a").query_matchers == (("q", True),)
    assert HttpRoute("/", query={"q": 1}, to="a").query_matchers == (("q", 1),)
    assert Redirect(port=True) is not Redirect(port=1)
    assert HttpRoute("/", to={"a": 1, "b": 1.0}).split[1][1].__class__ is float
    assert HttpRoute("/", to={"a": 1, "b": 1}).split[1][1].__class__ is int


def test_different_values_are_different() -> None:
    one, two = Retry(attempts=1), Retry(attempts=2)
    assert HttpRoute("/", to="a", retries=one).retries is one
    assert HttpRoute("/", to="a", retries=two).retries is two
    assert HttpRoute("/a", to="x") is not HttpRoute("/b", to="x")
    assert HttpRoute("/a", to="x") is not HttpRoute(path="/a", to="x")
    assert HttpRoute("/", to={"a": 90, "b": 10}).split == (("a", 90), ("b", 10))
    assert HttpRoute("/", to={"b": 10, "a": 90}).split == (("b", 10), ("a", 90))
    limit = RateLimit(5)
    assert HttpRoute("/", to="a", rate_limit=limit).rate_limit is limit
    assert HttpRoute("/", to="a", rate_limit=RateLimit(5)).rate_limit is not limit


def test_a_value_the_route_would_keep_by_reference_is_not_shared() -> None:
    config = {"@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig"}
    first = HttpRoute("/", to="a", filters={"jwt": config})
    assert HttpRoute("/", to="a", filters={"jwt": dict(config)}) is not first
    regex = ["^/a$", "/b"]
    assert HttpRoute("/", to="a", rewrite_regex=regex) is not HttpRoute(  # type: ignore[arg-type]
        "/", to="a", rewrite_regex=list(regex))  # type: ignore[arg-type]
    assert unshared(HttpRoute, "/", to="a") is not HttpRoute("/", to="a")


def test_a_bad_value_raises_each_time() -> None:
    for _ in range(2):
        with pytest.raises(ConfigError, match=r"HttpRoute\(prefix='api'\)\.prefix: must start "
                                               r"with '/', got 'api'"):
            HttpRoute("api", to="a")
        with pytest.raises(ConfigError, match="give exactly one action"):
            HttpRoute("/", to="a", respond=Respond(200))
        with pytest.raises(ConfigError, match=r"Retry\.attempts: must be a positive integer"):
            Retry(attempts=0)
        with pytest.raises(TypeError):
            HttpRoute("/", "/a", "^a$", (), (), (), "x", None, None, None, None, None, None,
                      None, None, (), (), (), (), None, (), None, False, None, "extra")


def test_the_cache_is_bounded_least_recently_used_first() -> None:
    first = HttpRoute(path="/0", to="a")
    for i in range(1, CACHE_SIZE + 10):
        HttpRoute(path=f"/{i}", to="a")
    info = cache_info(HttpRoute)
    assert info.maxsize == CACHE_SIZE and info.currsize == CACHE_SIZE
    again = HttpRoute(path="/0", to="a")
    assert again == first and again is not first  # dropped, made afresh
    assert HttpRoute(path=f"/{CACHE_SIZE + 9}", to="a") is HttpRoute(path=f"/{CACHE_SIZE + 9}",
                                                                      to="a")


def test_a_shared_value_behaves_as_a_value() -> None:
    route = HttpRoute("/", to={"a": 90, "b": 10}, timeout=5)
    assert route.timeout_value == timedelta(seconds=5)
    assert hash(route) == hash(route) and route.__dict__["_hash"] == hash(route)
    loaded = pickle.loads(pickle.dumps(route))
    assert loaded == route and "_hash" not in loaded.__dict__ and hash(loaded) == hash(route)
    assert copy.copy(route) == route and copy.deepcopy(route) == route
    assert dataclasses.replace(route, timeout=6).timeout_value == timedelta(seconds=6)
    assert HttpRoute("/", to="a") == unshared(HttpRoute, "/", to="a")
    assert hash(HttpRoute("/", to="a")) == hash(unshared(HttpRoute, "/", to="a"))
    assert not _shared._KINDS[HttpRoute].copied - {f.name for f in dataclasses.fields(HttpRoute)}
