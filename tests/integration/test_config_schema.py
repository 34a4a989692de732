"""The filter models against the envoy binary's own compiled schema.

Envoy embeds the serialized ``FileDescriptorProto`` of every proto it knows. Starting from each
typed config registered by a module of :mod:`envoykit.config.filters` (its ``type_url`` names
the message), the walk follows every field whose model is an :class:`EnvoyModel` to the
message envoy declares for it, so a new filter module is checked without being listed here.

* A model defined in ``envoykit.config.filters`` has exactly envoy's field set (unless named in
  ``PARTIAL`` with the reason);
* every other model reached (core matchers, route match, ...) has no field envoy lacks.
"""

from __future__ import annotations

import functools
import re
import typing
from typing import Any

import pytest

from envoykit.binary import find_envoy
from envoykit.config import EnvoyModel, OAuth2Config, filters, registered_types

pytestmark = pytest.mark.integration

FILTERS = "envoykit.config.filters"
OAUTH2_CONFIG = "envoy.extensions.filters.http.oauth2.v3.OAuth2Config"

# (model, envoy message) pairs known to model only part of envoy's fields, and why
PARTIAL = {
    ("Router", "envoy.extensions.filters.http.router.v3.Router"):
        "upstream filters/logs and rarely used switches are not modelled",
    ("LocalRateLimit", "envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit"):
        "rate_limits actions and the cluster-wide bucket are not modelled",
    ("LocalRateLimitDescriptor", "envoy.extensions.common.ratelimit.v3.LocalRateLimitDescriptor"):
        "shadow_mode is not modelled",
    ("Empty", "envoy.extensions.filters.http.jwt_authn.v3.ExtractOnlyWithoutValidation"):
        "extract_only_without_validation is given as {} (verification_status_header unset)",
}


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, i


def _wire_fields(buf: bytes, *, stop_on_unknown: bool = False) -> list[tuple[int, Any]]:
    """Top-level (field number, value) pairs of a protobuf message."""
    out: list[tuple[int, Any]] = []
    i = 0
    while i < len(buf):
        key, j = _varint(buf, i)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if stop_on_unknown and (wire not in (0, 2) or not 1 <= number <= 14):
            break  # past the end of an embedded FileDescriptorProto
        if wire == 0:
            value, j = _varint(buf, j)
        elif wire == 2:
            size, j = _varint(buf, j)
            value, j = buf[j:j + size], j + size
        elif wire in (1, 5):
            value, j = buf[j:j + (8 if wire == 1 else 4)], j + (8 if wire == 1 else 4)
        else:
            raise ValueError(f"wire type {wire}")
        out.append((number, value))
        i = j
    return out


def _messages(descriptor: bytes, prefix: str) -> dict[str, dict[str, str]]:
    """DescriptorProto → {"pkg.Outer.Inner": {field name: message type or ""}}."""
    parts = _wire_fields(descriptor)
    name = prefix + next(v for n, v in parts if n == 1).decode()
    fields = {}
    for number, value in parts:
        if number == 2:  # FieldDescriptorProto: 1 name, 6 type_name
            field = dict(_wire_fields(value))
            fields[field[1].decode()] = field.get(6, b"").decode().lstrip(".")
    found = {name: fields}
    for number, value in parts:
        if number == 3:
            found.update(_messages(value, name + "."))
    return found


@functools.cache
def _binary() -> bytes:
    return find_envoy().path.read_bytes()


@functools.cache
def _package(package: str) -> dict[str, dict[str, str]]:
    """Every message of every proto file of ``package`` compiled into envoy."""
    pkg = package.encode()
    # a FileDescriptorProto starts: 1 name (*.proto), 2 package, 3 dependency ...
    start = re.compile(rb"\x0a([\x05-\x7f])([a-z0-9_/]+\.proto)\x12"
                       + re.escape(bytes([len(pkg)]) + pkg) + rb"[\x1a\x22]")
    found: dict[str, dict[str, str]] = {}
    binary = _binary()
    for match in start.finditer(binary):
        if match.group(1)[0] != len(match.group(2)):
            continue
        for number, value in _wire_fields(binary[match.start():match.start() + 400_000],
                                          stop_on_unknown=True):
            if number == 4:
                found.update(_messages(value, package + "."))
    return found


def envoy_message(full_name: str) -> dict[str, str] | None:
    """Field name → message type of envoy's message ``full_name`` (None: not a message)."""
    parts = full_name.split(".")
    first_type = next(i for i, part in enumerate(parts) if part[:1].isupper())
    return _package(".".join(parts[:first_type])).get(full_name)


def _models_in(annotation: Any) -> list[type[EnvoyModel]]:
    if isinstance(annotation, type):
        return [annotation] if issubclass(annotation, EnvoyModel) else []
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _walk(model: type[EnvoyModel], message: str,
          found: dict[tuple[type[EnvoyModel], str], dict[str, str]]) -> None:
    if (model, message) in found:
        return
    fields = envoy_message(message)
    assert fields is not None, f"{model.__name__}: envoy has no message {message}"
    found[(model, message)] = fields
    for name, info in model.model_fields.items():
        target = fields.get(name, "")
        entry = envoy_message(target) if target else None
        if entry is None:
            continue
        if target.endswith("Entry") and set(entry) == {"key", "value"}:  # a map<>
            target = entry["value"]
        for sub in _models_in(info.annotation):
            _walk(sub, target, found)


def reached_models() -> dict[tuple[type[EnvoyModel], str], dict[str, str]]:
    """(model, envoy message) → envoy's fields, for everything the filter configs reach."""
    found: dict[tuple[type[EnvoyModel], str], dict[str, str]] = {}
    for cls in registered_types().values():
        if cls.__module__.startswith(FILTERS + "."):
            _walk(cls, cls.type_url, found)
    return found


def test_filter_models_have_envoys_fields() -> None:
    reached = reached_models()
    differences = []
    for (model, message), fields in reached.items():
        ours, theirs = set(model.model_fields), set(fields)
        if ours - theirs:
            differences.append(f"{model.__name__} vs {message}: envoy has no "
                               f"{sorted(ours - theirs)}")
        elif (ours != theirs and model.__module__.startswith(FILTERS + ".")
              and (model.__name__, message) not in PARTIAL):
            differences.append(f"{model.__name__} vs {message}: missing "
                               f"{sorted(theirs - ours)}")
    assert not differences, "\n".join(differences)
    names = {(model.__name__, message) for model, message in reached}
    assert set(PARTIAL) <= names, f"stale PARTIAL entries: {set(PARTIAL) - names}"
    defined = {getattr(filters, name) for name in filters.__all__}
    defined = {m for m in defined if isinstance(m, type) and issubclass(m, EnvoyModel)}
    unchecked = defined - {model for model, _ in reached}
    assert not unchecked, f"filter models no registered config reaches: {unchecked}"
    assert "forward_id_token" in reached[(OAuth2Config, OAUTH2_CONFIG)]
