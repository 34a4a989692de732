"""Confirmation: after a file is moved into place, did Envoy take it?

Every file subscription has counters and a version readout in ``/stats``:

=========  ===============================================
listeners  ``listener_manager.lds.*``
clusters   ``cluster_manager.cds.*``
routes     ``http.<stat_prefix>.rds.<route config name>.*``
endpoints  ``cluster.<cluster name>.*``
secrets    ``sds.<secret name>.*``
=========  ===============================================

An update is taken when ``version_text`` shows the file's version (versions are content
hashes; for listeners and clusters, nothing may be left warming either); it is refused when
``update_rejected`` or ``update_failure`` grew — then Envoy's reason is read from its log
and the old config keeps serving. (``/config_dump`` is not used: it shows the version of a
refused secret as if it were active.)
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from envoykit.admin import AdminClient, StatsSnapshot
from envoykit.errors import XdsUpdateRejected
from envoykit.xds._files import XdsFile

__all__ = ["Confirmer", "Counts", "reason_from_log", "stats_regex"]

log = logging.getLogger("envoykit.xds")

_COUNTERS = "(update_success|update_rejected|update_failure|version_text)"
_WARMING = {
    "listener": "listener_manager.total_listeners_warming",
    "cluster": "cluster_manager.warming_clusters",
}


def stats_regex(kind: str, name: str) -> str:
    """The ``/stats`` filter selecting one subscription's counters (and warming gauge)."""
    quoted = re.escape(name)
    if kind == "listener":
        return rf"^listener_manager\.(lds\.{_COUNTERS}|total_listeners_warming)$"
    if kind == "cluster":
        return rf"^cluster_manager\.(cds\.{_COUNTERS}|warming_clusters)$"
    if kind == "route":
        return rf"^http\..*\.rds\.{quoted}\.{_COUNTERS}$"
    if kind == "endpoints":
        return rf"^cluster\.{quoted}\.{_COUNTERS}$"
    return rf"^sds\.{quoted}\.{_COUNTERS}$"


@dataclass(frozen=True)
class Counts:
    """One subscription's counters at one moment."""

    success: int = 0
    rejected: int = 0
    failure: int = 0
    versions: tuple[str, ...] = ()
    warming: int = 0

    @classmethod
    def of(cls, snap: StatsSnapshot, kind: str) -> Counts:
        """Sum the counters of a snapshot taken with :func:`stats_regex`."""
        def total(suffix: str) -> int:
            return sum(v for k, v in snap.counters.items() if k.endswith(suffix))

        versions = tuple(v for k, v in snap.text_readouts.items() if k.endswith(".version_text"))
        warming = snap.gauges.get(_WARMING.get(kind, ""), 0)
        return cls(total(".update_success"), total(".update_rejected"),
                   total(".update_failure"), versions, warming)

    def refused_since(self, before: Counts) -> bool:
        """More rejections or failures than ``before``."""
        return self.rejected > before.rejected or self.failure > before.failure

    def took(self, version: str) -> bool:
        """``version`` is live: Envoy shows it as its version and nothing is warming.

        Versions are content hashes and a file is only written when its content changed,
        so the version alone tells the new content from the old one."""
        return version in self.versions and self.warming == 0


class Confirmer:
    """Waits for Envoy to take or refuse a file, polling ``/stats`` on the admin API.

    It remembers each subscription's counters after a confirmed update, so the next
    update of the same file needs no extra ``/stats`` call for its baseline (the memory
    is dropped when the Envoy process changes, after a listener or cluster update — they
    re-create subscriptions — and after a refusal)."""

    def __init__(self, admin: Callable[[], AdminClient], tail: Callable[[], Sequence[str]],
                 *, timeout: float = 10.0, interval: float = 0.001,
                 generation: Callable[[], object] = lambda: None) -> None:
        self._admin = admin
        self._tail = tail
        self._generation = generation
        self.timeout = timeout
        self.interval = interval
        self._known: dict[tuple[str, str], Counts] = {}
        self._known_for: object = None

    def counts(self, item: XdsFile) -> Counts:
        """The current counters of ``item``'s subscription."""
        snap = self._admin().stats(filter=stats_regex(item.kind, item.name))
        return Counts.of(snap, item.kind)

    def baseline(self, item: XdsFile) -> Counts:
        """The counters before writing ``item``: remembered, or asked from Envoy."""
        generation = self._generation()
        if generation != self._known_for:
            self._known, self._known_for = {}, generation
        known = self._known.get((item.kind, item.name))
        return known if known is not None else self.counts(item)

    def forget(self) -> None:
        """Drop the remembered counters."""
        self._known.clear()

    def log_mark(self) -> str:
        """The last line envoy printed so far: pass it to :meth:`wait` so that the reason
        of a refusal is looked for only in what comes after."""
        lines = self._tail()
        return lines[-1] if lines else ""

    def wait(self, item: XdsFile, before: Counts, mark: str = "") -> Counts:
        """Return once ``item`` is live; XdsUpdateRejected if Envoy refuses it or stays
        silent past the timeout."""
        deadline = time.monotonic() + self.timeout
        delay = self.interval
        while True:
            now = self.counts(item)
            if now.refused_since(before):
                self.forget()
                raise self._rejected(item, mark)
            if now.took(item.version):
                self._remember(item, now)
                return now
            if time.monotonic() > deadline:
                self.forget()
                raise XdsUpdateRejected(
                    f"envoy did not confirm {item.path} (version {item.version}) within "
                    f"{self.timeout:g}s: {now}", kind=item.kind, path=str(item.path),
                    version=item.version, output_tail=list(self._tail())[-20:])
            time.sleep(delay)
            delay = min(delay * 1.5, 0.02)

    def _remember(self, item: XdsFile, counts: Counts) -> None:
        if item.kind in ("listener", "cluster"):
            self._known.clear()
        self._known[(item.kind, item.name)] = counts

    def _rejected(self, item: XdsFile, mark: str) -> XdsUpdateRejected:
        reason = self._reason(mark)
        what = f"the {item.kind} {item.name!r}" if item.name else f"the {item.kind}s"
        return XdsUpdateRejected(
            f"envoy rejected {what} in {item.path} (version {item.version}); the previous "
            "config keeps serving", kind=item.kind, path=str(item.path),
            version=item.version, reason=reason, output_tail=list(self._tail())[-20:])

    def _reason(self, mark: str) -> str:
        """Envoy logs the reason as it counts the rejection; give its reader a moment."""
        deadline = time.monotonic() + 0.3
        while True:
            reason = reason_from_log(_after(list(self._tail()), mark))
            if reason or time.monotonic() > deadline:
                return reason or "(no reason in envoy's output; is its log level above warning?)"
            time.sleep(0.01)


_MARKERS = ("config update rejected", "config update failure", "error adding/updating listener")
_LOG_PREFIX = re.compile(r"^\[[^\]]*\]\[[^\]]*\]\[[^\]]*\](\[[^\]]*\])? (\[[^\]]*\] )?")


def _after(lines: list[str], mark: str) -> list[str]:
    """The lines after the last occurrence of ``mark`` (all of them if it is gone)."""
    if mark:
        for i in range(len(lines) - 1, -1, -1):
            if lines[i] == mark:
                return lines[i + 1:]
    return lines


def reason_from_log(lines: Sequence[str], limit: int = 600) -> str:
    """Envoy's last message about a refused config update, with up to two continuation
    lines (a parse failure is followed by the whole file), cut to ``limit`` characters."""
    lines = list(lines)
    for i in range(len(lines) - 1, -1, -1):
        if any(marker in lines[i].lower() for marker in _MARKERS):
            message = [_LOG_PREFIX.sub("", lines[i]).strip()]
            for extra in lines[i + 1:i + 3]:
                if extra.startswith("["):
                    break
                if extra.strip():
                    message.append(extra.strip())
            text = " ".join(message)
            return text if len(text) <= limit else text[: limit - 1] + "…"
    return ""
