"""Every ```python block of docs/admin.md runs against a real envoy (```py blocks do not)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _admin_helpers import rich_envoy

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "admin.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def test_the_admin_guide_blocks_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = BLOCK.findall(DOC.read_text())
    assert len(blocks) >= 8
    with rich_envoy(tmp_path) as envoy:
        namespace = {"address": envoy.admin_address, "__name__": "admin_docs"}
        for number, code in enumerate(blocks, 1):
            exec(compile(code, f"{DOC.name}[python block {number}]", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "dynamic_http l1" in printed  # the seed's config_dump?resource=dynamic_listeners
    assert "404 /config_dump: HTTP 404: nope not found in config dump" in printed
    assert "['backend']" in printed  # name_regex="^backend"
