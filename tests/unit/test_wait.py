"""envoykit.testing.wait_until: what it returns, how it polls, and what its failure says.

A fake clock stands in for ``time`` in the module, so the back-off and the deadline are
checked exactly, without waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest

from envoykit.testing import async_wait_until, wait_until
from envoykit.testing import wait as wait_module


class Clock:
    """``monotonic`` and ``sleep`` of a clock that moves only when slept on."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(wait_module, "time", fake)
    return fake


def answers(*values: object) -> Callable[[], object]:
    """A probe returning ``values`` in turn (an exception instance is raised), then the last."""
    seen: Iterator[object] = iter(values)
    last: list[object] = [None]

    def probe() -> object:
        last[0] = next(seen, last[0])
        if isinstance(last[0], BaseException):
            raise last[0]
        return last[0]

    return probe


def test_returns_the_first_truthy_value(clock: Clock) -> None:
    assert wait_until(answers(0, None, "", [], "ready", "later")) == "ready"
    assert len(clock.sleeps) == 4


def test_returns_at_once_without_sleeping(clock: Clock) -> None:
    assert wait_until(lambda: 7) == 7
    assert clock.sleeps == []


def test_expected_compares_by_equality_and_may_be_falsy(clock: Clock) -> None:
    assert wait_until(answers(503, 503, 200, 404), expected=200) == 200
    assert wait_until(answers(3, 2, 1, 0, 5), expected=0) == 0
    assert wait_until(answers(True, None), expected=None) is None


def test_the_interval_doubles_up_to_a_small_cap(clock: Clock) -> None:
    wait_until(answers(*[False] * 9, True))
    assert clock.sleeps == pytest.approx([0.005, 0.01, 0.02, 0.04, 0.08, 0.1, 0.1, 0.1, 0.1])


def test_timeout_names_what_the_deadline_and_the_last_value(clock: Clock) -> None:
    with pytest.raises(AssertionError) as caught:
        wait_until(answers(1, 2, 3), expected=4, timeout=2.5, what="the fourth request")
    message = str(caught.value)
    assert message.startswith("timed out after 2.5s waiting for the fourth request "
                              "(expected 4): last value 3 (")
    assert clock.now == pytest.approx(1002.5)  # the last sleep stops at the deadline
    assert max(clock.sleeps) == pytest.approx(0.1)


def test_timeout_without_what_names_the_probe(clock: Clock) -> None:
    def listener_bound() -> bool:
        return False

    with pytest.raises(AssertionError, match=r"waiting for .*listener_bound: last value False"):
        wait_until(listener_bound, timeout=1)


def test_ignored_errors_mean_not_yet_and_the_last_one_is_reported(clock: Clock) -> None:
    probe = answers(ConnectionRefusedError("refused"), OSError("reset"), "up")
    assert wait_until(probe, ignore=OSError) == "up"
    with pytest.raises(AssertionError, match=r"last raised ConnectionRefusedError: refused"):
        wait_until(answers(ConnectionRefusedError("refused")), ignore=(OSError, ValueError),
                   timeout=1, what="port open")


def test_a_value_after_an_ignored_error_replaces_it_in_the_message(clock: Clock) -> None:
    with pytest.raises(AssertionError, match=r"last value 'starting'"):
        wait_until(answers(OSError("refused"), "starting"), expected="up", ignore=OSError,
                   timeout=1)


def test_other_errors_propagate_at_once(clock: Clock) -> None:
    calls: list[int] = []

    def broken() -> object:
        calls.append(1)
        raise KeyError("typo")

    with pytest.raises(KeyError, match="typo"):
        wait_until(broken, ignore=OSError)
    assert calls == [1] and clock.sleeps == []


def test_context_is_added_to_the_failure(clock: Clock) -> None:
    with pytest.raises(AssertionError, match=r"\(\d+ polls\)\nenvoy log: all quiet$"):
        wait_until(lambda: False, timeout=1, context=lambda: "envoy log: all quiet")


@pytest.mark.parametrize("timeout", [0, -1.0])
def test_a_deadline_must_be_positive(timeout: float) -> None:
    with pytest.raises(ValueError, match="timeout must be > 0 seconds"):
        wait_until(lambda: True, timeout=timeout)


def test_async_twin_awaits_coroutine_probes_and_takes_plain_ones() -> None:
    values = iter([None, 0, "synced"])

    async def probe() -> object:
        return next(values)

    async def scenario() -> tuple[object, object]:
        first = await async_wait_until(probe, what="the push")
        second = await async_wait_until(answers(1, 2), expected=2)
        return first, second

    assert asyncio.run(scenario()) == ("synced", 2)


def test_async_twin_fails_like_the_sync_one() -> None:
    async def refused() -> object:
        raise ConnectionRefusedError("refused")

    with pytest.raises(AssertionError, match=r"timed out after 0.05s waiting for the stream: "
                                             r"last raised ConnectionRefusedError: refused"):
        asyncio.run(async_wait_until(refused, timeout=0.05, what="the stream", ignore=OSError))
