"""A config gate for hot restart: validate the new config *while* the next epoch starts.

The child epoch is started with ``-c <fifo>``. Envoy spends most of a start in work that
does not depend on the config (loading the binary, registering extensions, joining the
hot-restart shared memory), then blocks reading the FIFO. Meanwhile ``envoy --mode
validate`` checks the config; only a config it accepted is written into the FIFO, so the
child never reads an unchecked config and the old epoch is not touched before that.

If validation refuses the config the child is killed while it still waits on the FIFO.
Envoy sets an "initializing" flag in the hot-restart shared memory when an epoch starts
and clears it only once that epoch is serving; a killed child leaves it set, and every
later hot restart would fail with "previous envoy process is still initializing". The
parent has not been contacted yet (it still serves, admin included), so clearing that one
flag is all the cleanup needed. The layout is Envoy's ``SharedMemory`` struct
(``source/server/hot_restart_impl.h``): ``size_`` and ``version_`` first, ``flags_`` last;
:func:`gate_supported` checks that the file matches it (``size_`` equals the file size,
the version is one we know) and the supervisor falls back to validating first otherwise.
"""

from __future__ import annotations

import contextlib
import errno
import os
import struct
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from envoykit.validation import envoy_refused

__all__ = ["GateError", "WarmValidator", "clear_initializing", "feed_gate", "gate_supported",
           "make_gate"]

_HEADER = struct.Struct("<QQ")  # size_, version_
_FLAGS = struct.Struct("<Q")  # flags_, the struct's last field
_INITIALIZING = 0x1
_KNOWN_VERSIONS = frozenset({11})  # HOT_RESTART_VERSION of the Envoy releases we ship with
_KNOWN_SIZES = frozenset({104, 120})  # pthread_mutex_t of 40 (x86_64) or 48 (aarch64) bytes


class GateError(Exception):
    """The child exited or timed out before it read its config."""


def _layout(shm: Path) -> int | None:
    """The offset of ``flags_`` if ``shm`` is a SharedMemory struct we know, else None."""
    try:
        data = shm.read_bytes()
    except OSError:
        return None
    if len(data) not in _KNOWN_SIZES:
        return None
    size, version = _HEADER.unpack_from(data)
    if size != len(data) or version not in _KNOWN_VERSIONS:
        return None
    return len(data) - _FLAGS.size


def gate_supported(shm: Path) -> bool:
    """Whether a gated start can be undone on this Envoy (the shared memory is known)."""
    return os.name == "posix" and _layout(shm) is not None


def clear_initializing(shm: Path) -> bool:
    """Clear the "initializing" flag a killed child left; False if the layout is unknown.
    Call it only once the child is dead: nothing else writes the flag then."""
    offset = _layout(shm)
    if offset is None:
        return False
    with open(shm, "r+b") as f:
        f.seek(offset)
        (flags,) = _FLAGS.unpack(f.read(_FLAGS.size))
        if flags & _INITIALIZING:
            f.seek(offset)
            f.write(_FLAGS.pack(flags & ~_INITIALIZING))
    return True


def make_gate(path: Path) -> None:
    """A FIFO only the owner can read or write (a stale file is replaced)."""
    path.unlink(missing_ok=True)
    os.mkfifo(path, 0o600)


def feed_gate(path: Path, text: str, alive: Callable[[], bool], timeout: float,
              poll_interval: float = 0.001) -> None:
    """Write ``text`` into the FIFO once the child opens it for reading; GateError if the
    child exits first or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # ENXIO: no reader yet
                raise
        if not alive():
            raise GateError("the new epoch exited before it read its config")
        if time.monotonic() > deadline:
            raise GateError(f"the new epoch did not read its config in {timeout:g}s")
        time.sleep(poll_interval)
    try:
        os.set_blocking(fd, True)
        data = text.encode()
        view = memoryview(data)
        while view:
            try:
                written = os.write(fd, view)
            except BrokenPipeError:
                raise GateError("the new epoch exited while reading its config") from None
            view = view[written:]
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)


class WarmValidator:
    """``envoy --mode validate`` started ahead of need, waiting on a FIFO for its config.

    An Envoy process spends most of a validation starting up (loading the binary,
    registering extensions); the check of a small config itself takes a few ms. Started
    while nothing else happens, the process waits on its FIFO; :meth:`check` feeds it the
    config and waits for the verdict — envoy's own, on the exact text."""

    def __init__(self, proc: subprocess.Popen[bytes], fifo: Path) -> None:
        self.proc = proc
        self.fifo = fifo

    @classmethod
    def start(cls, binary: str, extra_args: Sequence[str], fifo: Path,
              env: Mapping[str, str]) -> WarmValidator:
        """``env`` carries the watchdog's token: a SIGKILLed supervisor leaves no validator."""
        make_gate(fifo)
        argv = [binary, "--mode", "validate", "-c", str(fifo), "-l", "warn", *extra_args]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env=dict(env))
        return cls(proc, fifo)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def check(self, text: str, shown_as: Path, timeout: float) -> None:
        """Validate ``text``; EnvoyValidationError with envoy's output if refused, GateError
        if this process cannot be used (then validate another way)."""
        try:
            feed_gate(self.fifo, text, self.alive, timeout)
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.close()
            raise
        finally:
            self.fifo.unlink(missing_ok=True)
        output = out.decode(errors="replace").strip()
        if self.proc.returncode != 0:
            raise envoy_refused(shown_as, output, self.proc.returncode)

    def close(self) -> None:
        """Kill it if still waiting (it has read nothing) and remove the FIFO."""
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.communicate(timeout=5)
        self.fifo.unlink(missing_ok=True)
