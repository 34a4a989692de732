"""Bad inputs pushed into a running proxy through each live path a user has:

* ``Supervisor.hot_restart(config)`` (a file case as its path, a dict case as the dict);
* ``DynamicProxy.apply(config)`` (a file case as ``load_bootstrap(path)``);
* ``envoykit run CONFIG`` then SIGHUP after CONFIG was overwritten with the bad content.

Every corpus case (``tests/bad_inputs``) must be refused with an envoykit error, and the
running proxy must keep its pid, its config dump and its traffic (each site still reaches
its own upstream). A builder case fails in the user's own call chain, before anything
reaches the proxy; it is still pushed through so that a builder that stops refusing it
makes the test go red.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from envoykit import EdgeProxy
from envoykit.errors import EnvoykitError, EnvoyValidationError
from envoykit.load import load_bootstrap
from envoykit.process import Supervisor
from envoykit.render import to_yaml
from envoykit.testing.http import resolving_client
from envoykit.testing.upstream import Upstream
from envoykit.validation import validate
from envoykit.xds import DynamicProxy
from tests.bad_inputs.cases import CASES, Case, Env, materialise
from tests.integration._edge_envoy import HOSTS

pytestmark = pytest.mark.integration

APPLICABLE = [pytest.param(c, id=c.id) for c in CASES if not c.bug]  # bugs: unit xfails
DEADLINE = 90.0  # generous: the machine is shared and loaded


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


def user_config(case: Case, env: Env, *, file_as_path: bool) -> Any:
    """The config as a user holds it: a file case as its path (or loaded), a dict case
    as the dict, a builder case as what its call chain returns (it usually raises)."""
    if case.kind == "file":
        path = materialise(case, env)
        return path if file_as_path else load_bootstrap(path)
    if case.kind == "dict":
        assert case.mutate is not None
        data = env.edge().build().to_dict()
        case.mutate(data, env)
        return data
    assert case.build is not None
    return case.build(env)


@dataclass
class Watched:
    """A running proxy seen from outside: its envoy pid, config dump and traffic."""

    env: Env
    pid: Callable[[], int]
    admin_address: Callable[[], str]
    https_port: int

    def config_digest(self) -> str:
        """The whole config dump, canonical JSON (envoy's map order varies)."""
        reply = httpx.get(f"http://{self.admin_address()}/config_dump", timeout=10.0)
        reply.raise_for_status()
        return hashlib.sha256(json.dumps(reply.json(), sort_keys=True).encode()).hexdigest()

    def snapshot(self) -> tuple[int, str]:
        return self.pid(), self.config_digest()

    def assert_unchanged(self, before: tuple[int, str]) -> None:
        assert self.snapshot() == before, "the bad config reached the running proxy"
        with resolving_client(dict.fromkeys(HOSTS, "127.0.0.1"), verify=self.env.ca_file,
                              timeout=10.0) as client:
            for host, name in zip(HOSTS, ("A", "B"), strict=True):
                got = client.get(f"https://{host}:{self.https_port}/still-there")
                assert (got.status_code, got.headers.get("x-upstream")) == (200, name)


def refused(case: Case, push: Callable[[Any], object], config: Callable[[], Any]) -> None:
    """``push(config())`` raises an envoykit error; envoy's own message for envoy cases."""
    with pytest.raises(EnvoykitError) as info:
        push(config())
    if case.stage == "envoy":
        assert isinstance(info.value, EnvoyValidationError), str(info.value)
        assert case.envoy_says in info.value.output, info.value.output[-2000:]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    return Env.make(tmp_path_factory.mktemp("bad-inputs-live") / "env")


@pytest.fixture(scope="module")
def upstreams() -> Iterator[tuple[Upstream, Upstream]]:
    with Upstream("A", "127.0.0.1", 0) as a, Upstream("B", "127.0.0.1", 0) as b:
        yield a, b


@pytest.fixture(scope="module")
def supervised(env: Env, upstreams: tuple[Upstream, Upstream],
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Supervisor, Watched]]:
    run_dir = tmp_path_factory.mktemp("bad-inputs-supervisor") / "run"
    with Supervisor(validate(_edge(env, *upstreams)), run_dir=run_dir,
                    log_level="warning") as proxy:
        yield proxy, Watched(env, lambda: proxy.pid or 0, lambda: proxy.admin_address,
                             proxy.address_of("https")[1])


@pytest.fixture(scope="module")
def dynamic(env: Env, upstreams: tuple[Upstream, Upstream]
            ) -> Iterator[tuple[DynamicProxy, Watched]]:
    with DynamicProxy(_edge(env, *upstreams).build(), log_level="warning") as proxy:
        supervisor = proxy.supervisor
        yield proxy, Watched(env, lambda: supervisor.pid or 0,
                             lambda: supervisor.admin_address, supervisor.address_of("https")[1])


@pytest.mark.parametrize("case", APPLICABLE)
def test_hot_restart_refuses_it_and_the_old_epoch_serves_on(
        case: Case, env: Env, supervised: tuple[Supervisor, Watched]) -> None:
    proxy, watched = supervised
    before, epoch = watched.snapshot(), proxy.epoch
    refused(case, proxy.hot_restart, lambda: user_config(case, env, file_as_path=True))
    assert proxy.epoch == epoch
    watched.assert_unchanged(before)


@pytest.mark.parametrize("case", APPLICABLE)
def test_dynamic_apply_refuses_it_and_nothing_changes(
        case: Case, env: Env, dynamic: tuple[DynamicProxy, Watched]) -> None:
    proxy, watched = dynamic
    before = watched.snapshot()
    refused(case, proxy.apply, lambda: user_config(case, env, file_as_path=False))
    watched.assert_unchanged(before)


# --- envoykit run CONFIG + SIGHUP ---------------------------------------------------------

@dataclass
class CliRun:
    """``envoykit run CONFIG --admin-address-path F`` in a subprocess; stderr is read by a
    thread so that a test can wait for the n-th "reload failed"."""

    process: subprocess.Popen[str]
    config: Path
    admin_file: Path
    lines: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()

    def count(self, text: str) -> int:
        return sum(text in line for line in self.lines)

    def wait_for(self, text: str, count: int) -> None:
        deadline = time.monotonic() + DEADLINE
        with self.changed:
            while self.count(text) < count:
                left = deadline - time.monotonic()
                assert left > 0 and self.process.poll() is None, "".join(self.lines[-40:])
                self.changed.wait(min(left, 1.0))

    def envoy_pid(self) -> int:
        """The pid of the serving envoy, as ``envoykit run`` reports it ("envoy is live:
        epoch 0, pid N", "hot restart done: epoch N is live (pid P)"); other envoy
        children (a prewarmed next epoch) are not it."""
        with self.changed:
            said = [line for line in self.lines
                    if "envoy is live" in line or "hot restart done" in line]
        found = re.search(r"pid (\d+)", said[-1]) if said else None
        assert found, "".join(self.lines[-40:])
        return int(found[1])

    def admin_address(self) -> str:
        return self.admin_file.read_text().strip()


@pytest.fixture(scope="module")
def cli_run(env: Env, upstreams: tuple[Upstream, Upstream],
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CliRun, Watched]]:
    work = tmp_path_factory.mktemp("bad-inputs-run")
    config = work / "envoy.yaml"
    config.write_text(to_yaml(_edge(env, *upstreams).build()))
    admin_file = work / "admin.txt"
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("envoykit")), "run", str(config),
         "--admin-address-path", str(admin_file), "--log-level", "warning"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, start_new_session=True)
    run = CliRun(process, config, admin_file)
    threading.Thread(target=run.read, daemon=True).start()
    try:
        run.wait_for("envoy is live", 1)
        with httpx.Client(timeout=10.0) as admin:
            listeners = admin.get(f"http://{run.admin_address()}/listeners",
                                  params={"format": "json"}).json()
        https = next(x for x in listeners["listener_statuses"] if x["name"] == "https")
        port = https["local_address"]["socket_address"]["port_value"]
        yield run, Watched(env, run.envoy_pid, run.admin_address, port)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def write_case(case: Case, env: Env, config: Path) -> None:
    """CONFIG gets the case's content: a file case's bytes, a dict case as YAML, and a
    builder case... cannot be written (its call chain raises first): then CONFIG is left."""
    if case.kind == "file":
        source = materialise(case, env)
        if source.exists():
            config.write_bytes(source.read_bytes())
        else:
            config.unlink(missing_ok=True)  # CONFIG is gone when the reload comes
        return
    data = user_config(case, env, file_as_path=True)
    config.write_text(yaml.safe_dump(data, sort_keys=False))


FILE_AND_DICT = [p for p in APPLICABLE if p.values[0].kind != "builder"  # type: ignore[union-attr]
                 and not p.values[0].file.endswith(".json")]  # type: ignore[union-attr]
# a .json case needs a CONFIG named .json (YAML reads `{"a": 1,}` happily)


@pytest.mark.parametrize("case", FILE_AND_DICT)
def test_sighup_with_a_bad_config_file_keeps_envoy_serving(
        case: Case, env: Env, cli_run: tuple[CliRun, Watched]) -> None:
    run, watched = cli_run
    before, failures = watched.snapshot(), run.count("reload failed")
    write_case(case, env, run.config)
    run.process.send_signal(signal.SIGHUP)
    run.wait_for("reload failed", failures + 1)
    assert run.count("keeps serving") == failures + 1
    watched.assert_unchanged(before)


def test_sighup_with_a_good_config_does_hot_restart(
        env: Env, upstreams: tuple[Upstream, Upstream], cli_run: tuple[CliRun, Watched]) -> None:
    """The path above is live: the same SIGHUP with a good CONFIG changes the epoch."""
    run, watched = cli_run
    before = watched.snapshot()
    done = run.count("hot restart done")
    run.config.write_text(to_yaml(_edge(env, *upstreams).build()))
    run.process.send_signal(signal.SIGHUP)
    run.wait_for("hot restart done", done + 1)
    assert watched.pid() != before[0]
