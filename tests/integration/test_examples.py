"""Every script in ``examples/`` runs as a user would run it, exits 0 and leaves no process
behind; every config an example builds is accepted by ``envoy --mode validate``.

Each example runs as ``python examples/NAME.py`` from the repository root, in a subprocess
with a timeout, and with ``ENVOYKIT_EXAMPLE_RENDER=<tmp dir>`` in its environment. Examples
built on ``examples/_common.py`` then keep their files and save every Envoy config they build
as ``<tmp dir>/<example>/<name>.envoy.yaml`` (with the certificates and secret files it
references); the test loads each with ``load_bootstrap``, runs envoykit's semantic checks on
it and ``envoy --mode validate`` on the file itself. Examples that do not use ``_common``
(they may come from elsewhere) are only run.

Examples bind 127.0.0.1/::1 port 0 or free ports and envoy gets a dynamic base id, so the
test is safe under ``pytest -n 2``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

from envoykit import check, load_bootstrap
from envoykit.validation import envoy_validate_file

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_"))
RENDER_ENV = "ENVOYKIT_EXAMPLE_RENDER"
MARK_ENV = "ENVOYKIT_EXAMPLE_MARK"  # inherited by everything an example starts
TIMEOUT = 90.0
DOCS = ROOT / "docs"


def code_blocks(markdown: Path, language: str) -> list[str]:
    """The fenced blocks of one language (```python runs; ```py quotes an example)."""
    fence = re.compile(rf"^```{language}\n(.*?)^```$", re.MULTILINE | re.DOTALL)
    return fence.findall(markdown.read_text(encoding="utf-8"))


def uses_common(example: Path) -> bool:
    return "from _common import" in example.read_text(encoding="utf-8")


def processes_marked(mark: str) -> list[psutil.Process]:
    """Processes (envoy, helpers) started by the example run whose environment has ``mark``."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(MARK_ENV) == mark:
                found.append(proc)
        except (psutil.Error, OSError):
            continue  # gone, or not ours to read
    return found


def test_there_is_an_example_for_every_scenario_of_the_seed() -> None:
    names = {p.stem for p in EXAMPLES}
    expected = {
        "seed_demo_config", "company_routing", "https_sni", "http_to_https_redirect",
        "local_rate_limit", "admin_and_stats", "config_yaml_override", "access_log_json",
        "upstream_tls_verify", "mtls", "jwt_auth", "rbac", "oauth2_login", "ipv6_and_dns",
        "front_proxy_generator",
    }
    assert expected <= names, f"missing examples: {sorted(expected - names)}"
    docs = DOCS / "examples"
    missing_docs = sorted(n for n in expected if not (docs / f"{n}.md").is_file())
    assert not missing_docs, f"examples without a docs page: {missing_docs}"


def test_every_example_asserts_what_it_shows() -> None:
    """An example run as a test proves only what it asserts (the exit code alone says it
    did not crash)."""
    silent = [p.name for p in EXAMPLES if not re.search(r"^\s*assert\b|raise AssertionError",
                                                         p.read_text(encoding="utf-8"), re.M)]
    assert not silent, f"examples without an assert: {silent}"


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_and_its_configs_are_valid(example: Path, tmp_path: Path) -> None:
    mark = uuid.uuid4().hex
    env = {**os.environ, RENDER_ENV: str(tmp_path), MARK_ENV: mark, "PYTHONUNBUFFERED": "1"}
    started = time.monotonic()
    try:
        done = subprocess.run([sys.executable, str(example)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=TIMEOUT, check=False)
    finally:
        left = processes_marked(mark)
        for proc in left:  # clean up before failing, so one bad example breaks nothing else
            proc.kill()
    took = time.monotonic() - started
    assert done.returncode == 0, (
        f"{example.name} exited {done.returncode} after {took:.1f}s\n"
        f"--- stdout (tail)\n{done.stdout[-4000:]}\n--- stderr (tail)\n{done.stderr[-4000:]}")
    assert done.stdout.strip(), f"{example.name} printed nothing"
    assert not left, f"{example.name} left processes behind: {[p.pid for p in left]}"

    configs = sorted(tmp_path.rglob("*.envoy.yaml"))
    if uses_common(example):
        assert configs, f"{example.name} saved no config (see examples/_common.save_config)"
    for config in configs:
        issues = check(load_bootstrap(config))
        assert not issues, f"{config.name}: {[str(i) for i in issues]}"
        output = envoy_validate_file(config)  # raises EnvoyValidationError with envoy's words
        assert "OK" in output


@pytest.mark.parametrize("page", sorted((DOCS / "examples").glob("*.md")),
                         ids=lambda p: p.stem)
def test_docs_quote_their_example_as_it_is(page: Path) -> None:
    """Every line of a page's ```py excerpts is a line of the example script it documents."""
    blocks = code_blocks(page, "py")
    if page.stem == "index":
        assert not blocks
        return
    script = ROOT / "examples" / f"{page.stem}.py"
    assert script.is_file(), f"{page.name} documents a missing script"
    assert blocks, f"{page.name} quotes no key lines of {script.name}"
    lines = {line.strip() for line in script.read_text(encoding="utf-8").splitlines()}
    stale = [line.strip() for block in blocks for line in block.splitlines()
             if line.strip() and line.strip() not in lines]
    assert not stale, f"{page.name} quotes lines that are not in {script.name}: {stale}"


def test_migration_guide_blocks_run(monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The ```python blocks of docs/migration.md run in order, from the repository root."""
    page = DOCS / "migration.md"
    blocks = code_blocks(page, "python")
    assert len(blocks) >= 8
    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {"__name__": "migration_docs"}
    for number, code in enumerate(blocks, 1):
        exec(compile(code, f"{page.name}[python block {number}]", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "LOGICAL_DNS V4_ONLY" in printed
    assert "seed_demo_tab.yaml:38" in printed and "tab character" in printed
    assert "dns_lookup_family" in printed
    assert "['RawConfig', 'LocalRateLimit', 'Router']" in printed
