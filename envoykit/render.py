"""Render a config to Envoy's JSON or YAML, deterministically (same input, same bytes)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

from envoykit._util import ConfigLike
from envoykit.config import EnvoyModel, gc_paused

__all__ = ["ConfigLike", "to_dict", "to_json", "to_yaml"]

_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when available


def to_dict(config: ConfigLike) -> dict[str, Any]:
    """The plain Envoy JSON form of a model, a builder or a mapping."""
    if isinstance(config, Mapping):
        return dict(config)
    return config.to_dict()


def to_json(config: ConfigLike, *, indent: int | None = 2) -> str:
    """Envoy JSON text; keys keep the model's field order. A typed model (or a builder) is
    serialised by pydantic-core directly; a dict by the standard library."""
    fast = getattr(config, "render_json", None)  # an EdgeProxy renders without the models
    if callable(fast):
        return str(fast(indent)) + "\n"
    model = _model_of(config)
    with gc_paused():
        if model is not None:
            return model.model_dump_json(indent=indent, exclude_none=True, by_alias=True) + "\n"
        return json.dumps(to_dict(config), indent=indent, ensure_ascii=False) + "\n"


def _model_of(config: ConfigLike) -> EnvoyModel | None:
    if isinstance(config, EnvoyModel):
        return config
    build = getattr(config, "build", None)
    built = build() if callable(build) else None
    return built if isinstance(built, EnvoyModel) else None


def to_yaml(config: ConfigLike) -> str:
    """Envoy YAML text; block style, keys in the model's field order."""
    with gc_paused():
        text: str = yaml.dump(
            to_dict(config),
            Dumper=_Dumper,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
            width=100,
        )
    return text
