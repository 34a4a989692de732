"""A local rate limit against floods (the seed's "local rate limit 걸기 (dos 공격 방지)").

    python examples/local_rate_limit.py

``rate_limit(requests, per)`` puts Envoy's ``local_ratelimit`` filter (a token bucket inside
this Envoy, no rate-limit service) in front of every site, enabled and enforced for 100 % of
requests (Envoy's own default is 0 %: silently off). On HTTPS each site has its own bucket;
a site can opt out (``rate_limit=False``) or get its own size (``rate_limit=RateLimit(...)``).
Over the limit Envoy answers 429 itself and counts it; the admin API shows the counter.
"""

from __future__ import annotations

import sys
from collections import Counter

from _common import save_config, show, title, workdir

from envoykit import EdgeProxy, validate
from envoykit.process import Supervisor
from envoykit.testing.http import resolving_client
from envoykit.testing.tls import TestCA
from envoykit.testing.upstream import Upstream

HOSTS = ("api.example.com", "static.example.com")


def main() -> int:
    with workdir("local_rate_limit") as work, Upstream("api") as api, Upstream("static") as web:
        ca = TestCA(work / "certs")
        edge = (
            EdgeProxy("company")
            # the edge default below applies: 3 requests per minute
            .site("api.example.com", api.address, cert=ca.issue("api.example.com").as_cert())
            # no limit for this one
            .site("static.example.com", web.address,
                  cert=ca.issue("static.example.com").as_cert(), rate_limit=False)
            .https(port=0)
            .rate_limit(requests=3, per="60s")
            .admin(port=0)
        )
        bootstrap = validate(edge)
        save_config(work, "rate_limit", bootstrap)

        with (
            Supervisor(bootstrap, log_level="warning") as envoy,
            resolving_client(dict.fromkeys(HOSTS, "127.0.0.1"), verify=ca.ca_file) as client,
        ):
            _, port = envoy.address_of("https")
            title("6 requests to each site; a bucket of 3 per 60s on api.example.com")
            statuses: dict[str, Counter[int]] = {}
            for host in HOSTS:
                replies = [client.get(f"https://{host}:{port}/") for _ in range(6)]
                statuses[host] = Counter(r.status_code for r in replies)
                show(host, " ".join(str(r.status_code) for r in replies))
            assert statuses["api.example.com"] == {200: 3, 429: 3}
            assert statuses["static.example.com"] == {200: 6}
            assert len(api.requests) == 3  # refused requests never reach the server

            title("a refused request")
            limited = client.get(f"https://api.example.com:{port}/")
            show("status / body", f"{limited.status_code} {limited.text.strip()}")
            for header in ("x-local-rate-limit", "x-ratelimit-limit", "x-ratelimit-remaining",
                           "x-ratelimit-reset"):
                show(header, limited.headers.get(header))
            assert limited.status_code == 429

            title("the counters from the admin API (/stats?filter=http_local_rate_limit)")
            with envoy.admin() as admin:
                stats = admin.stats(filter=r"http_local_rate_limit\.")
            for name in sorted(stats):
                show(name, stats.number(name))
            rate_limited = stats.number(
                "https_api_example_com.http_local_rate_limit.rate_limited")
            assert rate_limited == 4  # the 3 in the loop and the one shown above
    return 0


if __name__ == "__main__":
    sys.exit(main())
