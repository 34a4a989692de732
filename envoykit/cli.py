"""The ``envoykit`` command: render, validate, diff, run and inspect Envoy configs.

Exit codes: 0 ok; 1 the config or the proxy is bad (failed checks or validation,
differences found with ``diff --exit-code``, admin unreachable, envoy failed or missing);
2 usage error (bad flags, file or module not found). Errors are one message on stderr.
See ``docs/cli.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import platform
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from envoykit import (
    Bootstrap,
    ConfigLoadError,
    EnvoykitError,
    ModelError,
    SemanticError,
    ValidationError,
    __version__,
    find_envoy,
    to_dict,
    to_json,
    to_yaml,
    validate,
)
from envoykit._cli.output import install_handler, print_json
from envoykit._cli.source import ConfigSource, UsageError, UserCodeError, parse_source
from envoykit._util import write_atomic
from envoykit.admin import AdminClient, StatsSnapshot
from envoykit.diff import diff

__all__ = ["build_parser", "main"]

LOG_LEVELS = ("trace", "debug", "info", "warning", "warn", "error", "critical", "off")
EXIT_OK, EXIT_BAD, EXIT_USAGE = 0, 1, 2
# validate() hands envoy a rendered copy in a temporary directory; name CONFIG instead
_TEMP_CONFIG_RE = re.compile(r"[^\s'\"]*envoykit-validate-[^/\s]+/envoy\.json")
log = logging.getLogger("envoykit.cli")
Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["demo"]:
        return _demo(args_list[1:])
    try:
        args = build_parser().parse_args(args_list)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    _setup_logging(verbose=args.command == "run")
    handler: Handler = args.handler
    try:
        return handler(args)
    except UsageError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except (EnvoykitError, UserCodeError) as exc:
        return _fail(str(exc), EXIT_BAD)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `envoykit stats | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BAD


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"envoykit: error: {message}\n")
    return code


def _setup_logging(*, verbose: bool) -> None:
    logger = logging.getLogger("envoykit")
    install_handler(logger, "envoykit: %(message)s")
    logger.setLevel(logging.INFO if verbose else logging.WARNING)


# --- the parser ----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of every sub-command."""
    parser = argparse.ArgumentParser(
        prog="envoykit",
        description="Configure, run and inspect the Envoy proxy.",
        epilog="exit codes: 0 ok, 1 config or proxy bad, 2 usage error. "
               "CONFIG: envoy.yaml | envoy.json | file.py[:attr] | package.module[:attr]",
    )
    parser.add_argument("--version", action="version", version=f"envoykit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_render(sub)
    _add_validate(sub)
    _add_diff(sub)
    _add_run(sub)
    _add_stats(sub)
    _add_status(sub)
    sub.add_parser("demo", help="the company edge proxy demo (see `envoykit demo --help`)",
                   add_help=False)
    version = sub.add_parser("version", help="envoykit's version and the envoy binary found")
    version.add_argument("--json", action="store_true", help="print JSON")
    version.add_argument("--envoy", metavar="PATH", help="this envoy binary")
    version.set_defaults(handler=cmd_version)
    return parser


SubParsers = Any  # argparse's _SubParsersAction is private


def _config_arg(parser: argparse.ArgumentParser, name: str = "config") -> None:
    parser.add_argument(name, metavar=name.upper(),
                        help="envoy.yaml, envoy.json, file.py[:attr] or package.module[:attr]")


def _add_render(sub: SubParsers) -> None:
    p = sub.add_parser("render", help="print a config as Envoy YAML or JSON",
                       description="Render CONFIG as Envoy YAML (default) or JSON.")
    _config_arg(p)
    p.add_argument("--format", choices=("yaml", "json"), default="yaml")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write to FILE (atomically, by rename) instead of stdout")
    p.set_defaults(handler=cmd_render)


def _add_validate(sub: SubParsers) -> None:
    p = sub.add_parser("validate", help="envoykit's checks, then envoy --mode validate",
                       description="Check CONFIG: types, cross-resource checks (each error "
                       "names its field path), then the real `envoy --mode validate`.")
    _config_arg(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument("--no-envoy", action="store_true", help="skip `envoy --mode validate`")
    p.add_argument("--envoy", metavar="PATH", help="use this envoy binary")
    p.add_argument("--allow-empty", action="store_true",
                   help="accept an empty YAML/JSON file (refused by default)")
    p.set_defaults(handler=cmd_validate)


def _add_diff(sub: SubParsers) -> None:
    p = sub.add_parser("diff", help="semantic diff of two configs",
                       description="Compare two configs resource by resource (listeners, "
                       "route configs, virtual hosts, clusters, secrets, admin, ...).")
    _config_arg(p, "old")
    _config_arg(p, "new")
    p.add_argument("--json", action="store_true", help="print the changes as JSON")
    p.add_argument("--exit-code", action="store_true",
                   help="exit 1 when the configs differ (like `git diff --exit-code`)")
    p.set_defaults(handler=cmd_diff)


def _add_run(sub: SubParsers) -> None:
    p = sub.add_parser("run", help="run envoy in the foreground, supervised",
                       description="Run envoy supervised: SIGHUP (or a change of CONFIG with "
                       "--watch) hot-restarts with the re-read CONFIG; SIGTERM or Ctrl-C stop.")
    _config_arg(p)
    p.add_argument("-l", "--log-level", choices=LOG_LEVELS, default="info")
    p.add_argument("--component-log-level", type=_component_levels, metavar="NAME:LEVEL,...",
                   help="e.g. upstream:debug,connection:trace")
    p.add_argument("--log-path", metavar="FILE", help="envoy writes its log to FILE")
    p.add_argument("--concurrency", type=_positive_int, metavar="N", help="worker threads")
    p.add_argument("--config-yaml", metavar="YAML",
                   help="YAML merged over CONFIG by envoy (e.g. to change a port)")
    p.add_argument("--watch", action="store_true", help="hot-restart when CONFIG changes")
    p.add_argument("--watch-interval", type=_seconds, default=1.0, metavar="SECONDS",
                   help="how often --watch looks at CONFIG (default 1)")
    p.add_argument("--drain-time-s", type=_natural, default=2, metavar="N")
    p.add_argument("--parent-shutdown-time-s", type=_natural, default=3, metavar="N")
    p.add_argument("--admin-address-path", metavar="FILE",
                   help="write the admin address (HOST:PORT) to FILE, again after each "
                   "hot restart")
    p.add_argument("--envoy", metavar="PATH", help="use this envoy binary")
    p.set_defaults(handler=cmd_run)


def _add_admin(p: argparse.ArgumentParser) -> None:
    p.add_argument("--admin", required=True, type=_admin_address, metavar="HOST:PORT",
                   help="envoy's admin address (HOST:PORT, [::1]:PORT or unix:/path)")
    p.add_argument("--timeout", type=_seconds, default=5.0, metavar="SECONDS")
    p.add_argument("--json", action="store_true", help="print JSON")


def _add_stats(sub: SubParsers) -> None:
    p = sub.add_parser("stats", help="a running envoy's stats",
                       description="Print /stats of a running envoy (envoy's text format, "
                       "or typed JSON with --json).")
    _add_admin(p)
    p.add_argument("--filter", type=_regex, metavar="RE", help="only stats matching RE")
    p.add_argument("--used-only", action="store_true", help="only stats envoy has updated")
    p.set_defaults(handler=cmd_stats)


def _add_status(sub: SubParsers) -> None:
    p = sub.add_parser("status", help="a running envoy at a glance",
                       description="Server state, epoch and uptime; listeners; clusters with "
                       "host health; request rates, 4xx/5xx and rate-limited counters.")
    _add_admin(p)
    p.add_argument("--interval", type=_seconds, default=1.0, metavar="SECONDS",
                   help="time between the two stats samples for rates (default 1)")
    p.set_defaults(handler=cmd_status)


# --- argument types (argparse turns ArgumentTypeError into exit code 2) ----------------------


def _positive_int(text: str) -> int:
    value = _natural(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def _natural(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"must be between 0 and 3600: {text!r}")
    return value


def _regex(text: str) -> str:
    try:
        re.compile(text)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"bad regular expression {text!r}: {exc}") from None
    return text


def _component_levels(text: str) -> str:
    for item in text.split(","):
        name, sep, level = item.partition(":")
        if not sep or not name or level not in LOG_LEVELS:
            raise argparse.ArgumentTypeError(
                f"{item!r}: expected NAME:LEVEL with LEVEL one of {', '.join(LOG_LEVELS)}")
    return text


def _admin_address(text: str) -> str:
    if text.startswith("unix:"):
        return text
    address = text.removeprefix("http://")
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return text


# --- commands ------------------------------------------------------------------------------


def _load(text: str) -> Bootstrap:
    return parse_source(text).load()


def cmd_render(args: argparse.Namespace) -> int:
    """``envoykit render``."""
    bootstrap = _load(args.config)
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


def cmd_validate(args: argparse.Namespace) -> int:
    """``envoykit validate``."""
    result: dict[str, Any] = {"config": args.config, "ok": False, "stage": "load",
                              "issues": [], "envoy": "skipped", "error": None}
    # a missing file is a usage error, even with --json
    source = dataclasses.replace(parse_source(args.config), allow_empty=args.allow_empty)
    try:
        _validate(source, args, result)
    except ValidationError as exc:
        _record_failure(result, exc)
        result["error"] = _TEMP_CONFIG_RE.sub(args.config, str(exc))
        if not args.json:
            raise ValidationError(result["error"], output=exc.output,
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
    if isinstance(exc, ValidationError):
        result["envoy"] = "failed"
        result["envoy_output"] = exc.output


def _ok_line(config: str, result: dict[str, Any]) -> str:
    if result["envoy"] == "passed":
        return (f"ok: {config} passed envoykit's checks and envoy --mode validate "
                f"(envoy {result['envoy_version']})\n")
    return f"ok: {config} passed envoykit's checks (envoy not run: --no-envoy)\n"


def cmd_diff(args: argparse.Namespace) -> int:
    """``envoykit diff``."""
    old_source, new_source = parse_source(args.old), parse_source(args.new)
    changes = diff(to_dict(old_source.load()), to_dict(new_source.load()))
    if args.json:
        print_json({"old": args.old, "new": args.new, "equal": changes.is_empty,
                    **changes.to_dict()})
    else:
        sys.stdout.write(f"{changes}\n")
    return EXIT_BAD if args.exit_code and not changes.is_empty else EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """``envoykit run``."""
    from envoykit._cli.run import Runner, RunOptions, setup_logging

    source = parse_source(args.config)
    options = RunOptions(
        log_level=args.log_level, component_log_level=args.component_log_level,
        log_path=args.log_path, concurrency=args.concurrency, config_yaml=args.config_yaml,
        drain_time_s=args.drain_time_s, parent_shutdown_time_s=args.parent_shutdown_time_s,
        watch=args.watch, watch_interval=args.watch_interval,
        admin_address_path=args.admin_address_path,
        supervisor_options={"binary": find_envoy(args.envoy)},
    )
    setup_logging()
    return Runner(source, options).run()


def cmd_stats(args: argparse.Namespace) -> int:
    """``envoykit stats``."""
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


def cmd_status(args: argparse.Namespace) -> int:
    """``envoykit status``."""
    from envoykit._cli.status import format_status, gather_status

    with AdminClient(args.admin, timeout=args.timeout) as admin:
        status = gather_status(admin, interval=args.interval)
    if args.json:
        print_json(status)
    else:
        sys.stdout.write(format_status(status) + "\n")
    return EXIT_OK


def cmd_version(args: argparse.Namespace) -> int:
    """``envoykit version``."""
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
        return _fail(info["error"], EXIT_BAD)
    return EXIT_OK


def _version_text(info: dict[str, Any]) -> str:
    lines = [f"envoykit {info['envoykit']} (python {info['python']})"]
    envoy = info["envoy"]
    if envoy is not None:
        lines.append(f"envoy {envoy['version']} at {envoy['path']} "
                     f"(found via {envoy['found_via']})")
    return "\n".join(lines) + "\n"


def _demo(argv: Sequence[str]) -> int:
    from envoykit import demo

    try:
        return demo.main(list(argv))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
