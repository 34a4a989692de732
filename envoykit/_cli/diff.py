"""``envoykit diff``: a semantic diff of two configs."""

from __future__ import annotations

import argparse
import sys

from envoykit import diff_configs, to_dict
from envoykit._cli.args import EXIT_BAD, EXIT_OK, SubParsers, add_config
from envoykit._cli.output import print_json
from envoykit._cli.source import parse_source

__all__ = ["register", "run"]


def register(subparsers: SubParsers) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "diff", help="semantic diff of two configs",
        description="Compare two configs resource by resource (listeners, "
        "route configs, virtual hosts, clusters, secrets, admin, ...).")
    add_config(p, "old")
    add_config(p, "new")
    p.add_argument("--json", action="store_true", help="print the changes as JSON")
    p.add_argument("--exit-code", action="store_true",
                   help="exit 1 when the configs differ (like `git diff --exit-code`)")
    return p


def run(args: argparse.Namespace) -> int:
    old_source, new_source = parse_source(args.old), parse_source(args.new)
    changes = diff_configs(to_dict(old_source.load()), to_dict(new_source.load()))
    if args.json:
        print_json({"old": args.old, "new": args.new, "equal": changes.is_empty,
                    **changes.to_dict()})
    else:
        sys.stdout.write(f"{changes}\n")
    return EXIT_BAD if args.exit_code and not changes.is_empty else EXIT_OK
