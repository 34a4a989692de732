"""Load an Envoy bootstrap (YAML or JSON, text or file) into the typed model.

Syntax errors name the file and line (a tab in indentation is the classic). Field errors
name the field path *and* the line of the offending value in the file.
"""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import yaml

from envoykit.config import Bootstrap, ModelError
from envoykit.errors import ConfigLoadError, Issue, SemanticError

__all__ = ["load_bootstrap", "load_data", "semantic_error"]

# id(bootstrap) -> (weak reference, source name, text) of each loaded Bootstrap, so that a
# later check of it can name file and line (the entry goes when the Bootstrap does)
_SOURCES: dict[int, tuple[weakref.ref[Bootstrap], str, str]] = {}

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available


class _StrictLoader(_BaseLoader):  # type: ignore[misc]
    """SafeLoader that refuses duplicate keys (envoy would silently see only the last)."""


def _mapping_no_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Hashable, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first on line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_no_duplicates
)


def _read(source: str | os.PathLike[str]) -> tuple[str, str]:
    """(text, name): a path is read; a string with a newline or a brace is config text."""
    if not isinstance(source, (str, os.PathLike)):
        raise ConfigLoadError(f"expected a path or YAML/JSON text, got {type(source).__name__}")
    if isinstance(source, os.PathLike) or ("\n" not in source and "{" not in source):
        path = Path(source)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ConfigLoadError(f"cannot read config: {exc.strerror}", source=str(path)) from None
        try:
            return raw.decode("utf-8"), str(path)
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise ConfigLoadError(f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); envoy reads "
                                  "configs as UTF-8", source=str(path), line=line) from None
    return str(source), "<string>"


def load_data(source: str | os.PathLike[str], *, allow_empty: bool = False
              ) -> tuple[dict[str, Any], str, str]:
    """Parse YAML or JSON into a dict; returns (data, text, source name).

    An empty document (nothing, or only comments) is refused unless ``allow_empty``:
    it is almost always a truncated or wrong file, and envoy would start with nothing."""
    text, name = _read(source)
    try:
        if name.endswith(".json"):
            data = json.loads(text)
        else:
            data = yaml.load(text, Loader=_StrictLoader)
    except json.JSONDecodeError as exc:
        raise ConfigLoadError(exc.msg, source=name, line=exc.lineno) from None
    except yaml.MarkedYAMLError as exc:
        raise _marked_error(exc, text, name) from None
    except yaml.YAMLError as exc:  # e.g. ReaderError: a control character in the text
        raise _reader_error(exc, text, name) from None
    if data is None:
        if not allow_empty:
            raise ConfigLoadError("the config is empty (no YAML/JSON document); pass "
                                  "allow_empty=True (--allow-empty) if that is meant",
                                  source=name, line=1)
        data = {}
    if not isinstance(data, dict):
        raise ConfigLoadError(f"expected a mapping at the top, got {type(data).__name__}",
                              source=name, line=1)
    return data, text, name


def _marked_error(exc: yaml.MarkedYAMLError, text: str, name: str) -> ConfigLoadError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    message = " ".join(p for p in (exc.context, exc.problem) if p)
    lines = text.splitlines()
    if line is not None and 0 < line <= len(lines) and "\t" in lines[line - 1]:
        message += " (a tab character: YAML indentation must use spaces)"
    return ConfigLoadError(message, source=name, line=line)


def _reader_error(exc: yaml.YAMLError, text: str, name: str) -> ConfigLoadError:
    """A YAML error without a mark (the reader's): the line from its character position."""
    position = getattr(exc, "position", None)
    line = text.count("\n", 0, position) + 1 if isinstance(position, int) else None
    # the first line of the reader's message, e.g. "unacceptable character #x0008: control
    # characters are not allowed" (the next says "in <unicode string>, position N")
    return ConfigLoadError(str(exc).splitlines()[0], source=name, line=line)


def load_bootstrap(source: str | os.PathLike[str], *, allow_empty: bool = False) -> Bootstrap:
    """Load a bootstrap from a file path or YAML/JSON text into a :class:`Bootstrap`
    (an empty document is an error unless ``allow_empty``)."""
    data, text, name = load_data(source, allow_empty=allow_empty)
    try:
        result: Bootstrap = Bootstrap.from_dict(data)
    except ModelError as exc:
        lines = _line_finder(text)
        issues = [Issue(_with_line(i.path, lines(i.path)), i.message) for i in exc.issues]
        raise ModelError(issues, model="Bootstrap", source=name) from None
    _remember(result, name, text)
    return result


def _remember(bootstrap: Bootstrap, name: str, text: str) -> None:
    key = id(bootstrap)
    _SOURCES[key] = (weakref.ref(bootstrap, lambda _: _SOURCES.pop(key, None)), name, text)


def semantic_error(issues: Sequence[Issue], config: object) -> SemanticError:
    """A :class:`SemanticError` for ``issues`` found in ``config``; when ``config`` is a
    Bootstrap read by :func:`load_bootstrap`, it names the file and each issue its line,
    like a model error does."""
    entry = _SOURCES.get(id(config))
    if entry is None or entry[0]() is not config:
        return SemanticError(issues)
    _, name, text = entry
    lines = _line_finder(text)
    return SemanticError([Issue(_with_line(i.path, lines(i.path)), i.message) for i in issues],
                         source=name)


def _with_line(path: str, line: int | None) -> str:
    return f"{path} (line {line})" if line else path


def _line_finder(text: str) -> Any:
    """A function: field path → 1-based line in the YAML text (or None)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        root = None

    def find(path: str) -> int | None:
        node, line = root, None
        for part in _split_path(path):
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                pair = next(((k, v) for k, v in node.value if k.value == part), None)
                if pair is None:
                    break  # an unknown key: the best we know is its parent's line
                line, node = pair[0].start_mark.line + 1, pair[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) \
                    and part < len(node.value):
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                break
        return line

    return find


def _split_path(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for chunk in path.replace("[", ".[").split("."):
        if not chunk:
            continue
        if chunk.startswith("[") and chunk.endswith("]") and chunk[1:-1].isdigit():
            parts.append(int(chunk[1:-1]))
        else:
            parts.append(chunk)
    return parts
