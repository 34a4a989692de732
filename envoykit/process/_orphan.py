"""No orphans: a tiny watchdog process that kills our Envoys when the Python parent dies.

Why a watchdog and not ``prctl(PR_SET_PDEATHSIG)`` in ``preexec_fn``:

* the parent-death signal fires when the *thread* that forked the child exits, not the
  process; the supervisor starts epochs from its monitor thread and from ``to_thread``
  worker threads, so Envoy would be killed by an ordinary thread exit;
* ``preexec_fn`` is documented as unsafe when threads exist (and we always have reader
  threads), and it disables subprocess' fast ``posix_spawn``/``vfork`` path;
* it is Linux-only.

The watchdog is ``python -I -S`` with no imports beyond the standard library core. The
supervisor holds the write end of its stdin; the kernel closes it when the parent dies
in any way (SIGKILL included), the watchdog reads EOF and SIGKILLs the process group of
every registered pid plus, on Linux, every process whose environment carries this
supervisor's token (which also covers a pid not yet registered when the parent died);
then it removes the shared-memory files of the base ids in the run directory, and the
run directory itself when the supervisor created it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import uuid

__all__ = ["TOKEN_ENV", "Watchdog"]

TOKEN_ENV = "ENVOYKIT_SUPERVISOR_TOKEN"
_log = logging.getLogger("envoykit.process")

_WATCHDOG_CODE = r"""
import os, shutil, signal, sys
token, run_dir, owned = sys.argv[1].encode(), sys.argv[2], sys.argv[3] == "1"
marker = b"ENVOYKIT_SUPERVISOR_TOKEN=" + token
for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
    signal.signal(sig, signal.SIG_IGN)
pids = set()
for line in sys.stdin.buffer:
    line = line.strip()
    if line[:1] == b"+":
        pids.add(int(line[1:]))
    elif line[:1] == b"-":
        pids.discard(int(line[1:]))
def carries_token(pid):
    try:
        with open("/proc/%d/environ" % pid, "rb") as handle:
            return marker in handle.read().split(b"\0")
    except OSError:
        return False
targets = set(pids)
if os.path.isdir("/proc"):
    targets = {pid for pid in targets if carries_token(pid)}
    targets |= {int(d) for d in os.listdir("/proc") if d.isdigit() and carries_token(int(d))}
for pid in targets:
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except OSError:
            pass
try:
    names = [n for n in os.listdir(run_dir) if n.startswith("base-id-")]
except OSError:
    names = []
for name in names:
    try:
        with open(os.path.join(run_dir, name)) as handle:
            base_id = int(handle.read().strip())
        os.unlink("/dev/shm/envoy_shared_memory_%d" % (base_id * 10))
    except (OSError, ValueError):
        pass
if owned:
    shutil.rmtree(run_dir, ignore_errors=True)
"""


class Watchdog:
    """Owns the watchdog process of one supervisor; ``env()`` marks Envoy processes."""

    def __init__(self, run_dir: str | os.PathLike[str], *, owns_run_dir: bool) -> None:
        self.token = uuid.uuid4().hex
        owned = "1" if owns_run_dir else "0"
        self._proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _WATCHDOG_CODE, self.token, os.fspath(run_dir),
             owned],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a terminal Ctrl-C must not reach it first
        )

    @property
    def pid(self) -> int:
        """The watchdog's own pid."""
        return self._proc.pid

    def env(self) -> dict[str, str]:
        """The environment for an Envoy process this watchdog guards."""
        return {**os.environ, TOKEN_ENV: self.token}

    def watch(self, pid: int) -> None:
        """Register an Envoy pid (also its process group: Envoy leads its own session)."""
        self._send(f"+{pid}\n")

    def unwatch(self, pid: int) -> None:
        """Forget a pid once it is reaped (its number may be reused)."""
        self._send(f"-{pid}\n")

    def close(self, timeout: float = 2.0) -> None:
        """Stop the watchdog; it kills whatever is still marked with our token."""
        stdin = self._proc.stdin
        if stdin is not None and not stdin.closed:
            with contextlib.suppress(OSError):
                stdin.close()
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def _send(self, text: str) -> None:
        stdin = self._proc.stdin
        if stdin is None or stdin.closed:
            return
        try:
            stdin.write(text.encode())
            stdin.flush()
        except OSError:
            _log.warning("envoykit watchdog %d is gone; orphan protection is off", self.pid)
