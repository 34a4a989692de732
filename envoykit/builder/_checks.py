"""Mistakes caught before Envoy sees them, each named by where the user wrote it, e.g.
``site('shop.example.com').routes[2]``: shadowed routes, bad splits, invalid RE2, redirect
loops, retries that cannot fit the timeout, unknown services, missing certificate files."""

from __future__ import annotations

import functools
import os
from collections import Counter
from datetime import timedelta

from envoykit.builder._intent import Edge, Site
from envoykit.builder._regex import compile_re2, re2_error
from envoykit.builder._routes import HttpRoute
from envoykit.errors import Issue

__all__ = ["LOOP", "LoopPlan", "edge_issues", "loop_plan", "route_issues", "table_is_clean"]


LoopPlan = tuple[tuple[int, bool], ...]
"""The redirect routes of a table that may loop: (index, True) loops on every site, (index,
False) depends on the site's domains (see :func:`loop_plan`)."""
LOOP = "the redirect leads back to this same route (a redirect loop)"


def route_issues(where: str, routes: tuple[HttpRoute, ...], domains: list[str],
                 default_timeout: timedelta, *, clean: bool | None = None,
                 plan: LoopPlan | None = None) -> list[Issue]:
    """What is wrong in one site's ordered route table (without looking at services);
    ``clean``: what :func:`table_is_clean` said of this table, ``plan``: its
    :func:`loop_plan`, if already asked."""
    if clean if clean is not None else table_is_clean(routes, default_timeout):
        # (many sites share one table: judged once; only a redirect to a host is per site)
        return [Issue(f"{where}.routes[{i}]", LOOP)
                for i, always in (plan if plan is not None else loop_plan(routes))
                if always or _redirects_to_itself(routes[i], domains)]
    issues: list[Issue] = []
    for i, route in enumerate(routes):
        at = f"{where}.routes[{i}]"
        issues += _table_issues(at, routes, i, default_timeout)
        issues += _loop_issues(at, route, domains)
        issues += _shadow_issues(at, routes, i)
    return issues


def loop_plan(routes: tuple[HttpRoute, ...]) -> LoopPlan:
    """Which redirects of ``routes`` lead back to themselves: whatever the site's domains
    (True), or to be asked of each site because the redirect names a host (False)."""
    plan: list[tuple[int, bool]] = []
    for i, route in enumerate(routes):
        if route.redirect is None:
            continue
        if route.redirect.host is not None:
            plan.append((i, False))
        elif _redirects_to_itself(route, []):
            plan.append((i, True))
    return tuple(plan)


def table_is_clean(routes: tuple[HttpRoute, ...], default_timeout: timedelta) -> bool:
    """Whether ``routes`` has no issue other than a redirect loop (which needs the site)."""
    try:
        return _clean_table(routes, default_timeout)
    except TypeError:  # a route holding an unhashable value (a typed config): judge it here
        return _clean_table.__wrapped__(routes, default_timeout)


@functools.lru_cache(maxsize=4096)
def _clean_table(routes: tuple[HttpRoute, ...], default_timeout: timedelta) -> bool:
    """Whether ``routes`` has no issue other than a redirect loop (which needs the site)."""
    return not any(_table_issues("", routes, i, default_timeout) or _shadow_issues("", routes, i)
                   for i in range(len(routes)))


def _table_issues(at: str, routes: tuple[HttpRoute, ...], i: int,
                  default_timeout: timedelta) -> list[Issue]:
    route = routes[i]
    return [*_regex_issues(at, route), *_split_issues(at, route),
            *_retry_issues(at, route, default_timeout)]


def _loop_issues(at: str, route: HttpRoute, domains: list[str]) -> list[Issue]:
    if route.redirect is not None and _redirects_to_itself(route, domains):
        return [Issue(at, LOOP)]
    return []


def _shadow_issues(at: str, routes: tuple[HttpRoute, ...], i: int) -> list[Issue]:
    earlier = next((j for j in range(i) if _covers(routes[j], routes[i])), None)
    if earlier is None:
        return []
    return [Issue(at, f"unreachable: routes[{earlier}] ({routes[earlier].match_text}) matches "
                      "every request this route would; put the more specific route first")]


def _regex_issues(at: str, route: HttpRoute) -> list[Issue]:
    if route.regex is None and route.rewrite_regex is None and not route.header_matchers:
        return []
    patterns = [("regex", route.regex)] if route.regex is not None else []
    patterns += [(f"headers[{h.name!r}].regex", h.regex) for h in route.header_matchers
                 if h.regex is not None]
    if route.rewrite_regex is not None:
        patterns.append(("rewrite_regex", route.rewrite_regex[0]))
    return [Issue(f"{at}.{name}", error) for name, pattern in patterns
            if pattern is not None and (error := re2_error(pattern)) is not None]


def _split_issues(at: str, route: HttpRoute) -> list[Issue]:
    if not route.split:
        return []
    issues = []
    for name, weight in route.split:
        if not isinstance(weight, int) or isinstance(weight, bool) or weight < 1:
            issues.append(Issue(f"{at}.to[{name!r}]", f"a split weight must be a positive "
                                                      f"integer, got {weight!r}"))
    names = [n for n, _ in route.split]
    if len(set(names)) != len(names):
        issues += [Issue(f"{at}.to", f"service {n!r} appears twice in the split")
                   for n, c in Counter(names).items() if c > 1]
    return issues


def _retry_issues(at: str, route: HttpRoute, default_timeout: timedelta) -> list[Issue]:
    retry = route.retries
    if retry is None or retry.per_try_timeout is None:
        return []
    timeout = route.timeout_value or default_timeout
    if timeout == timedelta(0):  # 0 disables the route timeout
        return []
    needed = retry.per_try_timeout * (retry.attempts + 1)
    if needed > timeout:
        return [Issue(f"{at}.retries", f"{retry.attempts + 1} tries of "
                                       f"{retry.per_try_timeout.total_seconds():g}s need "
                                       f"{needed.total_seconds():g}s, longer than the route "
                                       f"timeout of {timeout.total_seconds():g}s")]
    return []


def _path_of(route: HttpRoute) -> str | None:
    """A path this route certainly matches (for the loop check), if there is a simple one."""
    if route.path is not None:
        return route.path
    return route.prefix


def _redirects_to_itself(route: HttpRoute, domains: list[str]) -> bool:
    """True when the redirected request comes back to this site and matches this route
    again (same scheme, host and port): the client would loop until it gives up."""
    r = route.redirect
    assert r is not None
    if r.scheme is not None or r.port is not None:
        return False  # a scheme or port change leaves this listener
    if r.host is not None and r.host.lower() not in domains:
        return False
    source = _path_of(route)
    target: str | None
    if r.path is not None:
        target = r.path.split("?", 1)[0]
    elif r.prefix is not None:  # an exact or regex match is replaced as a whole
        target = r.prefix + (source[len(route.prefix):] if route.prefix is not None
                             and source is not None else "")
    else:
        target = source  # nothing about the path changes
    if target is None:
        return r.host is None or r.host.lower() in domains
    return path_matches(route, target)


def path_matches(route: HttpRoute, path: str) -> bool:
    """Whether the path part of ``route`` matches ``path`` (no query string)."""
    if route.path is not None:
        return path == route.path
    if route.regex is not None:
        return compile_re2(route.regex).fullmatch(path) is not None
    return path.startswith(route.prefix or "/")


def _covers(first: HttpRoute, later: HttpRoute) -> bool:
    """True when every request ``later`` matches is matched by ``first`` (which comes first),
    as far as can be told without guessing: ``first`` has no method/header/query condition
    and its path match contains ``later``'s."""
    if first.has_matchers:
        return False
    if first.prefix is not None:
        if first.prefix == "/":
            return True
        if later.prefix is not None:
            return later.prefix.startswith(first.prefix)
        if later.path is not None:
            return later.path.startswith(first.prefix)
        return False
    if first.path is not None:
        return later.path == first.path
    if first.regex is not None and re2_error(first.regex) is None:
        if later.regex is not None:
            return later.regex == first.regex
        if later.path is not None:
            return compile_re2(first.regex).fullmatch(later.path) is not None
    return False


def edge_issues(edge: Edge) -> list[Issue]:
    """What is wrong with the edge as a whole (checked when it is built)."""
    issues: list[Issue] = []
    if not edge.sites and not edge.tcp and not edge.passthrough:
        issues.append(Issue("sites", "no site: call .site(host, upstream)"))
    if edge.https is None and edge.http is None and not edge.tcp:
        issues.append(Issue("listeners", "no listener: call .https(...) and/or .http(...)"))
    if edge.https is not None:
        issues += [Issue(f"{s.where}.cert", "HTTPS is on: a certificate is needed")
                   for s in edge.sites if s.cert is None]
    issues += [issue for s in edge.sites for issue in _cert_file_issues(s)]
    if edge.redirect and edge.https is None:
        issues.append(Issue("redirect_http", "redirect to HTTPS needs .https(...)"))
    if edge.passthrough and edge.https is None:
        issues.append(Issue("passthrough", "TLS passthrough is served on the HTTPS listener: "
                                           "call .https(...)"))
    if edge.https and edge.http and edge.https == edge.http and edge.https[1] != 0:
        issues.append(Issue("listeners", f"HTTP and HTTPS both on {edge.https}"))
    counts = Counter(d for s in edge.sites for d in s.domains)
    counts.update(p.host for p in edge.passthrough)
    issues += [Issue("sites", f"domain {d!r} is claimed by two sites")
               for d in sorted(d for d, n in counts.items() if n > 1)]
    issues += _service_issues(edge)
    return issues


def _cert_file_issues(site: Site) -> list[Issue]:
    cert = site.cert
    if cert is None or cert.inline:
        return []
    return [Issue(f"{site.where}.cert",
                  f"{'not a file' if os.path.exists(path) else 'no such file'}: {path}")
            for path in (cert.cert, cert.key) if not os.path.isfile(path)]


def _unknown(name: str) -> str:
    return f"unknown service {name!r}: declare it with .service({name!r}, 'host:port')"


def _service_issues(edge: Edge) -> list[Issue]:
    issues: list[Issue] = []
    names = Counter(s.name for s in edge.services)
    issues += [Issue(f"service({n!r})", "two services have this name (a site given "
                                       "'host:port' upstreams makes a service named after it)")
               for n, c in names.items() if c > 1]
    unknown: dict[int, list[tuple[int, str]]] = {}  # per route table (many sites share one)
    for key, table in edge.tables.items():
        for i, route in enumerate(table):
            for name in route.services:
                if name not in names:
                    unknown.setdefault(key, []).append((i, name))
    if unknown:
        issues += [Issue(f"{site.where}.routes[{i}]", _unknown(name)) for site in edge.sites
                   for i, name in unknown.get(id(site.routes), ())]
    for tcp in edge.tcp:
        if tcp.service not in names:
            issues.append(Issue(f"tcp({tcp.name!r})", f"unknown service {tcp.service!r}"))
    for p in edge.passthrough:
        if p.service not in names:
            issues.append(Issue(f"passthrough({p.host!r})", f"unknown service {p.service!r}"))
    return issues
