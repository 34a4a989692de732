"""Turn a CONFIG argument into a Bootstrap.

CONFIG is one of:

* an Envoy YAML or JSON file (``envoy.yaml``, ``envoy.json``);
* a Python file, optionally with an attribute: ``edge.py`` or ``edge.py:proxy``;
* a Python module with an attribute: ``mypkg.edge:proxy`` (or a module alone: ``mypkg.edge``).

The attribute may hold a builder (anything with ``build()``), a ``Bootstrap``, a bootstrap
dict, or a zero-argument callable returning one of those. Without an attribute, the names
``edge``, ``bootstrap`` and ``config`` are tried in that order.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import re
import sys
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from envoykit import Bootstrap, ConfigError, EnvoykitError, load_bootstrap

__all__ = ["DEFAULT_ATTRS", "ConfigSource", "UsageError", "UserCodeError", "parse_source"]

DEFAULT_ATTRS = ("edge", "bootstrap", "config")
_DATA_SUFFIXES = (".yaml", ".yml", ".json")
_MODULE_RE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")


class UsageError(Exception):
    """A bad command line: a missing file, an unknown module or attribute (exit code 2)."""


class UserCodeError(Exception):
    """The user's Python config raised while it was imported or called (exit code 1)."""


@dataclass(frozen=True)
class ConfigSource:
    """A parsed CONFIG argument: a data file, a Python file or a module, and an attribute."""

    text: str
    kind: str  # "data", "file" or "module"
    target: str  # the path or the dotted module name
    attr: str | None = None
    allow_empty: bool = False  # an empty data file is an error unless this is set

    def load(self) -> Bootstrap:
        """Read (or import afresh) and return the bootstrap; raises EnvoykitError,
        UsageError or UserCodeError."""
        if self.kind == "data":
            return load_bootstrap(Path(self.target), allow_empty=self.allow_empty)
        module = self._import()
        return _as_bootstrap(self._value(module), self.text)

    def watched_path(self) -> Path | None:
        """The file whose changes should trigger a reload (for ``run --watch``)."""
        if self.kind != "module":
            return Path(self.target)
        spec = _find_spec(self.target)
        origin = spec.origin if spec is not None else None
        return Path(origin) if origin and origin not in ("built-in", "frozen") else None

    def _import(self) -> ModuleType:
        with _user_code(self.text):
            if self.kind == "file":
                return _import_file(Path(self.target))
            return _import_module(self.target)

    def _value(self, module: ModuleType) -> Any:
        names = (self.attr,) if self.attr else DEFAULT_ATTRS
        for name in names:
            if hasattr(module, name):
                value = getattr(module, name)
                if callable(value) and not _is_config(value):
                    with _user_code(f"{self.target}:{name}()"):
                        value = value()
                return value
        tried = ", ".join(repr(n) for n in names)
        raise UsageError(f"{self.target} has no attribute {tried}; name one with "
                         f"{self.target}:ATTR")


def parse_source(text: str) -> ConfigSource:
    """Classify a CONFIG argument; UsageError when the file or module does not exist."""
    if not text:
        raise UsageError("CONFIG is empty")
    target, attr = _split_attr(text)
    path = Path(target)
    if target.endswith(".py"):
        _require_file(path)
        return ConfigSource(text, "file", target, attr)
    if target.endswith(_DATA_SUFFIXES) or path.is_file():
        _require_file(path)
        if attr:
            raise UsageError(f"{text}: an Envoy YAML/JSON file takes no ':{attr}'")
        return ConfigSource(text, "data", target)
    if _MODULE_RE.match(target) and _find_spec(target) is not None:
        return ConfigSource(text, "module", target, attr)
    if path.is_dir():
        raise UsageError(f"{text}: is a directory, not a config file")
    raise UsageError(f"{text}: no such file, and no importable module {target!r}")


def _split_attr(text: str) -> tuple[str, str | None]:
    target, sep, attr = text.rpartition(":")
    if not sep or not attr or "/" in attr or os.sep in attr:
        return text, None
    if not attr.isidentifier():
        raise UsageError(f"{text}: {attr!r} is not a Python attribute name")
    return target, attr


def _require_file(path: Path) -> None:
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if not path.is_file():
        raise UsageError(f"{path}: not a file")


def _find_spec(name: str) -> Any:
    _cwd_on_path()
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None


def _cwd_on_path() -> None:
    """Like ``python -m``: modules in the current directory are importable."""
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())


def _import_file(path: Path) -> ModuleType:
    """Execute a Python file as a fresh module (each call re-reads it)."""
    name = f"envoykit_config_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"{path}: cannot be imported as Python")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)  # sibling helper modules are importable
    sys.modules[name] = module  # dataclasses and typing look their module up there
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(folder)
        sys.modules.pop(name, None)
    return module


def _import_module(name: str) -> ModuleType:
    """Import a module; a second call re-imports it (for reloads)."""
    if name in sys.modules:
        return importlib.reload(sys.modules[name])
    return importlib.import_module(name)


def _is_config(value: Any) -> bool:
    return isinstance(value, Bootstrap | Mapping) or callable(getattr(value, "build", None))


def _as_bootstrap(value: Any, where: str) -> Bootstrap:
    if isinstance(value, Bootstrap):
        return value
    build: Callable[[], Any] | None = getattr(value, "build", None)
    if callable(build):
        with _user_code(f"{where}: build()"):
            value = build()
        if isinstance(value, Bootstrap):
            return value
    if isinstance(value, Mapping):
        result: Bootstrap = Bootstrap.from_dict(value, source=where)
        return result
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return _as_bootstrap(to_dict(), where)
    raise ConfigError(f"{where} is a {type(value).__name__}, not a builder, a Bootstrap or "
                      f"a bootstrap dict")


@contextmanager
def _user_code(where: str) -> Iterator[None]:
    """Run user code with its prints on stderr; turn an exception it raises into a one-line
    UserCodeError naming the user's file and line (envoykit's own errors pass through)."""
    try:
        with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the rendered config
            yield
    except (EnvoykitError, UsageError, UserCodeError):
        raise
    except Exception as exc:
        frame = _last_user_frame(exc)
        at = f" at {frame}" if frame else ""
        raise UserCodeError(f"{where}: {type(exc).__name__}: {exc}{at}") from exc


def _last_user_frame(exc: BaseException) -> str:
    """``file:line`` of the deepest frame outside envoykit and the standard library."""
    frames = traceback.extract_tb(exc.__traceback__)
    stdlib = os.path.dirname(os.__file__)
    envoykit_dir = str(Path(__file__).resolve().parent.parent)
    for frame in reversed(frames):
        if not frame.filename.startswith((stdlib, envoykit_dir, "<frozen")):
            return f"{frame.filename}:{frame.lineno}"
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno}"
    return ""
