"""What the commands share: exit codes, argument types (argparse turns ArgumentTypeError into
exit code 2) and the CONFIG and admin arguments."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

__all__ = [
    "EXIT_BAD",
    "EXIT_OK",
    "EXIT_USAGE",
    "LOG_LEVELS",
    "SubParsers",
    "add_admin",
    "add_config",
    "admin_address",
    "component_levels",
    "fail",
    "natural",
    "positive_int",
    "regex",
    "seconds",
]

EXIT_OK, EXIT_BAD, EXIT_USAGE = 0, 1, 2
LOG_LEVELS = ("trace", "debug", "info", "warning", "warn", "error", "critical", "off")
SubParsers = Any  # argparse's _SubParsersAction is private


def fail(message: str, code: int) -> int:
    """Say ``envoykit: error: message`` on stderr; return ``code``."""
    sys.stderr.write(f"envoykit: error: {message}\n")
    return code


def add_config(parser: argparse.ArgumentParser, name: str = "config") -> None:
    """The positional CONFIG argument (a file or a Python module, see ``_cli/source.py``)."""
    parser.add_argument(name, metavar=name.upper(),
                        help="envoy.yaml, envoy.json, file.py[:attr] or package.module[:attr]")


def add_admin(parser: argparse.ArgumentParser) -> None:
    """``--admin HOST:PORT``, ``--timeout`` and ``--json`` of the commands that ask envoy."""
    parser.add_argument("--admin", required=True, type=admin_address, metavar="HOST:PORT",
                        help="envoy's admin address (HOST:PORT, [::1]:PORT or unix:/path)")
    parser.add_argument("--timeout", type=seconds, default=5.0, metavar="SECONDS")
    parser.add_argument("--json", action="store_true", help="print JSON")


def positive_int(text: str) -> int:
    value = natural(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def natural(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return value


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"must be between 0 and 3600: {text!r}")
    return value


def regex(text: str) -> str:
    try:
        re.compile(text)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"bad regular expression {text!r}: {exc}") from None
    return text


def component_levels(text: str) -> str:
    for item in text.split(","):
        name, sep, level = item.partition(":")
        if not sep or not name or level not in LOG_LEVELS:
            raise argparse.ArgumentTypeError(
                f"{item!r}: expected NAME:LEVEL with LEVEL one of {', '.join(LOG_LEVELS)}")
    return text


def admin_address(text: str) -> str:
    if text.startswith("unix:"):
        return text
    address = text.removeprefix("http://")
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return text
