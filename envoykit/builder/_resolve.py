"""Routing answered in Python: which site, route and service Envoy picks for a request.

This follows Envoy's own order: the virtual host by the ``Host`` header (its port stripped;
exact domain, then the longest ``*.suffix`` wildcard), then the first route whose path match
(on the path without its query string), methods, headers and query parameters all match.
The property test in ``tests/integration/test_resolve_property.py`` checks it against the
real envoy serving random route tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

from envoykit.builder._checks import path_matches
from envoykit.builder._intent import Edge, Site
from envoykit.builder._regex import compile_re2
from envoykit.builder._routes import Header, HttpRoute

__all__ = ["Resolution", "resolve"]

Outcome = Literal["forward", "split", "redirect", "respond", "not_found"]


@dataclass(frozen=True)
class Resolution:
    """What Envoy does with one request: ``action`` is ``forward`` (to ``service``),
    ``split`` (weights in ``split``), ``redirect`` (``status`` and ``location``), ``respond``
    (``status`` and ``body``) or ``not_found`` (404: no site or no route matched)."""

    action: Outcome
    site: str | None = None
    route: int | None = None
    service: str | None = None
    split: tuple[tuple[str, int], ...] = ()
    status: int | None = None
    location: str | None = None
    body: str | None = None

    @property
    def where(self) -> str:
        """``site('shop.example.com').routes[2]``, as checks name a route."""
        if self.site is None:
            return "(no site)"
        return f"site({self.site!r})" + (f".routes[{self.route}]" if self.route is not None
                                         else "")


def resolve(edge: Edge, host: str, path: str, method: str = "GET",
            headers: Mapping[str, str] | None = None, *, scheme: str = "http") -> Resolution:
    """HttpRoute one request through ``edge`` (see the module docstring for the rules)."""
    name = host.lower()
    if edge.defaults.strip_any_host_port:
        name = _strip_port(name)
    site = _site_for(edge.sites, name)
    if site is None:
        return Resolution("not_found", status=404)
    split = urlsplit(path if path.startswith("/") else "/" + path)
    request = {k.lower(): v for k, v in (headers or {}).items()}
    request[":method"] = method.upper()
    query = _first_values(split.query)
    for index, route in enumerate(site.routes):
        if _matches(route, split.path, request, query):
            return _outcome(site, index, route, scheme, name, split.path, split.query)
    return Resolution("not_found", site=site.host, status=404)


def _strip_port(host: str) -> str:
    if host.startswith("["):  # [::1]:8080
        return host.split("]", 1)[0] + "]"
    head, sep, tail = host.rpartition(":")
    return head if sep and tail.isdigit() else host


def _site_for(sites: tuple[Site, ...], host: str) -> Site | None:
    for site in sites:
        if host in site.domains:
            return site
    best: tuple[int, Site] | None = None
    for site in sites:
        for domain in site.domains:
            if domain.startswith("*") and len(host) > len(domain) - 1 \
                    and host.endswith(domain[1:]) and (best is None or len(domain) > best[0]):
                best = (len(domain), site)
    return best[1] if best else None


def _first_values(query: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        values.setdefault(key, value)
    return values


def _matches(route: HttpRoute, path: str, headers: Mapping[str, str],
             query: Mapping[str, str]) -> bool:
    if not path_matches(route, path):
        return False
    if route.method_list and headers[":method"] not in route.method_list:
        return False
    if not all(_header_matches(h, headers.get(h.name)) for h in route.header_matchers):
        return False
    for key, expected in route.query_matchers:
        if key not in query or (expected is not True and query[key] != expected):
            return False
    return True


def _header_matches(header: Header, value: str | None) -> bool:
    """Envoy's rule: a missing header fails every value matcher, inverted or not; a
    presence matcher asks whether it is absent (``present=False``, or ``True`` inverted)."""
    if value is None:
        return header.present is not None and header.present == header.invert
    if header.present is not None:
        matched = header.present
    elif header.exact is not None:
        matched = value == header.exact
    else:
        matched = compile_re2(header.regex or "").fullmatch(value) is not None
    return matched != header.invert


def _outcome(site: Site, index: int, route: HttpRoute, scheme: str, host: str, path: str,
             query: str) -> Resolution:
    if route.respond is not None:  # envoy names the request URL in a 201 or 3xx answer
        status = route.respond.status
        location = _url(scheme, host, path, query) if status == 201 or 300 <= status < 400 \
            else None
        return Resolution("respond", site.host, index, status=status, location=location,
                          body=route.respond.body)
    if route.redirect is not None:
        return Resolution("redirect", site.host, index, status=route.redirect.code,
                          location=_location(route, scheme, host, path, query))
    if route.service is not None:
        return Resolution("forward", site.host, index, service=route.service)
    return Resolution("split", site.host, index, split=route.split)


def _location(route: HttpRoute, scheme: str, host: str, path: str, query: str) -> str:
    r = route.redirect
    assert r is not None
    if r.path is not None:
        new_path, _, new_query = r.path.partition("?")
        query = new_query if "?" in r.path else query
    elif r.prefix is not None:  # replaces the matched prefix; an exact or regex match: all
        new_path = r.prefix + (path[len(route.prefix):] if route.prefix is not None else "")
    else:
        new_path = path
    if r.strip_query:
        query = ""
    port = f":{r.port}" if r.port is not None else ""
    return _url(r.scheme or scheme, f"{r.host or host}{port}", new_path, query)


def _url(scheme: str, host: str, path: str, query: str) -> str:
    return f"{scheme}://{host}{path}" + (f"?{query}" if query else "")
