"""The ``envoykit`` command: render, validate, diff, run and inspect Envoy configs.

This module only assembles the commands: each is a module of :mod:`envoykit._cli` with
``register(subparsers) -> parser`` and ``run(args) -> exit code`` (see ``COMMANDS``).
A command may set ``cli_logging`` as a parser default: the level of envoykit's own log
lines (WARNING unless told), or ``None`` when the command sets up logging itself.

Exit codes: 0 ok; 1 the config or the proxy is bad (failed checks or validation,
differences found with ``diff --exit-code``, admin unreachable, envoy failed or missing);
2 usage error (bad flags, file or module not found). Errors are one message on stderr.
See ``docs/cli.md``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from envoykit import EnvoykitError, __version__
from envoykit._cli import (
    demo,
    diff,
    fleet,
    render,
    run,
    serve_xds,
    stats,
    status,
    top,
    validate,
    version,
)
from envoykit._cli.args import EXIT_BAD, EXIT_USAGE, fail
from envoykit._cli.output import install_handler
from envoykit._cli.source import UsageError, UserCodeError

__all__ = ["COMMANDS", "build_parser", "main"]

# in the order `envoykit --help` lists them
COMMANDS: tuple[ModuleType, ...] = (render, validate, diff, run, stats, status, top,
                                     serve_xds, fleet, demo, version)
Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    try:
        args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    level = getattr(args, "cli_logging", logging.WARNING)
    if level is not None:
        _setup_logging(level)
    handler: Handler = args.handler
    try:
        return handler(args)
    except UsageError as exc:
        return fail(str(exc), EXIT_USAGE)
    except (EnvoykitError, UserCodeError) as exc:
        return fail(str(exc), EXIT_BAD)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `envoykit stats | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BAD


def _setup_logging(level: int) -> None:
    logger = logging.getLogger("envoykit")
    install_handler(logger, "envoykit: %(message)s")
    logger.setLevel(level)


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of every command."""
    parser = argparse.ArgumentParser(
        prog="envoykit",
        description="Configure, run and inspect the Envoy proxy.",
        epilog="exit codes: 0 ok, 1 config or proxy bad, 2 usage error. "
               "CONFIG: envoy.yaml | envoy.json | file.py[:attr] | package.module[:attr]",
    )
    parser.add_argument("--version", action="version", version=f"envoykit {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command_parser: argparse.ArgumentParser = command.register(subparsers)
        command_parser.set_defaults(handler=command.run)
    return parser


if __name__ == "__main__":
    sys.exit(main())
