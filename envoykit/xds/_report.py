"""The report ``apply()`` returns: what changed, how it was applied, how long it took."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from envoykit.xds._changes import ResourceChange

__all__ = ["ApplyReport", "Step"]

Method = Literal["unchanged", "files", "hot_restart"]


@dataclass(frozen=True)
class Step:
    """One thing ``apply()`` did: ``check``, ``validate``, ``write`` (confirmed by Envoy
    when ``confirmed``), ``delete``, ``hot_restart`` or ``rollback``."""

    action: str
    ms: float
    kind: str = ""
    name: str = ""
    path: str = ""
    version: str = ""
    confirmed: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"action": self.action, "kind": self.kind, "name": self.name,
                "path": self.path, "version": self.version, "confirmed": self.confirmed,
                "ms": round(self.ms, 3)}


@dataclass(frozen=True)
class ApplyReport:
    """What ``apply()`` changed and how.

    ``method`` is ``unchanged`` (nothing to do), ``files`` (resource files only: same
    process, same epoch) or ``hot_restart`` (the bootstrap changed). ``validated`` says
    whether ``envoy --mode validate`` ran on the full config (our own checks always run).
    """

    method: Method
    changes: tuple[ResourceChange, ...] = ()
    bootstrap_fields: tuple[str, ...] = ()
    steps: tuple[Step, ...] = ()
    validated: bool = False
    pid_before: int | None = None
    pid_after: int | None = None
    epoch_before: int | None = None
    epoch_after: int | None = None
    total_ms: float = 0.0
    notes: tuple[str, ...] = field(default=())

    @property
    def restarted(self) -> bool:
        """A new Envoy process serves after this apply."""
        return self.pid_before != self.pid_after or self.epoch_before != self.epoch_after

    def summary(self) -> str:
        """One line: what changed and how it was applied."""
        what = ", ".join(str(c) for c in self.changes) or "no resource change"
        if self.bootstrap_fields:
            what += f"; bootstrap: {', '.join(self.bootstrap_fields)}"
        return f"{self.method}: {what} ({self.total_ms:.1f} ms)"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "method": self.method,
            "changes": [{"kind": c.kind, "name": c.name, "action": c.action}
                        for c in self.changes],
            "bootstrap_fields": list(self.bootstrap_fields),
            "steps": [s.to_dict() for s in self.steps],
            "validated": self.validated,
            "pid": [self.pid_before, self.pid_after],
            "epoch": [self.epoch_before, self.epoch_after],
            "total_ms": round(self.total_ms, 3),
        }

    def __str__(self) -> str:
        rows = [("step", "kind", "name", "version", "ms")]
        rows += [(s.action + (" ✓" if s.confirmed else ""), s.kind, s.name, s.version,
                  f"{s.ms:.1f}") for s in self.steps]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = [self.summary()]
        lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                  for r in rows]
        lines.append(f"  pid {self.pid_before} → {self.pid_after}, epoch {self.epoch_before} "
                     f"→ {self.epoch_after}; envoy --mode validate: "
                     f"{'yes' if self.validated else 'no'}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)
