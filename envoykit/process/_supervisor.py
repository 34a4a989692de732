"""The supervisor: one logical Envoy across hot-restart epochs.

Lifecycle::

    STOPPED --start()--> STARTING --ready--> LIVE --stop()--> DRAINING --> STOPPED
                            |                 |  ^
                            | exit/timeout    |  | new epoch LIVE (or old config kept)
                            v                 v  |
                  StartupError, STOPPED   RESTARTING  <-- hot_restart() / restart() / crash
                                              |
                                              | too many quick crashes (backoff)
                                              v
                                           FAILED  (stop() cleans up; start() allowed)

One lock serialises the operations (start, hot restart, crash restart, stop); a monitor
thread watches the current epoch; retired epochs are reaped by short-lived threads.

This module is the state machine and the monitor (~780 lines: every transition above, with
its recovery and the validation that gates a hot restart, is written here next to the others
under the one lock). The jobs without a transition live beside it: the validation memo
(``_memo``), epoch bookkeeping — retire, reap, teardown, shared memory (``_epochs``), port
probing (``_ports``), the validation gate (``_gate``), launch logic (``_launch``), one
process (``_epoch``) and the asyncio face (``_async_supervisor``).
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

from envoykit._redirect_ports import fill_redirect_ports, reserve_marked_ports
from envoykit._util import listener_address, split_host_port, url, write_atomic
from envoykit.admin import AdminClient
from envoykit.binary import EnvoyBinary, find_envoy
from envoykit.errors import (
    AdminError,
    HotRestartError,
    ProcessError,
    ProcessExited,
    StartupError,
)
from envoykit.load import load_bootstrap, semantic_error
from envoykit.process._epoch import Epoch, NotReady, admin_client
from envoykit.process._epochs import EpochBook, shm_path
from envoykit.process._gate import (
    GateError,
    WarmValidator,
    clear_initializing,
    feed_gate,
    gate_supported,
    make_gate,
)
from envoykit.process._launch import (
    ConfigInput,
    EpochPaths,
    LaunchOptions,
    build_argv,
    config_to_dict,
    make_run_dir,
    pin_listener_ports,
    render_config,
    with_admin,
)
from envoykit.process._memo import ValidationMemo
from envoykit.process._orphan import Watchdog
from envoykit.process._ports import check_fixed_ports
from envoykit.process._state import Backoff, EpochInfo, Event, State
from envoykit.validation import as_bootstrap, check, envoy_validate_file

__all__ = ["EventCallback", "Supervisor"]

_log = logging.getLogger("envoykit.process")
_events = logging.getLogger("envoykit.process.events")
EventCallback = Callable[[Event], None]
class Supervisor:
    """Run one Envoy: start, wait ready, hot restart, restart on crash, stop cleanly.

    ``config`` is a bootstrap dict, YAML text, a :class:`~pathlib.Path` to a YAML/JSON
    file, or an object with ``to_dict()``. Use it as a context manager::

        with Supervisor(config) as proxy:
            host, port = proxy.address_of("ingress")
    """

    def __init__(
        self,
        config: ConfigInput,
        *,
        binary: EnvoyBinary | str | os.PathLike[str] | None = None,
        run_dir: str | os.PathLike[str] | None = None,
        log_level: str = "info",
        component_log_level: str | Mapping[str, str] | None = None,
        log_path: str | os.PathLike[str] | None = None,
        concurrency: int | None = None,
        drain_time_s: int = 2,
        parent_shutdown_time_s: int = 3,
        config_yaml: str | Mapping[str, Any] | None = None,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 30.0,
        hot_restart_timeout: float = 30.0,
        stop_timeout: float | None = None,
        poll_interval: float = 0.002,
        health_interval: float = 0.25,
        restart_on_crash: bool = True,
        backoff: Backoff | None = None,
        check_ports: bool = True,
        output_lines: int = 500,
        on_event: EventCallback | None = None,
        prewarm_validation: bool = True,
    ) -> None:
        self._config = config_to_dict(config)
        self.binary = binary if isinstance(binary, EnvoyBinary) else find_envoy(binary)
        self.options = LaunchOptions(
            log_level=log_level, component_log_level=component_log_level,
            log_path=None if log_path is None else os.fspath(log_path),
            concurrency=concurrency, drain_time_s=drain_time_s,
            parent_shutdown_time_s=parent_shutdown_time_s, config_yaml=config_yaml,
            extra_args=tuple(extra_args),
        )
        self.startup_timeout = startup_timeout
        self.hot_restart_timeout = hot_restart_timeout
        longest = max(drain_time_s, parent_shutdown_time_s) + 2.0
        self.stop_timeout = longest if stop_timeout is None else stop_timeout
        self.poll_interval = poll_interval
        self.health_interval = health_interval
        self.restart_on_crash = restart_on_crash
        self.backoff = backoff or Backoff()
        self.check_ports = check_ports
        self.output_lines = output_lines
        self._requested_run_dir = run_dir
        self._run_dir: Path | None = None
        self._owns_run_dir = False
        self._state = State.STOPPED
        self._lock = threading.RLock()
        self._changed = threading.Condition()
        self._callbacks: list[EventCallback] = [on_event] if on_event else []
        self.events: deque[Event] = deque(maxlen=1000)
        self.error: ProcessError | None = None
        self._serial = 0
        self._spawner: ThreadPoolExecutor | None = None
        self._monitor: threading.Thread | None = None
        self._stopping = threading.Event()
        self._epochs = EpochBook(self._lock, self._stopping)
        self._memo = ValidationMemo(self.options)  # configs envoy accepted, see validate()
        self._started: tuple[dict[str, Any], str] | None = None  # start()'s, to memo
        self.prewarm_validation = prewarm_validation
        self._warm: WarmValidator | None = None  # see _prewarm()
        self._warm_lock = threading.Lock()
        self._warm_serial = 0

    # --- public read-only facts ---------------------------------------------------------
    @property
    def state(self) -> State:
        """The lifecycle state."""
        return self._state

    @property
    def epoch(self) -> int | None:
        """The hot-restart epoch serving now (0 after a start or a cold restart)."""
        return None if self._epochs.current is None else self._epochs.current.number

    @property
    def pid(self) -> int | None:
        """The pid of the epoch serving now."""
        return None if self._epochs.current is None else self._epochs.current.pid

    @property
    def base_id(self) -> int | None:
        """The hot-restart base id in use (chosen dynamically at epoch 0)."""
        return None if self._epochs.current is None else self._epochs.current.base_id

    @property
    def run_dir(self) -> Path | None:
        """The private run directory (config files, admin address, base id)."""
        return self._run_dir

    @property
    def config(self) -> dict[str, Any]:
        """The bootstrap (as a dict) of the epoch serving now."""
        return self._config

    @property
    def admin_address(self) -> str:
        """``host:port`` (or ``unix:/path``) of the admin of the epoch serving now."""
        return self._live_epoch().admin_address or ""

    @property
    def admin_socket_address(self) -> tuple[str, int]:
        """``(host, port)`` of the admin serving now: :attr:`admin_address` in the shape of
        :meth:`address_of` (ValueError for an admin on a pipe, ``unix:/path``)."""
        return split_host_port(self.admin_address, "admin address")

    @property
    def listeners(self) -> dict[str, tuple[str, int]]:
        """Listener name → real bound (host, port), also for listeners bound to port 0."""
        return dict(self._live_epoch().listeners)

    def address_of(self, listener: str) -> tuple[str, int]:
        """The real bound (host, port) of a listener, by name."""
        return listener_address(self._live_epoch().listeners, listener)

    def url_of(self, listener: str, scheme: str = "http") -> str:
        """``scheme://host:port`` of a listener, by name."""
        host, port = self.address_of(listener)
        return url(scheme, host, port)

    def admin(self, timeout: float = 5.0) -> AdminClient:
        """A new admin client for the epoch serving now (close it, or use ``with``)."""
        return admin_client(self.admin_address, timeout)

    def output_tail(self, count: int = 30) -> list[str]:
        """The last lines printed by the epoch serving now (or the last one that ran)."""
        epoch = self._epochs.latest()
        return [] if epoch is None else epoch.tail(count)

    def processes(self) -> list[EpochInfo]:
        """pid, RSS and CPU of every Envoy process (draining epochs included)."""
        with self._lock:
            epochs = self._epochs.running()
        current = self._epochs.current
        return [e.info(current=e is current) for e in epochs]

    def on_event(self, callback: EventCallback) -> None:
        """Call ``callback(event)`` on every event (from supervisor threads; keep it short)."""
        self._callbacks.append(callback)

    def wait_for_state(self, *states: State, timeout: float = 10.0) -> State:
        """Block until the state is one of ``states``; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._state not in states:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"state is {self._state.value}, wanted {states}")
                self._changed.wait(left)
            return self._state

    # --- lifecycle ----------------------------------------------------------------------
    def start(self) -> Supervisor:
        """Launch epoch 0 and wait until it is ready; StartupError if it is not."""
        with self._lock:
            if self._state not in (State.STOPPED, State.FAILED):
                raise RuntimeError(f"cannot start: supervisor is {self._state.value}")
            self._stopping.clear()
            self.error = None
            self._set_state(State.STARTING)
            try:
                self._prepare_runtime()
                self._epochs.current = self._cold_start(self._config, check_ports=self.check_ports)
                self.backoff.reset()
                # valid: envoy runs it; memo'd by the monitor, with its files as they are now
                self._started = (self._config, self._memo.files(self._config))
                self._set_state(State.LIVE, "started",
                                f"epoch {self._epochs.current.number} is live")
                self._start_monitor()  # which prewarms the first validator
            except BaseException:  # Ctrl-C included, up to the return: the caller never
                self._abort_start()  # gets this supervisor, so leave nothing behind
                raise
        return self

    def _abort_start(self) -> None:
        self._stopping.set()
        self._join_monitor()
        self._teardown()
        self._set_state(State.STOPPED)

    def hot_restart(self, config: ConfigInput, *, timeout: float | None = None) -> int:
        """Validate ``config``, start the next epoch with it and retire the old one.

        ``envoy --mode validate`` runs while the next epoch loads (that epoch waits for its
        config on a FIFO and gets it only once validation accepted it; see ``_gate``), so
        the check costs little of the switch time.

        Returns the new epoch number. Raises ConfigError or SemanticError (envoykit's own
        checks, as :func:`envoykit.validate` runs them, before anything else),
        EnvoyValidationError (the old epoch untouched) or
        HotRestartError (the child failed; the old config keeps serving and the
        supervisor recovers so that later hot restarts work)."""
        limit = timeout or self.hot_restart_timeout
        try:
            return self._hot_restart(config, limit)
        finally:
            self._prewarm()  # for the next one, now that this switch is done

    def _hot_restart(self, config: ConfigInput, limit: float) -> int:
        with self._lock:
            old = self._live_epoch()
            data = config_to_dict(config)
            began = time.monotonic()
            key = self._memo.key(data)
            if key not in self._memo:
                _check(config, data)  # envoykit's own checks first: nothing written before
            path = self._write_config(pin_listener_ports(data, old.listeners))
            if key in self._memo or old.base_id is None \
                    or not gate_supported(shm_path(old.base_id)):
                if key not in self._memo:
                    self._validate(path, limit)
                self._wait_for_previous_drain(old)
                child = self._start_child(old, path, limit)
            else:
                child = self._start_gated_child(old, path, limit)
            self._epochs.current, self._config = child, data
            self._memo.remember(key)
            self._retire(old)
            self.backoff.reset()
            _log.info("hot restart to epoch %d: live %.0f ms after the call", child.number,
                      (time.monotonic() - began) * 1000)
            self._set_state(State.LIVE, "hot_restart", f"epoch {child.number} is live")
            return child.number

    def validate(self, config: ConfigInput, *, timeout: float | None = None) -> None:
        """Run ``envoy --mode validate`` on ``config`` now (EnvoyValidationError if refused), so
        that a later :meth:`hot_restart` with the same content skips that step and switches
        as fast as a raw ``--restart-epoch``. The memory is by rendered content (and the
        ``config_yaml`` override); files the config points to (certificates) are not part
        of it: a child that still fails is handled like any failed hot restart."""
        data = config_to_dict(config)
        _check(config, data)
        with tempfile.TemporaryDirectory(prefix="envoykit-validate-") as tmp:
            path = Path(tmp) / "config.json"
            text = render_config(with_admin(data, self.options.config_yaml))
            write_atomic(path, text, fsync=False)
            try:
                self._validate(path, timeout or self.hot_restart_timeout)
            finally:
                self._prewarm()
        self._memo.remember(self._memo.key(data))

    def _prewarm(self) -> None:
        """Start the next validation's envoy now, while nothing else happens: it waits on
        a FIFO in the run dir for the config (see ``WarmValidator``), so a validation
        costs the check, not an Envoy start. ``prewarm_validation=False``: no idle process."""
        if not self.prewarm_validation or self._run_dir is None or self._stopping.is_set() \
                or self._epochs.watchdog is None:
            return
        with self._warm_lock:
            if self._warm is not None:
                return
            self._warm_serial += 1
            start = functools.partial(WarmValidator.start, str(self.binary.path),
                                      self.options.override_args(),
                                      self._run_dir / f"validate-{self._warm_serial}.json",
                                      self._epochs.watchdog.env())
            if threading.current_thread() is threading.main_thread() or self._spawner is None:
                warm = start()
            else:  # a caller's short-lived thread could take the process down with it
                warm = self._spawner.submit(start).result()
            self._epochs.watchdog.watch(warm.proc.pid)
            self._warm = warm

    def _take_warm(self) -> WarmValidator | None:
        with self._warm_lock:
            warm, self._warm = self._warm, None
        if warm is not None and self._epochs.watchdog is not None:
            self._epochs.watchdog.unwatch(warm.proc.pid)
        return warm

    def _validate_warm(self, path: Path, timeout: float) -> bool:
        """Validate with the prewarmed envoy if there is one; False if it could not."""
        warm = self._take_warm()
        if warm is None:
            return False
        try:
            warm.check(path.read_text(), path, timeout)
        except GateError as exc:
            _log.info("prewarmed validator unusable (%s); validating with a new process", exc)
            return False
        finally:
            warm.close()
        return True

    def _validate(self, path: Path, timeout: float) -> None:
        """``envoy --mode validate`` on the rendered file; no epoch reads it before."""
        try:
            if not self._validate_warm(path, timeout):
                envoy_validate_file(path, binary=self.binary,
                                    extra_args=self.options.override_args(), timeout=timeout)
        except BaseException as exc:
            path.unlink(missing_ok=True)
            if isinstance(exc, subprocess.TimeoutExpired):
                raise HotRestartError(f"envoy --mode validate did not finish in {timeout:g}s; "
                                      "nothing was started") from None
            raise

    def _start_gated_child(self, old: Epoch, path: Path, timeout: float) -> Epoch:
        """Validate ``path`` while epoch n+1 starts on a FIFO (see ``_gate``): the child
        reads the config only once envoy accepted it. Refused: the child, which has not
        contacted the old epoch yet, is killed and its shared-memory flag cleared, so
        nothing changed (ValidationError); the old epoch never noticed."""
        gate = path.with_name(f"gate-{self._serial}.json")
        with ThreadPoolExecutor(1, thread_name_prefix="envoykit-validate") as pool:
            check = pool.submit(self._validate, path, timeout)
            self._wait_for_previous_drain(old)
            make_gate(gate)
            try:
                waiting = self._launch(gate, number=old.number + 1, base_id=old.base_id)
            except BaseException:
                gate.unlink(missing_ok=True)
                raise
            try:
                check.result()
            except BaseException:
                self._abort_gated(waiting, old)
                raise
        text = path.read_text()
        return self._start_child(old, gate, timeout, waiting=waiting,
                                 feed=lambda: self._feed(gate, path, text, waiting, timeout))

    def _feed(self, gate: Path, path: Path, text: str, child: Epoch, timeout: float) -> None:
        try:
            feed_gate(gate, text, child.alive, timeout)
        except GateError as exc:
            raise NotReady(str(exc), child.returncode) from None
        os.replace(path, gate)  # the run dir keeps the config as a file, under the child's name

    def _abort_gated(self, child: Epoch, old: Epoch) -> None:
        """Kill a child still waiting on its gate and undo its one trace, the "initializing"
        flag; if that cannot be done, recover like from a failed child."""
        child.terminate(grace=0.0)
        self._retire(child)
        assert old.base_id is not None
        if not clear_initializing(shm_path(old.base_id)):
            self._recover_failed_child(None, old, RuntimeError("gate flag not cleared"))

    def _start_child(self, old: Epoch, path: Path, timeout: float, *,
                     waiting: Epoch | None = None, feed: Callable[[], None] | None = None
                     ) -> Epoch:
        """Epoch n+1 with the same base id, ready; on failure recover and raise. A gated
        child (``waiting``, already launched) is given its config by ``feed`` first."""
        next_epoch = old.number + 1
        self._set_state(State.RESTARTING, "restarting", f"hot restart to epoch {next_epoch}")
        child: Epoch | None = waiting
        try:
            if child is None:
                child = self._launch(path, number=next_epoch, base_id=old.base_id)
            if feed is not None:
                feed()
            self._await_ready(child, timeout)
        except BaseException as exc:
            error = self._hot_restart_error(exc, child)
            self._emit(Event("hot_restart_failed", self._state, old.number, old.pid, str(error)))
            self._recover_failed_child(child, old, exc)
            if error is exc:
                raise
            raise error from exc
        return child

    def restart(self) -> None:
        """Cold restart with the current config: a fresh epoch 0 with a new base id on the
        same listener ports, started next to the old process (reuse_port), which then gets
        SIGTERM. Use it when a hot restart is impossible; prefer :meth:`hot_restart`."""
        with self._lock:
            old = self._live_epoch()
            self._set_state(State.RESTARTING, "restarting", "cold restart")
            self._replace_cold(old)
            self._set_state(State.LIVE, "started", "epoch 0 is live (cold restart)")

    def stop(self, graceful: bool = True, timeout: float | None = None) -> None:
        """Stop Envoy and everything it left behind.

        graceful: ``/healthcheck/fail``, ``/drain_listeners?graceful``, wait until no
        downstream connection is open (or ``timeout``), ``/quitquitquit``; then, for
        whatever still runs, SIGTERM and SIGKILL of the process tree. Not graceful:
        SIGTERM (Envoy exits at once) then SIGKILL."""
        self._stopping.set()
        self._join_monitor()
        with self._lock:
            current = self._epochs.current
            if graceful and current is not None and current.alive():
                self._set_state(State.DRAINING, "draining")
                self._drain(current, self.stop_timeout if timeout is None else timeout)
            was_failed = self._state is State.FAILED
            self._teardown()
            self._set_state(State.FAILED if was_failed else State.STOPPED, "stopped")

    def __enter__(self) -> Supervisor:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop(graceful=kind is None)

    # --- launching ----------------------------------------------------------------------
    def _prepare_runtime(self) -> None:
        if self._run_dir is None:
            self._run_dir, self._owns_run_dir = make_run_dir(self._requested_run_dir)
        if self._epochs.watchdog is None:
            # its process starts with the first envoy's (Watchdog.watch), while envoy boots
            self._epochs.watchdog = Watchdog(self._run_dir, owns_run_dir=self._owns_run_dir,
                                             start=False)
        if self._spawner is None:
            # Envoy sets PR_SET_PDEATHSIG(SIGTERM) on itself during startup, and that signal
            # fires when the *thread* that forked it exits: never fork from a caller's
            # short-lived thread, but from this one, which lives as long as the supervisor.
            self._spawner = ThreadPoolExecutor(1, thread_name_prefix="envoykit-spawner")

    def _write_config(self, data: Mapping[str, Any]) -> Path:
        assert self._run_dir is not None
        self._serial += 1
        path = self._run_dir / f"config-{self._serial}.json"
        data = fill_redirect_ports(data)  # ports are pinned by now: redirects can name them
        write_atomic(path, render_config(with_admin(data, self.options.config_yaml)), fsync=False)
        return path

    def _launch(self, config_path: Path, *, number: int, base_id: int | None) -> Epoch:
        watchdog = self._epochs.watchdog
        assert self._run_dir is not None and watchdog is not None
        serial = self._serial
        paths = EpochPaths(config=config_path,
                           admin_address=self._run_dir / f"admin-{serial}.txt",
                           base_id=self._run_dir / f"base-id-{serial}.txt")
        argv = build_argv(self.binary.path, self.options, epoch=number, paths=paths,
                          base_id=base_id)
        spawn = functools.partial(
            Epoch.spawn, argv, number=number, serial=serial, paths=paths,
            env=watchdog.env(), base_id=base_id, log_path=self.options.log_path,
            output_lines=self.output_lines,
        )
        epoch = self._spawn_from_long_lived_thread(spawn)
        watchdog.watch(epoch.pid)
        return epoch

    def _spawn_from_long_lived_thread(self, spawn: Callable[[], Epoch]) -> Epoch:
        """Envoy's own parent-death signal is tied to the forking thread: fork from the
        main thread (it lives as long as the process) or from the spawner thread."""
        if threading.current_thread() is threading.main_thread():
            return spawn()
        assert self._spawner is not None
        future = self._spawner.submit(spawn)
        try:
            return future.result()
        except BaseException:  # e.g. Ctrl-C while waiting: do not lose the process
            if future.exception() is None:
                future.result().terminate()
            raise

    def _cold_start(self, data: Mapping[str, Any], *, check_ports: bool = False) -> Epoch:
        """Epoch 0 with a fresh dynamic base id; StartupError with Envoy's output."""
        if check_ports:
            check_fixed_ports(data)
        data = reserve_marked_ports(data)  # a redirect naming a port-0 listener needs its port
        epoch = self._launch(self._write_config(data), number=0, base_id=None)
        try:
            self._await_ready(epoch, self.startup_timeout)
        except NotReady as exc:
            epoch.terminate()
            self._retire(epoch)
            raise StartupError(f"envoy failed to start: {exc}", returncode=exc.returncode,
                               output_tail=epoch.tail()) from None
        except BaseException:
            epoch.terminate()
            self._retire(epoch)
            raise
        return epoch

    def _await_ready(self, epoch: Epoch, timeout: float) -> None:
        try:
            epoch.wait_ready(timeout, self.poll_interval, self._stopping)
        except AdminError as exc:
            raise NotReady(f"admin failed while starting: {exc}", epoch.returncode) from exc
        if epoch.base_id is not None:
            self._epochs.base_ids.add(epoch.base_id)

    # --- hot restart failure ------------------------------------------------------------
    def _recover_failed_child(self, child: Epoch | None, old: Epoch, exc: BaseException) -> None:
        """A failed child shut the old epoch's admin down and left a shared-memory flag
        that blocks every later hot restart: replace the old epoch by a fresh epoch 0
        (new base id) on the same ports, overlapping through reuse_port."""
        if child is not None:
            child.terminate()
            self._retire(child)
        if self._stopping.is_set():
            return  # stop() is waiting for the lock and will tear everything down
        _log.warning("hot restart failed (%s); cold-restarting with the old config", exc)
        self._replace_cold(old)
        self._set_state(State.LIVE, "recovered", "old config serving from a fresh epoch 0")

    def _replace_cold(self, old: Epoch) -> None:
        """Replace ``old`` by a fresh epoch 0 (new base id) with the current config on the
        same ports. Started while ``old`` still serves (reuse_port shares the ports), so no
        connection is refused; if that fails, ``old`` is stopped first (a short gap)."""
        pinned = pin_listener_ports(self._config, old.listeners)
        try:
            fresh = self._cold_start(pinned)
        except ProcessError as first:
            _log.warning("overlapping cold restart failed (%s); restarting with a gap", first)
            old.terminate()
            try:
                fresh = self._cold_start(pinned)
            except ProcessError as second:
                self._retire(old)
                self._fail(second)
                raise
        old.terminate()
        self._retire(old)
        self._epochs.current = fresh

    def _wait_for_previous_drain(self, old: Epoch) -> None:
        """Envoy kills epoch n-1 as soon as epoch n+1 starts, cutting whatever it is still
        draining: let the previous hot restart's old epoch finish (it exits by itself
        after ``parent_shutdown_time_s``) before starting another one."""
        draining = self._epochs.draining(old.base_id)
        limit = time.monotonic() + self.options.parent_shutdown_time_s + 1.0
        for epoch in draining:
            _log.info("waiting for epoch %d (pid %d) to finish draining", epoch.number, epoch.pid)
            epoch.wait(max(0.0, limit - time.monotonic()))

    def _hot_restart_error(self, exc: BaseException, child: Epoch | None) -> BaseException:
        if not isinstance(exc, (NotReady, ProcessError, AdminError)):
            return exc  # KeyboardInterrupt and friends pass through unchanged
        tail = child.tail() if child is not None else []
        code = getattr(exc, "returncode", None)
        return HotRestartError(f"hot restart failed, the old config keeps serving: {exc}",
                               returncode=code, output_tail=tail)

    # --- health monitor -----------------------------------------------------------------
    def _start_monitor(self) -> None:
        if self._monitor is None or not self._monitor.is_alive():
            self._monitor = threading.Thread(target=self._monitor_loop, daemon=True,
                                             name="envoykit-monitor")
            self._monitor.start()

    def _join_monitor(self) -> None:
        monitor = self._monitor
        if monitor is not None and monitor is not threading.current_thread():
            monitor.join(30)
        self._monitor = None

    def _monitor_loop(self) -> None:
        self._first_prewarm()
        while not self._stopping.wait(self.health_interval):
            self._run_locked(self._health_check, "health check failed")
            if self._state is State.FAILED:
                return

    def _first_prewarm(self) -> None:
        """The first validator starts here, off ``start()``'s path: one more Envoy process
        start inside ``start()`` cost it 1.14x a bare envoy's start (0.95x without it,
        bench/startup.py on a quiet machine). A hot restart before it is ready validates
        another way. So does the memo of the config that started (its key renders and
        hashes the config: about 1 ms that ``start()`` no longer waits for)."""
        while not self._stopping.is_set():
            if self._run_locked(self._after_start, "could not start the prewarmed validator"):
                return

    def _after_start(self) -> None:
        started, self._started = self._started, None
        if started is not None:
            self._memo.remember(self._memo.key(*started))
        self._prewarm()

    def _run_locked(self, work: Callable[[], None], failure: str) -> bool:
        """``work()`` under the supervisor's lock, if it is free within a health interval
        (False if not: an operation is in progress); the monitor must outlive any surprise,
        so an exception is logged, not raised."""
        if not self._lock.acquire(timeout=self.health_interval):
            return False
        try:
            work()
        except Exception:
            _log.exception("%s", failure)
        finally:
            self._lock.release()
        return True

    def _health_check(self) -> None:
        epoch = self._epochs.current
        if epoch is None or self._stopping.is_set() or self._state is not State.LIVE:
            return
        if epoch.alive():
            self._check_ready(epoch)
        else:
            self._handle_crash(epoch)

    def _check_ready(self, epoch: Epoch) -> None:
        ready = epoch.check_ready()
        if ready == epoch.reported_ready:
            return
        epoch.reported_ready = ready
        kind = "ready" if ready else "unready"
        self._emit(Event(kind, self._state, epoch.number, epoch.pid, f"/ready is {kind}"))

    def _handle_crash(self, epoch: Epoch) -> None:
        message = f"envoy pid {epoch.pid} exited with code {epoch.returncode}"
        _log.error("%s; last lines:\n%s", message, "\n".join(epoch.tail(10)))
        self._emit(Event("crash", self._state, epoch.number, epoch.pid, message))
        if self.restart_on_crash:  # before the epoch is retired: never "live" with no process
            self._set_state(State.RESTARTING, "restarting", f"{message}; restarting")
        self._retire(epoch)
        live_for = epoch.live_for()
        if not self.restart_on_crash:
            self._epochs.current = None
            self._fail(ProcessExited(message, returncode=epoch.returncode,
                                     output_tail=epoch.tail()))
            return
        self._restart_after_crash(epoch, live_for)

    def _restart_after_crash(self, crashed: Epoch, live_for: float) -> None:
        pinned = pin_listener_ports(self._config, crashed.listeners)
        last: ProcessError = ProcessExited("crashed", returncode=crashed.returncode,
                                           output_tail=crashed.tail())
        while True:
            delay = self.backoff.record_crash(live_for)
            if delay is None:
                self._epochs.current = None
                self._fail(ProcessExited(
                    f"envoy failed {self.backoff.max_quick_failures + 1} times in a row "
                    f"within {self.backoff.stable_after:g}s of starting; giving up",
                    returncode=last.returncode, output_tail=last.output_tail))
                return
            quick = f"{self.backoff.quick_failures} of {self.backoff.max_quick_failures}"
            self._emit(Event("backoff", self._state, crashed.number, None,
                             f"restarting in {delay:g}s (quick crash {quick})"))
            if self._stopping.wait(delay):
                return
            try:
                self._epochs.current = self._cold_start(pinned, check_ports=self.check_ports)
            except StartupError as exc:
                _log.error("restart after crash failed: %s", exc)
                last, live_for = exc, 0.0
                continue
            self._set_state(State.LIVE, "started", f"restarted after a crash (epoch 0, "
                            f"pid {self._epochs.current.pid})")
            return

    def _fail(self, error: ProcessError) -> None:
        self.error = error
        self._set_state(State.FAILED, "gave_up", str(error))

    # --- stopping -----------------------------------------------------------------------
    def _drain(self, epoch: Epoch, timeout: float) -> None:
        """Health check off, graceful listener drain, wait for open connections to close
        and for older epochs still draining after a hot restart (they exit when this
        epoch's parent-shutdown timer fires, so before it quits), then quit."""
        deadline = time.monotonic() + timeout
        admin = epoch.admin()
        try:
            admin.healthcheck_fail()
            admin.drain_listeners(graceful=True)
            while time.monotonic() < deadline and (
                _active_connections(admin) > 0 or self._epochs.any_retired_alive()
            ):
                time.sleep(0.05)
            admin.quit()
        except AdminError as exc:
            _log.warning("graceful stop: admin failed (%s); terminating", exc)
            return
        epoch.wait(max(0.5, deadline - time.monotonic()))

    def _retire(self, epoch: Epoch) -> None:
        """Move an epoch to the retired list; it is reaped in the background."""
        grace = self.options.drain_time_s + self.options.parent_shutdown_time_s + 5.0
        self._epochs.retire(epoch, grace)

    def _teardown(self) -> None:
        """Kill every epoch and the prewarmed validator, remove shared memory, the
        watchdog, the spawner and the run dir."""
        warm = self._take_warm()
        if warm is not None:
            warm.close()
        self._epochs.teardown()
        if self._spawner is not None:
            self._spawner.shutdown(wait=False)
            self._spawner = None
        if self._run_dir is not None and self._owns_run_dir:
            shutil.rmtree(self._run_dir, ignore_errors=True)
            self._run_dir = None

    # --- state and events ---------------------------------------------------------------
    def _live_epoch(self) -> Epoch:
        epoch = self._epochs.current
        if epoch is None or self._state not in (State.LIVE, State.RESTARTING, State.DRAINING):
            raise RuntimeError(f"envoy is not running (state: {self._state.value})")
        return epoch

    def _set_state(self, state: State, kind: str = "state", message: str = "") -> None:
        with self._changed:
            self._state = state
            self._changed.notify_all()
        epoch = self._epochs.current
        self._emit(Event(kind, state, epoch.number if epoch else None,
                         epoch.pid if epoch else None, message))

    def _emit(self, event: Event) -> None:
        self.events.append(event)
        _events.log(event.level, "%s", event.describe(), extra=event.fields())
        for callback in list(self._callbacks):
            try:
                callback(event)
            except Exception:
                _log.exception("event callback %r failed", callback)


def _check(config: ConfigInput, data: dict[str, Any]) -> None:
    """envoykit's own checks before envoy's: the typed model (a file keeps its lines in
    the message) and :func:`envoykit.validation.check`. Envoy accepts some bad configs
    (``alpn_protocols: "h2"``) that would otherwise go live."""
    bootstrap = load_bootstrap(config) if isinstance(config, Path) else as_bootstrap(data)
    issues = check(bootstrap)
    if issues:
        raise semantic_error(issues, bootstrap)  # a file names its lines


def _active_connections(admin: AdminClient) -> int:
    """Open downstream connections over all listeners but admin. (``server.total_connections``
    is only refreshed at each stats flush, every 5 s by default, so it lags.)"""
    gauges = admin.stats(filter=r"^listener\..*downstream_cx_active$", type="Gauges").gauges
    return sum(
        value for name, value in gauges.items()
        if not name.startswith("listener.admin.") and ".worker_" not in name
    )
