"""The sans-IO core: request specs, replies, and the admin ``/help`` parameter check.

Every endpoint is an *operation*: a generator that yields :class:`Call` (send this request)
or :class:`Sleep` (wait this long) steps and receives a :class:`Reply` for each call. The
sync and async clients only drive these generators over their transport, so each endpoint
is written once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from envoykit._util import url
from envoykit.errors import AdminHTTPError, AdminParameterError, AdminResponseError

T = TypeVar("T")

Address = str | tuple[str, int]


@dataclass(frozen=True)
class Call:
    """One admin request: method, path, query parameters and the statuses it accepts."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    ok: frozenset[int] = frozenset({200})
    check_params: bool = True
    unchecked: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Reply:
    """The part of an HTTP response the parsers need."""

    status: int
    body: bytes
    content_type: str = ""

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Sleep:
    """Ask the driver to wait (used by polling helpers such as ``wait_for``)."""

    seconds: float


Step = Call | Sleep
Operation = Generator[Step, Reply | None, T]


def get(path: str, params: Mapping[str, str | None] | None = None) -> Call:
    """A GET call; parameters whose value is None are left out."""
    return Call("GET", path, pairs(params))


def post(path: str, params: Mapping[str, str | None] | None = None) -> Call:
    """A POST call; parameters whose value is None are left out."""
    return Call("POST", path, pairs(params))


def pairs(params: Mapping[str, str | None] | None) -> tuple[tuple[str, str], ...]:
    if not params:
        return ()
    return tuple((k, v) for k, v in params.items() if v is not None)


def flag(value: bool) -> str | None:
    """Envoy's boolean query flags are present-or-absent; map True to an empty value."""
    return "" if value else None


def send(call: Call) -> Generator[Step, Reply | None, Reply]:
    """Yield ``call`` and return its reply, raising :class:`AdminHTTPError` on a bad status."""
    reply = yield call
    if reply is None:  # pragma: no cover - a driver bug, not a user error
        raise RuntimeError(f"driver sent no reply for {call.path}")
    if reply.status not in call.ok:
        raise AdminHTTPError(reply.status, reply.text, endpoint=call.path)
    return reply


def send_json(call: Call) -> Generator[Step, Reply | None, Any]:
    """Send ``call`` and parse its JSON body."""
    reply = yield from send(call)
    return parse_json(reply.body, call.path)


def parse_json(body: bytes, endpoint: str) -> Any:
    """``json.loads`` with an :class:`AdminResponseError` naming the endpoint."""
    try:
        return json.loads(body)
    except ValueError as exc:
        head = body[:80].decode("utf-8", errors="replace")
        raise AdminResponseError(f"expected JSON, got {head!r}: {exc}", endpoint=endpoint) from exc


def base_url(address: Address) -> str:
    """``"127.0.0.1:9901"``, ``"http://127.0.0.1:9901"`` or ``(host, port)`` → base URL."""
    if isinstance(address, tuple):
        host, port = address
        return url("http", host, int(port))
    text = address.strip().rstrip("/")
    if not text:
        raise ValueError("admin address is empty")
    if "://" in text:
        if not text.startswith(("http://", "https://")):
            raise ValueError(f"admin address must be http(s): {address!r}")
        return text
    return f"http://{text}"


# --- /help: which parameters each endpoint takes --------------------------------------------

_ENDPOINT_RE = re.compile(r"^  (/\S*?)(?: \((?:POST)\))?: ")
_PARAM_RE = re.compile(r"^      (\w+): (.*)$")
_CHOICES_RE = re.compile(r"; One of \(([^)]*)\)\s*$")


@dataclass(frozen=True)
class EndpointHelp:
    """What ``/help`` says about one endpoint: its parameters and their allowed values."""

    path: str
    params: Mapping[str, tuple[str, ...] | None] = field(default_factory=dict)


def parse_help(text: str) -> dict[str, EndpointHelp]:
    """Parse the text of ``/help`` into endpoint → parameters (choices or None for free text)."""
    endpoints: dict[str, dict[str, tuple[str, ...] | None]] = {}
    current: dict[str, tuple[str, ...] | None] | None = None
    for line in text.splitlines():
        match = _ENDPOINT_RE.match(line)
        if match:
            current = endpoints.setdefault(match[1], {})
            continue
        param = _PARAM_RE.match(line)
        if param and current is not None:
            current[param[1]] = _choices(param[2])
    return {path: EndpointHelp(path, params) for path, params in endpoints.items()}


def _choices(description: str) -> tuple[str, ...] | None:
    match = _CHOICES_RE.search(description)
    if match is None:
        return None
    return tuple(choice.strip() for choice in match[1].split(","))


def check_params(helps: Mapping[str, EndpointHelp], call: Call) -> Call:
    """Check ``call``'s parameters against ``/help``; return it with choices spelled envoy's way.

    Raises :class:`AdminParameterError` for an unknown endpoint, parameter or value.
    """
    info = helps.get(call.path)
    if info is None:
        known = ", ".join(sorted(helps))
        raise AdminParameterError(
            f"this envoy has no such admin endpoint (it has: {known})", endpoint=call.path
        )
    fixed = tuple(
        (name, value if name in call.unchecked else _check_one(info, name, value))
        for name, value in call.params
    )
    return replace(call, params=fixed)


def _check_one(info: EndpointHelp, name: str, value: str) -> str:
    if name not in info.params:
        known = ", ".join(sorted(info.params)) or "none"
        raise AdminParameterError(
            f"unknown parameter {name!r}; this envoy accepts: {known}", endpoint=info.path
        )
    choices = info.params[name]
    if choices is None:
        return value
    return _match_choice(info.path, name, value, choices)


def _match_choice(path: str, name: str, value: str, choices: Sequence[str]) -> str:
    for choice in choices:
        if choice.lower() == value.lower():
            return choice
    shown = ", ".join(repr(c) for c in choices)
    raise AdminParameterError(
        f"invalid value {value!r} for {name!r}; this envoy accepts one of {shown}", endpoint=path
    )
