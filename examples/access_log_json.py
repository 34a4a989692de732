"""Access logs as JSON lines in a file, read back and parsed.

    python examples/access_log_json.py

The seed's demo logs every request to stdout in Envoy's default text format. With
``access_log(path, json=True)`` each request becomes one JSON object per line, with the fields
of :data:`envoykit.config.DEFAULT_JSON_LOG_FORMAT` (method, path, status, response flags,
duration, upstream host and cluster, client address, request id, user agent...). A custom
format is ``AccessLog.file(path, SubstitutionFormatString.json_fields({...}))``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from _common import save_config, show, title, workdir

from envoykit import EdgeProxy, validate
from envoykit.process import Supervisor
from envoykit.testing import free_port
from envoykit.testing.upstream import Upstream


def read_log(path: Path, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Envoy writes log files from a buffer, flushed periodically: wait for ``count`` lines."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            return [json.loads(line) for line in lines]
        time.sleep(0.1)
    raise AssertionError(f"{path} has fewer than {count} entries")


def main() -> int:
    with workdir("access_log_json") as work, Upstream("server-a") as server_a:
        access_log = work / "access.log"
        nobody = f"127.0.0.1:{free_port()}"  # a server that is down
        edge = (
            EdgeProxy("company")
            .site("a.example.com", server_a.address)
            .site("down.example.com", nobody)
            .http(0)
            .access_log(str(access_log), json=True)
            .admin(0)
        )
        bootstrap = validate(edge)
        save_config(work, "access_log", bootstrap)

        # Envoy flushes log files every 10 s by default; flush every 100 ms for this demo.
        flush_often = ["--file-flush-interval-msec", "100"]
        with (
            Supervisor(bootstrap, log_level="warning", extra_args=flush_often) as envoy,
            httpx.Client() as client,
        ):
            url = envoy.url_of("http")
            client.get(f"{url}/hello?x=1", headers={"host": "a.example.com"})
            client.post(f"{url}/form", headers={"host": "a.example.com",
                                                "user-agent": "envoykit-example"},
                        content=b"name=value")
            client.get(f"{url}/", headers={"host": "nobody.example.com"})  # no such site: 404
            client.get(f"{url}/", headers={"host": "down.example.com"})  # server down: 503
            entries = read_log(access_log, 4)

        title(f"{access_log.name}: {len(entries)} JSON lines")
        print("   first entry:", json.dumps(entries[0], indent=2).replace("\n", "\n   "))
        title("method path → status (flags) cluster")
        for entry in entries:
            show(f"{entry['method']} {entry['authority']}{entry['path']}",
                 f"{entry['status']} ({entry['flags']}) {entry['upstream_cluster']} "
                 f"{entry['duration_ms']} ms")
        assert [e["status"] for e in entries] == [200, 200, 404, 503]
        assert entries[1]["user_agent"] == "envoykit-example"
        assert entries[3]["flags"] == "UF"  # upstream connection failure
    return 0


if __name__ == "__main__":
    sys.exit(main())
