"""``envoykit validate``: envoykit's checks, then ``envoy --mode validate``."""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from typing import Any

from envoykit import (
    ConfigLoadError,
    EnvoykitError,
    EnvoyValidationError,
    ModelError,
    SemanticError,
    find_envoy,
    validate,
)
from envoykit._cli.args import EXIT_BAD, EXIT_OK, SubParsers, add_config
from envoykit._cli.output import print_json
from envoykit._cli.source import ConfigSource, UserCodeError, parse_source

__all__ = ["register", "run"]

# validate() hands envoy a rendered copy in a temporary directory; name CONFIG instead
_TEMP_CONFIG_RE = re.compile(r"[^\s'\"]*envoykit-validate-[^/\s]+/envoy\.json")


def register(subparsers: SubParsers) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "validate", help="envoykit's checks, then envoy --mode validate",
        description="Check CONFIG: types, cross-resource checks (each error "
        "names its field path), then the real `envoy --mode validate`.")
    add_config(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument("--no-envoy", action="store_true", help="skip `envoy --mode validate`")
    p.add_argument("--envoy", metavar="PATH", help="use this envoy binary")
    p.add_argument("--allow-empty", action="store_true",
                   help="accept an empty YAML/JSON file (refused by default)")
    return p


def run(args: argparse.Namespace) -> int:
    result: dict[str, Any] = {"config": args.config, "ok": False, "stage": "load",
                              "issues": [], "envoy": "skipped", "error": None}
    # a missing file is a usage error, even with --json
    source = dataclasses.replace(parse_source(args.config), allow_empty=args.allow_empty)
    try:
        _validate(source, args, result)
    except EnvoyValidationError as exc:
        _record_failure(result, exc)
        result["error"] = _TEMP_CONFIG_RE.sub(args.config, str(exc))
        if not args.json:
            raise EnvoyValidationError(result["error"], output=exc.output,
                                       returncode=exc.returncode) from None
    except (EnvoykitError, UserCodeError) as exc:
        _record_failure(result, exc)
        if not args.json:
            raise
    if args.json:
        print_json(result)
    elif result["ok"]:
        sys.stdout.write(_ok_line(args.config, result))
    return EXIT_OK if result["ok"] else EXIT_BAD


def _validate(source: ConfigSource, args: argparse.Namespace, result: dict[str, Any]) -> None:
    bootstrap = source.load()
    result["stage"] = "check"
    validate(bootstrap, envoy=False)
    if not args.no_envoy:
        result["stage"] = "envoy"
        binary = find_envoy(args.envoy)
        result["envoy_version"] = binary.version_string
        validate(bootstrap, binary=binary)
        result["envoy"] = "passed"
    result.update(ok=True, stage=None)


def _record_failure(result: dict[str, Any], exc: Exception) -> None:
    result["error"] = str(exc)
    if isinstance(exc, SemanticError | ModelError):
        result["issues"] = [{"path": i.path, "message": i.message} for i in exc.issues]
    if isinstance(exc, ConfigLoadError):
        result["issues"] = [{"path": f"{exc.source}:{exc.line}" if exc.line else exc.source,
                             "message": str(exc)}]
    if isinstance(exc, EnvoyValidationError):
        result["envoy"] = "failed"
        result["envoy_output"] = exc.output


def _ok_line(config: str, result: dict[str, Any]) -> str:
    if result["envoy"] == "passed":
        return (f"ok: {config} passed envoykit's checks and envoy --mode validate "
                f"(envoy {result['envoy_version']})\n")
    return f"ok: {config} passed envoykit's checks (envoy not run: --no-envoy)\n"
