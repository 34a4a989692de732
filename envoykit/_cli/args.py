"""What the commands share: exit codes, argument types (argparse turns ArgumentTypeError into
exit code 2) and the CONFIG and admin arguments."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from typing import Any, TypeVar

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
    "seconds_between",
]

EXIT_OK, EXIT_BAD, EXIT_USAGE = 0, 1, 2
LOG_LEVELS = ("trace", "debug", "info", "warning", "warn", "error", "critical", "off")
SubParsers = Any  # argparse's _SubParsersAction is private
N = TypeVar("N", int, float)


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
    value = _parse(text, int, "a whole number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return value


def seconds_between(low: float, high: float) -> Callable[[str], float]:
    """An argument type for a number of seconds from ``low`` to ``high``."""

    def seconds(text: str) -> float:
        value = _parse(text, float, "a number of seconds")
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g}: {text!r}")
        return value

    return seconds


seconds = seconds_between(0, 3600)


def _parse(text: str, convert: Callable[[str], N], what: str) -> N:
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None


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
