"""Equal route values are made once (``envoykit.builder._shared``): shared when their
arguments are equal and of the same types, never confused when they differ, bounded, and
errors are raised on every construction of a bad value."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from collections.abc import Iterator
from datetime import timedelta

import pytest

from envoykit import (
    ConfigError,
    EdgeProxy,
    Header,
    HttpRoute,
    RateLimit,
    Redirect,
    Respond,
    Retry,
    SemanticError,
    builder,
    check,
    to_json,
)
from envoykit.builder import Site, _shared
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
    # the same values under other keywords (the names are part of the key)
    assert HttpRoute(prefix="/a", to="x").path is None
    assert HttpRoute(path="/a", to="x").path == "/a"
    assert Header("x-env", exact="1").regex is None
    assert Header("x-env", regex="1").regex == "1"
    # containers keyed by every key and element, not by their shape
    assert HttpRoute("/", to={"a": 90, "b": 10}).split == (("a", 90), ("b", 10))
    assert HttpRoute("/", to={"c": 90, "d": 10}).split == (("c", 90), ("d", 10))
    assert HttpRoute("/", to="a", methods=["GET"]).methods == ("GET",)
    assert HttpRoute("/", to="a", methods=["POST"]).methods == ("POST",)
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


# --- route tables: equal tables given to site() are one table, judged once -----------------


def _table(k: int) -> list[HttpRoute]:
    return [HttpRoute("/api/", headers={"x-canary": "1"}, to=f"canary{k}"),
            HttpRoute(path="/old", redirect=Redirect(path="/new")),
            HttpRoute("/", to=f"web{k}")]


def _edge(tables: int) -> EdgeProxy:
    edge = EdgeProxy().http(8080)
    for k in range(tables):
        edge.service(f"canary{k}", "127.0.0.2:80").service(f"web{k}", "127.0.0.3:80")
    return edge


def test_equal_tables_are_one_table_judged_once(monkeypatch: pytest.MonkeyPatch) -> None:
    judged: list[tuple[HttpRoute, ...]] = []
    real = builder.table_is_clean
    monkeypatch.setattr(builder, "table_is_clean",
                        lambda table, timeout: judged.append(table) or real(table, timeout))
    edge = _edge(3)
    for i in range(30):
        edge.site(f"s{i}.example.com", routes=_table(i % 3))  # a fresh list each time
    assert len(judged) == 3
    assert all(edge.sites[i].routes is edge.sites[i % 3].routes for i in range(30))
    assert edge.sites[0].routes is not edge.sites[1].routes
    assert edge.sites[4].routes == tuple(_table(1))
    clear_caches()  # equal routes made afresh (not the same objects): still one table
    edge.site("late.example.com", routes=_table(2))
    assert edge.sites[-1].routes is edge.sites[2].routes and len(judged) == 3
    assert to_json(edge) == to_json(edge.build())


def test_a_bad_shared_table_is_reported_for_each_site() -> None:
    edge = _edge(1)
    loop = [HttpRoute(path="/a", redirect=Redirect(prefix="/a")), HttpRoute("/", to="web0")]
    for host in ("a.example.com", "b.example.com"):
        with pytest.raises(SemanticError, match=rf"site\('{host}'\)\.routes\[0\]: the "
                                                r"redirect leads back to this same route"):
            edge.site(host, routes=list(loop))
    bad_type = [HttpRoute("/", to="web0"), "/x"]
    for host in ("c.example.com", "d.example.com"):
        with pytest.raises(ConfigError, match=rf"site\('{host}'\)\.routes\[1\]: expected "
                                              r"HttpRoute\(\.\.\.\), got '/x'"):
            edge.site(host, routes=list(bad_type))  # type: ignore[arg-type]
    limited = [HttpRoute("/", to="web0", rate_limit=RateLimit(0))]
    for host in ("e.example.com", "f.example.com"):
        with pytest.raises(ConfigError, match=rf"site\('{host}'\)\.routes\[0\]\.rate_limit"):
            edge.site(host, routes=list(limited))
    unknown = [HttpRoute("/", to={"web0": 1, "nowhere": 1})]
    edge.site("g.example.com", routes=unknown).site("h.example.com", routes=list(unknown))
    assert [(i.path, i.message) for i in check(edge)] == [
        (f"site('{h}.example.com').routes[0]", "unknown service 'nowhere': declare it with "
                                               ".service('nowhere', 'host:port')")
        for h in "gh"]


def test_a_redirect_to_a_host_is_judged_for_each_site_of_a_shared_table() -> None:
    edge = _edge(1)
    table = [HttpRoute(path="/a", redirect=Redirect(host="b.example.com")),
             HttpRoute("/", to="web0")]
    edge.site("a.example.com", routes=list(table))
    with pytest.raises(SemanticError, match=r"site\('b.example.com'\)\.routes\[0\].*loop"):
        edge.site("b.example.com", routes=list(table))
    edge.site("c.example.com", routes=list(table))
    assert edge.sites[0].routes is edge.sites[1].routes


def test_a_table_of_unhashable_routes_is_shared_by_identity() -> None:
    config = {"@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute"}
    route = HttpRoute("/", to="web0", filters={"envoy.filters.http.rbac": config})
    edge = _edge(1).site("a.example.com", routes=[route]).site("b.example.com", routes=[route])
    assert edge.sites[0].routes is edge.sites[1].routes
    other = HttpRoute("/", to="web0", filters={"envoy.filters.http.rbac": dict(config)})
    edge.site("c.example.com", routes=[other])
    assert edge.sites[2].routes is not edge.sites[0].routes


@pytest.mark.parametrize(("timeout", "prefix_rewrite", "host_rewrite"),
                         [(None, None, None), ("3s", "/v2/", "api.internal"), (0, None, "x")])
def test_the_site_shortcut_route_is_the_checked_route(
        timeout: str | int | None, prefix_rewrite: str | None, host_rewrite: str | None) -> None:
    """The shortcut's own route is made without HttpRoute's checks (they cannot fail for
    it): it is the very value the checked construction makes."""
    edge = EdgeProxy().http(8080).site("a.example.com", "127.0.0.2:80", timeout=timeout,
                                       prefix_rewrite=prefix_rewrite, host_rewrite=host_rewrite)
    route = edge.sites[0].routes[0]
    checked = unshared(HttpRoute, prefix="/", to="a_example_com", timeout=timeout,
                       rewrite_prefix=prefix_rewrite, host_rewrite=host_rewrite)
    assert route == checked and hash(route) == hash(checked)
    assert {k: v for k, v in vars(route).items() if k != "_hash"} == \
        {k: v for k, v in vars(checked).items() if k != "_hash"}


def test_the_classes_keep_their_signatures() -> None:
    """``inspect.signature`` (help(), IDEs) shows the parameters, not the metaclass's
    ``(*args, **kwargs)`` nor the one-update ``__init__``'s unannotated ones."""
    assert str(inspect.signature(Respond)) == "(status: 'int', body: 'str | None' = None) -> None"
    route = inspect.signature(HttpRoute).parameters
    assert list(route)[:3] == ["prefix", "path", "regex"]
    assert route["to"].annotation == "str | Mapping[str, int] | Sequence[tuple[str, int]] | None"
    assert str(inspect.signature(Site)).startswith("(host: 'str', routes: 'tuple[HttpRoute, ...]'")


def test_a_shared_table_is_judged_again_under_new_defaults() -> None:
    edge = _edge(1)
    table = [HttpRoute("/", to="web0", retries=Retry(attempts=2, per_try_timeout="2s"))]
    edge.site("a.example.com", routes=list(table))  # 3 tries of 2s fit the default 15s
    edge.defaults = dataclasses.replace(edge.defaults, route_timeout=timedelta(seconds=5))
    with pytest.raises(SemanticError, match=r"site\('b.example.com'\)\.routes\[0\]\.retries: "
                                            r"3 tries of 2s need 6s, longer than the route "
                                            r"timeout of 5s"):
        edge.site("b.example.com", routes=list(table))
