"""How fast does the admin client parse a big ``/stats?format=json`` dump?

The dump is synthesised in Envoy's exact JSON format: the per-cluster stats and histograms
of a real Envoy 1.40 dump (``tests/unit/fixtures/admin/stats_all.json``, recorded by
``scripts/record_admin_fixtures.py``) are repeated for as many clusters as it takes to pass
``--stats`` stats, and the server-wide stats are kept once. Envoy sends compact JSON, so
does this. Each round times ``parse_stats_json`` (json.loads + typed snapshot) and a plain
``json.loads`` of the same bytes; the table shows medians, the last line is JSON.

``--real-clusters N`` instead fetches the dump from a real envoy started with N static
clusters (on 127.0.0.1, killed at the end); about 110 stats per cluster.

    .venv/bin/python bench/stats.py [--stats 50000] [--rounds 9] [--real-clusters 500]
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from envoykit.admin import AdminClient, parse_stats_json

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "tests/unit/fixtures/admin/stats_all.json"
CLUSTER = "cluster.backend."


def split_template() -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """(per-cluster values, server-wide values, histogram block) of the recorded dump."""
    items = json.loads(TEMPLATE.read_text())["stats"]
    values = [item for item in items if "name" in item]
    block = next(item for item in items if "histograms" in item)["histograms"]
    per_cluster = [v for v in values if v["name"].startswith(CLUSTER)]
    others = [v for v in values if not v["name"].startswith(CLUSTER)]
    return per_cluster, others, block


def synthesise(target: int) -> tuple[bytes, int]:
    """A compact ``/stats?format=json`` body with at least ``target`` stats, and its count."""
    per_cluster, others, block = split_template()
    cluster_hists = [h for h in block["computed_quantiles"] if h["name"].startswith(CLUSTER)]
    other_hists = [h for h in block["computed_quantiles"] if not h["name"].startswith(CLUSTER)]
    fixed = len(others) + len(other_hists)
    per = len(per_cluster) + len(cluster_hists)
    clusters = max(1, -(-(target - fixed) // per))
    values, hists = list(others), list(other_hists)
    for i in range(clusters):
        prefix = f"cluster.service_{i:05d}."
        values += [{**v, "name": prefix + v["name"][len(CLUSTER) :]} for v in per_cluster]
        for h in cluster_hists:
            hist = copy.deepcopy(h)
            hist["name"] = prefix + h["name"][len(CLUSTER) :]
            hists.append(hist)
    values.sort(key=lambda v: v["name"])
    hists.sort(key=lambda h: h["name"])
    histograms = {"supported_quantiles": block["supported_quantiles"], "computed_quantiles": hists}
    body = {"stats": [*values, {"histograms": histograms}]}
    return json.dumps(body, separators=(",", ":")).encode(), len(values) + len(hists)


def from_real_envoy(clusters: int) -> tuple[bytes, int]:
    """``/stats?format=json`` of a real envoy with ``clusters`` static clusters."""
    sys.path.insert(0, str(ROOT / "tests" / "integration"))
    from _admin_helpers import running_envoy, sock, static_cluster

    bootstrap = {
        "admin": {"address": sock("127.0.0.1", 0)},
        "static_resources": {
            "clusters": [static_cluster(f"service_{i:05d}", 9) for i in range(clusters)]
        },
    }
    with (
        tempfile.TemporaryDirectory(prefix="envoykit-bench-") as tmp,
        running_envoy(Path(tmp), bootstrap, timeout=120) as envoy,
        AdminClient(envoy.admin_address, timeout=60) as admin,
    ):
        reply = admin.request("GET", "/stats", {"format": "json"})
    payload = reply.body
    return payload, len(parse_stats_json(payload))


def one_run(func: Callable[[], object]) -> float:
    """The wall time of one call of ``func`` (GC off while timing)."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        func()
        return time.perf_counter() - start
    finally:
        gc.enable()


def medians(funcs: list[Callable[[], object]], rounds: int) -> list[float]:
    """Median time of each function; rounds interleave them so load drift hits both alike."""
    times: list[list[float]] = [[] for _ in funcs]
    for _ in range(rounds):
        for func, bucket in zip(funcs, times, strict=True):
            bucket.append(one_run(func))
    return [statistics.median(bucket) for bucket in times]


def main() -> int:
    """Run the benchmark and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description="admin stats parse benchmark")
    parser.add_argument("--stats", type=int, default=50_000, help="at least this many stats")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--real-clusters", type=int, default=0, help="dump a real envoy")
    args = parser.parse_args()
    if args.real_clusters:
        payload, count = from_real_envoy(args.real_clusters)
    else:
        payload, count = synthesise(args.stats)
    snapshot = parse_stats_json(payload)
    assert len(snapshot) == count, (len(snapshot), count)
    loads, parse = medians(
        [lambda: json.loads(payload), lambda: parse_stats_json(payload)], args.rounds
    )
    source = f"a real envoy, {args.real_clusters} clusters" if args.real_clusters else "synthesised"
    print(f"stats dump ({source}): {count} stats ({len(snapshot.histograms)} histograms)")
    print(f"{len(payload):,} bytes of envoy JSON, median of {args.rounds} rounds")
    print(f"{'what':<28}{'seconds':>10}{'x json.loads':>14}")
    print(f"{'json.loads':<28}{loads:>10.4f}{1.0:>14.2f}")
    print(f"{'parse_stats_json':<28}{parse:>10.4f}{parse / loads:>14.2f}")
    print(json.dumps({"stats": count, "parse_s": round(parse, 6), "json_loads_s": round(loads, 6)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
