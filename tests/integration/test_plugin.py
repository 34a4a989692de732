"""The pytest plugin, tested as users run it: inner pytest sessions (pytester) on real envoy."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

# pytester's in-process runs drop the modules first imported during the run. httpx caches
# httpcore's exception classes on first use, so a re-imported httpcore would raise errors
# httpx no longer maps (in later tests of this process): import them all up front.
import envoykit.testing._proxy
import envoykit.testing.http
import envoykit.testing.tls
import envoykit.testing.upstream  # noqa: F401
from envoykit.testing import wait_until
from tests._processes import exited

pytest_plugins = ["pytester"]
pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]  # a deadline (loaded host)
# the inner sessions run in file order: their checks read pids in the order tests ran
# (pytest-randomly, a dev dependency, would shuffle them)
INNER = ("-p", "no:cacheprovider", "-p", "no:randomly")
# A subprocess run loads only envoykit's plugin: the others installed here (hypothesis,
# xdist, cov, ...) cost seconds on a loaded host; hypothesis imports itself at the summary.
NO_AUTOLOAD = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
ONLY_ENVOYKIT = ("-p", "envoykit.testing.plugin")


ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "pytest_example"
DOC = ROOT / "docs" / "testing.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)

# A plain-HTTP edge to one upstream, admin on port 0 (text shared by the inner test files).
CONFIG = """
from envoykit import EdgeProxy

def plain(upstream):
    return (EdgeProxy("plain").site("svc.example.com", upstream("svc").address)
            .http(port=0).admin(port=0))

PIDS = __import__("pathlib").Path(__file__).with_name("pids.txt")

def remember(proxy):
    with PIDS.open("a") as handle:
        handle.write(f"{proxy.pid}\\n")
"""


def recorded_pids(pytester: pytest.Pytester) -> list[int]:
    """The envoy pids the inner tests wrote down."""
    path = pytester.path / "pids.txt"
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def envoy_children() -> set[int]:
    """Live envoy (and watchdog) processes started by this process."""
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE and (
                child.name() == "envoy" or "envoykit-watchdog" in child.cmdline()
            ):
                found.add(child.pid)
        except psutil.NoSuchProcess:
            continue
    return found


def test_the_example_passes_under_xdist(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(str(EXAMPLE), "-n", "2", *INNER,
                                           timeout=60)
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["*2 workers*"])


def test_the_guide_example_passes(pytester: pytest.Pytester) -> None:
    [code] = BLOCK.findall(DOC.read_text())
    pytester.makepyfile(test_edge=code)
    reprec = pytester.inline_run(*INNER)
    reprec.assertoutcome(passed=2)


def test_a_failing_test_shows_envoy_log_and_leaves_no_envoy(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(CONFIG + """
from envoykit.testing import envoy_proxy_fixture

ADMIN_9901 = {"admin": {"address": {"socket_address": {"address": "127.0.0.1",
                                                       "port_value": 9901}}}}
shared = envoy_proxy_fixture(ADMIN_9901, scope="module")

def test_shared_admin_port_is_ephemeral(shared):
    remember(shared)
    assert shared.admin.ready() and not shared.admin_address.endswith(":9901")
    host, port = shared.admin_socket_address  # the same address as a (host, port) tuple
    assert shared.admin_address == f"{host}:{port}" and port != 9901

def test_fails(shared, envoy_proxy, upstream):
    proxy = envoy_proxy(plain(upstream), name="front")
    remember(proxy)
    assert proxy.url("http").startswith("http://127.0.0.1:")
    assert False, "the service misbehaved"
""")
    before = envoy_children()
    reprec = pytester.inline_run(*INNER)
    reprec.assertoutcome(passed=1, failed=1)
    shared, front = recorded_pids(pytester)
    for pid in (shared, front):
        assert exited(pid), f"envoy pid {pid} still runs after the session"
    assert envoy_children() <= before
    [report] = reprec.getfailures()
    sections = dict(report.sections)
    assert f"envoy log: front (pid {front})" in sections, list(sections)
    assert "starting main dispatch loop" in sections[f"envoy log: front (pid {front})"]
    assert f"envoy log: shared (pid {shared})" in sections  # module-scoped, listed too


def test_startup_failure_is_clear_and_leaves_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
import pytest
from envoykit import StartupError
from envoykit.testing import envoy_proxy_fixture

BAD = {"admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
       "static_resources": {"clusters": [{"name": "c", "connect_timeout": "banana"}]}}

broken = envoy_proxy_fixture(BAD)

def test_factory_raises(envoy_proxy):
    with pytest.raises(StartupError, match="envoy failed to start") as caught:
        envoy_proxy(BAD)
    assert caught.value.returncode not in (None, 0)
    assert caught.value.output_tail

def test_fixture_errors(broken):
    pass
""")
    before = envoy_children()
    reprec = pytester.inline_run(*INNER)
    passed, _, failed = reprec.listoutcomes()
    assert [r.head_line for r in passed] == ["test_factory_raises"]
    [error] = failed
    assert error.when == "setup"
    assert "envoy failed to start" in str(error.longrepr)
    assert "banana" in str(error.longrepr)  # envoy's own words, from its output tail
    titles = [title for title, _ in error.sections]
    assert any(t.startswith("envoy log: broken (failed to start, exit code") for t in titles)
    assert envoy_children() <= before


def test_ctrl_c_leaves_no_envoy(pytester: pytest.Pytester) -> None:
    # Checked inside the interrupted session, after its teardown: the supervisor's watchdog
    # would also kill an orphan once pytest exits, and must not hide a missed teardown.
    pytester.makeconftest("""
import pathlib, psutil

def pytest_unconfigure(config):
    for line in pathlib.Path(__file__).with_name("pids.txt").read_text().split():
        alive = psutil.pid_exists(int(line)) and psutil.Process(int(line)).status() != "zombie"
        print("ENVOY-AFTER-TEARDOWN:", "alive" if alive else "gone")
""")
    pytester.makepyfile(CONFIG + """
import threading

def test_waits(envoy_proxy, upstream):
    remember(envoy_proxy(plain(upstream)))
    # Until the Ctrl-C below, in slices: the kernel may hand the SIGINT to any thread of
    # the process (the supervisor's, the upstream's); Python then runs the handler only
    # when the main thread wakes, so signal.pause() or one long sleep could wait forever.
    while not threading.Event().wait(0.1):
        pass
""")
    log = pytester.path / "inner-run.log"
    with log.open("wb") as out:  # a file, not a pipe: nothing waits for an EOF
        proc = subprocess.Popen([sys.executable, "-m", "pytest", *INNER, *ONLY_ENVOYKIT, "-s"],
                                cwd=pytester.path, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1", **NO_AUTOLOAD},
                                start_new_session=True)

    def output() -> str:
        return f"output of the inner run:\n{log.read_text(errors='replace')}"

    def envoy_started() -> int | None:
        assert proc.poll() is None, f"the inner run exited ({proc.returncode}) early"
        return next(iter(recorded_pids(pytester)), None)

    try:
        pid = wait_until(envoy_started, what="the inner test to start envoy", context=output)
        proc.send_signal(signal.SIGINT)
        try:
            wait_until(lambda: proc.poll() is not None, what="the interrupted run to exit")
        except AssertionError as exc:  # show where it hangs: pytest's faulthandler dumps
            proc.send_signal(signal.SIGABRT)  # every thread's stack on SIGABRT
            wait_until(lambda: proc.poll() is not None, what="the aborted run to exit")
            raise AssertionError(f"{exc}\n{output()}") from None
    finally:
        with contextlib.suppress(ProcessLookupError):  # the inner pytest and its children
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output()
    assert "KeyboardInterrupt" in output()
    assert "ENVOY-AFTER-TEARDOWN: gone" in output(), output()
    wait_until(lambda: exited(pid), what=f"envoy pid {pid} gone after the interrupted run")


def test_missing_binary_skips_or_fails_on_request(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENVOY_BINARY", "/nonexistent/envoy")
    pytester.makepyfile("""
def test_needs_envoy(envoy_proxy):
    raise AssertionError("not reached")

def test_plain():
    pass
""")
    skipped = pytester.runpytest(*INNER, "-rs")
    skipped.assert_outcomes(passed=1, skipped=1)
    skipped.stdout.fnmatch_lines(["*envoy is not available*/nonexistent/envoy*"])
    deselected = pytester.runpytest(*INNER, "-m", "not envoy")
    deselected.assert_outcomes(passed=1, deselected=1)
    required = pytester.runpytest(*INNER, "--envoy-required")
    required.assert_outcomes(passed=1, errors=1)
    required.stdout.fnmatch_lines(["*envoy is not available*--envoy-required is set*"])
    flag = pytester.runpytest(*INNER, "-rs", "--envoy-binary=/other/envoy")
    flag.assert_outcomes(passed=1, skipped=1)
    flag.stdout.fnmatch_lines(["*envoy binary from the explicit path does not exist*/other/envoy*"])
    broken = pytester.runpytest(*INNER, "-rs", "--envoy-binary=/bin/true")
    broken.assert_outcomes(passed=1, skipped=1)
    broken.stdout.fnmatch_lines(["*envoy is not available*/bin/true*cannot parse*"])
    pytester.makeini("[pytest]\nenvoy_required = true\n")
    pytester.runpytest(*INNER).assert_outcomes(passed=1, errors=1)
