"""``envoykit version``: envoykit's version and the envoy binary found."""

from __future__ import annotations

import argparse
import platform
import sys
from typing import Any

from envoykit import EnvoykitError, __version__, find_envoy
from envoykit._cli.args import EXIT_BAD, EXIT_OK, SubParsers, fail
from envoykit._cli.output import print_json

__all__ = ["register", "run"]


def register(subparsers: SubParsers) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "version", help="envoykit's version and the envoy binary found")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--envoy", metavar="PATH", help="this envoy binary")
    return p


def run(args: argparse.Namespace) -> int:
    info: dict[str, Any] = {"envoykit": __version__, "python": platform.python_version()}
    try:
        binary = find_envoy(args.envoy)
        info["envoy"] = {"path": str(binary.path), "version": binary.version_string,
                         "found_via": binary.source}
    except EnvoykitError as exc:
        info["envoy"] = None
        info["error"] = str(exc)
    if args.json:
        print_json(info)
    else:
        sys.stdout.write(_version_text(info))
    if info["envoy"] is None:
        return fail(info["error"], EXIT_BAD)
    return EXIT_OK


def _version_text(info: dict[str, Any]) -> str:
    lines = [f"envoykit {info['envoykit']} (python {info['python']})"]
    envoy = info["envoy"]
    if envoy is not None:
        lines.append(f"envoy {envoy['version']} at {envoy['path']} "
                     f"(found via {envoy['found_via']})")
    return "\n".join(lines) + "\n"
