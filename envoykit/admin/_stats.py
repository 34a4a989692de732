"""Typed stats snapshots parsed from ``/stats?format=json``."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from envoykit.errors import AdminResponseError

__all__ = ["Bucket", "Histogram", "StatValue", "StatsSnapshot", "parse_stats_json"]

_ENDPOINT = "/stats"


@dataclass(frozen=True)
class Bucket:
    """One bucket of envoy's log-linear histogram: ``count`` samples in
    ``[lower_bound, lower_bound + width)`` (``histogram_buckets=detailed``)."""

    lower_bound: float
    width: float
    count: int

    @property
    def upper_bound(self) -> float:
        """The bucket's exclusive upper end."""
        return self.lower_bound + self.width

    def holds(self, value: float) -> bool:
        """True when ``value`` falls in this bucket (a zero-width bucket holds its bound)."""
        if self.width == 0:
            return value == self.lower_bound
        return self.lower_bound <= value < self.upper_bound


@dataclass(frozen=True)
class Histogram:
    """A histogram's quantiles: ``cumulative`` since start, ``interval`` over the last
    stats flush (``stats_flush_interval``, 5 s by default; envoy computes quantiles at
    each flush, so a sample shows up only after the next one).

    Both map a quantile in percent (the ``supported_quantiles``: 0, 25, 50, …, 99.9, 100)
    to a value in the histogram's unit (milliseconds for ``…_time`` and ``…_ms``), or None
    when the histogram has no samples. ``buckets`` / ``interval_buckets`` are filled when
    the histogram was read with detailed buckets (:meth:`AdminClient.histogram`)::

        assert admin.histogram("cluster.a_example_com.upstream_rq_time").percentile(99) < 50
    """

    name: str
    cumulative: Mapping[float, float | None]
    interval: Mapping[float, float | None]
    buckets: tuple[Bucket, ...] = ()
    interval_buckets: tuple[Bucket, ...] = ()

    @property
    def supported_quantiles(self) -> tuple[float, ...]:
        """The quantiles envoy computes, in percent."""
        return tuple(self.cumulative)

    def quantile(self, q: float, *, interval: bool = False) -> float | None:
        """The value at quantile ``q`` in percent, e.g. ``h.quantile(99)``."""
        values = self.interval if interval else self.cumulative
        try:
            return values[float(q)]
        except KeyError:
            known = ", ".join(f"{k:g}" for k in values)
            raise KeyError(f"{self.name}: no quantile {q:g} (envoy computed: {known})") from None

    def percentile(self, q: float, *, interval: bool = False) -> float:
        """The value at quantile ``q`` in percent as a number, for one-line assertions:
        ``admin.histogram(name).percentile(99) < 50``. ValueError (naming the histogram)
        when it has no samples yet, KeyError for a quantile envoy does not compute."""
        value = self.quantile(q, interval=interval)
        if value is None:
            raise ValueError(f"{self.name} has no samples yet (envoy computes quantiles at "
                             "each stats flush)")
        return value

    @property
    def p50(self) -> float | None:
        """The cumulative median."""
        return self.cumulative.get(50.0)

    @property
    def p95(self) -> float | None:
        """The cumulative 95th percentile."""
        return self.cumulative.get(95.0)

    @property
    def p99(self) -> float | None:
        """The cumulative 99th percentile."""
        return self.cumulative.get(99.0)

    @property
    def count(self) -> int:
        """How many samples the detailed buckets hold (0 without buckets)."""
        return sum(b.count for b in self.buckets)

    def bucket_of(self, value: float, *, interval: bool = False) -> Bucket | None:
        """The detailed bucket that holds ``value`` (None when no sample fell there)."""
        buckets = self.interval_buckets if interval else self.buckets
        return next((b for b in buckets if b.holds(value)), None)


StatValue = int | str | Histogram


@dataclass(frozen=True, eq=False, repr=False)
class StatsSnapshot(Mapping[str, StatValue]):
    """Counters, gauges, text readouts and histograms at one moment.

    It is a read-only mapping from stat name to value, so ``snap["server.live"]``,
    ``"x" in snap`` and ``snap.get("x", 0)`` work. ``after - before`` gives deltas.
    """

    counters: Mapping[str, int] = field(default_factory=dict)
    gauges: Mapping[str, int] = field(default_factory=dict)
    text_readouts: Mapping[str, str] = field(default_factory=dict)
    histograms: Mapping[str, Histogram] = field(default_factory=dict)

    def __getitem__(self, name: str) -> StatValue:
        for table in (self.counters, self.gauges, self.text_readouts, self.histograms):
            if name in table:
                value: StatValue = table[name]
                return value
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        for table in (self.counters, self.gauges, self.text_readouts, self.histograms):
            yield from table

    def __len__(self) -> int:
        return (
            len(self.counters) + len(self.gauges) + len(self.text_readouts) + len(self.histograms)
        )

    def __contains__(self, name: object) -> bool:
        return any(
            name in table
            for table in (self.counters, self.gauges, self.text_readouts, self.histograms)
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StatsSnapshot):
            return NotImplemented
        return (
            dict(self.counters) == dict(other.counters)
            and dict(self.gauges) == dict(other.gauges)
            and dict(self.text_readouts) == dict(other.text_readouts)
            and dict(self.histograms) == dict(other.histograms)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable-looking mapping: not hashable

    def __repr__(self) -> str:
        return (
            f"StatsSnapshot(counters={len(self.counters)}, gauges={len(self.gauges)}, "
            f"text_readouts={len(self.text_readouts)}, histograms={len(self.histograms)})"
        )

    def number(self, name: str, default: int | None = None) -> int:
        """A counter's or gauge's value, typed as int (``default`` when absent, if given)."""
        if name in self.counters:
            return self.counters[name]
        if name in self.gauges:
            return self.gauges[name]
        if default is None:
            raise KeyError(name)
        return default

    def __sub__(self, before: StatsSnapshot) -> StatsSnapshot:
        """Deltas: counters and gauges become ``self - before`` (a stat missing from
        ``before`` counts as 0); text readouts and histograms are taken from ``self``."""
        if not isinstance(before, StatsSnapshot):
            return NotImplemented
        return StatsSnapshot(
            counters=_delta(self.counters, before.counters),
            gauges=_delta(self.gauges, before.gauges),
            text_readouts=dict(self.text_readouts),
            histograms=dict(self.histograms),
        )

    def merge(self, *others: StatsSnapshot) -> StatsSnapshot:
        """A snapshot holding the stats of all (later snapshots win on a clash)."""
        parts = (self, *others)
        return StatsSnapshot(
            counters={k: v for part in parts for k, v in part.counters.items()},
            gauges={k: v for part in parts for k, v in part.gauges.items()},
            text_readouts={k: v for part in parts for k, v in part.text_readouts.items()},
            histograms={k: v for part in parts for k, v in part.histograms.items()},
        )

    def with_prefix(self, prefix: str) -> StatsSnapshot:
        """Only the stats whose name starts with ``prefix``."""
        return StatsSnapshot(
            counters={k: v for k, v in self.counters.items() if k.startswith(prefix)},
            gauges={k: v for k, v in self.gauges.items() if k.startswith(prefix)},
            text_readouts={k: v for k, v in self.text_readouts.items() if k.startswith(prefix)},
            histograms={k: v for k, v in self.histograms.items() if k.startswith(prefix)},
        )


def _delta(after: Mapping[str, int], before: Mapping[str, int]) -> dict[str, int]:
    return {name: value - before.get(name, 0) for name, value in after.items()}


def parse_stats_json(body: bytes | str, *, numbers: str = "counters") -> StatsSnapshot:
    """Parse a ``/stats?format=json`` body.

    Envoy's JSON does not say whether a number is a counter or a gauge, so ``numbers``
    ("counters" or "gauges") names where plain numbers go; the client asks envoy for each
    type separately (``type=Counters``, ``type=Gauges``) and merges the snapshots.
    """
    if numbers not in ("counters", "gauges"):
        raise ValueError(f"numbers must be 'counters' or 'gauges', not {numbers!r}")
    try:
        items = json.loads(body)["stats"]
        return _build(items, numbers)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise AdminResponseError(f"cannot parse stats JSON: {exc!r}", endpoint=_ENDPOINT) from exc


def _build(items: list[dict[str, Any]], numbers: str) -> StatsSnapshot:
    plain: dict[str, int] = {}
    texts: dict[str, str] = {}
    histograms: dict[str, Histogram] = {}
    for item in items:
        if "value" in item:
            value = item["value"]
            if value.__class__ is str:
                texts[item["name"]] = value
            else:
                plain[item["name"]] = value
        elif "histograms" in item:
            histograms.update(_histograms(item["histograms"]))
    if numbers == "gauges":
        return StatsSnapshot(gauges=plain, text_readouts=texts, histograms=histograms)
    return StatsSnapshot(counters=plain, text_readouts=texts, histograms=histograms)


def _histograms(block: dict[str, Any]) -> dict[str, Histogram]:
    """Both shapes envoy writes: ``supported_quantiles`` + ``computed_quantiles`` (the
    default) and ``supported_percentiles`` + ``details`` (``histogram_buckets=detailed``)."""
    if "details" in block:
        quantiles = [float(q) for q in block.get("supported_percentiles", [])]
        entries, key = block["details"], "percentiles"
    else:
        quantiles = [float(q) for q in block.get("supported_quantiles", [])]
        entries, key = block.get("computed_quantiles", []), "values"
    result: dict[str, Histogram] = {}
    for entry in entries:
        values = entry[key]
        name = entry["name"]
        result[name] = Histogram(
            name=name,
            cumulative=dict(zip(quantiles, [v["cumulative"] for v in values], strict=True)),
            interval=dict(zip(quantiles, [v["interval"] for v in values], strict=True)),
            buckets=_buckets(entry.get("totals", [])),
            interval_buckets=_buckets(entry.get("intervals", [])),
        )
    return result


def _buckets(items: list[dict[str, Any]]) -> tuple[Bucket, ...]:
    return tuple(Bucket(float(b["lower_bound"]), float(b["width"]), int(b["count"]))
                 for b in items)
