"""Paired measurement for ``bench/dataplane.py --paired``: two proxies under load at once.

Run back to back, two proxies meet different moments of a shared machine (another
process's burst, a frequency change), and on this 2-core machine that noise (±10 % between
rounds) is larger than the difference being measured. Here both proxies of a pair are
loaded *at the same time*, each by its own client with half the connections, for the same
seconds: whatever the machine does falls on both alike, and the proxy that spends less CPU
per request serves more requests in its share of the cores. The ratio of a round is
``rps(a) / rps(b)``; each proxy's CPU time per request is taken over the same window.
"""

from __future__ import annotations

import statistics
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Load = Callable[[str, str, int, float], Any]  # (proxy, scheme, connections, seconds) -> Result


@dataclass
class Pair:
    a: str
    b: str
    scheme: str
    ratios: list[float] = field(default_factory=list)
    cpu_a: list[float] = field(default_factory=list)
    cpu_b: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    @property
    def cpu_diff(self) -> float:
        """Median CPU µs per request of ``a`` minus that of ``b``."""
        return statistics.median(self.cpu_a) - statistics.median(self.cpu_b)


def measure(pair: Pair, load: Load, cpu: Callable[[str], float], connections: int,
            duration: float) -> None:
    """One round: both proxies loaded at once for ``duration`` seconds."""
    out: dict[str, Any] = {}
    errors: list[BaseException] = []

    def drive(proxy: str) -> None:
        try:
            out[proxy] = load(proxy, pair.scheme, connections // 2, duration)
        except BaseException as exc:  # re-raised below, in the calling thread
            errors.append(exc)

    before = {p: cpu(p) for p in (pair.a, pair.b)}
    first = (pair.a, pair.b) if len(pair.ratios) % 2 == 0 else (pair.b, pair.a)  # alternate
    threads = [threading.Thread(target=drive, args=(p,)) for p in first]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    used = {p: (cpu(p) - before[p]) * 1e6 / max(out[p].requests, 1) for p in (pair.a, pair.b)}
    pair.ratios.append(out[pair.a].rps / out[pair.b].rps)
    pair.cpu_a.append(used[pair.a])
    pair.cpu_b.append(used[pair.b])
    pair.errors += out[pair.a].errors + out[pair.b].errors
    print(f"  {pair.a} vs {pair.b} {pair.scheme:<5} {out[pair.a].rps:>8,.0f} / "
          f"{out[pair.b].rps:>8,.0f} rps = {pair.ratios[-1]:.3f}  cpu {used[pair.a]:.1f} / "
          f"{used[pair.b]:.1f} us/req", flush=True)


def table(pairs: list[Pair]) -> None:
    print()
    print("paired: both proxies loaded at once; ratio = median of per-round rps(a)/rps(b) "
          "[min-max]; cpu = medians of proxy CPU time per request")
    print(f"| {'a':<22} | {'b':<19} | {'scheme':<6} | {'ratio':>6} | {'range':>13} | "
          f"{'cpu a':>6} | {'cpu b':>6} | {'a - b':>6} |")
    print(f"|{'-' * 24}|{'-' * 21}|{'-' * 8}|{'-' * 8}|{'-' * 15}|{'-' * 8}|{'-' * 8}|"
          f"{'-' * 8}|")
    for p in pairs:
        print(f"| {p.a:<22} | {p.b:<19} | {p.scheme:<6} | {p.ratio:>5.3f}x | "
              f"{min(p.ratios):>5.3f}-{max(p.ratios):>5.3f}x | "
              f"{statistics.median(p.cpu_a):>6.1f} | {statistics.median(p.cpu_b):>6.1f} | "
              f"{p.cpu_diff:>+6.1f} |")


def figures(pairs: list[Pair]) -> dict[str, Any]:
    out: dict[str, Any] = {"method": "paired"}
    for p in pairs:
        key = f"{p.a}_vs_{p.b}_{p.scheme}".replace("-", "_")
        out[key] = round(p.ratio, 3)
        out[f"{key}_cpu_us_diff"] = round(p.cpu_diff, 1)
    return out
