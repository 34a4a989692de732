"""Pure launch logic: config normalisation and rendering, the argv, the private run
directory, and the fixed-port probe (Linux ``reuse_port`` makes port sharing silent)."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envoykit._util import ConfigLike, SupportsToDict, private_directory
from envoykit.errors import ConfigLoadError
from envoykit.load import load_data
from envoykit.render import to_json

__all__ = [
    "ConfigInput",
    "EpochPaths",
    "LaunchOptions",
    "ListenerAddress",
    "build_argv",
    "config_to_dict",
    "make_run_dir",
    "pin_listener_ports",
    "render_config",
    "static_listeners",
    "with_admin",
]


ConfigInput = ConfigLike | str | Path
"""A bootstrap as a dict, YAML text, a path to a YAML/JSON file, or a typed model."""

# Flags the supervisor manages itself, mapped to the option to use instead.
_MANAGED_FLAGS = {
    "-c": "config", "--config-path": "config", "--config-yaml": "config_yaml",
    "--restart-epoch": "(managed)", "--base-id": "(managed)", "--use-dynamic-base-id":
    "(managed)", "--base-id-path": "(managed)", "--admin-address-path": "(managed)",
    "--mode": "(managed)", "--disable-hot-restart": "(managed)",
    "--drain-time-s": "drain_time_s", "--parent-shutdown-time-s": "parent_shutdown_time_s",
    "-l": "log_level", "--log-level": "log_level", "--log-path": "log_path",
    "--component-log-level": "component_log_level", "--concurrency": "concurrency",
}


@dataclass(frozen=True)
class LaunchOptions:
    """Command-line knobs applied to every epoch."""

    log_level: str = "info"
    component_log_level: str | Mapping[str, str] | None = None
    log_path: str | None = None
    concurrency: int | None = None
    drain_time_s: int = 2
    parent_shutdown_time_s: int = 3
    config_yaml: str | Mapping[str, Any] | None = None
    extra_args: Sequence[str] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for arg in self.extra_args:
            flag = arg.split("=", 1)[0]
            if flag in _MANAGED_FLAGS:
                raise ValueError(
                    f"extra_args may not contain {flag}: the supervisor manages it "
                    f"(use the {_MANAGED_FLAGS[flag]!r} option)"
                )
        if self.drain_time_s < 0 or self.parent_shutdown_time_s < 0:
            raise ValueError("drain_time_s and parent_shutdown_time_s must be >= 0")

    def override_args(self) -> list[str]:
        """``--config-yaml`` for the override, shared by launch and validation."""
        if self.config_yaml is None:
            return []
        text = self.config_yaml
        if not isinstance(text, str):
            text = json.dumps(dict(text))
        return ["--config-yaml", text]


@dataclass(frozen=True)
class EpochPaths:
    """Files of one epoch inside the run directory."""

    config: Path
    admin_address: Path
    base_id: Path


def build_argv(
    binary: str | os.PathLike[str],
    options: LaunchOptions,
    *,
    epoch: int,
    paths: EpochPaths,
    base_id: int | None,
) -> list[str]:
    """The argv of one epoch. Epoch 0 asks for a dynamic base id and persists it;
    later epochs reuse it (``--use-dynamic-base-id`` is refused after epoch 0)."""
    argv = [os.fspath(binary), "-c", str(paths.config), "--restart-epoch", str(epoch)]
    if epoch == 0 or base_id is None:
        argv += ["--use-dynamic-base-id", "--base-id-path", str(paths.base_id)]
    else:
        argv += ["--base-id", str(base_id)]
    argv += ["--admin-address-path", str(paths.admin_address), "-l", options.log_level]
    argv += ["--drain-time-s", str(options.drain_time_s)]
    argv += ["--parent-shutdown-time-s", str(options.parent_shutdown_time_s)]
    levels = options.component_log_level
    if levels:
        if not isinstance(levels, str):
            levels = ",".join(f"{name}:{level}" for name, level in levels.items())
        argv += ["--component-log-level", levels]
    if options.log_path is not None:
        argv += ["--log-path", str(options.log_path)]
    if options.concurrency is not None:
        argv += ["--concurrency", str(options.concurrency)]
    return argv + options.override_args() + list(options.extra_args)


def config_to_dict(config: ConfigInput) -> dict[str, Any]:
    """A private deep copy of the bootstrap as a dict, whatever form it came in.

    Text and files go through :func:`envoykit.load.load_data` (file and line in errors,
    duplicate keys refused); a ``str`` is always YAML text, never a path."""
    if isinstance(config, SupportsToDict):
        data: Any = config.to_dict()
    elif isinstance(config, Path):
        data = load_data(config)[0]
    elif isinstance(config, str):
        data = load_data(config if "\n" in config else config + "\n")[0]
    elif isinstance(config, Mapping):
        data = copy.deepcopy(dict(config))
    else:
        raise TypeError(f"unsupported config type {type(config).__name__}")
    if not isinstance(data, dict):
        raise ConfigLoadError("the bootstrap must be a mapping", source=type(config).__name__)
    return data


LOOPBACK_ADMIN = {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}}


def with_admin(config: Mapping[str, Any], override: object = None) -> Mapping[str, Any]:
    """The supervisor needs admin (readiness, listeners, drain): a bootstrap without an
    admin address (and no dict override giving one) gets 127.0.0.1 port 0."""
    has_admin = bool((config.get("admin") or {}).get("address"))
    if isinstance(override, Mapping):
        has_admin = has_admin or bool((override.get("admin") or {}).get("address"))
    if has_admin or (isinstance(override, str) and "admin" in override):
        return config
    return {**config, "admin": {**(config.get("admin") or {}), **LOOPBACK_ADMIN}}


def render_config(config: Mapping[str, Any]) -> str:
    """The bootstrap as JSON text (envoy picks the format from the ``.json`` extension)."""
    return to_json(config, indent=2)


def make_run_dir(run_dir: str | os.PathLike[str] | None) -> tuple[Path, bool]:
    """A private (0700) directory; returns it and whether we created it (and may delete it)."""
    if run_dir is None:
        return private_directory(), True
    created = not Path(run_dir).exists()
    return private_directory(run_dir), created


@dataclass(frozen=True)
class ListenerAddress:
    """The configured socket address of one static listener."""

    name: str
    host: str
    port: int
    protocol: str


def static_listeners(config: Mapping[str, Any]) -> list[ListenerAddress]:
    """Static listeners with a socket address (pipes and internal listeners are skipped)."""
    found: list[ListenerAddress] = []
    listeners = (config.get("static_resources") or {}).get("listeners") or []
    for index, listener in enumerate(listeners):
        sock = (listener.get("address") or {}).get("socket_address")
        if not isinstance(sock, Mapping):
            continue
        found.append(ListenerAddress(
            name=str(listener.get("name", f"listener_{index}")),
            host=str(sock.get("address", "0.0.0.0")),
            port=int(sock.get("port_value", 0)),
            protocol=str(sock.get("protocol", "TCP")).upper(),
        ))
    return found


def pin_listener_ports(
    config: Mapping[str, Any], bound: Mapping[str, tuple[str, int]]
) -> dict[str, Any]:
    """A copy of ``config`` where listeners configured with port 0 get the port they are
    bound to now (so a cold restart keeps the proxy's addresses)."""
    pinned = copy.deepcopy(dict(config))
    listeners = (pinned.get("static_resources") or {}).get("listeners") or []
    for listener in listeners:
        sock = (listener.get("address") or {}).get("socket_address")
        name = listener.get("name")
        if isinstance(sock, dict) and int(sock.get("port_value", 0)) == 0 and name in bound:
            sock["port_value"] = bound[name][1]
    return pinned
