"""Build+render time of the builder for 10 / 1,000 / 10,000 sites vs `envoy --mode validate`.

Target (issue 2): Python build+render of 10,000 sites <= 0.2x envoy's validate of the same
config, and linear in the number of sites. Medians of rounds; the last line is JSON.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from envoykit import EdgeProxy, to_json
from envoykit.validation import envoy_validate_file

SIZES = (10, 1_000, 10_000)


def build_edge(sites: int) -> EdgeProxy:
    edge = EdgeProxy("bench").http(8080, address="127.0.0.1").rate_limit(1000)
    for i in range(sites):
        edge.site(f"s{i}.example.com", f"127.0.{(i >> 8) & 255}.{i & 255 or 1}:8080")
    return edge


def build_render(sites: int) -> tuple[float, str]:
    start = time.perf_counter()
    text = to_json(build_edge(sites).build(), indent=None)
    return time.perf_counter() - start, text


def median_of(rounds: int, sites: int) -> tuple[float, str]:
    times, text = [], ""
    for _ in range(rounds):
        elapsed, text = build_render(sites)
        times.append(elapsed)
    return statistics.median(times), text


def validate_time(text: str, rounds: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "envoy.json"
        path.write_text(text)
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            envoy_validate_file(path, timeout=300)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    rows = []
    for sites in SIZES:
        rounds = 5 if sites < 10_000 else 3
        py, text = median_of(rounds, sites)
        envoy = validate_time(text, 3 if sites < 10_000 else 1)
        rows.append((sites, py, envoy, len(text)))
    print(f"{'sites':>7} {'build+render s':>15} {'per site us':>12} {'envoy validate s':>17} "
          f"{'ratio':>7} {'json MiB':>9}")
    for sites, py, envoy, size in rows:
        print(f"{sites:>7} {py:>15.4f} {py / sites * 1e6:>12.1f} {envoy:>17.3f} "
              f"{py / envoy:>7.3f} {size / 2**20:>9.2f}")
    sites, py, envoy, _ = rows[-1]
    print(json.dumps({"sites": sites, "build_render_s": round(py, 4),
                      "envoy_validate_s": round(envoy, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
