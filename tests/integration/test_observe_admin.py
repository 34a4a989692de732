"""Percentiles and Prometheus against the real envoy (issue 15, proof items 2 and 3)."""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from envoykit import EdgeProxy, to_dict
from envoykit.admin import AdminClient, Bucket, Histogram
from envoykit.process import Supervisor
from envoykit.testing import Upstream, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
OPTIONS: dict[str, Any] = {"concurrency": 1, "log_level": "warning"}
SLEEP_MS = 200
REQUESTS = 15


def edge_config(upstream: Upstream, **bootstrap: Any) -> dict[str, Any]:
    edge = EdgeProxy().site("slow.example.com", upstream.address).http(0, address="127.0.0.1")
    config = to_dict(edge.admin(0).build())
    config["stats_flush_interval"] = "0.2s"  # quantiles are computed at each flush
    config.update(bootstrap)
    return config


@pytest.fixture
def slow() -> Iterator[Upstream]:
    with Upstream("slow") as up:
        up.respond_with(200, delay=SLEEP_MS / 1000)
        yield up


def wait_for_samples(admin: AdminClient, name: str, count: int) -> Histogram:
    """The histogram ``name`` once its detailed buckets hold ``count`` samples (a flush)."""
    return wait_until(lambda: (h := admin.histogram(name)).count >= count and h,
                      what=f"{count} samples in {name}")


def median_bucket(buckets: tuple[Bucket, ...]) -> Bucket:
    """The bucket holding the median sample, by counting."""
    total = sum(b.count for b in buckets)
    seen = 0
    for bucket in sorted(buckets, key=lambda b: b.lower_bound):
        seen += bucket.count
        if seen * 2 >= total:
            return bucket
    raise AssertionError("no samples")


def test_p50_lies_in_the_histogram_bucket_of_a_known_latency(slow: Upstream) -> None:
    with Supervisor(edge_config(slow), **OPTIONS) as proxy, proxy.admin() as admin:
        seen_ms = []
        with httpx.Client(base_url=proxy.url_of("http"), timeout=30) as client:
            for _ in range(REQUESTS):
                started = time.monotonic()
                assert client.get("/", headers={"host": "slow.example.com"}).status_code == 200
                seen_ms.append((time.monotonic() - started) * 1000)
        name = "cluster.slow_example_com.upstream_rq_time"
        histogram = wait_for_samples(admin, name, REQUESTS)
        assert histogram.count == REQUESTS
        assert histogram.supported_quantiles[:3] == (0.0, 25.0, 50.0)
        p50 = histogram.p50
        assert p50 is not None
        bucket = median_bucket(histogram.buckets)
        assert bucket.lower_bound <= p50 <= bucket.upper_bound, (p50, bucket)
        assert bucket is histogram.bucket_of(bucket.lower_bound)
        # the upstream slept SLEEP_MS; the client saw that plus envoy and the network
        # (envoy's p50 is interpolated inside the bucket, so it is compared bucket-wise)
        assert SLEEP_MS <= bucket.lower_bound <= statistics.median(seen_ms)
        assert admin.histogram(name).percentile(99) >= SLEEP_MS  # the one-line assertion
        with pytest.raises(KeyError, match=r"no histogram 'cluster\.nope\.upstream_rq_time'"):
            admin.histogram("cluster.nope.upstream_rq_time")


def sample_name(counter: str) -> str:
    """The Prometheus sample of an untagged envoy counter, as prometheus_client names it
    (a counter's sample always ends in ``_total``)."""
    name = "envoy_" + re.sub(r"[^a-zA-Z0-9_]", "_", counter)
    return name if name.endswith("_total") else f"{name}_total"


def test_every_json_counter_has_the_same_value_in_prometheus(slow: Upstream) -> None:
    # no tag extraction: each stat is one Prometheus sample named after it, without labels
    untagged = {"stats_config": {"use_all_default_tags": False}}
    with Supervisor(edge_config(slow, **untagged), **OPTIONS) as proxy, \
            proxy.admin() as admin:
        with httpx.Client(base_url=proxy.url_of("http"), timeout=30) as client:
            for path in ("/", "/a", "/b"):
                client.get(path, headers={"host": "slow.example.com"})
        before = admin.stats(type="Counters")
        metrics = admin.prometheus()
        after = admin.stats(type="Counters")
        values = {s.name: s.value for s in metrics.samples() if not s.labels}
        stable = 0
        for name, value in before.counters.items():
            scraped = values[sample_name(name)]  # every counter is there
            if after.counters[name] == value:  # not moved by our own admin requests
                assert scraped == value, name
                stable += 1
            else:
                assert value <= scraped <= after.counters[name], name
        assert stable > 100 and len(before.counters) > stable
        assert values[sample_name("cluster.slow_example_com.upstream_rq_total")] == 3
        family = metrics["envoy_cluster_slow_example_com_upstream_rq"]
        assert family.type == "counter"


def test_prometheus_with_envoys_default_tags(slow: Upstream) -> None:
    with Supervisor(edge_config(slow), **OPTIONS) as proxy, proxy.admin() as admin:
        with httpx.Client(base_url=proxy.url_of("http"), timeout=30) as client:
            client.get("/", headers={"host": "slow.example.com"})
        metrics = admin.prometheus()
        cluster = {"envoy_cluster_name": "slow_example_com"}
        assert metrics.value("envoy_cluster_upstream_rq_total", **cluster) == 1
        assert metrics.value("envoy_cluster_upstream_rq_total", envoy_response_code="200",
                             **cluster) == 1
        assert metrics["envoy_cluster_upstream_rq_time"].type == "histogram"
        with pytest.raises(KeyError, match="label sets found"):
            metrics.value("envoy_cluster_upstream_rq_total", envoy_cluster_name="nope")
