"""Render an edge to Envoy JSON without a typed model of every site: the fast render path.

``to_json(edge)`` used to build the whole :class:`Bootstrap` (pydantic validating 10,000
virtual hosts and their routes, then pydantic-core serialising them). Here the compiler
still builds, as models, everything except the virtual hosts and the clusters (the
*skeleton*: listeners, connection managers, filters, TLS, admin, runtime), with a
placeholder where each list of virtual hosts and the clusters go. Those are rendered
apart, by the same models, in fragments cached by value:

* a route table (a site's ``routes`` tuple) is validated and serialised once, however many
  sites share it (equal tables share it too), and spliced into each site's virtual host;
* a virtual host is its *frame* (the model's text around name, domains and routes, one per
  kind of site) filled with the site's name, domains and route table text;
* each cluster is serialised once.

Each fragment is pydantic-core's own text of the model (at depth 0, re-indented where it
lands), so the result is byte for byte ``to_json(edge.build())``; the tests compare both
paths on the golden edge, the examples, the bench's edges and random edges. Whatever the
splice cannot place raises :class:`Unspliceable` and the caller renders the model path.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from envoykit.builder._clusters import cluster
from envoykit.builder._compile import VhostSpec, compile_edge
from envoykit.builder._intent import Edge, Site
from envoykit.builder._vhosts import route_dict, vhost_extras
from envoykit.config import Bootstrap, Cluster, EnvoyModel, LocalRateLimit, Route, VirtualHost
from envoykit.errors import Issue
from envoykit.validation import check

__all__ = ["Unspliceable", "check_edge", "render_edge"]

_PLACEHOLDER_ROUTE = {"match": {"prefix": "/"}, "direct_response": {"status": 200}}


class Unspliceable(Exception):
    """A placeholder was not found where it was put (render by the model path instead)."""


def dump(model: EnvoyModel, indent: int | None) -> str:
    """pydantic-core's Envoy JSON of ``model`` (what ``to_json`` writes, without the newline)."""
    return model.model_dump_json(indent=indent, exclude_none=True, by_alias=True)


def _quote(text: str) -> str:
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
        self.keep: list[Any] = []  # tables keyed by identity stay alive (ids stay unique)

    def mark(self, what: str) -> str:
        return f"envoykit-splice-{self.token}-{what}"

    # -- the skeleton ----------------------------------------------------------------------

    def vhosts(self, specs: list[VhostSpec]) -> list[VirtualHost]:
        """The compiler's virtual hosts of one connection manager: one placeholder."""
        if not specs:
            return []
        mark = self.mark(f"vhosts-{len(self.lists)}")
        self.lists.append((mark, specs))
        return [VirtualHost.model_construct(name=mark, domains=[mark])]

    def render(self) -> str:
        edge, indent = self.edge, self.indent
        services = edge.services
        cluster_mark = self.mark("clusters")
        placeholder = [Cluster.model_construct(name=cluster_mark)] if services else []
        skeleton: Bootstrap = compile_edge(edge, vhosts=self.vhosts, clusters=placeholder)
        text = dump(skeleton, indent)
        slots, pos = [], 0
        for mark, specs in self.lists:
            ph = dump(VirtualHost.model_construct(name=mark, domains=[mark]), indent)
            slot = _find(text, mark, ph, indent, pos)
            slots.append((slot, _join([self.vhost(*spec) for spec in specs], slot, indent,
                                      nested=True)))
            pos = slot.end
        if services:
            slot = _find(text, cluster_mark, dump(placeholder[0], indent), indent, pos)
            texts = [dump(cluster(s, edge.defaults), indent) for s in services]
            slots.append((slot, _join(texts, slot, indent, nested=True)))
        return _fill(text, slots)

    # -- virtual hosts -----------------------------------------------------------------------

    def vhost(self, site: Site, tls: bool, prefix: str, limit: LocalRateLimit | None) -> str:
        frame = self.frame(tls, limit) if limit is not None else self.frames.get(tls)
        if frame is None:
            frame = self.frames[tls] = self.frame(tls, None)
        p0, p1, p2, p3 = frame.pieces
        domains = _join([_quote(d) for d in site.domains], frame.domains, self.indent,
                        nested=False)
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
        try:
            text = self.tables.get(table)
            key: Any = table
        except TypeError:  # a route holding an unhashable value (a typed config)
            key = tuple(map(id, table))
            text = self.tables.get(key)
            self.keep.append(table)
        if text is not None:
            return text
        if key in self.tables or any(r.rate_limit is not None for r in table):
            self.tables[key] = None
            return self._routes_text(table, prefix, slot)
        text = self.tables[key] = self._routes_text(table, prefix, slot)
        return text

    def _routes_text(self, table: tuple[Any, ...], prefix: str, slot: _Slot) -> str:
        texts = [dump(Route.model_validate(route_dict(r, i, self.edge, f"{prefix}_r{i}")),
                      self.indent) for i, r in enumerate(table)]
        return _join(texts, slot, self.indent, nested=True)


def render_edge(edge: Edge, indent: int | None) -> str:
    """The Envoy JSON of ``edge`` (checked before), byte for byte ``to_json(compile_edge)``
    without its newline; raises :class:`Unspliceable` or a model error when it cannot."""
    return _Renderer(edge, indent).render()


def check_edge(edge: Edge) -> list[Issue]:
    """``check(compile_edge(edge))`` (same issues, same paths, same order) without compiling
    the routes: each virtual host stands in by its name and domains (what ``check`` reads of
    it; the services of routes were checked on the intent), and each cluster without TLS by
    its name (``check`` finds files and keys only under TLS). A per-route filter config may
    hold files: such an edge is checked on its whole model."""
    if any(route.filter_configs for table in {id(s.routes): s.routes for s in edge.sites}.values()
           for route in table):
        return check(compile_edge(edge))
    clusters = [cluster(s, edge.defaults) if s.tls is not None
                else Cluster.model_construct(name=s.name) for s in edge.services]
    return check(compile_edge(edge, vhosts=_stand_ins, clusters=clusters))


def _stand_ins(specs: list[VhostSpec]) -> list[VirtualHost]:
    return [VirtualHost.model_construct(name=site.slug, domains=site.domains)
            for site, _tls, _prefix, _limit in specs]
