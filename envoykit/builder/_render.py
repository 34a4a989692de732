"""Render an edge to Envoy JSON without a typed model of every site: the fast render path.

``to_json(edge)`` used to build the whole :class:`Bootstrap` (pydantic validating 10,000
virtual hosts and their routes, then pydantic-core serialising them). Here the compiler
still builds, as models, everything except the virtual hosts and the clusters (the
*skeleton*: listeners, connection managers, filters, TLS, admin, runtime), with a
placeholder where each list of virtual hosts and the clusters go. Those are rendered
apart, by the same models, in fragments cached by value:

* a route table (a site's ``routes`` tuple) is rendered once, however many sites share it
  (the same tuple is found by identity, an equal one by value), and spliced into each
  site's virtual host;
* a route is its *template*: the route validated and serialised once per shape (all but
  the names of its services), the names filled in; so is a cluster of one endpoint (all but
  its name, host and port); other clusters are validated and serialised each;
* a virtual host is its *frame* (the model's text around name, domains and routes, one per
  kind of site) filled with the site's name, domains and route table text.

Each fragment is pydantic-core's own text of the model (at depth 0, re-indented where it
lands), so the result is byte for byte ``to_json(edge.build())``; the tests compare both
paths on the golden edge, the examples, the bench's edges and random edges. Whatever the
splice cannot place raises :class:`Unspliceable` and the caller renders the model path.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from envoykit._net import is_ip
from envoykit.builder._clusters import cluster
from envoykit.builder._compile import VhostSpec, compile_edge
from envoykit.builder._intent import Edge, Site
from envoykit.builder._routes import HttpRoute
from envoykit.builder._services import Backend, Service
from envoykit.builder._vhosts import route_dict, vhost_extras
from envoykit.config import Bootstrap, Cluster, EnvoyModel, LocalRateLimit, Route, VirtualHost
from envoykit.errors import Issue
from envoykit.validation import check

__all__ = ["Unspliceable", "check_edge", "render_edge"]

_PLACEHOLDER_ROUTE = {"match": {"prefix": "/"}, "direct_response": {"status": 200}}
_SERVICE_FIELDS = tuple(f.name for f in dataclasses.fields(Service) if f.name not in (
    "name", "endpoints"))
_SENTINEL_IP, _SENTINEL_PORT = "192.0.2.254", 65521  # a cluster template's endpoint


_MISSING: Any = object()


class Unspliceable(Exception):
    """A placeholder was not found where it was put (render by the model path instead)."""


def dump(model: EnvoyModel, indent: int | None) -> str:
    """pydantic-core's Envoy JSON of ``model`` (what ``to_json`` writes, without the newline)."""
    return model.model_dump_json(indent=indent, exclude_none=True, by_alias=True)


_Model = TypeVar("_Model", bound=EnvoyModel)


def bare(cls: type[_Model], **values: Any) -> _Model:
    """A model holding ``values`` (the rest at their defaults), not validated: a placeholder
    or a stand-in. ``model_construct`` does the same, about 10x slower."""
    obj = cls.__new__(cls)
    fields = dict(_defaults(cls))
    fields.update(values)
    object.__setattr__(obj, "__dict__", fields)
    object.__setattr__(obj, "__pydantic_fields_set__", set(values))
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj


@functools.cache
def _defaults(cls: type[EnvoyModel]) -> dict[str, Any]:
    return {name: field.get_default(call_default_factory=True)
            for name, field in cls.model_fields.items()}


def _quote(text: str) -> str:
    """``text`` as a JSON string (as pydantic-core writes it)."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'  # nothing to escape: the common case, 10x faster than json.dumps
    return json.dumps(text, ensure_ascii=False)


@dataclass(frozen=True)
class _Slot:
    """Where a placeholder sits in a text: its span, and the indentation of its line."""

    start: int
    end: int
    margin: str  # the whitespace before the placeholder on its line ("" when compact)


def _find(text: str, mark: str, placeholder: str | None, indent: int | None, pos: int) -> _Slot:
    """The slot of ``mark`` in ``text`` at or after ``pos``: the quoted string itself, or
    (``placeholder``: its depth-0 text) the whole object whose ``name`` it is."""
    at = text.find(_quote(mark), pos)
    if at < 0:
        raise Unspliceable(mark)
    start = at if placeholder is None else text.rfind("{", pos, at)
    margin = "" if indent is None else text[text.rfind("\n", 0, start) + 1:start]
    if placeholder is None:
        return _Slot(start, at + len(mark) + 2, margin)
    placed = placeholder.replace("\n", "\n" + margin) if margin else placeholder
    if start < 0 or not text.startswith(placed, start):
        raise Unspliceable(mark)
    return _Slot(start, start + len(placed), margin)


def _join(items: Sequence[str], slot: _Slot, indent: int | None, *, nested: bool) -> str:
    """``items`` (depth-0 texts) as the elements of a list at ``slot``."""
    if indent is None:
        return ",".join(items)
    body = ",\n".join(items)
    return body.replace("\n", "\n" + slot.margin) if nested or len(items) > 1 else body


def _fill(text: str, slots: list[tuple[_Slot, str]]) -> str:
    """``text`` with each slot's span replaced (slots in order), in one pass."""
    out: list[str] = []
    pos = 0
    for slot, body in slots:
        out += (text[pos:slot.start], body)
        pos = slot.end
    out.append(text[pos:])
    return "".join(out)


@dataclass(frozen=True)
class _Template:
    """A fragment's text cut at its placeholders: ``fill`` puts values in their places."""

    pieces: tuple[str, ...]
    slots: tuple[int, ...]  # which value goes after each piece but the last

    def fill(self, values: Sequence[str]) -> str:
        pieces = self.pieces
        out = [pieces[0]]
        for k, slot in enumerate(self.slots, 1):
            out.append(values[slot])
            out.append(pieces[k])
        return "".join(out)


def _template(text: str, tokens: Sequence[str], once: Sequence[int] = ()) -> _Template | None:
    """``text`` cut at each occurrence of ``tokens`` (quoted marks, or a number: the
    sentinel port); ``None`` when a token of ``once`` is not there exactly once."""
    if not tokens:
        return _Template((text,), ())
    pattern = "|".join(f"({re.escape(t)})" if t.startswith('"')
                       else f"(?<![0-9.])({re.escape(t)})(?![0-9.])" for t in tokens)
    parts = re.split(pattern, text)
    pieces, slots = [parts[0]], []
    step = len(tokens) + 1
    for k in range(1, len(parts), step):
        group = parts[k:k + len(tokens)]
        slots.append(next(i for i, g in enumerate(group) if g is not None))
        pieces.append(parts[k + len(tokens)])
    if any(slots.count(i) != 1 for i in once):
        return None
    return _Template(tuple(pieces), tuple(slots))


@dataclass(frozen=True)
class _Frame:
    """A virtual host's text with its name, domains and routes left out."""

    pieces: tuple[str, str, str, str]
    domains: _Slot
    routes: _Slot


class _Renderer:
    def __init__(self, edge: Edge, indent: int | None) -> None:
        self.edge, self.indent = edge, indent
        self.token = uuid.uuid4().hex
        self.lists: list[tuple[str, list[VhostSpec]]] = []
        self.frames: dict[bool, _Frame] = {}
        self.tables: dict[Any, str | None] = {}  # route table -> its text (None: per site)
        self.route_templates: dict[Any, _Template] = {}
        self.cluster_templates: dict[Any, _Template | None] = {}
        self.by_id: dict[int, tuple[tuple[HttpRoute, ...], str | None]] = {}

    def mark(self, what: str) -> str:
        return f"envoykit-splice-{self.token}-{what}"

    # -- the skeleton ----------------------------------------------------------------------

    def vhosts(self, specs: list[VhostSpec]) -> list[VirtualHost]:
        """The compiler's virtual hosts of one connection manager: one placeholder."""
        if not specs:
            return []
        mark = self.mark(f"vhosts-{len(self.lists)}")
        self.lists.append((mark, specs))
        return [bare(VirtualHost, name=mark, domains=[mark])]

    def render(self) -> str:
        edge, indent = self.edge, self.indent
        services = edge.services
        cluster_mark = self.mark("clusters")
        placeholder = [bare(Cluster, name=cluster_mark)] if services else []
        skeleton: Bootstrap = compile_edge(edge, vhosts=self.vhosts, clusters=placeholder)
        text = dump(skeleton, indent)
        slots, pos = [], 0
        for mark, specs in self.lists:
            ph = dump(bare(VirtualHost, name=mark, domains=[mark]), indent)
            slot = _find(text, mark, ph, indent, pos)
            slots.append((slot, _join([self.vhost(*spec) for spec in specs], slot, indent,
                                      nested=True)))
            pos = slot.end
        if services:
            slot = _find(text, cluster_mark, dump(placeholder[0], indent), indent, pos)
            texts = [self.cluster(s) for s in services]
            slots.append((slot, _join(texts, slot, indent, nested=True)))
        return _fill(text, slots)

    # -- virtual hosts -----------------------------------------------------------------------

    def vhost(self, site: Site, tls: bool, prefix: str, limit: LocalRateLimit | None) -> str:
        frame = self.frame(tls, limit) if limit is not None else self.frames.get(tls)
        if frame is None:
            frame = self.frames[tls] = self.frame(tls, None)
        p0, p1, p2, p3 = frame.pieces
        domains = _join([_quote(d) for d in site.domains], frame.domains, self.indent,
                        nested=False) if site.aliases else _quote(site.host)
        return "".join((p0, _quote(site.slug), p1, domains, p2,
                        self.routes(site, prefix, frame.routes), p3))

    def frame(self, tls: bool, limit: LocalRateLimit | None) -> _Frame:
        name, domain, route = self.mark("name"), self.mark("domain"), self.mark("route")
        text = dump(VirtualHost.model_validate({
            "name": name, "domains": [domain],
            "routes": [{"name": route, **_PLACEHOLDER_ROUTE}],
            **vhost_extras(self.edge, tls=tls, limit=limit)}), self.indent)
        ph = dump(Route.model_validate({"name": route, **_PLACEHOLDER_ROUTE}), self.indent)
        at_name = _find(text, name, None, self.indent, 0)
        at_domain = _find(text, domain, None, self.indent, at_name.end)
        at_route = _find(text, route, ph, self.indent, at_domain.end)
        return _Frame((text[:at_name.start], text[at_name.end:at_domain.start],
                       text[at_domain.end:at_route.start], text[at_route.end:]),
                      at_domain, at_route)

    def routes(self, site: Site, prefix: str, slot: _Slot) -> str:
        """The text of ``site``'s route table (computed once per table, unless a route
        has its own rate limit, whose stat prefix names the site)."""
        table = site.routes
        if site.upstreams:  # the shortcut's own route '/' to its own service: like no other
            return self._routes_text(table, prefix, slot)
        same = self.by_id.get(id(table))  # the very tuple of an earlier site: no hashing
        if same is not None and same[0] is table:
            text = same[1]
        else:
            key: Any = table
            try:
                text = self.tables.get(key, _MISSING)
            except TypeError:  # a route holding an unhashable value (a typed config)
                key = tuple(map(id, table))
                text = self.tables.get(key, _MISSING)
            if text is _MISSING:
                text = None if any(r.rate_limit is not None for r in table) \
                    else self._routes_text(table, prefix, slot)
                self.tables[key] = text
            self.by_id[id(table)] = (table, text)  # (keeps the table alive: ids stay unique)
        return text if text is not None else self._routes_text(table, prefix, slot)

    def _routes_text(self, table: tuple[HttpRoute, ...], prefix: str, slot: _Slot) -> str:
        texts = [self.route(r, i, prefix) for i, r in enumerate(table)]
        return _join(texts, slot, self.indent, nested=True)

    # -- routes and clusters: one template per shape, filled with names ---------------------

    def route(self, route: HttpRoute, i: int, prefix: str) -> str:
        """A route's text: its template (the route with its services' names left out) filled
        with the names; a route with its own rate limit (its stat prefix names the site) or
        an unhashable value is rendered whole."""
        d = route.__dict__  # (read directly: this runs for every route of a large edge)
        if d["rate_limit"] is not None:
            return self._route_text(route, i, prefix)
        shape = dict(d)  # the fields but the services' names
        shape.pop("_hash", None)  # (a cache of the value's hash: see _shared)
        to, mirror = d["to"], d["mirror"]
        sticky = None
        if type(to) is str:
            sticky = self.edge.service(to).sticky  # type: ignore[union-attr]  # (checked)
            names = [_quote(to)]
            shape["to"] = str
        elif type(to) is tuple:
            names = [_quote(n) for n, _ in to]
            shape["to"] = tuple(w for _, w in to)
        else:
            names = []
            shape["to"] = type(to)
        if mirror:
            names.append(_quote(mirror))
        shape["mirror"] = mirror is None
        try:
            key = (i, sticky, *shape.values())
            template = self.route_templates.get(key)
        except TypeError:
            return self._route_text(route, i, prefix)
        if template is None:
            template = self.route_templates[key] = self._route_template(route, i, prefix)
        return template.fill(names)

    def _route_text(self, route: HttpRoute, i: int, prefix: str,
                    service_of: Any = None) -> str:
        return dump(Route.model_validate(route_dict(route, i, self.edge, f"{prefix}_r{i}",
                                                    service_of)), self.indent)

    def _route_template(self, route: HttpRoute, i: int, prefix: str) -> _Template:
        marks = [self.mark(f"service-{k}") for k in range(len(route.services))]
        to: Any = marks[0] if isinstance(route.to, str) else \
            tuple((m, w) for m, (_, w) in zip(marks, route.split, strict=False)) or None
        blank = dataclasses.replace(route, to=to, mirror=marks[-1] if route.mirror else None)
        real = self.edge.service(route.service) if route.service else None
        text = self._route_text(blank, i, prefix, lambda name: real)
        template = _template(text, [_quote(m) for m in marks], once=range(len(marks)))
        if template is None:
            raise Unspliceable(f"route {route.match_text}")
        return template

    def cluster(self, service: Service) -> str:
        """A cluster's text: of one endpoint, its template (name, host and port left out)
        filled in; else the whole model's."""
        endpoints = service.endpoints
        if len(endpoints) != 1 or endpoints[0].weight is not None:
            return dump(cluster(service, self.edge.defaults), self.indent)
        host = endpoints[0].host
        ip = is_ip(host)
        key = (ip, *map(service.__dict__.__getitem__, _SERVICE_FIELDS))
        try:
            template: _Template | None = self.cluster_templates.get(key, _MISSING)
        except TypeError:
            return dump(cluster(service, self.edge.defaults), self.indent)
        if template is _MISSING:
            template = self.cluster_templates[key] = self._cluster_template(service, ip)
        if template is None:
            return dump(cluster(service, self.edge.defaults), self.indent)
        return template.fill([_quote(service.name), _quote(host), str(endpoints[0].port)])

    def _cluster_template(self, service: Service, ip: bool) -> _Template | None:
        name, host = self.mark("cluster"), _SENTINEL_IP if ip else self.mark("host")
        blank = dataclasses.replace(service, name=name,
                                    endpoints=(Backend(host, _SENTINEL_PORT),))
        text = dump(cluster(blank, self.edge.defaults), self.indent)
        return _template(text, [_quote(name), _quote(host), str(_SENTINEL_PORT)], once=(1, 2))


def render_edge(edge: Edge, indent: int | None) -> str:
    """The Envoy JSON of ``edge`` (checked before), byte for byte ``to_json(compile_edge)``
    without its newline; raises :class:`Unspliceable` or a model error when it cannot."""
    return _Renderer(edge, indent).render()


def check_edge(edge: Edge) -> list[Issue]:
    """``check(compile_edge(edge))`` (same issues, same paths, same order) without compiling
    the routes: each virtual host stands in by its name and domains (what ``check`` reads of
    it: names two sites' slugs may share; the domains and the services of routes were checked
    on the intent), and each cluster without TLS by its name (``check`` finds files and keys
    only under TLS); without any such clash or TLS cluster, none stands in at all. A
    per-route filter config may hold files: such an edge is checked on its whole model."""
    if any(route.filter_configs for table in edge.tables.values()
           for route in table):
        return check(compile_edge(edge))
    clusters = [cluster(s, edge.defaults) if s.tls is not None
                else bare(Cluster, name=s.name) for s in edge.services] \
        if any(s.tls is not None for s in edge.services) else []
    slugs = {s.slug for s in edge.sites}
    stand_ins = _stand_ins if len(slugs) < len(edge.sites) else _no_vhosts
    return check(compile_edge(edge, vhosts=stand_ins, clusters=clusters))


def _stand_ins(specs: list[VhostSpec]) -> list[VirtualHost]:
    return [bare(VirtualHost, name=site.slug, domains=site.domains)
            for site, _tls, _prefix, _limit in specs]


def _no_vhosts(specs: list[VhostSpec]) -> list[VirtualHost]:
    return []
