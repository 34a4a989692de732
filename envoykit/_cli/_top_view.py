"""How ``envoykit top`` draws a frame, with ``rich``: a server line, a sites table, an
upstreams table and a key help line; the live loop reads single keys from the terminal."""

from __future__ import annotations

import contextlib
import io
import os
import select
import sys
import termios
import tty
from collections.abc import Iterator, Sequence
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from envoykit._cli import top

__all__ = ["live", "render", "sparkline", "svg", "text"]

BARS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 20


def sparkline(values: Sequence[float], width: int = SPARK_WIDTH) -> str:
    """The last ``width`` values as block characters scaled to their maximum."""
    points = list(values)[-width:]
    peak = max(points, default=0.0)
    if peak <= 0:
        return BARS[0] * len(points)
    return "".join(BARS[min(len(BARS) - 1, int(v / peak * (len(BARS) - 1) + 0.5))]
                   for v in points)


def render(frame: dict[str, Any], keys: str | None = None) -> RenderableType:
    """One frame as a rich renderable (with a line of key help in the live view)."""
    parts: list[RenderableType] = [_server(frame), _sites(frame["sites"]),
                                   _upstreams(frame["upstreams"])]
    if keys is not None:
        parts.append(Text(keys, style="dim"))
    return Group(*parts)


def _server(frame: dict[str, Any]) -> Text:
    s = frame["server"]
    line = Text()
    line.append("envoy ", style="bold")
    line.append(f"{s['version']}  ")
    line.append(s["state"], style="bold green" if s["state"] == "LIVE" else "bold red")
    line.append(f"  epoch {s['epoch']}  uptime {_duration(s['uptime_s'])}  "
                f"connections {s['connections']}  memory {_mib(s['memory_allocated'])} "
                f"(heap {_mib(s['memory_heap_size'])})  admin {frame['admin']}")
    return line


def _sites(sites: list[dict[str, Any]]) -> Table:
    table = Table(title="SITES", title_justify="left", expand=False, box=None, padding=(0, 1),
                  header_style="bold")
    for name in ("SITE", "RQ/S", "2XX", "3XX", "4XX", "5XX", "LIMITED", "P50 MS", "P95 MS",
                 "P99 MS", "LAST MINUTE"):
        table.add_column(name, justify="left" if name in ("SITE", "LAST MINUTE") else "right",
                         no_wrap=True)
    for s in sites:
        name = s["site"] if s["route"] is None else f"{s['site']} [{s['route']}]"
        table.add_row(
            Text(name), f"{s['rps']:.1f}", _count(s["2xx"]), _count(s["3xx"]),
            _count(s["4xx"]), Text(_count(s["5xx"]), style="bold red" if s["5xx"] else ""),
            _count(s["rate_limited"]),
            _ms(s["p50"]), _ms(s["p95"]), _ms(s["p99"]),
            Text(sparkline(s["history"]), style="cyan"))
    if not sites:
        table.add_row("(no site routes to a cluster)")
    return table


def _upstreams(upstreams: list[dict[str, Any]]) -> Table:
    table = Table(title="UPSTREAMS", title_justify="left", box=None, padding=(0, 1),
                  header_style="bold")
    for name in ("CLUSTER", "HEALTHY", "ACTIVE RQ", "RETRIES", "EJECTED", "5XX", "UNHEALTHY"):
        table.add_column(name, justify="left" if name in ("CLUSTER", "UNHEALTHY") else "right",
                         no_wrap=True)
    for u in upstreams:
        ok = u["healthy"] == u["hosts"]
        table.add_row(
            Text(u["cluster"]),  # Text: a name is not rich markup
            Text(f"{u['healthy']}/{u['hosts']}", style="green" if ok else "bold red"),
            str(u["active_requests"]), str(u["retries"]), str(u["ejections"]), str(u["5xx"]),
            Text(", ".join(u["unhealthy"]) or "-", style="" if ok else "red"))
    return table


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _mib(value: int) -> str:
    return f"{value / 1048576:.1f} MiB"


def _duration(seconds: float) -> str:
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _console(file: io.StringIO, width: int = 120, *, record: bool = False) -> Console:
    return Console(file=file, width=width, color_system=None if not record else "truecolor",
                   force_terminal=record, record=record, legacy_windows=False)


def text(frame: dict[str, Any], width: int = 120) -> str:
    """One frame as plain text (``--once``)."""
    out = io.StringIO()
    _console(out, width).print(render(frame))
    return out.getvalue()


def svg(frame: dict[str, Any], width: int = 120, title: str = "envoykit top") -> str:
    """One frame as an SVG image (the documentation's screenshot)."""
    console = _console(io.StringIO(), width, record=True)
    console.print(render(frame))
    console.print()  # room below the last row (its underscores are not clipped)
    return console.export_svg(title=title)


# --- the live view -------------------------------------------------------------------------


def live(sampler: top.Sampler, interval: float, sort: str, filter: str) -> int:
    """Redraw every ``interval`` until ``q`` (or Ctrl-C)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        from envoykit._cli.source import UsageError

        raise UsageError("top needs a terminal; use --once or --json for scripts")
    view = _LiveState(sort, filter)
    with _keys() as read_key, Live(console=Console(), screen=True, auto_refresh=False) as screen:
        frame = sampler.sample()
        while True:
            shown = top.select(frame, view.sort, view.filter)
            screen.update(render(shown, view.keys()), refresh=True)
            key = read_key(interval)
            if key is None:
                frame = sampler.sample()
            elif view.handle(key):
                return 0


class _LiveState:
    """Sort order, filter text and the filter prompt while it is being typed."""

    def __init__(self, sort: str, filter: str) -> None:
        self.sort, self.filter = sort, filter
        self.prompt: str | None = None

    def keys(self) -> str:
        """The key help line, or the filter being typed."""
        if self.prompt is not None:
            return f"filter: {self.prompt}▏ (enter: apply, esc: clear)"
        return f"sort: {self.sort} (s)   filter: {self.filter or '-'} (/)   q: quit"

    def handle(self, key: str) -> bool:
        """Apply one key; True to quit."""
        if self.prompt is not None:
            self._edit(key)
        elif key in ("q", "Q"):
            return True
        elif key == "s":
            keys = top.SORT_KEYS
            self.sort = keys[(keys.index(self.sort) + 1) % len(keys)]
        elif key == "/":
            self.prompt = ""
        return False

    def _edit(self, key: str) -> None:
        assert self.prompt is not None
        if key in ("\r", "\n"):
            self.filter, self.prompt = self.prompt, None
        elif key == "\x1b":
            self.filter, self.prompt = "", None
        elif key in ("\x7f", "\b"):
            self.prompt = self.prompt[:-1]
        elif key.isprintable():
            self.prompt += key


@contextlib.contextmanager
def _keys() -> Iterator[Any]:
    """Single keys from the terminal (cbreak mode, restored on exit); ``read(timeout)``
    returns one key or None when none came in time."""
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)

    def read(timeout: float) -> str | None:
        ready, _, _ = select.select([fd], [], [], timeout)
        return os.read(fd, 1).decode(errors="replace") if ready else None

    tty.setcbreak(fd)
    try:
        yield read
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
