"""``envoykit demo``: the company edge proxy demo (see :mod:`envoykit.demo`)."""

from __future__ import annotations

import argparse

from envoykit._cli.args import SubParsers

__all__ = ["register", "run"]


def register(subparsers: SubParsers) -> argparse.ArgumentParser:
    from envoykit import demo

    p: argparse.ArgumentParser = subparsers.add_parser(
        "demo", help="the company edge proxy demo", description=demo.DESCRIPTION)
    demo.add_arguments(p)
    p.set_defaults(cli_logging=None)  # the demo sets up its own logging
    return p


def run(args: argparse.Namespace) -> int:
    from envoykit import demo

    return demo.run(*demo.settings_from(args))
