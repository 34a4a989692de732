"""What changed between two dynamic configs, and the files to write, in a safe order.

Resources are compared by kind and name (a content hash each), the bootstrap by its
top-level fields. The plan writes files in dependency order — secrets, endpoints,
clusters, routes, listeners — so nothing ever references a resource Envoy does not have
yet; clusters that disappear stay in ``cds.json`` until the routes and listeners that used
them are gone, then a final ``cds.json`` drops them; files of removed resources are
deleted last.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from envoykit.xds._files import XdsFile, canonical
from envoykit.xds._split import KINDS, DynamicConfig

__all__ = ["ChangeSet", "ResourceChange", "compute_changes"]

Action = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class ResourceChange:
    """One resource added, removed or changed (by kind and name)."""

    kind: str
    name: str
    action: Action

    def __str__(self) -> str:
        return f"{self.action} {self.kind} {self.name!r}"


@dataclass(frozen=True)
class ChangeSet:
    """The difference between two dynamic configs and how to get from one to the other.

    ``writes`` are written in order (each one confirmed by Envoy before the next),
    ``final`` after them (the cluster file without the removed clusters), ``deletes``
    last. ``bootstrap_fields`` lists the top-level bootstrap fields that differ: any of
    them means a hot restart."""

    resources: tuple[ResourceChange, ...] = ()
    bootstrap_fields: tuple[str, ...] = ()
    writes: tuple[XdsFile, ...] = ()
    final: tuple[XdsFile, ...] = ()
    deletes: tuple[XdsFile, ...] = ()

    @property
    def is_empty(self) -> bool:
        """Nothing to do."""
        return not (self.resources or self.bootstrap_fields or self.writes or self.deletes)

    @property
    def needs_restart(self) -> bool:
        """The bootstrap itself changed: only a hot restart can apply it."""
        return bool(self.bootstrap_fields)

    def of_kind(self, kind: str) -> tuple[ResourceChange, ...]:
        """The changes of one kind."""
        return tuple(c for c in self.resources if c.kind == kind)

    def summary(self) -> str:
        """``1 route changed, 1 cluster added`` (or ``no change``)."""
        parts = [f"{len(self.resources_of(kind, action))} {kind} {action}"
                 for kind in KINDS for action in ("added", "changed", "removed")
                 if self.resources_of(kind, action)]
        if self.bootstrap_fields:
            parts.append(f"bootstrap ({', '.join(self.bootstrap_fields)})")
        return ", ".join(parts) or "no change"

    def resources_of(self, kind: str, action: Action) -> tuple[ResourceChange, ...]:
        """The changes of one kind and action."""
        return tuple(c for c in self.resources if c.kind == kind and c.action == action)


def compute_changes(old: DynamicConfig | None, new: DynamicConfig) -> ChangeSet:
    """The :class:`ChangeSet` from ``old`` (None: nothing yet) to ``new``."""
    old_files = old.by_path() if old is not None else {}
    resources = _resource_changes(old.hashes if old else {}, new.hashes)
    fields = _bootstrap_fields(old.bootstrap if old else {}, new.bootstrap)
    changed = [f for f in new.files if _differs(old_files.get(f.path), f)]
    writes, final = _plan(changed, resources, old)
    new_paths = {f.path for f in new.files}
    deletes = tuple(f for path, f in old_files.items() if path not in new_paths)
    return ChangeSet(resources, fields, tuple(writes), tuple(final), deletes)


def _differs(old: XdsFile | None, new: XdsFile) -> bool:
    return old is None or old.version != new.version


def _resource_changes(old: dict[tuple[str, str], str],
                      new: dict[tuple[str, str], str]) -> tuple[ResourceChange, ...]:
    found: list[ResourceChange] = []
    for key in sorted(set(old) | set(new), key=lambda k: (KINDS.index(k[0]), k[1])):
        if key not in old:
            found.append(ResourceChange(key[0], key[1], "added"))
        elif key not in new:
            found.append(ResourceChange(key[0], key[1], "removed"))
        elif old[key] != new[key]:
            found.append(ResourceChange(key[0], key[1], "changed"))
    return tuple(found)


def _bootstrap_fields(old: dict[str, Any], new: dict[str, Any]) -> tuple[str, ...]:
    if not old:
        return ()
    keys = sorted(set(old) | set(new))
    return tuple(k for k in keys if canonical(old.get(k)) != canonical(new.get(k)))


def _plan(changed: list[XdsFile], resources: tuple[ResourceChange, ...],
          old: DynamicConfig | None) -> tuple[list[XdsFile], list[XdsFile]]:
    """Order the writes; keep removed clusters until their users are updated."""
    removed = {c.name for c in resources if c.kind == "cluster" and c.action == "removed"}
    users_change = any(c.kind in ("route", "listener") for c in resources)
    writes = sorted(changed, key=lambda f: KINDS.index(f.kind))
    if not (removed and users_change and old is not None):
        return writes, []
    current = _cluster_file(old)
    kept = [r for r in current.resources if r.get("name") in removed]
    final: list[XdsFile] = []
    for i, item in enumerate(list(writes)):
        if item.kind == "cluster":
            union = XdsFile("cluster", "", item.path, (*item.resources, *kept))
            writes[i] = union
            final.append(item)
    writes = [w for w in writes if w.kind != "cluster" or w.version != current.version]
    return writes, final


def _cluster_file(config: DynamicConfig) -> XdsFile:
    return next(f for f in config.files if f.kind == "cluster")
