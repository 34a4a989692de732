"""What a deploy script does with the ``envoykit`` command: validate, then review the diff.

    python examples/cli_validate_and_diff.py

Writes two versions of an edge config into a temporary directory: the live one as Envoy
YAML (as if rendered by ``envoykit render`` in the last deploy) and the candidate as a
Python builder file. Then, through the command line as a CI job would:

1. ``envoykit validate candidate.py --json`` — envoykit's checks and ``envoy --mode
   validate``; the script reads the JSON verdict;
2. ``envoykit diff live.yaml candidate.py`` — what the reviewer sees before the deploy;
3. ``envoykit diff ... --json --exit-code`` — exit code 1 means "there is something to
   deploy", and the JSON says which resources changed;
4. a broken candidate: ``validate`` exits 1 and names the field path.

Exits 0 when every step behaved as described.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from envoykit import EdgeProxy, to_yaml

CANDIDATE = '''\
"""The candidate: b.example.com moves to a new server and gets a rate limit."""
from envoykit import EdgeProxy

edge = (
    EdgeProxy("company-edge")
    .site("a.example.com", "127.0.0.20:8080")
    .site("b.example.com", "127.0.0.22:8080")
    .http(port=10000)
    .rate_limit(requests=50, per="1s")
    .admin(port=9901)
)
'''

BROKEN = '''\
"""A candidate with a mistake the builder cannot see: a route to a missing cluster."""
from envoykit import EdgeProxy

def edge():
    data = EdgeProxy("company-edge").site("a.example.com", "127.0.0.20:8080").http(
        port=10000).to_dict()
    data["static_resources"]["clusters"] = []
    return data
'''


def envoykit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``envoykit ARGS`` (as ``python -m envoykit.cli``, which is the same command)."""
    argv = [sys.executable, "-m", "envoykit.cli", *args]
    print("$ envoykit " + " ".join(args))
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=120,
                          check=False)


def expect(done: subprocess.CompletedProcess[str], code: int) -> None:
    """Show what the command printed; stop the example if the exit code is unexpected."""
    for stream in (done.stdout, done.stderr):
        if stream.strip():
            print("  " + stream.strip().replace("\n", "\n  "))
    if done.returncode != code:
        sys.exit(f"expected exit code {code}, got {done.returncode}")


def write_configs(folder: Path) -> None:
    live = (
        EdgeProxy("company-edge")
        .site("a.example.com", "127.0.0.20:8080")
        .site("b.example.com", "127.0.0.21:8080")
        .http(port=10000)
        .admin(port=9901)
    )
    (folder / "live.yaml").write_text(to_yaml(live))
    (folder / "candidate.py").write_text(CANDIDATE)
    (folder / "broken.py").write_text(BROKEN)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="envoykit-cli-example-") as tmp:
        folder = Path(tmp)
        write_configs(folder)

        done = envoykit("validate", "candidate.py", "--json", cwd=folder)
        expect(done, 0)
        verdict = json.loads(done.stdout)
        assert verdict["ok"] and verdict["envoy"] == "passed", verdict

        expect(envoykit("diff", "live.yaml", "candidate.py", cwd=folder), 0)

        done = envoykit("diff", "live.yaml", "candidate.py", "--json", "--exit-code",
                        cwd=folder)
        expect(done, 1)
        changed = {(c["kind"], c["name"]) for c in json.loads(done.stdout)["changes"]}
        assert ("cluster", "b_example_com") in changed, changed
        assert ("listener", "http") in changed, changed  # the rate-limit filter

        done = envoykit("validate", "broken.py", cwd=folder)
        expect(done, 1)
        assert "virtual_hosts[0].routes[0].route.cluster" in done.stderr, done.stderr
    print("ok: validate and diff behaved as a deploy script expects")
    return 0


if __name__ == "__main__":
    sys.exit(main())
