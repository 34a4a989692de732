"""Foundations of the typed model: the base class, durations, typed extension configs.

Conventions (every model in ``envoykit.config`` follows them):

* field names are Envoy's own (snake_case, as in the v3 protos);
* every optional field defaults to ``None`` and is left out of the rendered config, so a
  model states exactly what the user said and Envoy's defaults apply to the rest (the
  secure defaults live in the builder, not here);
* unknown fields are errors (``extra="forbid"``); an extension we do not model is kept
  verbatim as a :class:`RawConfig` (any dict with an ``@type``);
* construction errors are raised as :class:`envoykit.errors.ModelError`, whose message
  names the field path, e.g. ``clusters[0].connect_timeout``.
"""

from __future__ import annotations

import contextlib
import gc
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import pydantic
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    SerializeAsAny,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from envoykit.errors import Issue, ModelError

__all__ = [
    "TYPE_PREFIX",
    "Duration",
    "EnvoyModel",
    "RawConfig",
    "Resource",
    "Typed",
    "TypedConfig",
    "gc_paused",
    "parse_duration",
    "registered_types",
]

TYPE_PREFIX = "type.googleapis.com/"


@contextlib.contextmanager
def gc_paused(*, settle: bool = False) -> Iterator[None]:
    """Pause the cyclic garbage collector while building or rendering many models.

    Building 10,000 sites allocates ~200,000 objects; the collector's full passes over
    that growing heap make build and render quadratic. Nothing here creates cycles that
    must be reclaimed meanwhile, and the collector resumes (if it was on) afterwards.

    ``settle=True`` (a build whose result lives as long as the config) files what was made
    as old on the way out: paused, ~1,000,000 objects pile up in the youngest generation and
    the first collection after it would scan them all (~35 % of a 10,000-site build) only to
    find them alive. ``gc.freeze()`` + ``gc.unfreeze()`` moves every tracked object into the
    oldest generation: nothing stays frozen, and full collections still collect everything.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if settle:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def format_path(loc: Iterable[str | int], prefix: str = "") -> str:
    """``("clusters", 0, "connect_timeout")`` → ``clusters[0].connect_timeout``."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith("function-") or part.startswith(TYPE_PREFIX):
            continue  # pydantic's names for validator/union steps, not fields
        else:
            out += f".{part}" if out else part
    return out or "<root>"


def _join(outer: str, inner: str) -> str:
    if inner == "<root>":
        return outer
    if outer == "<root>":
        return inner
    return outer + inner if inner.startswith("[") else f"{outer}.{inner}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def issues_from_pydantic(error: pydantic.ValidationError, prefix: str = "") -> list[Issue]:
    """Flatten a pydantic error (and nested typed-config errors) into path issues."""
    issues: list[Issue] = []
    for item in error.errors(include_url=False):
        path = format_path(item["loc"], prefix)
        inner = (item.get("ctx") or {}).get("inner")
        if isinstance(inner, list):
            issues.extend(Issue(_join(path, i.path), i.message) for i in inner)
            continue
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] not in ("missing",) and "input" in item and not isinstance(
            item["input"], dict
        ):
            message += f" (got {_short(item['input'])})"
        issues.append(Issue(path, message))
    return issues


class EnvoyModel(BaseModel):
    """Base of every Envoy resource model."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        validate_default=False,
        arbitrary_types_allowed=False,
    )

    if not TYPE_CHECKING:  # keep the pydantic plugin's typed __init__ for mypy

        def __init__(self, **data: Any) -> None:
            try:
                super().__init__(**data)
            except pydantic.ValidationError as exc:
                raise ModelError(issues_from_pydantic(exc), model=type(self).__name__) from None

        # Tell pydantic this is the base __init__: nested validation then stays inside
        # pydantic-core (full field paths) and only direct construction converts errors.
        __init__.__pydantic_base_init__ = True

    def to_dict(self) -> dict[str, Any]:
        """The Envoy JSON form of this resource (``None`` fields left out)."""
        with gc_paused():
            return self.model_dump(mode="json", exclude_none=True, by_alias=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "") -> Any:
        """Validate Envoy JSON/YAML data into this model; errors name the field path."""
        try:
            with gc_paused():
                return cls.model_validate(data)
        except pydantic.ValidationError as exc:
            raise ModelError(issues_from_pydantic(exc), model=cls.__name__, source=source) from None

    def _exactly_one(self, *names: str, required: bool = True) -> None:
        values = self.__dict__
        count = 0
        for name in names:
            if values[name] is not None:
                count += 1
        if count == 1 or (count == 0 and not required):
            return
        given = [n for n in names if values[n] is not None]
        raise ValueError(f"set exactly one of {', '.join(names)} (got {given or 'none'})")


# --- durations -------------------------------------------------------------------------

_DURATION_RE = re.compile(r"^\s*(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>ns|us|ms|s|m|h)\s*$")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: Any) -> timedelta:
    """Accept ``"5s"``, ``"250ms"``, ``"1.5s"``, ``"2m"``, seconds as a number, a
    ``timedelta`` or Envoy's ``{seconds, nanos}`` form; reject negatives."""
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, bool):
        raise PydanticCustomError("duration", "a duration cannot be a boolean")
    elif isinstance(value, (int, float)):
        result = timedelta(seconds=value)
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("-"):
            raise PydanticCustomError("duration", "duration must not be negative")
        match = _DURATION_RE.match(text)
        if match is None:
            raise PydanticCustomError(
                "duration", "invalid duration: use e.g. '5s', '0.25s', '250ms', '2m'"
            )
        result = timedelta(seconds=float(match["num"]) * _UNIT_SECONDS[match["unit"]])
    elif isinstance(value, Mapping) and set(value) <= {"seconds", "nanos"}:
        result = timedelta(seconds=int(value.get("seconds", 0)),
                           microseconds=int(value.get("nanos", 0)) / 1000)
    else:
        raise PydanticCustomError("duration", "invalid duration: use e.g. '5s' or seconds")
    if result < timedelta(0):
        raise PydanticCustomError("duration", "duration must not be negative")
    return result


def format_duration(value: timedelta) -> str:
    """Envoy's JSON duration form: ``5s``, ``0.250s``."""
    micros = (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds
    whole, frac = divmod(micros, 1_000_000)
    return f"{whole}s" if frac == 0 else f"{whole}.{frac:06d}".rstrip("0") + "s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="always"),
]
"""A protobuf Duration: accepts ``"5s"``, ``timedelta`` or seconds; renders ``"5s"``."""


# --- typed extension configs ---------------------------------------------------------------

_REGISTRY: dict[str, type[Resource]] = {}


def registered_types() -> dict[str, type[Resource]]:
    """Type URL → model class for every typed config and resource envoykit models."""
    return dict(_REGISTRY)


class Resource(EnvoyModel):
    """A message with a type URL: registered so that a dict carrying that ``@type`` loads
    as this model. Plain resources (listener, cluster, route configuration, endpoints) are
    untyped inside a bootstrap and carry ``@type`` only as xDS resources
    (:meth:`to_resource`); :class:`TypedConfig` always renders it.

    Subclasses set ``type_url`` without the ``type.googleapis.com/`` prefix.
    """

    type_url: ClassVar[str] = ""
    filter_name: ClassVar[str] = ""
    """The extension name under which a filter config is installed (if it is a filter)."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls.type_url:
            _REGISTRY[TYPE_PREFIX + cls.type_url] = cls

    @model_validator(mode="before")
    @classmethod
    def _strip_type(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "@type" in data:
            given = data["@type"]
            if cls.type_url and given != TYPE_PREFIX + cls.type_url:
                raise ValueError(f"@type is {given!r}, expected {TYPE_PREFIX + cls.type_url!r}")
            data = {k: v for k, v in data.items() if k != "@type"}
        return data

    def extension_name(self, name: str | None = None) -> str:
        """``name`` if given, else this config's ``filter_name`` (or a clear error)."""
        chosen = name or self.filter_name
        if not chosen:
            raise ValueError(f"{type(self).__name__} has no filter_name: pass name=")
        return chosen

    def to_resource(self) -> dict[str, Any]:
        """This config as an xDS resource: its dict with ``@type`` first."""
        return {"@type": TYPE_PREFIX + self.type_url, **self.to_dict()}


class TypedConfig(Resource):
    """A config that renders with its ``@type`` (an Envoy ``Any``), e.g. a filter config."""

    @model_serializer(mode="wrap")
    def _add_type(self, handler: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        return {"@type": TYPE_PREFIX + self.type_url, **handler(self)}


class RawConfig(TypedConfig):
    """The escape hatch: any typed config as a raw dict with its ``@type``, kept verbatim."""

    model_config = ConfigDict(extra="allow")

    @model_validator(mode="before")
    @classmethod
    def _need_type(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or not isinstance(data.get("@type"), str):
            raise ValueError("a raw typed config needs an '@type' string")
        if not data["@type"].startswith(TYPE_PREFIX):
            raise ValueError(f"@type must start with {TYPE_PREFIX!r} (got {data['@type']!r})")
        if ".v2." in data["@type"]:
            raise ValueError(f"v2 type URLs are rejected by envoy 1.40: {data['@type']!r}")
        return {"raw_type": data["@type"], **{k: v for k, v in data.items() if k != "@type"}}

    @model_serializer(mode="plain")
    def _verbatim(self) -> dict[str, Any]:
        extra = dict(self.__pydantic_extra__ or {})
        raw_type = extra.pop("raw_type")
        return {"@type": raw_type, **extra}

    @property
    def at_type(self) -> str:
        """The full ``@type`` URL."""
        return str((self.__pydantic_extra__ or {})["raw_type"])


def _resolve_typed(value: Any) -> Any:
    if isinstance(value, TypedConfig):
        return value
    if not isinstance(value, Mapping):
        raise PydanticCustomError("typed_config", "expected a typed config or a dict with '@type'")
    at_type = value.get("@type")
    cls = _REGISTRY.get(at_type) if isinstance(at_type, str) else None
    target = cls if cls is not None and issubclass(cls, TypedConfig) else RawConfig
    try:
        return target.model_validate(value)
    except pydantic.ValidationError as exc:
        inner = issues_from_pydantic(exc)
        summary = "; ".join(str(i) for i in inner)
        raise PydanticCustomError("typed_config", "{summary}",
                                  {"summary": summary, "inner": inner}) from None


Typed = Annotated[SerializeAsAny[TypedConfig], BeforeValidator(_resolve_typed)]
"""A field holding any typed config: a modelled one or a :class:`RawConfig`."""
