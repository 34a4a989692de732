"""``envoykit run``: a supervised envoy in the foreground.

SIGHUP re-reads CONFIG and hot-restarts; with ``--watch`` a change of CONFIG's mtime
does the same. A reload that fails (load error, failed check, envoy's validation, a
child that does not come up) is reported and the running epoch keeps serving.
SIGTERM and Ctrl-C stop envoy gracefully; the exit code is 0 then, 1 when envoy could
not be started or kept running.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from envoykit import Bootstrap, EnvoykitError, check, find_envoy, to_dict
from envoykit._cli.args import (
    LOG_LEVELS,
    SubParsers,
    add_config,
    component_levels,
    natural,
    positive_int,
    seconds,
)
from envoykit._cli.output import JsonFormatter, install_handler, progress
from envoykit._cli.source import ConfigSource, UsageError, UserCodeError, parse_source
from envoykit._util import write_atomic
from envoykit.load import semantic_error
from envoykit.process import Supervisor, SupervisorState

__all__ = ["SUPERVISOR_FLAGS", "RunOptions", "Runner", "register", "run", "setup_logging"]

log = logging.getLogger("envoykit.cli")


# The flags that are Supervisor keyword arguments: dest (= the keyword) → flags and options.
SUPERVISOR_FLAGS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "log_level": (("-l", "--log-level"), {"choices": LOG_LEVELS, "default": "info"}),
    "component_log_level": (("--component-log-level",), {
        "type": component_levels, "metavar": "NAME:LEVEL,...",
        "help": "e.g. upstream:debug,connection:trace"}),
    "log_path": (("--log-path",), {"metavar": "FILE", "help": "envoy writes its log to FILE"}),
    "concurrency": (("--concurrency",), {"type": positive_int, "metavar": "N",
                                         "help": "worker threads"}),
    "config_yaml": (("--config-yaml",), {
        "metavar": "YAML", "help": "YAML merged over CONFIG by envoy (e.g. to change a port)"}),
    "drain_time_s": (("--drain-time-s",), {"type": natural, "default": 2, "metavar": "N"}),
    "parent_shutdown_time_s": (("--parent-shutdown-time-s",), {
        "type": natural, "default": 3, "metavar": "N"}),
}


def register(subparsers: SubParsers) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "run", help="run envoy in the foreground, supervised",
        description="Run envoy supervised: SIGHUP (or a change of CONFIG with "
        "--watch) hot-restarts with the re-read CONFIG; SIGTERM or Ctrl-C stop.")
    add_config(p)
    for dest, (flags, options) in SUPERVISOR_FLAGS.items():
        p.add_argument(*flags, dest=dest, **options)
    p.add_argument("--watch", action="store_true", help="hot-restart when CONFIG changes")
    p.add_argument("--watch-interval", type=seconds, default=1.0, metavar="SECONDS",
                   help="how often --watch looks at CONFIG (default 1)")
    p.add_argument("--admin-address-path", metavar="FILE",
                   help="write the admin address (HOST:PORT) to FILE, again after each "
                   "hot restart")
    p.add_argument("--envoy", metavar="PATH", help="use this envoy binary")
    p.add_argument("--log-format", choices=("text", "json"), default="text",
                   help="json: one JSON object per line on stderr (supervisor events)")
    p.set_defaults(cli_logging=logging.INFO)  # what the supervisor does is news here
    return p


def run(args: argparse.Namespace) -> int:
    source = parse_source(args.config)
    options = RunOptions.from_args(args)
    setup_logging(args.log_format)
    return Runner(source, options).run()


@dataclass(frozen=True)
class RunOptions:
    """What ``envoykit run`` does beyond the supervisor, and the supervisor's keywords."""

    watch: bool = False
    watch_interval: float = 1.0
    admin_address_path: str | None = None
    log_format: str = "text"
    supervisor: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RunOptions:
        """From the parsed command line: the supervisor's keywords taken once, by name."""
        supervisor = {dest: getattr(args, dest) for dest in SUPERVISOR_FLAGS}
        supervisor["binary"] = find_envoy(args.envoy)
        return cls(watch=args.watch, watch_interval=args.watch_interval,
                   admin_address_path=args.admin_address_path, log_format=args.log_format,
                   supervisor=supervisor)


class Runner:
    """Start envoy, then wait for signals and file changes until told to stop."""

    def __init__(self, source: ConfigSource, options: RunOptions) -> None:
        self.source = source
        self.options = options
        self._wake = threading.Event()
        self._stop = False
        self._reload = False
        self._starting = False
        self._watched = source.watched_path() if options.watch else None
        self._stamp = _stamp(self._watched)

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; the process exit code."""
        with self._progress("checking the config"):
            bootstrap = _prepared(self.source.load())
        supervisor = Supervisor(bootstrap, **self.options.supervisor)
        restore = self._install_signals()
        try:
            with self._progress("starting envoy"):
                self._start(supervisor)
            self._announce(supervisor)
            return self._loop(supervisor)
        except _Interrupted:
            log.info("stopped before envoy was live")
            return 0
        finally:
            with self._progress("draining connections and stopping envoy"):
                supervisor.stop(graceful=True)
            restore()

    def _progress(self, text: str) -> contextlib.AbstractContextManager[None]:
        """A spinner on a terminal (never in ``--log-format json``)."""
        return progress(f"{text}…", enabled=self.options.log_format == "text")

    def _start(self, supervisor: Supervisor) -> None:
        """Start; a stop signal meanwhile interrupts the wait for readiness."""
        self._starting = True
        try:
            if self._stop:
                raise _Interrupted
            supervisor.start()
        finally:
            self._starting = False

    def _loop(self, supervisor: Supervisor) -> int:
        interval = self.options.watch_interval if self._watched else 1.0
        while True:
            self._wake.wait(interval)
            self._wake.clear()
            if self._stop:
                log.info("stopping envoy")
                return 0
            if supervisor.state is SupervisorState.FAILED:
                log.error("%s", supervisor.error or "envoy failed")
                return 1
            if self._reload or self._file_changed():
                self._reload = False
                self._hot_restart(supervisor)

    def _file_changed(self) -> bool:
        stamp = _stamp(self._watched)
        if stamp is None or stamp == self._stamp:
            return False
        self._stamp = stamp
        log.info("%s changed", self._watched)
        return True

    def _hot_restart(self, supervisor: Supervisor) -> None:
        epoch = supervisor.epoch
        try:
            with self._progress("hot restart: checking, validating and switching"):
                bootstrap = _prepared(self.source.load())
                number = supervisor.hot_restart(bootstrap)
        except (EnvoykitError, UsageError, UserCodeError) as exc:
            log.error("reload failed, epoch %s keeps serving:\n%s", supervisor.epoch or epoch, exc)
            return
        except Exception:  # a bug must not take the running proxy down with it
            log.exception("reload failed (internal error), epoch %s keeps serving",
                          supervisor.epoch or epoch)
            return
        self._write_admin_address(supervisor)  # first: a script may wait for the line below
        log.info("hot restart done: epoch %d is live (pid %s)", number, supervisor.pid)

    def _announce(self, supervisor: Supervisor) -> None:
        listeners = ", ".join(f"{name}={host}:{port}"
                              for name, (host, port) in sorted(supervisor.listeners.items()))
        self._write_admin_address(supervisor)  # first: a script may wait for the line below
        log.info("envoy is live: epoch %s, pid %s, admin %s, listeners: %s", supervisor.epoch,
                 supervisor.pid, supervisor.admin_address or "-", listeners or "-")

    def _write_admin_address(self, supervisor: Supervisor) -> None:
        if self.options.admin_address_path:
            write_atomic(Path(self.options.admin_address_path), supervisor.admin_address + "\n",
                         private=False, fsync=False)

    def _install_signals(self) -> Callable[[], None]:
        def on_stop(signum: int, frame: FrameType | None) -> None:
            self._stop = True
            self._wake.set()
            if self._starting:
                raise _Interrupted

        def on_hup(signum: int, frame: FrameType | None) -> None:
            self._reload = True
            self._wake.set()

        handlers = {signal.SIGTERM: on_stop, signal.SIGINT: on_stop, signal.SIGHUP: on_hup}
        previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}

        def restore() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        return restore


class _Interrupted(BaseException):
    """SIGTERM or SIGINT arrived while envoy was starting."""


LOOPBACK_ADMIN = {"socket_address": {"address": "127.0.0.1", "port_value": 0}}


def _prepared(bootstrap: Bootstrap) -> Bootstrap:
    """The bootstrap after envoykit's checks, with an admin address: the supervisor needs
    the admin API, so a config without one gets 127.0.0.1 port 0."""
    issues = check(bootstrap)
    if issues:
        raise semantic_error(issues, bootstrap)  # a YAML CONFIG names its lines
    data = to_dict(bootstrap)
    if (data.get("admin") or {}).get("address"):
        return bootstrap
    log.info("the config has no admin address; supervising through 127.0.0.1 port 0")
    data["admin"] = {**(data.get("admin") or {}), "address": LOOPBACK_ADMIN}
    result: Bootstrap = Bootstrap.from_dict(data)
    return result


def _stamp(path: Path | None) -> tuple[int, int] | None:
    if path is None:
        return None
    try:
        stat = path.stat()
    except OSError:
        return None  # mid-replace by an editor: look again next time
    return stat.st_mtime_ns, stat.st_size


def setup_logging(log_format: str = "text") -> None:
    """Text: envoy's own lines verbatim on stderr, envoykit's as ``envoykit: message``.
    JSON: every line (supervisor events, envoykit's messages, envoy's own lines) as one
    JSON object on stderr."""
    envoy = logging.getLogger("envoykit.envoy")
    envoy.setLevel(1)
    envoy.propagate = False
    if log_format == "json":
        install_handler(logging.getLogger("envoykit"), JsonFormatter())
        install_handler(envoy, JsonFormatter())
    else:
        install_handler(envoy, "%(message)s")
