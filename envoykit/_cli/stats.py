"""``envoykit stats``: a running envoy's stats (envoy's text, or typed JSON)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from envoykit._cli.args import EXIT_OK, SubParsers, add_admin, regex
from envoykit._cli.output import print_json
from envoykit.admin import AdminClient, StatsSnapshot

__all__ = ["register", "run"]


def register(subparsers: SubParsers) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "stats", help="a running envoy's stats",
        description="Print /stats of a running envoy (envoy's text format, "
        "or typed JSON with --json).")
    add_admin(p)
    p.add_argument("--filter", type=regex, metavar="RE", help="only stats matching RE")
    p.add_argument("--used-only", action="store_true", help="only stats envoy has updated")
    return p


def run(args: argparse.Namespace) -> int:
    with AdminClient(args.admin, timeout=args.timeout) as admin:
        if args.json:
            print_json(_stats_json(admin.stats(filter=args.filter, usedonly=args.used_only)))
        else:
            sys.stdout.write(admin.stats_text(filter=args.filter, usedonly=args.used_only))
    return EXIT_OK


def _stats_json(snap: StatsSnapshot) -> dict[str, Any]:
    histograms = {
        name: {"cumulative": {f"{q:g}": v for q, v in h.cumulative.items()},
               "interval": {f"{q:g}": v for q, v in h.interval.items()}}
        for name, h in sorted(snap.histograms.items())
    }
    return {
        "counters": dict(sorted(snap.counters.items())),
        "gauges": dict(sorted(snap.gauges.items())),
        "text_readouts": dict(sorted(snap.text_readouts.items())),
        "histograms": histograms,
    }
