"""A semantic diff of two Envoy configs: resources by kind and name, fields by path.

    from envoykit.diff import diff_configs

    changes = diff_configs(old_bootstrap, new_bootstrap)
    if not changes.is_empty:
        print(changes)               # a readable report
    for change in changes.changes:   # Change(kind, name, action, fields)
        ...

Resources are compared by kind and name, not by position, so reordering listeners or
clusters is no change. The kinds are ``listener``, ``cluster``, ``secret``,
``route_config`` (inline route configurations, without their virtual hosts),
``virtual_host`` (named ``route_config/virtual_host``), and one singleton per other
top-level section (``admin``, ``layered_runtime``, ``overload_manager``, ``node``, …).

Inside a resource, lists whose items all carry a unique ``name`` (filters, http_filters,
named filter chains) are matched by name, e.g. ``http_filters[envoy.filters.http.router]``;
other lists are aligned item by item. Values under private-key fields are redacted.

One module (~420 lines) on purpose: the result types, the split into resources and the
field-level walk are one algorithm and change together.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from envoykit._util import ConfigLike, deprecated_aliases
from envoykit.render import to_dict

__all__ = ["MISSING", "Change", "ConfigDiff", "FieldChange", "diff_configs", "diff_resources"]

HCM = "envoy.filters.network.http_connection_manager"
_HCM_TYPE = "HttpConnectionManager"
_NAMED_LISTS = {"listeners": "listener", "clusters": "cluster", "secrets": "secret"}
_SECRET_KEYS = ("private_key", "password", "hmac_secret", "client_secret", "token_secret")

Action = Literal["added", "removed", "changed"]


class _Missing:
    """The value of a field that does not exist on one side."""

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()
"""Stands for "absent" in :attr:`FieldChange.old` / :attr:`FieldChange.new`."""


@dataclass(frozen=True)
class FieldChange:
    """One field that differs inside a resource; ``path`` is relative to the resource."""

    path: str
    old: Any
    new: Any

    @property
    def action(self) -> Action:
        """``added`` (absent before), ``removed`` (absent after) or ``changed``."""
        if self.old is MISSING:
            return "added"
        if self.new is MISSING:
            return "removed"
        return "changed"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; an absent side is left out."""
        out: dict[str, Any] = {"path": self.path, "action": self.action}
        if self.old is not MISSING:
            out["old"] = self.old
        if self.new is not MISSING:
            out["new"] = self.new
        return out

    def __str__(self) -> str:
        return f"{self.path}: {_show(self.old)} → {_show(self.new)}"


@dataclass(frozen=True)
class Change:
    """One resource added, removed or changed; ``fields`` lists what changed inside it.

    ``old`` and ``new`` hold the resource's content on each side (:data:`MISSING` where it
    does not exist), e.g. what to push for an added or changed cluster."""

    kind: str
    name: str
    action: Action
    fields: tuple[FieldChange, ...] = ()
    old: Any = field(default=MISSING, repr=False, compare=False)
    new: Any = field(default=MISSING, repr=False, compare=False)

    @property
    def key(self) -> tuple[str, str]:
        """``(kind, name)``."""
        return self.kind, self.name

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; an added resource carries ``new``, a removed one ``old``
        (private keys redacted)."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "name": self.name,
            "action": self.action,
            "fields": [f.to_dict() for f in self.fields],
        }
        if self.action == "added":
            out["new"] = _scrub(self.new)
        elif self.action == "removed":
            out["old"] = _scrub(self.old)
        return out

    def __str__(self) -> str:
        sign = {"added": "+", "removed": "-", "changed": "~"}[self.action]
        head = f"{sign} {self.kind} {self.name}".rstrip() + f" ({self.action})"
        whole = self.new if self.action == "added" else self.old
        details = [str(f) for f in self.fields] or ([_show(_scrub(whole))]
                                                    if whole is not MISSING else [])
        return "\n".join([head, *(f"    {d}" for d in details)])


@dataclass(frozen=True)
class ConfigDiff:
    """Every resource-level change between two configs, in a stable order."""

    changes: tuple[Change, ...] = field(default_factory=tuple)

    @property
    def is_empty(self) -> bool:
        """True when the configs are semantically equal."""
        return not self.changes

    @property
    def added(self) -> tuple[Change, ...]:
        """Resources only in the new config."""
        return tuple(c for c in self.changes if c.action == "added")

    @property
    def removed(self) -> tuple[Change, ...]:
        """Resources only in the old config."""
        return tuple(c for c in self.changes if c.action == "removed")

    @property
    def changed(self) -> tuple[Change, ...]:
        """Resources in both whose content differs."""
        return tuple(c for c in self.changes if c.action == "changed")

    def of_kind(self, kind: str) -> tuple[Change, ...]:
        """The changes to resources of one kind, e.g. ``"cluster"``."""
        return tuple(c for c in self.changes if c.kind == kind)

    def summary(self) -> str:
        """One line: how many resources were added, removed and changed."""
        if self.is_empty:
            return "no differences"
        counts = f"{len(self.added)} added, {len(self.removed)} removed, "
        return f"{len(self.changes)} change(s): {counts}{len(self.changed)} changed"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"changes": [...], "summary": {...}}``."""
        return {
            "changes": [c.to_dict() for c in self.changes],
            "summary": {
                "added": len(self.added),
                "removed": len(self.removed),
                "changed": len(self.changed),
            },
        }

    def __str__(self) -> str:
        return "\n".join([*(str(c) for c in self.changes), self.summary()])


# --- entry points -------------------------------------------------------------------------


def diff_configs(old: ConfigLike, new: ConfigLike) -> ConfigDiff:
    """Compare two configs (Bootstraps, builders or bootstrap dicts) resource by resource.

    Dicts are compared as given; pass two models (or two dicts rendered by the same model)
    so that equal values are spelled the same way (``5s`` vs ``5.000s``)."""
    old_resources = dict(_resources(to_dict(old)))
    new_resources = dict(_resources(to_dict(new)))
    changes = []
    for key in _ordered_keys(old_resources, new_resources):
        change = _compare(key, old_resources.get(key), new_resources.get(key))
        if change is not None:
            changes.append(change)
    return ConfigDiff(tuple(changes))


def diff_resources(
    kind: str, old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]],
    *, key: str = "name",
) -> ConfigDiff:
    """Compare two lists of resources of one kind (e.g. the listeners of two xDS files),
    matched by ``key``."""
    old_by = {str(r.get(key, i)): _Resource(r, r) for i, r in enumerate(old)}
    new_by = {str(r.get(key, i)): _Resource(r, r) for i, r in enumerate(new)}
    changes = []
    for name in [*old_by, *(n for n in new_by if n not in old_by)]:
        change = _compare((kind, name), old_by.get(name), new_by.get(name))
        if change is not None:
            changes.append(change)
    return ConfigDiff(tuple(changes))


@dataclass(frozen=True)
class _Resource:
    """A resource as compared (a listener without its inline routes, a route config
    without its virtual hosts: those are resources of their own) and as a whole."""

    compared: Any
    whole: Any


def _compare(key: tuple[str, str], old: _Resource | None, new: _Resource | None) -> Change | None:
    kind, name = key
    if old is None and new is not None:
        return Change(kind, name, "added", new=new.whole)
    if new is None and old is not None:
        return Change(kind, name, "removed", old=old.whole)
    assert old is not None and new is not None
    fields = tuple(_field_changes(old.compared, new.compared))
    if not fields:
        return None
    return Change(kind, name, "changed", fields, old=old.whole, new=new.whole)


def _ordered_keys(
    old: Mapping[tuple[str, str], _Resource], new: Mapping[tuple[str, str], _Resource]
) -> list[tuple[str, str]]:
    """Old order first, then what is new; grouped by kind in a fixed kind order."""
    keys = [*old, *(k for k in new if k not in old)]
    kinds = ["listener", "route_config", "virtual_host", "cluster", "secret"]
    rank = {kind: i for i, kind in enumerate(kinds)}
    return sorted(keys, key=lambda k: rank.get(k[0], len(kinds)))


# --- splitting a bootstrap into resources -----------------------------------------------


def _resources(config: Mapping[str, Any]) -> Iterator[tuple[tuple[str, str], _Resource]]:
    """``(kind, name) → resource`` for every resource in a bootstrap dict."""
    static = config.get("static_resources") or {}
    listeners = static.get("listeners") or []
    route_configs = list(_route_configs(listeners))
    duplicate = _duplicate_names([rc.get("name", "") for _, rc in route_configs])
    for section, value in static.items():
        kind = _NAMED_LISTS.get(section)
        if kind is None:
            yield ("static_resources." + section, ""), _Resource(value, value)
            continue
        for i, resource in enumerate(value or []):
            name = str(resource.get("name", f"#{i}"))
            compared = _strip_routes(resource) if kind == "listener" else resource
            yield (kind, name), _Resource(compared, resource)
    for where, rc in route_configs:
        rc_name = _route_config_name(where, rc, duplicate)
        routes_only = {k: v for k, v in rc.items() if k != "virtual_hosts"}
        yield ("route_config", rc_name), _Resource(routes_only, rc)
        for j, vhost in enumerate(rc.get("virtual_hosts") or []):
            vhost_name = f"{rc_name}/{vhost.get('name', f'#{j}')}"
            yield ("virtual_host", vhost_name), _Resource(vhost, vhost)
    for section, value in config.items():
        if section != "static_resources":
            yield (section, ""), _Resource(value, value)


def _route_configs(listeners: Sequence[Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(location, inline route_config) of every HTTP connection manager."""
    for i, listener in enumerate(listeners):
        lname = listener.get("name", f"#{i}")
        for where, hcm in _hcms(listener):
            rc = hcm.get("route_config")
            if isinstance(rc, Mapping):
                yield f"{lname}/{where}", rc


def _hcms(listener: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    chains = [(f"filter_chains[{i}]", c) for i, c in enumerate(listener.get("filter_chains") or [])]
    if listener.get("default_filter_chain"):
        chains.append(("default_filter_chain", listener["default_filter_chain"]))
    for where, chain in chains:
        label = chain.get("name") or where
        for flt in chain.get("filters") or []:
            config = flt.get("typed_config") or {}
            if flt.get("name") == HCM or str(config.get("@type", "")).endswith(_HCM_TYPE):
                yield label, config


def _duplicate_names(names: Sequence[str]) -> set[str]:
    return {n for n in names if names.count(n) > 1 or not n}


def _route_config_name(where: str, rc: Mapping[str, Any], duplicate: set[str]) -> str:
    name = str(rc.get("name", ""))
    return f"{where}/{name}".rstrip("/") if name in duplicate else name


def _strip_routes(listener: Mapping[str, Any]) -> Any:
    """The listener with each inline route_config reduced to its name (it is diffed as a
    ``route_config`` resource of its own)."""
    copy = json.loads(json.dumps(listener))
    for _, hcm in _hcms(copy):
        rc = hcm.get("route_config")
        if isinstance(rc, dict):
            hcm["route_config"] = {"name": rc.get("name", "")}
    return copy


# --- field-level differences ------------------------------------------------------------


def _field_changes(old: Any, new: Any, path: str = "") -> Iterator[FieldChange]:
    """Every leaf-level difference between two JSON-like values, with its path."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        yield from _dict_changes(old, new, path)
    elif _is_list(old) and _is_list(new) and old != new:
        yield from _list_changes(old, new, path)
    elif old != new or type(old) is not type(new):
        yield _field(path or "<root>", old, new)


def _dict_changes(
    old: Mapping[str, Any], new: Mapping[str, Any], path: str
) -> Iterator[FieldChange]:
    for key in [*old, *(k for k in new if k not in old)]:
        sub = f"{path}.{key}" if path else str(key)
        yield from _field_changes(old.get(key, MISSING), new.get(key, MISSING), sub)


def _list_changes(old: Sequence[Any], new: Sequence[Any], path: str) -> Iterator[FieldChange]:
    if not any(isinstance(x, Mapping) for x in [*old, *new]):
        yield _field(path, list(old), list(new))
        return
    names_old, names_new = _names(old), _names(new)
    if names_old is not None and names_new is not None:
        yield from _named_list_changes(old, new, names_old, names_new, path)
    else:
        yield from _aligned_list_changes(old, new, path)


def _named_list_changes(
    old: Sequence[Any], new: Sequence[Any], names_old: list[str], names_new: list[str], path: str
) -> Iterator[FieldChange]:
    common_old = [n for n in names_old if n in names_new]
    common_new = [n for n in names_new if n in names_old]
    if common_old != common_new:
        yield _field(f"{path} (order)", names_old, names_new)
    old_by, new_by = dict(zip(names_old, old, strict=True)), dict(zip(names_new, new, strict=True))
    for name in [*names_old, *(n for n in names_new if n not in old_by)]:
        sub = f"{path}[{name}]"
        yield from _field_changes(old_by.get(name, MISSING), new_by.get(name, MISSING), sub)


def _aligned_list_changes(
    old: Sequence[Any], new: Sequence[Any], path: str
) -> Iterator[FieldChange]:
    """Align the items with difflib so one insertion does not shift every later item."""
    keys_old = [_canonical(x) for x in old]
    keys_new = [_canonical(x) for x in new]
    matcher = difflib.SequenceMatcher(a=keys_old, b=keys_new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if tag == "replace" and i2 - i1 == j2 - j1:
            for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                yield from _field_changes(old[i], new[j], f"{path}[{j}]")
            continue
        for i in range(i1, i2):
            yield _field(f"{path}[{i}]", old[i], MISSING)
        for j in range(j1, j2):
            yield _field(f"{path}[{j}]", MISSING, new[j])


def _names(items: Sequence[Any]) -> list[str] | None:
    """The items' unique ``name`` values, or None when they are not all uniquely named."""
    names = [x.get("name") if isinstance(x, Mapping) else None for x in items]
    if not names or any(not isinstance(n, str) or not n for n in names):
        return None
    return names if len(set(names)) == len(names) else None  # type: ignore[return-value]


def _is_list(value: Any) -> bool:
    return isinstance(value, list | tuple)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _field(path: str, old: Any, new: Any) -> FieldChange:
    if any(secret in path for secret in _SECRET_KEYS):
        old = old if old is MISSING else "<redacted>"
        new = new if new is MISSING else "<redacted>"
    return FieldChange(path, _scrub(old), _scrub(new))


def _scrub(value: Any) -> Any:
    """The value with everything under a private-key-like field redacted."""
    if isinstance(value, Mapping):
        return {k: "<redacted>" if k in _SECRET_KEYS else _scrub(v) for k, v in value.items()}
    if _is_list(value):
        return [_scrub(v) for v in value]
    return value


def _show(value: Any) -> str:
    if value is MISSING:
        return "(absent)"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


if TYPE_CHECKING:
    diff = diff_configs  # deprecated
else:
    __getattr__ = deprecated_aliases(__name__, {"diff": "diff_configs"})
