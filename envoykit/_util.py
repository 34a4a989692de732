"""Small private helpers shared across envoykit: private directories and atomic file writes,
``host:port`` formatting, and what a "config" argument may be.

Atomic writes: the text goes to a temporary file in the target's directory, then
``os.replace`` moves it over the target (atomic on POSIX), so a reader (envoy's filesystem
xDS watcher, a deploy script) never sees half a file. With ``fsync`` the data and the
directory entry are flushed first, so the new file survives a crash.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "ConfigLike",
    "SupportsToDict",
    "deprecated_aliases",
    "host_port",
    "lazy_exports",
    "listener_address",
    "private_directory",
    "split_host_port",
    "url",
    "write_atomic",
]

DIR_MODE = 0o700
FILE_MODE = 0o600


@runtime_checkable
class SupportsToDict(Protocol):
    """Anything with ``to_dict()``, e.g. the typed ``Bootstrap`` model or ``EdgeProxy``."""

    def to_dict(self) -> dict[str, Any]: ...


ConfigLike = SupportsToDict | Mapping[str, Any]
"""A typed model (anything with ``to_dict()``, e.g. a Bootstrap or a builder) or a dict."""


def deprecated_aliases(module: str, renamed: Mapping[str, str],
                       fallback: Callable[[str], Any] | None = None) -> Callable[[str], Any]:
    """A module ``__getattr__`` serving each old name of ``renamed`` (old → new) with a
    DeprecationWarning; other names go to ``fallback`` (or raise AttributeError)."""

    def __getattr__(name: str) -> Any:
        new = renamed.get(name)
        if new is not None:
            warnings.warn(f"{module}.{name} is deprecated: use {module}.{new}",
                          DeprecationWarning, stacklevel=2)
            return getattr(sys.modules[module], new)
        if fallback is not None:
            return fallback(name)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__


def lazy_exports(module: str, file: str, renamed: Mapping[str, str] | None = None,
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``__getattr__``, ``__dir__`` and ``__all__`` of a package whose public names are the
    table in its ``__init__.pyi`` (``from .module import Name as Name`` lines), each imported
    on first use (lazy_loader); old names of ``renamed`` are served with a warning."""
    import lazy_loader

    load, names, exported = lazy_loader.attach_stub(module, file)

    def lazy(name: str) -> Any:
        try:
            return load(name)
        except AttributeError:
            raise AttributeError(f"module {module!r} has no attribute {name!r}") from None

    return deprecated_aliases(module, renamed or {}, fallback=lazy), names, exported


def host_port(host: str, port: int) -> str:
    """``127.0.0.1:9901``; an IPv6 host in brackets: ``[::1]:9901``."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"{shown}:{port}"


def split_host_port(address: str, what: str = "address") -> tuple[str, int]:
    """``("127.0.0.1", 9901)`` from ``127.0.0.1:9901`` (``[::1]:9901`` gives ``"::1"``);
    a ValueError naming ``what`` for anything else (``unix:/path``, no port)."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"{what} {address!r}: expected host:port")
    return host.strip("[]"), int(port)


def listener_address(bound: Mapping[str, tuple[str, int]], listener: str) -> tuple[str, int]:
    """``bound[listener]``, or a KeyError that lists the listeners there are."""
    if listener not in bound:
        raise KeyError(f"no listener named {listener!r}; listeners: {sorted(bound)}")
    return bound[listener]


def url(scheme: str, host: str, port: int, path: str = "") -> str:
    """``scheme://host:port`` + ``path`` (IPv6 hosts in brackets)."""
    return f"{scheme}://{host_port(host, port)}{path}"


def private_directory(path: str | os.PathLike[str] | None = None,
                      prefix: str = "envoykit-") -> Path:
    """A directory only the owner can enter (0700): ``path`` (each missing level created
    0700, ``path`` itself made 0700), or a new temporary one named ``prefix...``."""
    if path is None:
        return Path(tempfile.mkdtemp(prefix=prefix))  # mkdtemp makes it 0700
    target = Path(path)
    missing = []
    level = target
    while not level.exists():
        missing.append(level)
        level = level.parent
    for item in reversed(missing):
        with contextlib.suppress(FileExistsError):
            item.mkdir(mode=DIR_MODE)
        os.chmod(item, DIR_MODE)
    if not missing:
        os.chmod(target, DIR_MODE)
    return target


def write_atomic(path: str | os.PathLike[str], text: str | bytes, *,
                 private: bool = True, fsync: bool = True) -> Path:
    """Replace ``path`` with ``text`` atomically (temp file in the same directory, then
    ``os.replace``); with ``fsync`` the file and the directory are flushed to disk.

    ``private``: the file is 0600 in a 0700 directory (created if missing). Otherwise the
    directory is left alone and an existing file keeps its mode (a new one gets the umask's).
    """
    target = Path(path)
    if private:
        directory = private_directory(target.parent)
        mode = FILE_MODE
    else:
        directory = target.parent
        mode = target.stat().st_mode & 0o777 if target.exists() else _umask_mode()
    data = text.encode("utf-8") if isinstance(text, str) else text
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if fsync:
        _fsync_directory(directory)
    return target


def _umask_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
