"""envoykit: configure, run and test Envoy from Python.

The public API is what this module exports; everything else is private. The typed Envoy
resources live in :mod:`envoykit.config`.
"""

import importlib
from typing import TYPE_CHECKING, Any

from envoykit.errors import (
    AdminConnectError,
    AdminError,
    AdminHTTPError,
    AdminParameterError,
    AdminResponseError,
    AdminTimeout,
    AdminTransportError,
    BinaryNotFound,
    ConfigError,
    ConfigLoadError,
    EnvoykitError,
    HotRestartError,
    Issue,
    ModelError,
    ProcessError,
    ProcessExited,
    SemanticError,
    StartupError,
    ValidationError,
    XdsUpdateRejected,
)

if TYPE_CHECKING:
    from envoykit.admin import (
        AdminClient,
        AsyncAdminClient,
        ConfigDump,
        Histogram,
        ServerInfo,
        StatsSnapshot,
    )
    from envoykit.binary import EnvoyBinary, find_envoy
    from envoykit.builder import Cert, EdgeDefaults, EdgeProxy, RateLimit, Site, UpstreamTLS
    from envoykit.config import Bootstrap
    from envoykit.diff import ConfigDiff
    from envoykit.diff import diff as diff_configs
    from envoykit.load import load_bootstrap
    from envoykit.process import AsyncSupervisor, Backoff, EpochInfo, Supervisor
    from envoykit.process import Event as SupervisorEvent
    from envoykit.process import State as SupervisorState
    from envoykit.render import to_dict, to_json, to_yaml
    from envoykit.validation import check, validate
    from envoykit.xds import ApplyReport, AsyncDynamicProxy, DynamicProxy

__version__ = "0.1.0"

# Imported on first use: `import envoykit` (and the pytest plugin) stays cheap.
_LAZY: dict[str, tuple[str, str]] = {
    "AsyncSupervisor": ("envoykit.process", "AsyncSupervisor"),
    "Backoff": ("envoykit.process", "Backoff"),
    "EpochInfo": ("envoykit.process", "EpochInfo"),
    "Supervisor": ("envoykit.process", "Supervisor"),
    "SupervisorEvent": ("envoykit.process", "Event"),
    "SupervisorState": ("envoykit.process", "State"),
    "ApplyReport": ("envoykit.xds", "ApplyReport"),
    "AsyncDynamicProxy": ("envoykit.xds", "AsyncDynamicProxy"),
    "DynamicProxy": ("envoykit.xds", "DynamicProxy"),
    "AdminClient": ("envoykit.admin", "AdminClient"),
    "AsyncAdminClient": ("envoykit.admin", "AsyncAdminClient"),
    "Bootstrap": ("envoykit.config", "Bootstrap"),
    "Cert": ("envoykit.builder", "Cert"),
    "ConfigDiff": ("envoykit.diff", "ConfigDiff"),
    "ConfigDump": ("envoykit.admin", "ConfigDump"),
    "EdgeDefaults": ("envoykit.builder", "EdgeDefaults"),
    "EdgeProxy": ("envoykit.builder", "EdgeProxy"),
    "EnvoyBinary": ("envoykit.binary", "EnvoyBinary"),
    "Histogram": ("envoykit.admin", "Histogram"),
    "RateLimit": ("envoykit.builder", "RateLimit"),
    "ServerInfo": ("envoykit.admin", "ServerInfo"),
    "Site": ("envoykit.builder", "Site"),
    "StatsSnapshot": ("envoykit.admin", "StatsSnapshot"),
    "UpstreamTLS": ("envoykit.builder", "UpstreamTLS"),
    "check": ("envoykit.validation", "check"),
    "diff_configs": ("envoykit.diff", "diff"),
    "find_envoy": ("envoykit.binary", "find_envoy"),
    "load_bootstrap": ("envoykit.load", "load_bootstrap"),
    "to_dict": ("envoykit.render", "to_dict"),
    "to_json": ("envoykit.render", "to_json"),
    "to_yaml": ("envoykit.render", "to_yaml"),
    "validate": ("envoykit.validation", "validate"),
}


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'envoykit' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "AdminClient",
    "AdminConnectError",
    "AdminError",
    "AdminHTTPError",
    "AdminParameterError",
    "AdminResponseError",
    "AdminTimeout",
    "AdminTransportError",
    "ApplyReport",
    "AsyncAdminClient",
    "AsyncDynamicProxy",
    "AsyncSupervisor",
    "Backoff",
    "BinaryNotFound",
    "Bootstrap",
    "Cert",
    "ConfigDiff",
    "ConfigDump",
    "ConfigError",
    "ConfigLoadError",
    "DynamicProxy",
    "EdgeDefaults",
    "EdgeProxy",
    "EnvoyBinary",
    "EnvoykitError",
    "EpochInfo",
    "Histogram",
    "HotRestartError",
    "Issue",
    "ModelError",
    "ProcessError",
    "ProcessExited",
    "RateLimit",
    "SemanticError",
    "ServerInfo",
    "Site",
    "StartupError",
    "StatsSnapshot",
    "Supervisor",
    "SupervisorEvent",
    "SupervisorState",
    "UpstreamTLS",
    "ValidationError",
    "XdsUpdateRejected",
    "check",
    "diff_configs",
    "find_envoy",
    "load_bootstrap",
    "to_dict",
    "to_json",
    "to_yaml",
    "validate",
]
