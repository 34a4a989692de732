"""One ``apply()``: plan, check, validate, write and confirm each file, hot-restart when the
bootstrap changed, or roll every written file back (see :mod:`envoykit.xds._proxy`)."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from envoykit._util import ConfigLike, write_atomic
from envoykit.validation import envoy_validate_file
from envoykit.xds._changes import ChangeSet, compute_changes
from envoykit.xds._confirm import Confirmer, Counts
from envoykit.xds._files import XdsFile, remove_file
from envoykit.xds._report import ApplyReport, Step
from envoykit.xds._split import DynamicConfig, to_dynamic

if TYPE_CHECKING:
    from envoykit.xds._proxy import DynamicProxy

__all__ = ["ApplyRun", "ValidateMode", "needs_envoy_validation"]

log = logging.getLogger("envoykit.xds")

ValidateMode = Literal["auto", "always", "never"]
_CHEAP_KINDS = ("route", "cluster", "endpoints")


class ApplyRun:
    """One apply: plan, check, validate, write and confirm, restart, or roll back."""

    def __init__(self, proxy: DynamicProxy, config: ConfigLike, mode: ValidateMode) -> None:
        self.proxy = proxy
        self.config = config
        self.mode = mode
        self.steps: list[Step] = []
        self.written: list[tuple[XdsFile, XdsFile | None]] = []
        self.started = time.perf_counter()
        self.validated = False

    def run(self) -> ApplyReport:
        proxy = self.proxy
        pid, epoch = proxy.pid, proxy.epoch
        old = proxy.dynamic
        with self._step("check"):
            bootstrap, static = proxy._prepare(self.config)
            new = to_dynamic(static, proxy.directory)
            changes = compute_changes(old, new)
        if changes.is_empty:
            proxy._config = bootstrap
            return self._report("unchanged", changes, pid, epoch)
        if needs_envoy_validation(changes, self.mode):
            self._validate(static)
        self._change(old, new, changes)
        proxy._current, proxy._config = new, bootstrap
        method = "hot_restart" if changes.needs_restart else "files"
        return self._report(method, changes, pid, epoch)

    def _validate(self, static: dict[str, Any]) -> None:
        path = self.proxy._validate_path()
        with self._step("validate"):
            try:
                write_atomic(path, _json(static))
                supervisor = self.proxy.supervisor
                envoy_validate_file(path, binary=supervisor.binary,
                                    extra_args=supervisor.options.override_args())
            finally:
                path.unlink(missing_ok=True)
        self.validated = True

    def _change(self, old: DynamicConfig, new: DynamicConfig, changes: ChangeSet) -> None:
        previous = old.by_path()
        confirmer = self.proxy._confirmer()
        try:
            for item in (*changes.writes, *changes.final):
                self._write(confirmer, item, previous.get(item.path))
            if changes.needs_restart:
                with self._step("hot_restart"):
                    self.proxy.supervisor.hot_restart(new.bootstrap)
        except BaseException:
            confirmer.forget()
            self._rollback(confirmer)
            raise
        for item in changes.deletes:
            with self._step("delete", item):
                remove_file(item.path)

    def _write(self, confirmer: Confirmer, item: XdsFile, before: XdsFile | None) -> None:
        live = before is not None  # a new route/endpoints/secret file has no subscriber yet
        step = self._step("write", item, confirmed=live)
        with step:
            counts = confirmer.baseline(item) if live else Counts()
            mark = confirmer.log_mark() if live else ""
            item.write()
            self.written.append((item, before))
            if live:
                confirmer.wait(item, counts, mark)

    def _rollback(self, confirmer: Confirmer) -> None:
        """Put every file written so far back as it was (newest first)."""
        for item, before in reversed(self.written):
            with self._step("rollback", item):
                if before is None:
                    remove_file(item.path)
                    continue
                counts = _safe_counts(confirmer, before)
                before.write()
                if counts is not None:
                    _settle(confirmer, before, counts)

    @contextlib.contextmanager
    def _step(self, action: str, item: XdsFile | None = None, *, path: str = "",
              confirmed: bool = False) -> Iterator[None]:
        began = time.perf_counter()
        yield
        ms = (time.perf_counter() - began) * 1000
        if item is None:
            self.steps.append(Step(action, ms, path=path))
        else:
            self.steps.append(Step(action, ms, item.kind, item.name, str(item.path),
                                   item.version, confirmed))

    def _report(self, method: Any, changes: ChangeSet, pid: int | None,
                epoch: int | None) -> ApplyReport:
        total = (time.perf_counter() - self.started) * 1000
        report = ApplyReport(method, changes.resources, changes.bootstrap_fields,
                             tuple(self.steps), self.validated, pid, self.proxy.pid, epoch,
                             self.proxy.epoch, total)
        log.info("%s", report.summary())
        return report


def needs_envoy_validation(changes: ChangeSet, mode: ValidateMode) -> bool:
    """Whether ``envoy --mode validate`` must run before applying ``changes``.

    ``auto``: not for one added or changed route, cluster or endpoint assignment — Envoy
    takes or refuses such a file as a whole and the old one keeps serving, so validating
    first would only add ~80 ms. Anything else (several resources, a listener, a secret,
    a removal, the bootstrap) is validated as a full static config first."""
    if mode != "auto":
        return mode == "always"
    if changes.needs_restart or len(changes.resources) != 1:
        return True
    (one,) = changes.resources
    return one.kind not in _CHEAP_KINDS or one.action == "removed"


def _safe_counts(confirmer: Confirmer, item: XdsFile) -> Counts | None:
    try:
        return confirmer.counts(item)
    except Exception as exc:  # rollback must go on even when admin is gone
        log.warning("rollback of %s: cannot read envoy's counters (%s)", item.path, exc)
        return None


def _settle(confirmer: Confirmer, item: XdsFile, counts: Counts) -> None:
    try:
        confirmer.wait(item, counts)
    except Exception as exc:
        log.warning("rollback of %s not confirmed: %s", item.path, exc)


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1)
