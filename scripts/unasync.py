"""Write the blocking admin client from the asyncio one (the way httpcore uses unasync).

    python scripts/unasync.py          # regenerate envoykit/admin/_sync_client.py
    python scripts/unasync.py --check  # exit 1 if the checked-in file is stale (make lint)

The rules are whole-word replacements, listed below; the result is passed through
``ruff format`` when ruff is installed so the generated file looks hand-written.
"""

from __future__ import annotations

import argparse
import difflib
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "envoykit" / "admin" / "_async_client.py"
TARGET = ROOT / "envoykit" / "admin" / "_sync_client.py"

# whole lines that only the asyncio side needs
DROP_LINES = {"import asyncio"}

# (pattern, replacement), applied in order; patterns are regular expressions
RULES: list[tuple[str, str]] = [
    (r"An asyncio client", "A blocking client"),
    (r"an async context manager or await", "a context manager or call"),
    (r"\bAsyncAdminClient\b", "AdminClient"),
    (r"\bhttpx\.AsyncClient\b", "httpx.Client"),
    (r"\bhttpx\.AsyncBaseTransport\b", "httpx.BaseTransport"),
    (r"\bhttpx\.AsyncHTTPTransport\b", "httpx.HTTPTransport"),
    (r"\basyncio\.sleep\b", "time.sleep"),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\baclose\b", "close"),
    (r"\basync def\b", "def"),
    (r"\basync with\b", "with"),
    (r"\bawait ", ""),
]

HEADER = '''"""The blocking admin client. GENERATED from ``_async_client.py`` by
``scripts/unasync.py``: do not edit; edit the asyncio client and run the script."""
'''


def generate(source: str) -> str:
    """The sync module's text for the asyncio module's text ``source``."""
    body = source[source.index('"""', 3) + 3:].lstrip("\n")  # drop the module docstring
    lines = [line for line in body.splitlines() if line.strip() not in DROP_LINES]
    text = "\n".join(lines) + "\n"
    for pattern, replacement in RULES:
        text = re.sub(pattern, replacement, text)
    return _formatted(HEADER + "\n" + text)


def _formatted(text: str) -> str:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        return text
    done = subprocess.run([ruff, "format", "--stdin-filename", str(TARGET), "-"],
                          input=text, capture_output=True, text=True, check=True, cwd=ROOT)
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when the generated file differs from the checked-in one")
    args = parser.parse_args(argv)
    wanted = generate(SOURCE.read_text())
    current = TARGET.read_text() if TARGET.exists() else ""
    if not args.check:
        if wanted != current:
            TARGET.write_text(wanted)
            print(f"wrote {TARGET.relative_to(ROOT)}")
        return 0
    if wanted == current:
        return 0
    diff = difflib.unified_diff(current.splitlines(), wanted.splitlines(),
                                str(TARGET.relative_to(ROOT)), "generated", lineterm="")
    sys.stderr.write("\n".join(diff) + f"\n\n{TARGET.relative_to(ROOT)} is stale: "
                     "run `python scripts/unasync.py`\n")
    return 1


if __name__ == "__main__":
    sys.exit(main())
