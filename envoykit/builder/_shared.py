"""Equal frozen values made once: the builder's route values are shared, not rebuilt.

A program that generates a large edge often makes the same routes again and again (10,000
sites, each calling a helper that returns its five ``HttpRoute`` values). The values are
frozen, so a call whose arguments equal an earlier call's can return the earlier value
instead of normalising and validating the same arguments again. :class:`Shared` is the
metaclass that does it for :class:`~envoykit.builder.HttpRoute`, ``Header``, ``Respond``,
``Redirect`` and ``Retry``:

* the *key* of a call is its arguments, each tagged with its exact type where equality would
  hide a difference (``True == 1 == 1.0``, yet ``{"x-debug": True}`` means "present" and
  ``{"x-debug": 1}`` means "equal to 1"); a container is keyed by its contents only where the
  constructor copies it (a list or dict the value would keep is not shared); another shared
  value (the ``Retry`` of a route) by its identity, which the new value keeps alive;
* an argument of any other type (a typed filter config, a ``CorsPolicy``) makes the call
  unshared: it is constructed as before;
* a call that raises stores no value (its key's cell stays empty), so the same bad
  arguments raise the same error again;
* each class keeps at most :data:`CACHE_SIZE` values, least recently used dropped first.

Sharing is unobservable except by ``is``: equal values were equal before. ``value_hash``
caches a value's hash in the instance, so a route table (a tuple of routes) hashes in five
lookups instead of hashing every field of every route.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

__all__ = ["CACHE_SIZE", "Shared", "cache_info", "clear_caches", "fast_init",
           "keep_by_identity", "unshared", "value_hash"]

CACHE_SIZE = 4096
"""How many values each shared class keeps (an ``HttpRoute`` with its key is about 2 KB: under
10 MB for the routes, measured with tracemalloc)."""

_T = TypeVar("_T")
_TAGGED = frozenset({int, float, bool, complex, bytes, timedelta})
_BY_IDENTITY: set[type] = set()


class _Unkeyable(Exception):
    """An argument that cannot be part of a key: the call is not shared."""


@dataclasses.dataclass(frozen=True)
class _Kind:
    names: tuple[str, ...]  # the parameters, in order
    copied: frozenset[str]  # parameters whose list or dict the constructor copies
    copied_at: frozenset[int]  # their positions
    cells: Callable[[tuple[Any, ...]], list[Any]]


_KINDS: dict[type, _Kind] = {}


def keep_by_identity(cls: type) -> None:
    """Let values of ``cls`` (frozen, kept by the values made from them) be keyed by identity."""
    _BY_IDENTITY.add(cls)


class Shared(type):
    """Metaclass of a frozen dataclass whose equal calls return one shared value.

    The class may name, in ``_copied_fields``, the parameters whose list or dict its
    constructor turns into tuples (only those may be given as a list or dict and shared).
    """

    def __init__(cls, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> None:
        super().__init__(name, bases, namespace)
        _BY_IDENTITY.add(cls)

    @property
    def __signature__(cls) -> inspect.Signature:
        """The parameters of the class (``inspect.signature`` would show ``__call__``'s)."""
        init = inspect.signature(cls.__init__)  # type: ignore[misc]
        return init.replace(parameters=list(init.parameters.values())[1:])  # (but self)

    def __call__(cls: type[_T], *args: Any, **kwargs: Any) -> _T:
        kind = _KINDS.get(cls) or _kind(cls)
        key: list[Any] = [args]  # (the hot path of a large edge: no call for a str)
        try:
            for arg in args:
                if type(arg) is not str:
                    key[0] = _args_part(kind, args)
                    break
            for name, arg in kwargs.items():
                key.append(name)
                key.append(arg if type(arg) is str else _part(arg, name in kind.copied))
            cell = kind.cells(tuple(key))
        except _Unkeyable:
            return type.__call__(cls, *args, **kwargs)  # type: ignore[no-any-return]
        if cell:
            return cell[0]  # type: ignore[no-any-return]
        value = type.__call__(cls, *args, **kwargs)
        cell.append(value)
        return value  # type: ignore[no-any-return]


def unshared(cls: type[_T], /, *args: Any, **kwargs: Any) -> _T:
    """A new value of the shared class ``cls``, neither looked up nor kept (for a value
    known to be unlike any other, such as a site's own route)."""
    return type.__call__(cls, *args, **kwargs)  # type: ignore[no-any-return]


def _kind(cls: type) -> _Kind:
    names = tuple(f.name for f in dataclasses.fields(cls) if f.init)
    copied = frozenset(getattr(cls, "_copied_fields", ()))
    kind = _KINDS[cls] = _Kind(names, copied,
                               frozenset(i for i, n in enumerate(names) if n in copied),
                               functools.lru_cache(maxsize=CACHE_SIZE)(_cell))
    return kind


def _cell(key: tuple[Any, ...]) -> list[Any]:
    """An empty cell for a new key (filled with the value once it is made)."""
    return []


def _args_part(kind: _Kind, args: tuple[Any, ...]) -> tuple[Any, ...]:
    if len(args) > len(kind.names):
        raise _Unkeyable  # (the constructor says what is wrong)
    return (len(args), *[_part(v, at in kind.copied_at) for at, v in enumerate(args)])


def _part(value: Any, copied: bool) -> Any:
    """``value`` as part of a key: equal parts make equal values."""
    if value is None:
        return None
    of = type(value)
    if of is str:
        return value
    if of in _TAGGED:
        return of, value
    if of is tuple:
        return (tuple, *[_part(v, False) for v in value])
    if copied and of is dict:
        return (dict, *[(_part(k, False), _part(v, False)) for k, v in value.items()])
    if copied and of is list:
        return (list, *[_part(v, False) for v in value])
    if of in _BY_IDENTITY:
        return of, id(value)  # (kept alive by the value made from it, which its cell keeps)
    raise _Unkeyable


def fast_init(cls: type) -> None:
    """Give the frozen dataclass ``cls`` an ``__init__`` with the same parameters that fills
    the instance dict in one update (the generated one sets each field through
    ``object.__setattr__``: half the cost of a route when a large edge makes 50,000), then
    calls its ``__post_init__`` if it has one."""
    fields = [f for f in dataclasses.fields(cls) if f.init]
    if any(f.default_factory is not dataclasses.MISSING for f in fields):
        raise TypeError(f"{cls.__name__}: a default factory is not supported")
    defaults = {f"_d_{f.name}": f.default for f in fields}
    params = ", ".join(f.name if f.default is dataclasses.MISSING else f"{f.name}=_d_{f.name}"
                       for f in fields)
    values = ", ".join(f"{f.name!r}: {f.name}" for f in fields)
    source = (f"def __init__(self, {params}):\n"
              f"    self.__dict__.update({{{values}}})\n"
              + ("    self.__post_init__()\n" if hasattr(cls, "__post_init__") else ""))
    namespace: dict[str, Any] = {}
    exec(source, defaults, namespace)  # (source built from the field names above)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = vars(cls)["__init__"].__doc__
    init.__signature__ = inspect.signature(vars(cls)["__init__"])  # (with the annotations)
    cls.__init__ = init  # type: ignore[misc]


def cache_info(cls: type) -> functools._CacheInfo:
    """The hits, misses, size and bound of ``cls``'s shared values (for tests and tuning)."""
    kind = _KINDS.get(cls) or _kind(cls)
    return kind.cells.cache_info()  # type: ignore[attr-defined,no-any-return]


def clear_caches() -> None:
    """Forget every shared value (the next calls construct afresh)."""
    for kind in _KINDS.values():
        kind.cells.cache_clear()  # type: ignore[attr-defined]


def value_hash(cls: type) -> None:
    """Make the (dataclass-generated) hash of ``cls`` computed once per instance."""
    plain: Callable[[Any], int] = cls.__hash__  # type: ignore[assignment]

    def __hash__(self: Any) -> int:
        d = self.__dict__
        known: int | None = d.get("_hash")
        if known is None:
            known = d["_hash"] = plain(self)
        return known

    def __getstate__(self: Any) -> dict[str, Any]:
        # (a pickled value's hash is computed again where it is loaded: str hashes differ)
        return {k: v for k, v in self.__dict__.items() if k != "_hash"}

    cls.__hash__ = __hash__  # type: ignore[assignment]
    cls.__getstate__ = __getstate__  # type: ignore[attr-defined]
