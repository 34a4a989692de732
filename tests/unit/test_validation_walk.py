"""check() walks the config for files and TLS settings, skipping subtrees whose types cannot
hold them; the pruned walk finds exactly what a full walk finds."""

from __future__ import annotations

from pathlib import Path

import pytest

import envoykit.validation as validation
from envoykit import Backend, Cert, EdgeProxy, HttpRoute, Respond, UpstreamTLS
from envoykit.config import DataSource, TlsCertificate, TlsParameters
from envoykit.testing.tls import TestCA


@pytest.fixture(autouse=True)
def _judged_afresh() -> None:
    """The fields to walk are cached per model: each test here judges them itself."""
    validation._fields_to_walk.cache_clear()


def test_the_walk_skips_fields_that_cannot_hold_a_file_or_tls_setting() -> None:
    from envoykit.config import Cluster, Listener, Route

    kinds = (DataSource, TlsCertificate, TlsParameters)
    assert validation._fields_to_walk(Listener, kinds) == (
        "filter_chains", "default_filter_chain", "listener_filters", "access_log")
    assert "direct_response" not in validation._fields_to_walk(Route, (TlsCertificate,))
    assert "direct_response" in validation._fields_to_walk(Route, (DataSource,))
    cluster = validation._fields_to_walk(Cluster, kinds)
    assert "transport_socket" in cluster and "name" not in cluster
    assert validation._fields_to_walk(Route, kinds)[:3] == ("match", "route", "direct_response")


def test_the_pruned_walk_finds_what_a_full_walk_finds(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    ca = TestCA(tmp_path)
    edge = (EdgeProxy().https(8443).http(8080)
            .service("api", Backend("127.0.0.1", 1, weight=2),
                     tls=UpstreamTLS("api.internal", ca=ca.ca_file))
            .site("a.example.com", cert=ca.issue("a.example.com").as_cert(),
                  client_ca=ca.ca_file,
                  routes=[HttpRoute(path="/x", respond=Respond(200, "x")),
                          HttpRoute("/", to="api")])
            .site("b.example.com", "127.0.0.1:2", cert=Cert("c", "k", inline=True)))
    bootstrap = edge.build()
    kinds_list = [(DataSource,), (TlsCertificate, TlsParameters),
                  (DataSource, TlsCertificate, TlsParameters)]  # the last: check()'s one walk
    pruned = [[p for p, _ in validation._models(bootstrap, "", k)] for k in kinds_list]
    monkeypatch.setattr(validation, "_fields_to_walk",
                        lambda model, kinds: tuple(model.model_fields))
    full = [[p for p, _ in validation._models(bootstrap, "", k)] for k in kinds_list]
    assert pruned == full
    assert len(full[2]) == len(full[0]) + len(full[1])
    assert len(full[0]) >= 6 and len(full[1]) == 5  # 2 certs; TLS params: 2 sites, 1 upstream
    assert any(".direct_response.body" in p for p in full[0])
