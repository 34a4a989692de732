"""``/stats/prometheus`` parsed with ``prometheus_client``'s text parser."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from envoykit.errors import AdminResponseError

__all__ = ["PrometheusMetrics", "parse_prometheus"]

_ENDPOINT = "/stats/prometheus"


@dataclass(frozen=True, eq=False)
class PrometheusMetrics(Mapping[str, Metric]):
    """Metric families by name (``prometheus_client.Metric``: ``.type``, ``.samples``),
    plus the scraped ``text``. Envoy names a stat ``envoy_`` + its tag-extracted name and
    moves the tags into labels: ``cluster.a.upstream_rq_total`` is
    ``envoy_cluster_upstream_rq_total{envoy_cluster_name="a"}``. As everywhere in
    ``prometheus_client``, a counter family is named without ``_total`` and its sample
    with it (``metrics["envoy_cluster_upstream_rq"]``, sample
    ``envoy_cluster_upstream_rq_total``)::

        metrics = admin.prometheus()
        metrics.value("envoy_cluster_upstream_rq_total", envoy_cluster_name="a")
    """

    families: Mapping[str, Metric]
    text: str

    def __getitem__(self, name: str) -> Metric:
        return self.families[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.families)

    def __len__(self) -> int:
        return len(self.families)

    def samples(self, name: str | None = None) -> list[Sample]:
        """Every sample (of the sample name ``name``, if given)."""
        return [s for family in self.families.values() for s in family.samples
                if name is None or s.name == name]

    def value(self, name: str, /, **labels: str) -> float:
        """The value of the one sample called ``name`` whose labels are exactly ``labels``."""
        for sample in self.samples(name):
            if sample.labels == labels:
                return float(sample.value)
        found = [s.labels for s in self.samples(name)]
        raise KeyError(f"no sample {name}{labels or ''} (label sets found: {found})")


def parse_prometheus(text: str) -> PrometheusMetrics:
    """Parse Prometheus text exposition format (what ``/stats/prometheus`` returns)."""
    families: dict[str, Metric] = {}
    try:
        for family in text_string_to_metric_families(text):
            # envoy's ``x_total`` and ``x`` (e.g. ``upstream_rq_total`` and the tagged
            # ``upstream_rq{envoy_response_code="200"}``) are both family ``x`` here
            if family.name in families:
                families[family.name].samples.extend(family.samples)
            else:
                families[family.name] = family
    except (ValueError, TypeError) as exc:
        raise AdminResponseError(f"cannot parse Prometheus text: {exc}",
                                 endpoint=_ENDPOINT) from exc
    return PrometheusMetrics(families, text)
