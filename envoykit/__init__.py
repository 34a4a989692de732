"""envoykit: configure, run and test Envoy from Python."""

from envoykit.binary import EnvoyBinary, find_envoy
from envoykit.errors import (
    AdminError,
    BinaryNotFound,
    ConfigError,
    ConfigLoadError,
    EnvoykitError,
    HotRestartError,
    ProcessError,
    ProcessExited,
    SemanticError,
    StartupError,
    ValidationError,
)

__version__ = "0.1.0"

__all__ = [
    "AdminError",
    "BinaryNotFound",
    "ConfigError",
    "ConfigLoadError",
    "EnvoyBinary",
    "EnvoykitError",
    "HotRestartError",
    "ProcessError",
    "ProcessExited",
    "SemanticError",
    "StartupError",
    "ValidationError",
    "find_envoy",
]
