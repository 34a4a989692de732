"""The admin interface and Envoy's log flags, from Python (the seed's admin and debugging
sections).

    python examples/admin_and_stats.py

What the walkthrough does with curl and command-line flags:

* ``curl localhost:9901/stats?filter='^http\\.ingress_http'`` and ``...&format=json``;
* ``curl localhost:9901/stats | cut -d. -f1 | sort | uniq`` (the stat families);
* ``curl localhost:9901/config_dump?resource=...``;
* ``envoy -l off --component-log-level upstream:debug,connection:trace --log-path FILE``,
  then changing log levels at runtime (``POST /logging?http=debug``).

Envoy runs under the supervisor; admin is on 127.0.0.1 (any free port), never 0.0.0.0.
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
from _common import http_manager, save_config, show, title, workdir

from envoykit import EdgeProxy, validate
from envoykit.process import Supervisor
from envoykit.testing.upstream import Upstream

# Envoy's log line: "[2026-01-01 10:00:00.000][1234][debug][upstream] [source/...] message"
LOG_LINE = re.compile(r"^\[[^\]]+\]\[\d+\]\[(?P<level>\w+)\]\[(?P<component>\w+)\]")


def components_logged(log_file: Path) -> Counter[str]:
    """How many lines each component wrote to the log file (``component:level``)."""
    found: Counter[str] = Counter()
    for line in log_file.read_text(errors="replace").splitlines():
        match = LOG_LINE.match(line)
        if match:
            found[f"{match['component']}:{match['level']}"] += 1
    return found


def main() -> int:
    with workdir("admin_and_stats") as work, Upstream("server-a") as server_a:
        bootstrap = validate(
            EdgeProxy("company").site("a.example.com", server_a.address).http(0).admin(0)
        )
        # The builder names the HTTP stats "http.http.*"; use the seed's "ingress_http".
        http_manager(bootstrap, "http").stat_prefix = "ingress_http"
        save_config(work, "admin", bootstrap)

        log_file = work / "envoy.log"
        with Supervisor(
            bootstrap,
            log_level="off",  # -l off
            component_log_level="upstream:debug,connection:trace",  # only these two log
            log_path=log_file,  # --log-path (default: stderr)
        ) as envoy, envoy.admin() as admin:
            url = envoy.url_of("http")
            with httpx.Client() as client:
                for path in ("/", "/a", "/b"):
                    client.get(url + path, headers={"host": "a.example.com"})
            show("admin address", envoy.admin_address)

            title("/stats?filter=^http\\.ingress_http  (text, first lines)")
            text = admin.stats_text(filter=r"^http\.ingress_http\.")
            for line in text.splitlines()[:5]:
                print("  ", line)

            title("/stats?filter=http.ingress_http.rq&format=json  (typed)")
            stats = admin.stats(filter=r"http\.ingress_http\.(downstream_)?rq_")
            for name in ("http.ingress_http.downstream_rq_total",
                         "http.ingress_http.downstream_rq_2xx",
                         "http.ingress_http.downstream_rq_active"):
                show(name, stats.number(name))
            assert stats.number("http.ingress_http.downstream_rq_total") == 3

            title("/stats | cut -d. -f1 | sort | uniq")
            families = sorted({line.split(".")[0] for line in admin.stats_text().splitlines()})
            print("  ", " ".join(families))
            assert {"cluster", "http", "listener", "server"} <= set(families)

            title("/config_dump?resource=static_listeners  (.active_state.listener.address)")
            dump = admin.config_dump(resource="static_listeners")
            bound = admin.listeners()  # /listeners?format=json: the real ports
            for name, listener in dump.static_listeners.items():
                show(name, f"{listener.config['address']} (bound: {bound[name]})")
            clusters = admin.config_dump(resource="static_clusters").static_clusters
            show("static_clusters", sorted(clusters))

            title("logging: -l off --component-log-level upstream:debug,connection:trace")
            levels = admin.logging()
            for component in ("upstream", "connection", "http", "main"):
                show(component, levels[component])
            before = components_logged(log_file)
            show("lines in the --log-path file", dict(before))
            assert not any(key.startswith("http:") for key in before)

            title("at runtime: POST /logging?http=debug, then one more request")
            admin.set_component_log_levels({"http": "debug"})
            with httpx.Client() as client:
                client.get(url + "/c", headers={"host": "a.example.com"})
            after = wait_for_lines(log_file, "http:debug")
            show("lines in the --log-path file", dict(after))
    return 0


def wait_for_lines(log_file: Path, key: str, timeout: float = 5.0) -> Counter[str]:
    """Envoy writes its log file asynchronously: wait for a ``component:level`` line."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = components_logged(log_file)
        if found[key]:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no {key} line in {log_file}")


if __name__ == "__main__":
    sys.exit(main())
