"""``envoykit render``: a config as Envoy YAML or JSON."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from envoykit import to_json, to_yaml
from envoykit._cli.args import EXIT_OK, SubParsers, add_config
from envoykit._cli.source import UsageError, parse_source
from envoykit._util import write_atomic

__all__ = ["register", "run"]

log = logging.getLogger("envoykit.cli")


def register(subparsers: SubParsers) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "render", help="print a config as Envoy YAML or JSON",
        description="Render CONFIG as Envoy YAML (default) or JSON.")
    add_config(p)
    p.add_argument("--format", choices=("yaml", "json"), default="yaml")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write to FILE (atomically, by rename) instead of stdout")
    return p


def run(args: argparse.Namespace) -> int:
    bootstrap = parse_source(args.config).load()
    text = to_json(bootstrap) if args.format == "json" else to_yaml(bootstrap)
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        try:
            write_atomic(Path(args.output), text, private=False, fsync=False)
        except OSError as exc:  # a directory that does not exist, no permission, ...
            raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        log.warning("wrote %s", args.output)
    return EXIT_OK
