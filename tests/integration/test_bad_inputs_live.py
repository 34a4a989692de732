"""Bad inputs against a running proxy: validate-before-apply means a bad config changes
nothing. Every corpus case (``tests/bad_inputs``) is refused — by envoykit's own checks or,
for the ``stage="envoy"`` cases, by the real ``envoy --mode validate`` with envoy's message —
before any process is touched; the running edge keeps its PID, its config and its traffic.

When the supervisor (``envoykit.process.Supervisor.hot_restart``) is importable, the
``stage="envoy"`` cases are also pushed through a real hot restart: it raises, the epoch
does not change, and the old epoch keeps serving.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from envoykit import EdgeProxy
from envoykit.errors import EnvoykitError, EnvoyValidationError
from envoykit.testing.http import resolving_client
from envoykit.testing.upstream import Upstream
from envoykit.validation import validate
from tests.bad_inputs.cases import CASES, Case, Env, apply, produce
from tests.integration._edge_envoy import HOSTS, RunningEnvoy, running_envoy

pytestmark = pytest.mark.integration

APPLICABLE = [c for c in CASES if not c.bug]  # bugs are listed in the unit test as xfails
ENVOY_STAGE = [c for c in CASES if c.stage == "envoy" and not c.bug]


def _edge(env: Env, a: Upstream, b: Upstream) -> EdgeProxy:
    return (
        EdgeProxy("company-edge")
        .site("a.example.com", a.address, cert=(env.cert_a, env.key_a))
        .site("b.example.com", b.address, cert=(env.cert_b, env.key_b))
        .https(0)
        .redirect_http(0)
        .rate_limit(10_000)
        .admin(0)
    )


class Live:
    def __init__(self, env: Env, envoy: RunningEnvoy, a: Upstream, b: Upstream) -> None:
        self.env, self.envoy, self.a, self.b = env, envoy, a, b
        self.pid = envoy.process.pid
        self.client = resolving_client(dict.fromkeys(HOSTS, "127.0.0.1"), verify=env.ca_file,
                                       timeout=5.0)
        self.admin = httpx.Client(base_url=f"http://{envoy.admin_address}", timeout=5.0)
        self.config_hash = self.config_digest()

    def config_digest(self) -> str:
        """The listeners, routes and clusters envoy runs (canonical JSON: envoy's map order
        varies between two dumps)."""
        digest = hashlib.sha256()
        for resource in ("static_listeners", "static_route_configs", "static_clusters"):
            reply = self.admin.get("/config_dump", params={"resource": resource})
            reply.raise_for_status()
            digest.update(json.dumps(reply.json(), sort_keys=True).encode())
        return digest.hexdigest()

    def assert_unchanged(self) -> None:
        assert self.envoy.process.poll() is None, self.envoy.log_tail()
        assert self.envoy.process.pid == self.pid
        assert self.config_digest() == self.config_hash
        port = self.envoy.ports["https"]
        for host, name in zip(HOSTS, ("A", "B"), strict=True):
            got = self.client.get(f"https://{host}:{port}/still-there")
            assert got.status_code == 200
            assert got.headers["x-upstream"] == name


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("bad-inputs-live")
    env = Env.make(tmp / "env")
    with Upstream("A", "127.0.0.1", 0) as a, Upstream("B", "127.0.0.1", 0) as b:
        bootstrap = validate(_edge(env, a, b))
        with running_envoy(tmp / "envoy", bootstrap) as envoy:
            state = Live(env, envoy, a, b)
            try:
                yield state
            finally:
                state.client.close()
                state.admin.close()


def guarded_apply(case: Case, live: Live) -> None:
    """What a careful deployment does: validate the new config fully (envoykit's checks,
    then envoy's own) and only then hand it to the process. Raises on a bad config."""
    new = apply(case, live.env, envoy=True)
    pytest.fail(f"{case.id}: the bad config passed validation and would be applied: "
                f"{new.to_dict()!r:.300}")


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in APPLICABLE])
def test_bad_input_is_refused_and_the_running_edge_is_unchanged(case: Case, live: Live) -> None:
    with pytest.raises(EnvoykitError) as info:
        guarded_apply(case, live)
    if case.stage == "envoy":
        assert isinstance(info.value, EnvoyValidationError), str(info.value)
        assert case.envoy_says in info.value.output, info.value.output[-2000:]
    else:
        assert isinstance(info.value, case.error)
    live.assert_unchanged()


def _supervisor() -> type:
    process = pytest.importorskip("envoykit.process", reason="the supervisor has not landed")
    supervisor = getattr(process, "Supervisor", None)
    if supervisor is None or not hasattr(supervisor, "hot_restart"):
        pytest.skip("envoykit.process.Supervisor.hot_restart is not there yet")
    return supervisor  # type: ignore[no-any-return]


def test_hot_restart_with_a_bad_config_keeps_the_old_epoch_serving(tmp_path: Path) -> None:
    supervisor = _supervisor()
    env = Env.make(tmp_path / "env")
    with Upstream("A", "127.0.0.1", 0) as a, Upstream("B", "127.0.0.1", 0) as b, \
            supervisor(validate(_edge(env, a, b)), run_dir=tmp_path / "run",
                       log_level="warning") as proxy:
        epoch, pid = proxy.epoch, proxy.pid
        port = proxy.address_of("https")[1]
        for case in ENVOY_STAGE:
            bad = validate(produce(case, env), envoy=False)  # passes envoykit's own checks
            with pytest.raises(EnvoyValidationError) as info:
                proxy.hot_restart(bad)
            assert case.envoy_says in info.value.output, (case.id, info.value.output[-2000:])
            assert (proxy.epoch, proxy.pid) == (epoch, pid), case.id
        with resolving_client(dict.fromkeys(HOSTS, "127.0.0.1"), verify=env.ca_file,
                              timeout=5.0) as client:
            got = client.get(f"https://a.example.com:{port}/")
            assert (got.status_code, got.headers["x-upstream"]) == (200, "A")
