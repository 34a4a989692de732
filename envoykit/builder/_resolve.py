"""Routing answered in Python: which site, route and service Envoy picks for a request.

This follows Envoy's own order (an HTTP/1.1 request on the edge's connection manager):

1. what the HTTP/1.1 codec refuses with 400: a target that does not start with ``/``, a
   character outside visible ASCII, a header name with ``_`` (``headers_with_underscores_action``
   ``REJECT_REQUEST``; ``DROP_HEADER`` drops it);
2. the path handling of the connection manager (:func:`normalize_target`): 400 for a
   fragment (``#``); ``%2F``/``%5C`` per ``path_with_escaped_slashes_action`` (400, or
   unescaped, and with ``UNESCAPE_AND_REDIRECT`` a 307 to the new path); ``normalize_path``
   (``..;``/``.;`` segments, dot segments, ``\\`` as ``/``, ``%XX`` of unreserved characters
   decoded, ``"<>^`{|}`` escaped, 400 for ``%00``); ``merge_slashes``. The query string is
   left as it came;
3. the virtual host by the ``Host`` header (its port stripped; case-insensitive; exact
   domain, then the longest ``*.suffix`` wildcard);
4. the first route whose path match (case-sensitive, on the normalised path without its
   query string), methods, headers and query parameters (raw, not percent-decoded; the
   first value of a repeated one) all match.

The property test in ``tests/integration/test_resolve_property.py`` checks it against the
real envoy serving random route tables and requests with dot segments, escapes, double
slashes, query strings and ports.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from envoykit.builder._checks import path_matches
from envoykit.builder._intent import Edge, EdgeDefaults, Site
from envoykit.builder._regex import compile_re2
from envoykit.builder._routes import Header, HttpRoute

__all__ = ["Resolution", "Target", "normalize_target", "resolve"]

Outcome = Literal["forward", "split", "redirect", "respond", "not_found", "reject"]
EscapedSlashes = Literal["KEEP_UNCHANGED", "REJECT_REQUEST", "UNESCAPE_AND_REDIRECT",
                         "UNESCAPE_AND_FORWARD"]


@dataclass(frozen=True)
class Resolution:
    """What Envoy does with one request: ``action`` is ``forward`` (to ``service``),
    ``split`` (weights in ``split``), ``redirect`` (``status`` and ``location``), ``respond``
    (``status`` and ``body``), ``not_found`` (404: no site or no route matched) or
    ``reject`` (400, before routing; ``reason`` says why). A redirect with no ``site`` is
    the connection manager's own 307 to the path with ``%2F``/``%5C`` unescaped."""

    action: Outcome
    site: str | None = None
    route: int | None = None
    service: str | None = None
    split: tuple[tuple[str, int], ...] = ()
    status: int | None = None
    location: str | None = None
    body: str | None = None
    reason: str | None = None

    @property
    def where(self) -> str:
        """``site('shop.example.com').routes[2]``, as checks name a route."""
        if self.site is None:
            return "(no site)" if self.action == "not_found" else "(before routing)"
        return f"site({self.site!r})" + (f".routes[{self.route}]" if self.route is not None
                                         else "")


def resolve(edge: Edge, host: str, path: str, method: str = "GET",
            headers: Mapping[str, str] | None = None, *, scheme: str = "http") -> Resolution:
    """Route one request through ``edge`` (see the module docstring for the rules).

    ``path`` is the request target as sent (``/a/../b?x=1``); an absolute URL is refused
    with ``ValueError`` (give the host separately)."""
    if re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*://", path):
        raise ValueError(f"resolve() takes the host and the path apart; got the URL {path!r}")
    request = _request_headers(edge.defaults, headers or {})
    if isinstance(request, Resolution):
        return request
    request[":method"] = method.upper()
    target = normalize_target(path, edge.defaults.path_with_escaped_slashes_action)
    if target.rejected is None and target.redirect \
            and request.get("content-type", "").startswith("application/grpc"):
        target = Target(rejected="gRPC cannot follow the redirect to the unescaped path")
    if target.rejected is not None:
        return Resolution("reject", status=400, reason=target.rejected)
    if target.redirect:
        return Resolution("redirect", status=307, location=target.full,
                          reason="path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECT")
    return _route(edge, host, target, request, scheme)


def _request_headers(defaults: EdgeDefaults, headers: Mapping[str, str]
                     ) -> dict[str, str] | Resolution:
    """The headers as the router sees them, or the codec's 400 for an underscore."""
    request: dict[str, str] = {}
    for name, value in headers.items():
        if "_" in name and defaults.headers_with_underscores_action != "ALLOW":
            if defaults.headers_with_underscores_action == "REJECT_REQUEST":
                return Resolution("reject", status=400, reason=f"header {name!r} has an "
                                  "underscore (headers_with_underscores_action: REJECT_REQUEST)")
            continue
        request[name.lower()] = value
    return request


def _route(edge: Edge, host: str, target: Target, request: Mapping[str, str],
           scheme: str) -> Resolution:
    name = _strip_port(host) if edge.defaults.strip_any_host_port else host
    site = _site_for(edge.sites, name.lower())
    if site is None:
        return Resolution("not_found", status=404)
    query = _first_values(target.query or "")
    for index, route in enumerate(site.routes):
        if _matches(route, target.path, request, query):
            return _outcome(site, index, route, scheme, name, target)
    return Resolution("not_found", site=site.host, status=404)


# -- the connection manager's path handling --------------------------------------------

@dataclass(frozen=True)
class Target:
    """A request target after Envoy's path handling: ``path`` (what routes match),
    ``query`` (the text after ``?``, ``None`` when there was no ``?``), ``redirect`` (Envoy
    answers 307 to :attr:`full`) or ``rejected`` (Envoy answers 400; the reason)."""

    path: str = "/"
    query: str | None = None
    redirect: bool = False
    rejected: str | None = None

    @property
    def full(self) -> str:
        """The path and its query string, as Envoy forwards (or redirects to) it."""
        return self.path + ("" if self.query is None else "?" + self.query)


_SLASH_ESCAPES = re.compile("%(2f|5c)", re.IGNORECASE)
_ESCAPE = re.compile("%([0-9a-fA-F]{2})")
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_TO_ESCAPE = re.compile('["<>^`{|}]')  # what envoy's path canonicaliser percent-encodes
_DOTS = {".": 1, "%2e": 1, "..": 2, ".%2e": 2, "%2e.": 2, "%2e%2e": 2}


def normalize_target(target: str, escaped_slashes: EscapedSlashes = "UNESCAPE_AND_REDIRECT"
                     ) -> Target:
    """``target`` (``/a/../b?x``) as the edge's connection manager hands it to routing:
    ``normalize_path`` and ``merge_slashes`` on, ``escaped_slashes`` as
    ``path_with_escaped_slashes_action`` (see the module docstring)."""
    refused = _codec_refusal(target)
    if refused is not None:
        return Target(rejected=refused)
    if "#" in target:
        return Target(rejected="a fragment ('#') in the request target")
    path, mark, query = target.partition("?")
    redirect = False
    if escaped_slashes != "KEEP_UNCHANGED" and _SLASH_ESCAPES.search(path):
        if escaped_slashes == "REJECT_REQUEST":
            return Target(rejected="%2F or %5C in the path "
                                   "(path_with_escaped_slashes_action: REJECT_REQUEST)")
        path = _SLASH_ESCAPES.sub(lambda m: "/" if m.group(1).lower() == "2f" else "\\", path)
        redirect = escaped_slashes == "UNESCAPE_AND_REDIRECT"
    canonical = _canonical(path)
    if canonical is None:
        return Target(rejected="%00 in the path (normalize_path refuses it)")
    return Target(_merge_slashes(canonical), query if mark else None, redirect)


def _codec_refusal(target: str) -> str | None:
    """Why Envoy's HTTP/1.1 codec answers 400 to this request target, if it does."""
    if not target.startswith("/"):
        return f"the request target {target!r} does not start with '/'"
    bad = next((c for c in target if not "!" <= c <= "~"), None)
    return None if bad is None else f"{bad!r} cannot be sent in an HTTP/1.1 request line"


def _canonical(path: str) -> str | None:
    """RFC 3986 normalisation as Envoy's (Chromium's) path canonicaliser does it."""
    segments = re.split(r"[/\\]", "/".join(_strip_dot_parameters(path.split("/"))))[1:]
    out: list[str] = []
    for i, segment in enumerate(segments):
        dots = _DOTS.get(segment.lower())
        if dots is None:
            if "%00" in segment:
                return None
            out.append(_TO_ESCAPE.sub(lambda m: f"%{ord(m.group()):02X}",
                                      _ESCAPE.sub(_unescape_unreserved, segment)))
            continue
        if dots == 2 and out:
            out.pop()
        if i == len(segments) - 1:  # "/a/." and "/a/b/.." end with a slash
            out.append("")
    return "/" + "/".join(out)


def _strip_dot_parameters(segments: list[str]) -> list[str]:
    """``..;x`` is ``..`` and ``.;x`` is ``.`` (Envoy strips parameters of dot segments)."""
    return [".." if s.startswith("..;") else "." if s.startswith(".;") else s
            for s in segments]


def _unescape_unreserved(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else match.group()


def _merge_slashes(path: str) -> str:
    """Envoy's merge: the non-empty segments joined, a leading and trailing ``/`` kept
    (so ``///`` becomes ``//``, as Envoy does)."""
    if "//" not in path:
        return path
    return "/" + "/".join(s for s in path.split("/") if s) + ("/" if path.endswith("/") else "")


# -- routing -----------------------------------------------------------------------------


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
    """Envoy's query parameters: split at ``&`` and the first ``=``, not percent-decoded;
    the first value of a repeated name."""
    values: dict[str, str] = {}
    for pair in query.split("&"):
        if pair:
            key, _, value = pair.partition("=")
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


def _outcome(site: Site, index: int, route: HttpRoute, scheme: str, host: str,
             target: Target) -> Resolution:
    if route.respond is not None:  # envoy names the request URL in a 201 or 3xx answer
        status = route.respond.status
        location = f"{scheme}://{host}{target.full}" if status == 201 or 300 <= status < 400 \
            else None
        return Resolution("respond", site.host, index, status=status, location=location,
                          body=route.respond.body)
    if route.redirect is not None:
        return Resolution("redirect", site.host, index, status=route.redirect.code,
                          location=_location(route, scheme, host, target))
    if route.service is not None:
        return Resolution("forward", site.host, index, service=route.service)
    return Resolution("split", site.host, index, split=route.split)


def _location(route: HttpRoute, scheme: str, host: str, target: Target) -> str:
    r = route.redirect
    assert r is not None
    path, query = target.path, target.query
    if r.path is not None:
        path, mark, new_query = r.path.partition("?")
        query = new_query if mark else query
    elif r.prefix is not None:  # replaces the matched prefix; an exact or regex match: all
        path = r.prefix + (path[len(route.prefix):] if route.prefix is not None else "")
    if r.strip_query:
        query = None
    port = f":{r.port}" if r.port is not None else ""
    return f"{r.scheme or scheme}://{r.host or host}{port}{Target(path, query).full}"
