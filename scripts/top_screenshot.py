"""Make the screenshot of ``envoykit top`` in docs/observe.md (docs/img/top.svg and .png).

    python scripts/top_screenshot.py

Starts an edge with two sites on loopback, hammers ``a.example.com``, kills the upstream
of ``b.example.com``, samples envoy for a few seconds (so the sparklines have points) and
draws the last frame with the same code as ``envoykit top`` (rich's SVG export). The PNG
needs ``rsvg-convert`` (Debian: ``apt-get install librsvg2-bin``); only this script does.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from envoykit import EdgeProxy, to_dict
from envoykit._cli import _top_view as view
from envoykit._cli import top
from envoykit.process import Supervisor
from envoykit.testing import Upstream

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"
HEALTH_CHECK = {"timeout": "1s", "interval": "0.2s", "no_traffic_interval": "0.2s",
                "unhealthy_threshold": 1, "healthy_threshold": 1, "tcp_health_check": {}}


_SEGMENT = re.compile(r'x="([\d.]+)"( y="[\d.]+" textLength="([\d.]+)"[^>]*>)((?:&#160;)+)([^<]*)<')
_SPACE = "&#160;"


def _no_leading_space(match: re.Match[str]) -> str:
    """rsvg-convert drops the leading spaces of a text segment (right-aligned numbers
    then shift left): move the segment right instead."""
    x, middle, length, spaces, rest = match.groups()
    cells = spaces.count(_SPACE) + len(re.sub(r"&#?\w+;", ".", rest))
    shift = float(length) / cells * spaces.count(_SPACE)
    return f'x="{float(x) + shift:.1f}"{middle}{rest}<'


def main() -> int:
    with Upstream("a") as a, Upstream("b") as b, Upstream("c") as c:
        a.respond_with(200, delay=0.004)
        c.respond_with(404, delay=0.02)
        edge = (EdgeProxy().site("a.example.com", a.address).site("b.example.com", b.address)
                .site("c.example.com", c.address).http(0, address="127.0.0.1").admin(0))
        config = to_dict(edge.build())
        config["stats_flush_interval"] = "1s"
        for cluster in config["static_resources"]["clusters"]:
            cluster["health_checks"] = [HEALTH_CHECK]
        with Supervisor(config, concurrency=1, log_level="warning") as proxy:
            stop = threading.Event()
            url = proxy.url_of("http")

            def load(host: str, count: int) -> None:
                with httpx.Client(base_url=url) as client:
                    for _ in range(count):
                        client.get("/", headers={"host": host})

            def hammer() -> None:
                while not stop.is_set():
                    load("a.example.com", 25)
                    load("b.example.com", 1)
                    load("c.example.com", 2)

            load("b.example.com", 40)
            b.close()
            thread = threading.Thread(target=hammer, daemon=True)
            thread.start()
            with proxy.admin() as admin:
                sampler = top.Sampler(admin)
                frame = sampler.sample()
                for _ in range(30):
                    time.sleep(0.5)
                    frame = sampler.sample()
            stop.set()
            thread.join()
    frame = top.select(frame, "rps", "")
    frame["admin"] = "127.0.0.1:9901"  # the screenshot shows the usual address
    OUT.mkdir(exist_ok=True)
    svg = OUT / "top.svg"
    image = view.svg(frame, width=118, title="envoykit top --admin 127.0.0.1:9901")
    svg.write_text(_SEGMENT.sub(_no_leading_space, image))
    converter = shutil.which("rsvg-convert")
    if converter is None:
        print(f"wrote {svg}; rsvg-convert missing (apt-get install librsvg2-bin) for the PNG")
        return 1
    subprocess.run([converter, "--zoom", "1.5", "-o", str(OUT / "top.png"), str(svg)],
                   check=True)
    print(f"wrote {svg} and {OUT / 'top.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
