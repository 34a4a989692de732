"""No orphans: a tiny watchdog process that kills our Envoys when the Python parent dies.

Why a watchdog and not ``prctl(PR_SET_PDEATHSIG)`` in ``preexec_fn``:

* the parent-death signal fires when the *thread* that forked the child exits, not the
  process; the supervisor starts epochs from its monitor thread and from ``to_thread``
  worker threads, so Envoy would be killed by an ordinary thread exit;
* ``preexec_fn`` is documented as unsafe when threads exist (and we always have reader
  threads), and it disables subprocess' fast ``posix_spawn``/``vfork`` path;
* it is Linux-only.

The watchdog is a POSIX ``sh`` script (no interpreter start-up to pay, nothing to import).
The supervisor holds the write end of its stdin; the kernel closes it when the parent
dies in any way (SIGKILL included), the watchdog reads EOF and SIGKILLs the process group
of every process whose environment carries this supervisor's token (on Linux, found in
``/proc/*/environ``, which also covers a pid not yet registered when the parent died;
elsewhere, the registered pids); then it removes the shared-memory files of the base ids
in the run directory, and the run directory itself when the supervisor created it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import uuid

__all__ = ["TOKEN_ENV", "Watchdog"]

TOKEN_ENV = "ENVOYKIT_SUPERVISOR_TOKEN"
_log = logging.getLogger("envoykit.process")

# POSIX sh, builtins only in the loop: starts in about a millisecond, a few hundred KiB.
_WATCHDOG_SCRIPT = r"""
trap '' INT HUP PIPE
token=$1 run_dir=$2 owned=$3 marker="ENVOYKIT_SUPERVISOR_TOKEN=$1" pids=
while IFS= read -r line; do
  case $line in
    +*) pids="$pids ${line#+}" ;;
    -*) keep=; for p in $pids; do [ "$p" = "${line#-}" ] || keep="$keep $p"; done; pids=$keep ;;
  esac
done
if [ -d /proc ]; then
  pids=
  for f in $(grep -l -a -F "$marker" /proc/[0-9]*/environ 2>/dev/null); do
    p=${f#/proc/}; pids="$pids ${p%/environ}"
  done
fi
for p in $pids; do
  kill -s KILL -- "-$p" 2>/dev/null; kill -s KILL "$p" 2>/dev/null
done
for f in "$run_dir"/base-id-*; do
  id=; [ -f "$f" ] && read -r id < "$f"  # envoy writes no final newline
  case $id in ''|*[!0-9]*) ;; *) rm -f "/dev/shm/envoy_shared_memory_${id}0" ;; esac
done
[ "$owned" = 1 ] && rm -rf -- "$run_dir"
exit 0
"""


class Watchdog:
    """Owns the watchdog process of one supervisor; ``env()`` marks Envoy processes.

    ``start=False`` defers the process to the first :meth:`watch` (or :meth:`start`): the
    supervisor launches Envoy first and the watchdog while Envoy boots, off ``start()``'s
    path. Nothing is unguarded meanwhile: at its end the watchdog finds every process that
    carries the token, registered or not, and Envoy's own parent-death signal covers a
    parent that dies before the watchdog exists."""

    def __init__(self, run_dir: str | os.PathLike[str], *, owns_run_dir: bool,
                 start: bool = True) -> None:
        self.token = uuid.uuid4().hex
        self._argv = ["/bin/sh", "-c", _WATCHDOG_SCRIPT, "envoykit-watchdog", self.token,
                      os.fspath(run_dir), "1" if owns_run_dir else "0"]
        self._proc: subprocess.Popen[bytes] | None = None
        if start:
            self.start()

    def start(self) -> None:
        """Start the watchdog process (once)."""
        if self._proc is None:
            self._proc = subprocess.Popen(
                self._argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # a terminal Ctrl-C must not reach it first
            )

    @property
    def pid(self) -> int | None:
        """The watchdog's own pid (None before it started)."""
        return None if self._proc is None else self._proc.pid

    def env(self) -> dict[str, str]:
        """The environment for an Envoy process this watchdog guards."""
        return {**os.environ, TOKEN_ENV: self.token}

    def watch(self, pid: int) -> None:
        """Register an Envoy pid (also its process group: Envoy leads its own session)."""
        self.start()
        self._send(f"+{pid}\n")

    def unwatch(self, pid: int) -> None:
        """Forget a pid once it is reaped (its number may be reused)."""
        self._send(f"-{pid}\n")

    def close(self, timeout: float = 2.0) -> None:
        """Stop the watchdog; it kills whatever is still marked with our token."""
        if self._proc is None:
            return
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
        if self._proc is None:
            return
        stdin = self._proc.stdin
        if stdin is None or stdin.closed:
            return
        try:
            stdin.write(text.encode())
            stdin.flush()
        except OSError:
            _log.warning("envoykit watchdog %d is gone; orphan protection is off", self._proc.pid)
