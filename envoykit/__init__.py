"""envoykit: configure, run and test Envoy from Python.

The public API is what this module exports; everything else is private. The typed Envoy
resources live in :mod:`envoykit.config`.
"""

from envoykit.admin import (
    AdminClient,
    AdminConnectError,
    AdminHTTPError,
    AdminParameterError,
    AdminTimeout,
    AsyncAdminClient,
    ConfigDump,
    Histogram,
    ServerInfo,
    StatsSnapshot,
)
from envoykit.binary import EnvoyBinary, find_envoy
from envoykit.builder import Cert, EdgeDefaults, EdgeProxy, RateLimit, Site, UpstreamTLS
from envoykit.config import Bootstrap, ModelError
from envoykit.diff import ConfigDiff
from envoykit.diff import diff as diff_configs
from envoykit.errors import (
    AdminError,
    BinaryNotFound,
    ConfigError,
    ConfigLoadError,
    EnvoykitError,
    HotRestartError,
    Issue,
    ProcessError,
    ProcessExited,
    SemanticError,
    StartupError,
    ValidationError,
)
from envoykit.load import load_bootstrap
from envoykit.render import to_dict, to_json, to_yaml
from envoykit.validate import check, validate

__version__ = "0.1.0"

__all__ = [
    "AdminClient",
    "AdminConnectError",
    "AdminError",
    "AdminHTTPError",
    "AdminParameterError",
    "AdminTimeout",
    "AsyncAdminClient",
    "BinaryNotFound",
    "Bootstrap",
    "Cert",
    "ConfigDiff",
    "ConfigDump",
    "ConfigError",
    "ConfigLoadError",
    "EdgeDefaults",
    "EdgeProxy",
    "EnvoyBinary",
    "EnvoykitError",
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
    "UpstreamTLS",
    "ValidationError",
    "check",
    "diff_configs",
    "find_envoy",
    "load_bootstrap",
    "to_dict",
    "to_json",
    "to_yaml",
    "validate",
]
