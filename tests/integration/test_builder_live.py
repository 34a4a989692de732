"""Builder features on the real envoy: per-site buckets over plain HTTP, extra HTTP filters
scoped to sites over HTTPS."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from envoykit import EdgeProxy, RateLimit, validate
from envoykit.config import RBAC, Permission, Policy, Principal, RBACRules
from envoykit.process import Supervisor
from envoykit.testing.http import resolving_client
from envoykit.testing.tls import TestCA
from envoykit.testing.upstream import Upstream

pytestmark = pytest.mark.integration


@pytest.fixture()
def upstream() -> Iterator[Upstream]:
    with Upstream("U") as up:
        yield up


def statuses(url: str, host: str, count: int) -> list[int]:
    with httpx.Client(timeout=5) as client:
        return [client.get(url, headers={"host": host}).status_code for _ in range(count)]


def test_plain_http_buckets_own_shared_and_exempt(upstream: Upstream) -> None:
    edge = (EdgeProxy()
            .site("a.example.com", upstream.address, rate_limit=RateLimit(2, per=60))
            .site("b.example.com", upstream.address, rate_limit=False)
            .site("c.example.com", upstream.address)
            .site("d.example.com", upstream.address)
            .http(0).rate_limit(3, per="60s").admin(port=0))
    with Supervisor(validate(edge), log_level="warning") as proxy:
        url = proxy.url_of("http") + "/"
        assert statuses(url, "a.example.com", 4) == [200, 200, 429, 429]  # its own bucket
        assert statuses(url, "b.example.com", 6) == [200] * 6               # exempt
        assert statuses(url, "c.example.com", 2) == [200, 200]              # the shared one:
        assert statuses(url, "d.example.com", 2) == [200, 429]              # 3 for c and d
        with proxy.admin() as admin:
            stats = admin.stats(filter="http_local_rate_limit")
        assert stats.number("http_a_example_com.http_local_rate_limit.rate_limited") == 2
        assert stats.number("http.http_local_rate_limit.rate_limited") == 1


def test_http_filter_scoped_to_one_site_over_https(upstream: Upstream,
                                                   tmp_path_factory: pytest.TempPathFactory
                                                   ) -> None:
    ca = TestCA(tmp_path_factory.mktemp("ca"))
    deny_admin = RBAC(rules=RBACRules(action="DENY", policies={"no-admin": Policy(
        permissions=[Permission.path_prefix("/admin")], principals=[Principal.anyone()])}))
    edge = (EdgeProxy()
            .site("a.example.com", upstream.address, cert=ca.issue("a.example.com").as_cert())
            .site("b.example.com", upstream.address, cert=ca.issue("b.example.com").as_cert())
            .https(0).http_filter(deny_admin, sites=["a.example.com"]).admin(port=0))
    with Supervisor(validate(edge), log_level="warning") as proxy:
        _, port = proxy.address_of("https")
        hosts = {"a.example.com": "127.0.0.1", "b.example.com": "127.0.0.1"}
        with resolving_client(hosts, verify=ca.ca_file, timeout=5) as client:
            assert client.get(f"https://a.example.com:{port}/admin/x").status_code == 403
            assert client.get(f"https://a.example.com:{port}/public").status_code == 200
            assert client.get(f"https://b.example.com:{port}/admin/x").status_code == 200
