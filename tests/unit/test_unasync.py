"""scripts/unasync.py: the checked-in sync admin client is what the script generates."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync", ROOT / "scripts" / "unasync.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_sync_client_is_up_to_date() -> None:
    unasync = load_script()
    assert unasync.main(["--check"]) == 0


def test_a_change_to_the_async_client_makes_the_check_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    unasync = load_script()
    source = unasync.SOURCE.read_text()
    changed = source.replace('"""True when envoy is LIVE', '"""True once envoy is LIVE')
    assert changed != source
    (tmp_path / "async.py").write_text(changed)
    monkeypatch.setattr(unasync, "SOURCE", tmp_path / "async.py")
    assert unasync.main(["--check"]) == 1
    assert "_sync_client.py is stale" in capsys.readouterr().err


def test_the_rules_turn_async_into_blocking_code() -> None:
    unasync = load_script()
    # not synchronisation: the sleeps below are source text the generator rewrites
    text = unasync.generate('"""doc"""\nimport asyncio\n\nclass AsyncAdminClient:\n'
                            "    async def __aenter__(self) -> AsyncAdminClient:\n"
                            "        await asyncio.sleep(1)\n"
                            "        return await self._run(httpx.AsyncClient())\n")
    code = text[text.index('"""', 3) + 3:]  # after the generated header
    assert "import asyncio" not in code and "async" not in code and "await" not in code
    assert "def __enter__(self) -> AdminClient:" in text
    assert "time.sleep(1)" in text and "return self._run(httpx.Client())" in text
