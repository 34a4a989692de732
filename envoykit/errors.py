"""The envoykit exception tree: every exception envoykit raises is defined here.

    EnvoykitError
    ├── ConfigError                  a config cannot be built, loaded or rendered
    │   ├── ModelError               a typed model got invalid values (field path per issue;
    │   │                            also a ValueError)
    │   ├── ConfigLoadError          YAML/JSON syntax or shape error (file and line)
    │   └── SemanticError            cross-resource checks (field path in every issue)
    ├── EnvoyValidationError         the real `envoy --mode validate` refused the config
    ├── BinaryNotFound               no envoy binary could be found
    ├── ProcessError                 the supervised process misbehaved
    │   ├── StartupError             envoy exited or timed out before becoming ready
    │   ├── ProcessExited            envoy exited while it was expected to run
    │   └── HotRestartError          a hot restart failed (the old epoch keeps serving)
    ├── AdminError                   the admin API failed (names the endpoint)
    │   ├── AdminTransportError      the request did not complete
    │   │   ├── AdminConnectError    nothing accepted the connection (refused, unreachable)
    │   │   └── AdminTimeout         no answer in time (also a TimeoutError)
    │   ├── AdminHTTPError           envoy answered with an unexpected status (400, 404, 503)
    │   ├── AdminParameterError      a parameter the running envoy does not accept
    │   │                            (also a ValueError)
    │   └── AdminResponseError       the answer could not be parsed
    ├── XdsUpdateRejected            envoy refused a resource-file update (old config serves)
    └── FleetError                   the xDS control plane (envoykit.fleet) failed
        ├── PushRejected             nodes NACKed a pushed snapshot (Envoy's message per node)
        └── PushTimeout              nodes did not answer a push in time (named)

:class:`Issue` (a field path and a message) is what the config errors list.
Every error carries what a user needs to act on it: a field path, a file and line,
or envoy's exit code and the last lines it printed. All are exported by :mod:`envoykit`.
``ValidationError`` is the deprecated old name of :class:`EnvoyValidationError` (it
shadowed pydantic's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from envoykit._util import deprecated_aliases

__all__ = [
    "AdminConnectError",
    "AdminError",
    "AdminHTTPError",
    "AdminParameterError",
    "AdminResponseError",
    "AdminTimeout",
    "AdminTransportError",
    "BinaryNotFound",
    "ConfigError",
    "ConfigLoadError",
    "EnvoyValidationError",
    "EnvoykitError",
    "FleetError",
    "HotRestartError",
    "Issue",
    "ModelError",
    "ProcessError",
    "ProcessExited",
    "PushRejected",
    "PushTimeout",
    "SemanticError",
    "StartupError",
    "XdsUpdateRejected",
]


class EnvoykitError(Exception):
    """Base class of every error envoykit raises."""


class ConfigError(EnvoykitError):
    """A config cannot be built, loaded or rendered."""


class ConfigLoadError(ConfigError):
    """A config file or text could not be parsed; names the source and line."""

    def __init__(self, message: str, *, source: str = "<string>", line: int | None = None) -> None:
        self.source = source
        self.line = line
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Issue:
    """One problem found by a check: where (a field path) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ModelError(ConfigError, ValueError):
    """A model was given invalid values; ``issues`` names each field path."""

    def __init__(self, issues: Sequence[Issue], *, model: str = "", source: str = "") -> None:
        self.issues = list(issues)
        head = f"invalid {model}" if model else "invalid config"
        if source:
            head = f"{source}: {head}"
        body = "\n".join(f"  - {issue}" for issue in self.issues)
        super().__init__(f"{head}:\n{body}")


class SemanticError(ConfigError):
    """Cross-resource checks failed; `issues` lists every problem with its field path."""

    def __init__(self, issues: Sequence[Issue], *, source: str = "") -> None:
        self.issues = list(issues)
        self.source = source
        lines = "\n".join(f"  - {issue}" for issue in self.issues)
        head = f"{source}: " if source else ""
        super().__init__(f"{head}{len(self.issues)} config problem(s):\n{lines}")


class EnvoyValidationError(EnvoykitError):
    """`envoy --mode validate` rejected the config; `output` is envoy's own message."""

    def __init__(self, message: str, *, output: str = "", returncode: int | None = None) -> None:
        self.output = output
        self.returncode = returncode
        super().__init__(message)


class BinaryNotFound(EnvoykitError):
    """No usable envoy binary was found."""


class ProcessError(EnvoykitError):
    """The supervised envoy process misbehaved; carries its exit code and output tail."""

    def __init__(
        self, message: str, *, returncode: int | None = None, output_tail: Sequence[str] = ()
    ) -> None:
        self.returncode = returncode
        self.output_tail = list(output_tail)
        text = message
        if returncode is not None:
            text += f" (exit code {returncode})"
        if self.output_tail:
            text += "\nlast lines from envoy:\n" + "\n".join(f"  {ln}" for ln in self.output_tail)
        super().__init__(text)


class StartupError(ProcessError):
    """Envoy exited or timed out before it became ready."""


class ProcessExited(ProcessError):
    """Envoy exited while it was expected to keep running."""


class HotRestartError(ProcessError):
    """A hot restart failed; the previous epoch keeps serving."""


class AdminError(EnvoykitError):
    """An admin API call failed; `endpoint` names the admin path."""

    def __init__(self, message: str, *, endpoint: str = "") -> None:
        self.endpoint = endpoint
        super().__init__(f"{endpoint}: {message}" if endpoint else message)


class AdminTransportError(AdminError):
    """The request to the admin endpoint did not complete."""


class AdminConnectError(AdminTransportError):
    """The admin address refused or could not take the connection (is envoy running?)."""


class AdminTimeout(AdminTransportError, TimeoutError):
    """The admin endpoint did not answer in time, or a wait ran out of time."""


class AdminHTTPError(AdminError):
    """Envoy answered with a status the call does not accept; ``status`` and ``body`` say why."""

    def __init__(self, status: int, body: str, *, endpoint: str) -> None:
        self.status = status
        self.body = body
        detail = body.strip().splitlines()[0] if body.strip() else "(empty body)"
        super().__init__(f"HTTP {status}: {detail}", endpoint=endpoint)


class AdminParameterError(AdminError, ValueError):
    """A query parameter (name or value) that the running envoy's ``/help`` does not list."""


class AdminResponseError(AdminError):
    """The admin answer was not in the expected format."""


class XdsUpdateRejected(EnvoykitError):
    """Envoy refused (or did not confirm) a resource-file update; the old config serves.

    ``kind`` is the resource kind (``listener``, ``route``, ``cluster``, ``endpoints``,
    ``secret``), ``path`` the file, ``version`` the version that was refused, ``reason``
    Envoy's own message (from its log) and ``output_tail`` the last lines it printed.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str = "",
        path: str = "",
        version: str = "",
        reason: str = "",
        output_tail: Sequence[str] = (),
    ) -> None:
        self.kind = kind
        self.path = path
        self.version = version
        self.reason = reason
        self.output_tail = list(output_tail)
        text = message if not reason else f"{message}\nenvoy said: {reason}"
        super().__init__(text)


class FleetError(EnvoykitError):
    """The xDS control plane (:mod:`envoykit.fleet`) failed or is not installed."""


class PushRejected(FleetError):
    """Nodes NACKed a pushed snapshot. ``rejections`` maps node id to Envoy's own message
    (its ``error_detail``); ``version`` is the refused snapshot version; ``rolled_back``
    names the nodes sent back to their last ACKed snapshot."""

    def __init__(self, version: str, rejections: Mapping[str, str],
                 rolled_back: Sequence[str] = ()) -> None:
        self.version = version
        self.rejections = dict(rejections)
        self.rolled_back = list(rolled_back)
        lines = "\n".join(f"  - {node}: {why}" for node, why in sorted(self.rejections.items()))
        text = f"snapshot {version} was rejected by {len(self.rejections)} node(s):\n{lines}"
        if self.rolled_back:
            text += f"\nrolled back to their last ACKed snapshot: {', '.join(self.rolled_back)}"
        super().__init__(text)


class PushTimeout(FleetError):
    """Nodes did not ACK or NACK a pushed snapshot within the timeout; ``nodes`` names them."""

    def __init__(self, version: str, nodes: Sequence[str], timeout: float) -> None:
        self.version = version
        self.nodes = sorted(nodes)
        self.timeout = timeout
        super().__init__(f"snapshot {version}: no answer within {timeout:g} s from "
                         f"{len(self.nodes)} node(s): {', '.join(self.nodes)}")


if TYPE_CHECKING:
    ValidationError = EnvoyValidationError  # deprecated
else:
    __getattr__ = deprecated_aliases(__name__, {"ValidationError": "EnvoyValidationError"})
