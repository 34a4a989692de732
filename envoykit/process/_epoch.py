"""One Envoy process (one hot-restart epoch): spawn, readiness probe, signals, psutil facts."""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from envoykit.admin import AdminClient
from envoykit.admin._models import parse_listeners
from envoykit.errors import AdminError
from envoykit.process._launch import EpochPaths
from envoykit.process._output import OutputPump, RingBuffer
from envoykit.process._state import EpochInfo

__all__ = ["Epoch", "NotReady"]

_log = logging.getLogger("envoykit.process")
_ADDRESS_RE = re.compile(r"^(?P<host>\[[0-9a-fA-F:.]+\]|[^\s:]+):(?P<port>\d+)$")


class NotReady(Exception):
    """An epoch exited or ran out of time before it became ready."""

    def __init__(self, message: str, returncode: int | None = None) -> None:
        self.returncode = returncode
        super().__init__(message)


def _get(address: str, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """``GET path`` on a TCP admin address: (status, body). The probes of a starting epoch
    run every few ms beside it on the same cores: plain ``http.client`` costs less than
    half the CPU of an ``httpx`` request (0.27 vs 0.63 ms measured here), and needs no
    client to be built first."""
    match = _ADDRESS_RE.match(address)
    if match is None:
        raise OSError(f"not a host:port admin address: {address!r}")
    conn = http.client.HTTPConnection(match["host"].strip("[]"), int(match["port"]),
                                      timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _ready(address: str, timeout: float = 2.0) -> bool:
    """``GET /ready`` on a TCP admin address, 200 or not."""
    return _get(address, "/ready", timeout)[0] == 200


def _listeners(address: str) -> dict[str, tuple[str, int]]:
    """Listener name → bound address, from ``/listeners?format=json`` on a TCP admin
    address (the last step before ``start()`` returns: no ``httpx`` client is built)."""
    try:
        status, body = _get(address, "/listeners?format=json")
    except (OSError, http.client.HTTPException) as exc:
        raise AdminError(f"/listeners: {exc}", endpoint="/listeners") from exc
    if status != 200:
        raise AdminError(f"/listeners answered {status}", endpoint="/listeners")
    try:
        return parse_listeners(json.loads(body))
    except ValueError as exc:
        raise AdminError(f"/listeners: {exc}", endpoint="/listeners") from exc


def admin_client(address: str, timeout: float = 2.0) -> AdminClient:
    """An admin client that skips the TLS setup (admin is plain HTTP on loopback or a unix
    socket; the default ``httpx`` transport loads the CA bundle, ~20 ms per client)."""
    uds = address.removeprefix("unix:") if address.startswith("unix:") else None
    transport = httpx.HTTPTransport(verify=False, uds=uds)
    return AdminClient(address, timeout=timeout, transport=transport, check_params=False)


@dataclass(eq=False)
class Epoch:
    """A spawned Envoy process and what the supervisor learnt about it."""

    number: int
    serial: int
    proc: subprocess.Popen[bytes]
    paths: EpochPaths
    output: RingBuffer
    pump: OutputPump
    base_id: int | None = None
    log_path: str | None = None
    admin_address: str | None = None
    listeners: dict[str, tuple[str, int]] = field(default_factory=dict)
    live_since: float | None = None
    reported_ready: bool = True
    _admin: AdminClient | None = None
    _ps: psutil.Process | None = None

    @classmethod
    def spawn(
        cls,
        argv: Sequence[str],
        *,
        number: int,
        serial: int,
        paths: EpochPaths,
        env: Mapping[str, str],
        base_id: int | None,
        log_path: str | None,
        output_lines: int,
    ) -> Epoch:
        """Start Envoy in its own session (process group) with stdout+stderr drained."""
        for stale in (paths.admin_address, paths.base_id):  # a reused run_dir
            stale.unlink(missing_ok=True)
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=dict(env),
            cwd=None,  # the caller's: relative paths in a config mean what `envoy -c` would
        )
        assert proc.stdout is not None
        output = RingBuffer(output_lines)
        extra: dict[str, object] = {"envoy_epoch": number, "envoy_pid": proc.pid}
        pump = OutputPump(proc.stdout, output, name=f"envoy-{proc.pid}-output", extra=extra)
        pump.start()
        _log.debug("started envoy epoch %d pid %d: %s", number, proc.pid, " ".join(argv))
        return cls(number=number, serial=serial, proc=proc, paths=paths, output=output,
                   pump=pump, base_id=base_id, log_path=log_path)

    @property
    def pid(self) -> int:
        """The process id."""
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        """The exit code, None while running."""
        return self.proc.poll()

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc.poll() is None

    # --- readiness -------------------------------------------------------------------
    def check_ready(self) -> bool:
        """One readiness probe: admin address file present and ``/ready`` 200."""
        if self.admin_address is None:
            self.admin_address = _read_admin_address(self.paths.admin_address)
            if self.admin_address is None:
                return False
        try:
            return _ready(self.admin_address) if not self.admin_address.startswith("unix:") \
                else self.admin().ready()
        except (AdminError, OSError, http.client.HTTPException):
            if self.live_since is None:  # not ready yet: maybe a half-written address file
                self._forget_admin()
            return False

    def _forget_admin(self) -> None:
        if self._admin is not None:
            self._admin.close()
        self._admin = None
        self.admin_address = None

    def wait_ready(
        self, timeout: float, poll_interval: float, cancel: threading.Event | None = None
    ) -> None:
        """Probe until ready; raise :class:`NotReady` at once when the process exits
        (or ``cancel`` is set), or after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            returncode = self.proc.poll()
            if returncode is not None:
                raise NotReady("envoy exited before it became ready", returncode)
            if cancel is not None and cancel.is_set():
                raise NotReady("stopped while waiting for envoy to become ready")
            if self.check_ready():
                break
            if time.monotonic() > deadline:
                raise NotReady(f"envoy was not ready within {timeout:g}s")
            time.sleep(poll_interval)
        self._learn_live_facts()

    def _learn_live_facts(self) -> None:
        if self.number > 0:  # a hot-restart child: make sure the new epoch is the one LIVE
            info = self.admin().server_info()
            if info.restart_epoch != self.number or not info.is_live:
                raise NotReady(f"admin reports epoch {info.restart_epoch} in state "
                               f"{info.state}, expected epoch {self.number} LIVE")
        address = self.admin_address or ""
        self.listeners = self.admin().listeners() if address.startswith("unix:") \
            else _listeners(address)
        if self.base_id is None:
            self.base_id = _read_int(self.paths.base_id)
        self.live_since = time.monotonic()

    def admin(self) -> AdminClient:
        """A (cached) admin client for this epoch; needs the admin address."""
        if self._admin is None:
            if self.admin_address is None:
                raise AdminError("admin address not known yet", endpoint="/")
            self._admin = admin_client(self.admin_address)
        return self._admin

    def live_for(self) -> float:
        """Seconds since this epoch became ready (0 if it never did)."""
        return 0.0 if self.live_since is None else time.monotonic() - self.live_since

    # --- output ----------------------------------------------------------------------
    def tail(self, count: int = 30) -> list[str]:
        """The last lines Envoy printed (and wrote to ``--log-path``, if set)."""
        self.pump.join(0.5 if not self.alive() else 0)
        lines = self.output.tail(count)
        if self.log_path:
            lines += _file_tail(Path(self.log_path), count)
        return lines[-count:]

    # --- signals and teardown --------------------------------------------------------
    def signal_tree(self, sig: int) -> None:
        """Send ``sig`` to Envoy's process group and any descendant that left it."""
        pids = set()
        with contextlib.suppress(psutil.Error):
            pids = {child.pid for child in psutil.Process(self.pid).children(recursive=True)}
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(self.pid, sig)
            pids.add(self.pid)
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, sig)

    def wait(self, timeout: float) -> bool:
        """Wait for exit; True when the process has exited."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def terminate(self, grace: float = 1.0) -> None:
        """SIGTERM the tree (Envoy exits at once, no draining), SIGKILL after ``grace``."""
        if self.alive():
            self.signal_tree(signal.SIGTERM)
            if not self.wait(grace):
                self.signal_tree(signal.SIGKILL)
                self.wait(5.0)
        self.signal_tree(signal.SIGKILL)  # stragglers in the group, if any

    def close(self) -> None:
        """Release the admin client and the reader thread (process already gone)."""
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        self.pump.join(1.0)

    def info(self, *, current: bool) -> EpochInfo:
        """pid, RSS and CPU of this process from psutil."""
        rss = cpu = seconds = None
        alive = self.alive()
        if alive:
            try:
                if self._ps is None:
                    self._ps = psutil.Process(self.pid)
                with self._ps.oneshot():
                    rss = self._ps.memory_info().rss
                    cpu = self._ps.cpu_percent(None)
                    times = self._ps.cpu_times()
                    seconds = times.user + times.system
            except psutil.Error:
                alive = False
        return EpochInfo(epoch=self.number, pid=self.pid, alive=alive, current=current,
                         rss_bytes=rss, cpu_percent=cpu, cpu_seconds=seconds,
                         returncode=self.returncode)


def _read_admin_address(path: Path) -> str | None:
    """``host:port``, or ``unix:/path`` for an admin on a pipe; None until written."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if text.startswith(("/", "@")):
        return f"unix:{text}"
    return text if _ADDRESS_RE.match(text) else None


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def _file_tail(path: Path, count: int) -> list[str]:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 64 * 1024))
            data = handle.read()
    except OSError:
        return []
    return data.decode("utf-8", "replace").splitlines()[-count:]
