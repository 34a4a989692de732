"""Every ```python block of the guides runs (the pages whose blocks other tests run are
listed in OWN_RUNNERS). Blocks of one page run in order in one fresh interpreter, in a
scratch directory holding the files the page names (certificates, envoy-demo.yaml); a
page's fragments get the names they assume from a small setup written here."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from envoykit.testing import free_port
from envoykit.testing.tls import TestCA

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
OWN_RUNNERS = {"admin.md": "test_admin_docs.py", "cli.md": "tests/unit/test_cli.py",
               "testing.md": "test_plugin.py", "migration.md": "test_examples.py"}
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
# the ports a page binds: .https(port=8443), .redirect_http(port=8080), .admin(port=9901)
LISTEN_PORT = re.compile(r"(\.(?:https|redirect_http|http|admin)\((?:port=)?)(\d{2,5})\b")

SUPERVISOR_SETUP = """
from envoykit import EdgeProxy
from envoykit.testing.upstream import Upstream
_up = Upstream("docs")
def _edge(prefix):
    return (EdgeProxy().site("a.example.com", _up.address, prefix_rewrite=prefix)
            .http(0).admin(port=0))
bootstrap = _edge("/").build()
bootstrap.listener("http").name = "ingress"
new_bootstrap = _edge("/v2/").build()
new_bootstrap.listener("http").name = "ingress"
"""

DYNAMIC_SETUP = """
import shutil
shutil.copy("a2.pem", "c.pem"); shutil.copy("a2-key.pem", "c-key.pem")  # a second a.example.com
"""

SETUP = {"supervisor.md": SUPERVISOR_SETUP, "dynamic.md": DYNAMIC_SETUP}


def pages() -> list[Path]:
    found = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return [p for p in found if p.name not in OWN_RUNNERS and BLOCK.search(p.read_text())]


def free_ports(script: str) -> str:
    """The script with each documented fixed listen port replaced by a free one (the same
    number always by the same port), so pages run beside anything else on the machine."""
    chosen: dict[str, str] = {}

    def swap(match: re.Match[str]) -> str:
        port = chosen.setdefault(match[2], str(free_port()))
        return match[1] + port

    return LISTEN_PORT.sub(swap, script)


def as_script(page: Path) -> str:
    parts = [SETUP.get(page.name, "")]
    parts.extend(BLOCK.findall(page.read_text()))  # as written: a reader copies them so
    return free_ports("\n".join(parts))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("docs")
    ca = TestCA(directory / "ca")
    for host, stem in (("a.example.com", "a"), ("b.example.com", "b"), ("a.example.com", "a2")):
        files = ca.issue(host, name=stem)
        (directory / f"{stem}.pem").write_bytes(Path(files.cert).read_bytes())
        (directory / f"{stem}-key.pem").write_bytes(Path(files.key).read_bytes())
    (directory / "envoy-demo.yaml").write_text((ROOT / "tests/data/seed_demo.yaml").read_text())
    return directory


def test_the_guides_have_code_to_run() -> None:
    names = {p.name for p in pages()}
    assert {"README.md", "getting-started.md", "builder.md", "supervisor.md",
            "dynamic.md"} <= names


def test_documented_listen_ports_become_free_ports() -> None:
    script = free_ports('.https(port=8443)\n.redirect_http(port=8080)\n.admin(port=9901)\n'
                        '.site("a.example.com", "127.0.0.20:8080")\n.https(port=8443)')
    ports = re.findall(r"\((?:port=)?(\d+)\)", script)
    assert "8443" not in ports and "8080" not in ports and "9901" not in ports
    assert ports[0] == ports[3] and len(set(ports)) == 3   # one number, one port
    assert '"127.0.0.20:8080"' in script                    # upstream addresses are not bound
    for page in pages():
        assert not re.search(r"port=(8443|8080|9901)\b", as_script(page)), page.name


def test_python_blocks_run(scratch: Path) -> None:
    """One test, pages in turn (each page's documented fixed ports are swapped for free
    ones by ``free_ports``, so a page runs beside anything else on the machine)."""
    failures = []
    for page in pages():
        script = scratch / f"{page.stem}_blocks.py"
        script.write_text(as_script(page))
        done = subprocess.run([sys.executable, str(script)], cwd=scratch, capture_output=True,
                              text=True, timeout=120, check=False)
        if done.returncode != 0:
            failures.append(f"{page.name}:\n{done.stdout[-1500:]}\n{done.stderr[-3000:]}")
    assert not failures, "\n\n".join(failures)
