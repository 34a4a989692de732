"""Wait for an event in a test: poll a probe until it holds, fail with what was last seen.

    from envoykit.testing import wait_until

    wait_until(lambda: proxy.admin().ready(), what="envoy ready")
    status = wait_until(lambda: client.get("/").status_code, expected=200,
                        ignore=httpx.HTTPError, what="the route answering 200")

The deadline is generous (a loaded CI machine is slow) and it is never a speed claim: a
probe that holds early returns early. Polls start fast and back off exponentially to a small
cap, so a quick event costs milliseconds and a slow one does not spin the CPU.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

__all__ = ["DEFAULT_TIMEOUT", "async_wait_until", "wait_until"]

T = TypeVar("T")

DEFAULT_TIMEOUT = 60.0
"""Seconds: the default deadline for an event, generous for a loaded machine."""

FIRST_INTERVAL = 0.005
MAX_INTERVAL = 0.1

Ignored = type[BaseException] | tuple[type[BaseException], ...]

_NOTHING: Any = object()


class _Poll:
    """The state shared by the sync and async loops: deadline, back-off, the last outcome."""

    def __init__(self, probe: object, timeout: float, what: str, expected: object,
                 context: Callable[[], object] | None) -> None:
        if timeout <= 0:
            raise ValueError(f"wait_until: timeout must be > 0 seconds, got {timeout!r}")
        self.timeout, self.expected, self.context = timeout, expected, context
        self.what = what or getattr(probe, "__qualname__", repr(probe))
        self.deadline = time.monotonic() + timeout
        self.interval = FIRST_INTERVAL
        self.last: object = _NOTHING
        self.error: BaseException | None = None
        self.polls = 0

    def holds(self, value: object) -> bool:
        self.polls += 1
        self.last, self.error = value, None
        return bool(value) if self.expected is _NOTHING else value == self.expected

    def failed(self, error: BaseException) -> None:
        self.polls += 1
        self.error = error

    def delay(self) -> float:
        """Seconds to the next poll; raises the timeout failure once the deadline is past."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(self.message())
        delay = min(self.interval, left)
        self.interval = min(self.interval * 2, MAX_INTERVAL)
        return delay

    def message(self) -> str:
        wanted = "" if self.expected is _NOTHING else f" (expected {self.expected!r})"
        if self.error is not None:
            seen = f"last raised {type(self.error).__name__}: {self.error}"
        else:
            seen = f"last value {self.last!r}"
        text = (f"timed out after {self.timeout:g}s waiting for {self.what}{wanted}: "
                f"{seen} ({self.polls} polls)")
        return text if self.context is None else f"{text}\n{self.context()}"


def wait_until(probe: Callable[[], T], *, expected: Any = _NOTHING,
               timeout: float = DEFAULT_TIMEOUT, what: str = "", ignore: Ignored = (),
               context: Callable[[], object] | None = None) -> T:
    """Call ``probe()`` until it returns a truthy value (or one equal to ``expected``, when
    given) and return that value.

    ``ignore``: exception types that mean "not yet" (``OSError`` while a port opens); any
    other exception propagates at once. After ``timeout`` seconds an ``AssertionError``
    names ``what`` (default: the probe's name), the deadline and the last value or exception
    seen, followed by ``context()`` when given (e.g. a log tail).
    """
    poll = _Poll(probe, timeout, what, expected, context)
    while True:
        try:
            value = probe()
        except ignore as exc:
            poll.failed(exc)
        else:
            if poll.holds(value):
                return value
        time.sleep(poll.delay())  # the poll interval of an event wait


@overload
async def async_wait_until(probe: Callable[[], Awaitable[T]], *, expected: Any = ...,
                           timeout: float = ..., what: str = ..., ignore: Ignored = ...,
                           context: Callable[[], object] | None = ...) -> T: ...
@overload
async def async_wait_until(probe: Callable[[], T], *, expected: Any = ...,
                           timeout: float = ..., what: str = ..., ignore: Ignored = ...,
                           context: Callable[[], object] | None = ...) -> T: ...
async def async_wait_until(probe: Callable[[], Any], *, expected: Any = _NOTHING,
                           timeout: float = DEFAULT_TIMEOUT, what: str = "",
                           ignore: Ignored = (),
                           context: Callable[[], object] | None = None) -> Any:
    """The asyncio twin of :func:`wait_until`: ``probe`` may be a coroutine function (each
    result is awaited) or a plain callable; the event loop runs between polls."""
    poll = _Poll(probe, timeout, what, expected, context)
    while True:
        try:
            value = probe()
            if inspect.isawaitable(value):
                value = await value
        except ignore as exc:
            poll.failed(exc)
        else:
            if poll.holds(value):
                return value
        await asyncio.sleep(poll.delay())
