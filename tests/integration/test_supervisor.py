"""The supervisor against the real envoy, with real HTTP upstreams on loopback.

Every test is bounded in time and safe under ``pytest -n 2``: listeners and admin use
port 0, base ids are dynamic, run directories are private.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import pytest

from envoykit.admin import AdminClient
from envoykit.errors import EnvoyValidationError, HotRestartError, ProcessExited, StartupError
from envoykit.process import AsyncSupervisor, Backoff, Supervisor, SupervisorEvent, SupervisorState
from envoykit.process._epoch import Epoch
from envoykit.process._epochs import shm_path
from envoykit.process._gate import WarmValidator
from envoykit.process._orphan import TOKEN_ENV
from envoykit.testing import wait_until
from tests.integration._supervisor_helpers import bootstrap, envoy_pids_with, get, upstream

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
ROOT = Path(__file__).resolve().parents[2]
OPTIONS: dict[str, Any] = {"concurrency": 1, "log_level": "warning", "drain_time_s": 1,
                           "parent_shutdown_time_s": 2}


PATIENCE = 60.0  # seconds: a deadline for events, never a speed claim (the host is loaded)


@pytest.fixture
def up() -> Iterator[int]:
    with upstream() as port:
        yield port


def _unbindable(up: int, tag: str) -> dict[str, Any]:
    """Passes ``envoy --mode validate`` but fails at run time (address not on this host)."""
    config = bootstrap(up, tag=tag)
    extra = copy.deepcopy(config["static_resources"]["listeners"][0])
    extra["name"] = "unbindable"
    extra["address"]["socket_address"] = {"address": "192.0.2.1", "port_value": 8080}
    config["static_resources"]["listeners"].append(extra)
    return config


def _assert_nothing_left(run_dir: Path, base_ids: set[int]) -> None:
    """No envoy of this run dir, no run dir, no shared memory (within a few seconds:
    after a SIGKILLed parent the watchdog does the cleanup)."""

    def leftovers() -> list[object]:
        shm = [shm_path(b) for b in base_ids if shm_path(b).exists()]
        return [*envoy_pids_with(str(run_dir)), *([run_dir] if run_dir.exists() else []), *shm]

    wait_until(leftovers, expected=[], what=f"nothing left of {run_dir}")


def test_start_ready_serve_stop(up: int) -> None:
    events: list[SupervisorEvent] = []
    with Supervisor(bootstrap(up), on_event=events.append, **OPTIONS) as proxy:
        assert proxy.state is SupervisorState.LIVE and proxy.epoch == 0
        status, tag, body = get(proxy.address_of("ingress"))
        assert (status, tag) == (200, "v1") and body.startswith(str(up))
        assert proxy.url_of("ingress").startswith("http://127.0.0.1:")
        with proxy.admin() as admin:
            assert admin.ready() and admin.server_info().restart_epoch == 0
        host, port = proxy.admin_socket_address  # the shape of address_of()
        assert proxy.admin_address == f"{host}:{port}" and host == "127.0.0.1"
        with socket.create_connection((host, port), timeout=PATIENCE):
            pass  # the admin listens there
        [info] = proxy.processes()
        assert info.current and info.alive and info.pid == proxy.pid
        assert info.rss_bytes and info.rss_bytes > 1_000_000
        run_dir, base_id = proxy.run_dir, proxy.base_id
        assert run_dir is not None and base_id is not None
        assert oct(run_dir.stat().st_mode & 0o777) == "0o700"
        assert shm_path(base_id).exists()
    assert proxy.state is SupervisorState.STOPPED
    assert [e.kind for e in events] == ["state", "started", "draining", "stopped"]
    assert any("[warning]" in line for line in proxy.output_tail(500)), \
        "envoy's output (its start-up warning) is still readable after stop"
    _assert_nothing_left(run_dir, {base_id})


def test_startup_failure_carries_envoys_message(up: int) -> None:
    config = bootstrap(up)
    config["static_resources"]["clusters"] = []  # the route names a missing cluster
    proxy = Supervisor(config, startup_timeout=3600, **OPTIONS)
    with pytest.raises(StartupError) as info:
        proxy.start()  # envoy's exit ends the wait (an hour's timeout would trip pytest's)
    assert "not ready within" not in str(info.value)
    assert "unknown cluster 'upstream'" in str(info.value)
    assert info.value.returncode not in (None, 0)
    assert any("unknown cluster" in line for line in info.value.output_tail)
    assert proxy.state is SupervisorState.STOPPED and proxy.run_dir is None


def test_two_supervisors_on_port_zero_do_not_collide(up: int) -> None:
    """Also the cause of an old "hot restart sendmsg() failed (errno 111)" here: envoy sets
    PR_SET_PDEATHSIG(SIGTERM) on itself, tied to the *thread* that forked it. Forked from
    this pool's threads, both epochs 0 got SIGTERM when the pool closed; the hot restart's
    child then found no parent on the hot-restart socket (ECONNREFUSED, retried 10 x 1 s,
    then envoy aborts). The supervisor forks from its own long-lived thread since; this
    test pins it: the epochs outlive the threads that started them."""
    proxies = [Supervisor(bootstrap(up, tag=tag), **OPTIONS) for tag in ("a", "b")]
    with ThreadPoolExecutor(2) as pool:  # started at the same moment
        one, two = pool.map(Supervisor.start, proxies)
    pids = [one.pid, two.pid]  # the pool's threads have exited now
    try:
        with one.admin(timeout=PATIENCE) as admin_one, two.admin(timeout=PATIENCE) as admin_two:
            assert admin_one.ready() and admin_two.ready()  # answered after the threads exit
        assert [one.pid, two.pid] == pids and all(psutil.pid_exists(p) for p in pids if p)
        assert not any("ENVOY_SIGTERM" in line for p in (one, two) for line in p.output_tail(500))
        assert one.base_id != two.base_id
        assert one.address_of("ingress") != two.address_of("ingress")
        assert one.admin_address != two.admin_address
        one.hot_restart(bootstrap(up, tag="a2"))
        assert get(one.address_of("ingress"))[1] == "a2"
        assert get(two.address_of("ingress"))[1] == "b"
        assert two.epoch == 0 and one.epoch == 1
    finally:
        for proxy in proxies:
            proxy.stop(graceful=False)


def test_hot_restart_keeps_the_address_and_switches_config(up: int) -> None:
    with Supervisor(bootstrap(up), **OPTIONS) as proxy:
        address, admin = proxy.address_of("ingress"), proxy.admin_address
        assert proxy.hot_restart(bootstrap(up, tag="v2")) == 1
        assert proxy.address_of("ingress") == address
        assert get(address)[1] == "v2"
        assert proxy.admin_address != admin  # admin on port 0 moves with the epoch
        assert proxy.hot_restart(bootstrap(up, tag="v3")) == 2
        assert get(address)[1] == "v3"


def test_processes_lists_the_draining_epoch(up: int) -> None:
    """Right after a hot restart the old epoch drains (parent_shutdown_time_s is long
    here, so it is surely still there): processes() shows both, the new one current."""
    options = {**OPTIONS, "drain_time_s": 60, "parent_shutdown_time_s": 120}
    with Supervisor(bootstrap(up), **options) as proxy:
        old = proxy.pid
        proxy.hot_restart(bootstrap(up, tag="v2"))
        infos = proxy.processes()
        assert [(i.epoch, i.current, i.alive) for i in infos] == [(0, False, True),
                                                                   (1, True, True)]
        assert infos[0].pid == old and infos[1].pid == proxy.pid != old


def _envoy_refuses(up: int) -> dict[str, Any]:
    """A config envoykit's own checks let through (an extension it does not model is kept
    verbatim) and envoy's ``--mode validate`` refuses: the type does not exist."""
    broken = bootstrap(up, tag="bad")
    hcm = broken["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    hcm["typed_config"]["http_filters"].insert(0, {
        "name": "envoy.filters.http.buffer",
        "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.buffer"
                                  ".v3.Bufer", "max_request_bytes": 1024}})
    return broken


def test_invalid_config_leaves_the_old_one_serving(up: int) -> None:
    with Supervisor(bootstrap(up), **OPTIONS) as proxy:
        address, pid = proxy.address_of("ingress"), proxy.pid
        broken = _envoy_refuses(up)
        with pytest.raises(EnvoyValidationError):
            proxy.hot_restart(broken)
        assert proxy.state is SupervisorState.LIVE and proxy.pid == pid
        assert get(address)[1] == "v1"
        assert proxy.hot_restart(bootstrap(up, tag="v2")) == 1
        assert get(address)[1] == "v2"


def test_failed_child_old_config_serves_and_later_hot_restart_works(up: int) -> None:
    with Supervisor(bootstrap(up), **OPTIONS) as proxy:
        address = proxy.address_of("ingress")
        with pytest.raises(HotRestartError) as info:
            proxy.hot_restart(_unbindable(up, "bad"))
        assert "192.0.2.1:8080" in str(info.value)
        assert proxy.state is SupervisorState.LIVE
        assert get(address)[1] == "v1"  # old config, same address, admin works again
        with proxy.admin() as admin:
            assert admin.ready()
        kinds = [e.kind for e in proxy.events]
        assert "hot_restart_failed" in kinds and "recovered" in kinds
        assert proxy.hot_restart(bootstrap(up, tag="v2")) == 1
        assert get(address)[1] == "v2"


def test_kill_9_of_envoy_restarts_it_on_the_same_address(up: int) -> None:
    with Supervisor(bootstrap(up), health_interval=0.05, **OPTIONS) as proxy:
        address, pid = proxy.address_of("ingress"), proxy.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: proxy.pid != pid and proxy.state is SupervisorState.LIVE)
        assert get(address)[:2] == (200, "v1")
        assert "crash" in [e.kind for e in proxy.events]


def test_gives_up_after_quick_crashes(up: int) -> None:
    backoff = Backoff(initial=0.05, max_quick_failures=1)
    proxy = Supervisor(bootstrap(up), health_interval=0.05, backoff=backoff, **OPTIONS)
    with proxy:
        for _ in range(2):
            proxy.wait_for_state(SupervisorState.LIVE, SupervisorState.FAILED, timeout=PATIENCE)
            pid = proxy.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: proxy.pid != pid or proxy.state is SupervisorState.FAILED)  # noqa: B023
        proxy.wait_for_state(SupervisorState.FAILED, timeout=PATIENCE)
        assert isinstance(proxy.error, ProcessExited)
        assert "giving up" in str(proxy.error)
        assert [e.kind for e in proxy.events][-1] == "gave_up"
    assert proxy.state is SupervisorState.FAILED


def test_sigkill_of_the_python_parent_leaves_no_envoy(up: int, tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from envoykit.process import Supervisor\n"
        "from tests.integration._supervisor_helpers import bootstrap\n"
        f"proxy = Supervisor(bootstrap({up}), concurrency=1, log_level='warning').start()\n"
        f"proxy.hot_restart(bootstrap({up}, tag='v2'))\n"
        "print(proxy.run_dir, proxy.base_id, flush=True)\n"
        "import signal; signal.pause()  # until the test SIGKILLs it\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert parent.stdout is not None
        run_dir, base_id = parent.stdout.readline().split()
        validators = wait_until(lambda: _validators(Path(run_dir)),
                                what="the validator prewarmed after the restart")
        epochs = [p for p in envoy_pids_with(run_dir) if p not in validators]
        assert len(epochs) == 2 and len(validators) == 1  # both epochs and the validator
        assert TOKEN_ENV in psutil.Process(validators[0]).environ()  # the watchdog's mark
    finally:
        parent.kill()
        parent.wait()
    _assert_nothing_left(Path(run_dir), {int(base_id)})


def test_ctrl_c_during_startup_cleans_up(up: int, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Path] = []

    def interrupted(self: Epoch) -> bool:
        seen.append(self.paths.config.parent)
        raise KeyboardInterrupt

    monkeypatch.setattr(Epoch, "check_ready", interrupted)
    _assert_interrupted_start_leaves_nothing(up, seen)


def test_ctrl_c_right_after_ready_cleans_up(up: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C after epoch 0 is live but before start() returns (starting the monitor): the
    caller never gets the supervisor, so start() must leave nothing running itself."""
    seen: list[Path] = []

    def interrupted_monitor(self: Supervisor) -> None:
        assert self.run_dir is not None
        seen.append(self.run_dir)
        raise KeyboardInterrupt

    monkeypatch.setattr(Supervisor, "_start_monitor", interrupted_monitor)
    _assert_interrupted_start_leaves_nothing(up, seen)


def _assert_interrupted_start_leaves_nothing(up: int, seen: list[Path]) -> None:
    """start() raises the KeyboardInterrupt, is STOPPED, and the run dir it used is gone."""
    proxy = Supervisor(bootstrap(up), **OPTIONS)
    with pytest.raises(KeyboardInterrupt):
        proxy.start()
    assert proxy.state is SupervisorState.STOPPED
    _assert_nothing_left(seen[0], set())


def test_start_does_not_wait_for_the_prewarmed_validator(
    up: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first validator is started by the monitor, off start()'s path (an Envoy process
    start inside start() cost it ~15 %, bench/startup.py): start() returns while the
    validator's start is held back, and the validator comes once released."""
    release, waited = threading.Event(), []
    real_start = WarmValidator.start

    def held_back(*args: Any, **kwargs: Any) -> WarmValidator:
        waited.append(release.wait(PATIENCE))  # False: nobody released it (start() waited)
        return real_start(*args, **kwargs)

    monkeypatch.setattr(WarmValidator, "start", held_back)
    run_dir = tmp_path / "run"
    with Supervisor(bootstrap(up), run_dir=run_dir, **OPTIONS) as proxy:
        assert proxy.state is SupervisorState.LIVE
        release.set()
        assert len(_one_validator(run_dir)) == 1
    assert waited and all(waited), waited


def test_a_fixed_port_in_use_is_refused_not_silently_shared(up: int) -> None:
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(StartupError, match=r"SO_REUSEPORT"):
            Supervisor(bootstrap(up, port=port), **OPTIONS).start()


def gauge(admin: AdminClient, name: str) -> int:
    return admin.stats(filter=f"^{re.escape(name)}$").number(name, 0)


def test_graceful_stop_lets_a_slow_request_finish(up: int) -> None:
    proxy = Supervisor(bootstrap(up), **OPTIONS).start()
    address = proxy.address_of("ingress")
    result: list[int] = []
    connection = socket.create_connection(address, timeout=PATIENCE)
    stopper = threading.Thread(target=proxy.stop)
    try:
        with proxy.admin(timeout=PATIENCE) as admin:
            connection.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n")  # headers not finished
            wait_until(lambda: gauge(admin, "http.ingress.downstream_cx_active"), expected=1)
            stopper.start()
            wait_until(lambda: not admin.ready())  # the drain has begun (health check failed)
        connection.sendall(b"\r\n")
        result.append(int(connection.recv(4096).split()[1]))
        connection.close()  # envoy answered "connection: close"; the drain can finish
    finally:
        connection.close()
        stopper.join(10)
    assert result == [200]
    assert proxy.state is SupervisorState.STOPPED


def test_asyncio_facade(up: int) -> None:
    async def main() -> tuple[str, str, SupervisorState]:
        async with AsyncSupervisor(bootstrap(up), **OPTIONS) as proxy:
            before = await asyncio.to_thread(get, proxy.address_of("ingress"))
            await proxy.hot_restart(bootstrap(up, tag="async"))
            after = await asyncio.to_thread(get, proxy.address_of("ingress"))
            async with proxy.admin() as admin:  # an asyncio client, not a blocking one
                assert (await admin.server_info()).restart_epoch == 1
            return before[1], after[1], proxy.state

    assert asyncio.run(main()) == ("v1", "async", SupervisorState.LIVE)


def test_process_info_reports_every_epoch(up: int) -> None:
    with Supervisor(bootstrap(up), **OPTIONS) as proxy:
        proxy.hot_restart(bootstrap(up, tag="v2"))
        infos = proxy.processes()
        assert [i.current for i in infos][-1] is True
        for info in infos:
            if info.alive:
                assert psutil.Process(info.pid).is_running()
                assert info.cpu_seconds is not None and info.rss_bytes


def test_overrides_component_levels_and_log_path(up: int, tmp_path: Path) -> None:
    log_path = tmp_path / "envoy.log"
    options = {**OPTIONS, "log_level": "info"}
    with Supervisor(bootstrap(up), config_yaml={"node": {"id": "from-override"}},
                    component_log_level={"upstream": "debug"}, log_path=log_path,
                    **options) as proxy:
        with proxy.admin() as admin:
            assert admin.server_info().node.get("id") == "from-override"
            assert admin.logging()["upstream"] == "debug"
        assert "initializing epoch 0" in log_path.read_text()  # flushed lazily by envoy
        assert any("initializing epoch 0" in line for line in proxy.output_tail(500))


def test_startup_failure_with_log_path_still_shows_the_message(up: int, tmp_path: Path) -> None:
    config = bootstrap(up)
    config["static_resources"]["clusters"] = []
    with pytest.raises(StartupError, match="unknown cluster"):
        Supervisor(config, log_path=tmp_path / "envoy.log", **OPTIONS).start()


def test_cold_restart_keeps_the_address_with_a_new_base_id(up: int) -> None:
    with Supervisor(bootstrap(up), **OPTIONS) as proxy:
        address, base_id, pid = proxy.address_of("ingress"), proxy.base_id, proxy.pid
        proxy.restart()
        assert proxy.state is SupervisorState.LIVE and proxy.epoch == 0
        assert proxy.base_id != base_id and proxy.pid != pid
        assert get(address)[:2] == (200, "v1")
        assert proxy.hot_restart(bootstrap(up, tag="v2")) == 1
        assert get(address)[1] == "v2"


def test_a_stuck_child_is_bounded_and_recovered(up: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A child given a wrong --restart-epoch retries forever: the timeout ends it."""
    import envoykit.process._supervisor as supervisor_module

    real = supervisor_module.build_argv

    def wrong_epoch(*args: Any, epoch: int, **kwargs: Any) -> list[str]:
        return real(*args, epoch=epoch + 1 if epoch else 0, **kwargs)

    with Supervisor(bootstrap(up), hot_restart_timeout=1.5, **OPTIONS) as proxy:
        address = proxy.address_of("ingress")
        monkeypatch.setattr(supervisor_module, "build_argv", wrong_epoch)
        with pytest.raises(HotRestartError, match=r"not ready within 1\.5s"):
            proxy.hot_restart(bootstrap(up, tag="stuck"))  # the timeout ends it
        monkeypatch.setattr(supervisor_module, "build_argv", real)
        assert proxy.state is SupervisorState.LIVE and get(address)[1] == "v1"
        assert proxy.hot_restart(bootstrap(up, tag="v2")) == 1
        assert get(address)[1] == "v2"


def test_admin_on_a_unix_socket_and_no_admin_at_all(up: int, tmp_path: Path) -> None:
    config = bootstrap(up)
    config["admin"] = {"address": {"pipe": {"path": str(tmp_path / "admin.sock"),
                                            "mode": 0o600}}}
    with Supervisor(config, **OPTIONS) as proxy:
        assert proxy.admin_address == f"unix:{tmp_path / 'admin.sock'}"
        assert get(proxy.address_of("ingress"))[0] == 200
        proxy.hot_restart(config)
        with proxy.admin() as admin:
            assert admin.server_info().restart_epoch == 1
    del config["admin"]
    with Supervisor(config, **OPTIONS) as proxy:
        assert proxy.admin_address.startswith("127.0.0.1:")


def test_started_and_restarted_from_threads_that_exit(up: int) -> None:
    """Envoy sets a parent-death signal tied to the thread that forked it; the supervisor
    forks from its own long-lived thread, so short-lived caller threads do not matter."""
    proxy = Supervisor(bootstrap(up), **OPTIONS)
    try:
        starter = threading.Thread(target=proxy.start)
        starter.start()
        starter.join(30)
        restarter = threading.Thread(target=proxy.hot_restart, args=(bootstrap(up, tag="v2"),))
        restarter.start()
        restarter.join(30)
        assert not starter.is_alive() and not restarter.is_alive()
        # a parent-death signal is sent as the thread exits (before join returns); envoy
        # answers admin requests on the thread that would handle it: one more answered
        # request and no SIGTERM in its output means none came
        with proxy.admin(timeout=PATIENCE) as admin:
            assert admin.server_info().state == "LIVE"
        assert not any("ENVOY_SIGTERM" in line for line in proxy.output_tail(500))
        assert proxy.state is SupervisorState.LIVE and proxy.epoch == 1
        assert get(proxy.address_of("ingress"))[1] == "v2"
        assert "crash" not in [e.kind for e in proxy.events]
    finally:
        proxy.stop(graceful=False)


def test_graceful_stop_right_after_a_hot_restart_spares_the_old_epoch(up: int) -> None:
    proxy = Supervisor(bootstrap(up), **OPTIONS).start()
    connection = socket.create_connection(proxy.address_of("ingress"), timeout=PATIENCE)
    stopper = threading.Thread(target=proxy.stop)
    try:
        with proxy.admin(timeout=PATIENCE) as admin:
            connection.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n")  # held by epoch 0
            wait_until(lambda: gauge(admin, "http.ingress.downstream_cx_active"), expected=1)
        proxy.hot_restart(bootstrap(up, tag="v2"))
        with proxy.admin(timeout=PATIENCE) as admin:
            stopper.start()
            wait_until(lambda: not admin.ready())  # epoch 1 is draining
        connection.sendall(b"\r\n")
        reply = connection.recv(4096)
        assert reply.split()[1] == b"200" and b"x-tag: v1" in reply
    finally:
        connection.close()
        stopper.join(10)
    assert proxy.state is SupervisorState.STOPPED


def test_cancelling_an_async_start_stops_what_was_started(up: int) -> None:
    proxy = AsyncSupervisor(bootstrap(up), **OPTIONS)

    async def main() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(proxy.start(), timeout=0.01)

    asyncio.run(main())
    assert proxy.sync.state is SupervisorState.STOPPED
    assert proxy.sync.run_dir is None and proxy.sync.pid is None


def test_validate_ahead_then_hot_restart_skips_validation(
    up: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = Supervisor._validate

    def counting(self: Supervisor, path: Path, timeout: float) -> None:
        calls.append(str(path))
        real(self, path, timeout)

    monkeypatch.setattr(Supervisor, "_validate", counting)
    with Supervisor(bootstrap(up), **OPTIONS) as proxy:
        broken = _envoy_refuses(up)
        with pytest.raises(EnvoyValidationError):
            proxy.validate(broken)
        proxy.validate(bootstrap(up, tag="v2"))
        assert len(calls) == 2
        proxy.hot_restart(bootstrap(up, tag="v2"))  # same content: not validated again
        assert len(calls) == 2
        assert get(proxy.address_of("ingress"))[1] == "v2"
        proxy.hot_restart(bootstrap(up, tag="v3"))  # new content: validated
        assert len(calls) == 3


def test_startup_timeout_is_bounded_and_cleans_up(
    up: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Path] = []

    def never_ready(self: Epoch) -> bool:
        seen.append(self.paths.config.parent)
        return False

    monkeypatch.setattr(Epoch, "check_ready", never_ready)
    proxy = Supervisor(bootstrap(up), startup_timeout=0.5, **OPTIONS)
    with pytest.raises(StartupError, match=r"not ready within 0\.5s"):
        proxy.start()  # the timeout ends it (else pytest's own timeout would)
    _assert_nothing_left(seen[0], set())


def test_monitor_reports_unready_and_ready(up: int) -> None:
    kinds: list[str] = []
    seen = threading.Event()

    def record(event: SupervisorEvent) -> None:
        kinds.append(event.kind)
        if event.kind in ("unready", "ready"):
            seen.set()

    with Supervisor(bootstrap(up), health_interval=0.05, on_event=record, **OPTIONS) as proxy:
        with proxy.admin() as admin:
            admin.healthcheck_fail()  # envoy's state turns DRAINING: /ready answers 503
            assert seen.wait(PATIENCE) and kinds[-1] == "unready"
            seen.clear()
            admin.healthcheck_ok()
            assert seen.wait(PATIENCE) and kinds[-1] == "ready"
        assert proxy.state is SupervisorState.LIVE


def test_refused_config_never_reaches_the_epoch_started_beside_validation(
    up: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """hot_restart() validates while the next epoch loads; that epoch waits for its config
    on a FIFO. A config envoy refuses (here an unknown filter type, which envoykit's own
    checks let through) is never fed: the waiting child is killed, the old epoch keeps its
    pid, its admin and its config, and the next hot restart works (the shared-memory flag
    the killed child left was cleared)."""
    import stat

    waiting: list[tuple[int, bool]] = []
    real = Supervisor._validate

    def gated_children(path: Path) -> list[tuple[int, bool]]:
        found = []
        for proc in psutil.process_iter(["pid", "cmdline"]):
            argv = proc.info["cmdline"] or []
            if "--restart-epoch" in argv and argv[argv.index("--restart-epoch") + 1] == "1" \
                    and str(Path(path).parent) in " ".join(argv):
                config = Path(argv[argv.index("-c") + 1])
                found.append((proc.pid, stat.S_ISFIFO(config.stat().st_mode)))
        return found

    def watching(self: Supervisor, path: Path, timeout: float) -> None:
        waiting.extend(wait_until(lambda: gated_children(path),  # started beside validation
                                  what="the next epoch waiting for its config"))
        real(self, path, timeout)

    monkeypatch.setattr(Supervisor, "_validate", watching)
    with Supervisor(bootstrap(up), **OPTIONS) as proxy:
        address, pid = proxy.address_of("ingress"), proxy.pid
        broken = _envoy_refuses(up)  # envoykit's own checks pass it; envoy refuses it
        with pytest.raises(EnvoyValidationError, match="Bufer"):
            proxy.hot_restart(broken)
        assert len(waiting) == 1 and waiting[0][1], waiting  # a child waited on a FIFO
        assert (proxy.state, proxy.pid, proxy.epoch) == (SupervisorState.LIVE, pid, 0)
        assert not psutil.pid_exists(waiting[0][0]) or \
            psutil.Process(waiting[0][0]).status() == psutil.STATUS_ZOMBIE
        with proxy.admin() as admin:
            assert admin.ready()  # the parent was never asked to shut its admin down
        assert get(address)[1] == "v1"
        assert proxy.hot_restart(bootstrap(up, tag="v2")) == 1
        assert get(address)[1] == "v2"
        assert [e.kind for e in proxy.events].count("recovered") == 0


def _validators(run_dir: Path) -> list[int]:
    found = []
    for pid in envoy_pids_with(str(run_dir)):
        with contextlib.suppress(psutil.Error):
            if "validate" in psutil.Process(pid).cmdline():
                found.append(pid)
    return found


def _one_validator(run_dir: Path) -> list[int]:
    """The one prewarmed validator, once it has exec'd envoy (right after the fork its
    command line is still Python's)."""
    return wait_until(lambda: found if len(found := _validators(run_dir)) == 1 else [],
                      what=f"one prewarmed validator in {run_dir}",
                      context=lambda: f"validators now: {_validators(run_dir)}")


def test_prewarmed_validator_waits_between_restarts_and_goes_with_stop(
    up: int, tmp_path: Path
) -> None:
    """One ``envoy --mode validate`` waits on a FIFO in the run dir while the proxy is
    live; a hot restart uses it (a refused config is refused by it) and leaves a fresh
    one; stop() removes it. ``prewarm_validation=False``: none."""
    run_dir = tmp_path / "run"
    with Supervisor(bootstrap(up), run_dir=run_dir, **OPTIONS) as proxy:
        first = _one_validator(run_dir)
        assert len(first) == 1
        broken = _envoy_refuses(up)  # envoykit's own checks pass it; envoy refuses it
        with pytest.raises(EnvoyValidationError):
            proxy.hot_restart(broken)
        second = _one_validator(run_dir)
        assert len(second) == 1 and second != first
        assert proxy.hot_restart(bootstrap(up, tag="v2")) == 1
        assert get(proxy.address_of("ingress"))[1] == "v2"
        assert len(_one_validator(run_dir)) == 1
    assert not _validators(run_dir) and not run_dir.joinpath("validate-3.json").exists()
    with Supervisor(bootstrap(up), run_dir=tmp_path / "cold", prewarm_validation=False,
                    **OPTIONS) as proxy:
        assert not _validators(tmp_path / "cold")
        with pytest.raises(EnvoyValidationError):
            proxy.hot_restart(broken)
