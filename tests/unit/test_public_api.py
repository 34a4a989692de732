"""The public API is the table in ``envoykit/__init__.pyi`` (and ``envoykit/testing/__init__.pyi``):
name → module. It drives lazy loading and ``__all__``; these tests check that the table holds,
that importing stays lazy, and that every renamed name still works with a DeprecationWarning.
"""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
import warnings
from pathlib import Path
from types import ModuleType

import pytest

import envoykit
import envoykit.config
import envoykit.testing

# old name → new name, per module (the renames of the one-name-per-thing change)
RENAMED = {
    "envoykit": {"ValidationError": "EnvoyValidationError"},
    "envoykit.errors": {"ValidationError": "EnvoyValidationError"},
    "envoykit.config": {"RateLimit": "RouteRateLimit"},
    "envoykit.process": {"Event": "SupervisorEvent", "State": "SupervisorState"},
    "envoykit.diff": {"diff": "diff_configs"},
}


def table(package: ModuleType) -> dict[str, str]:
    """Name → module, read from the package's ``__init__.pyi``."""
    stub = Path(package.__file__ or "").with_suffix(".pyi")
    found: dict[str, str] = {}
    for node in ast.parse(stub.read_text()).body:
        if isinstance(node, ast.ImportFrom):
            assert node.level == 1 and node.module, ast.dump(node)
            for alias in node.names:
                assert alias.asname == alias.name, f"{alias.name}: write 'X as X'"
                found[alias.name] = f"{package.__name__}.{node.module}"
    return found


@pytest.mark.parametrize("package", [envoykit, envoykit.testing], ids=lambda m: m.__name__)
def test_the_table_drives_all_and_every_name_loads(package: ModuleType) -> None:
    names = table(package)
    assert package.__all__ == sorted(names)
    assert set(dir(package)) >= set(names)
    for name, module in names.items():
        value = getattr(package, name)
        assert value is getattr(importlib.import_module(module), name), name
    assert not hasattr(package, "_LAZY") and not hasattr(package, "_WHERE")


def test_config_all_is_importable() -> None:
    assert envoykit.config.__all__ == sorted(set(envoykit.config.__all__))
    for name in envoykit.config.__all__:
        assert hasattr(envoykit.config, name), name


def test_importing_envoykit_and_its_testing_package_loads_nothing_else() -> None:
    code = ("import sys, envoykit, envoykit.testing; "
            "print(sorted(m for m in sys.modules if m.startswith('envoykit')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout
    assert eval(loaded) == ["envoykit", "envoykit._util", "envoykit.testing"]


@pytest.mark.parametrize(("module", "old", "new"),
                         [(m, o, n) for m, names in RENAMED.items() for o, n in names.items()])
def test_renamed_names_still_work_with_a_deprecation_warning(module: str, old: str,
                                                              new: str) -> None:
    imported = importlib.import_module(module)
    with pytest.warns(DeprecationWarning, match=rf"{re.escape(module)}\.{old} is deprecated"):
        value = getattr(imported, old)
    assert value is getattr(imported, new)
    assert old not in getattr(imported, "__all__", ())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AttributeError):
            getattr(imported, old + "_no_such_name")


def test_one_name_per_public_thing() -> None:
    """No object is exported under two names, no name means two things (``RateLimit`` was
    the builder's and the route model's), and none shadows pydantic's names."""
    import pydantic

    seen: dict[int, str] = {}
    for package in (envoykit, envoykit.config, envoykit.testing):
        for name in package.__all__:
            value = getattr(package, name)
            if isinstance(value, type) or callable(value):
                other = seen.setdefault(id(value), f"{package.__name__}.{name}")
                assert other.rsplit(".", 1)[1] == name, f"{other} is also {package.__name__}.{name}"
    assert not set(envoykit.__all__) & set(pydantic.__all__)
    for name in set(envoykit.config.__all__) & set(envoykit.__all__):
        assert getattr(envoykit.config, name) is getattr(envoykit, name), name


def test_every_exception_is_in_errors_and_exported() -> None:
    """One exception tree: every envoykit exception class is defined in envoykit.errors,
    drawn in its docstring and exported at the top level."""
    import importlib
    import pkgutil

    import envoykit.errors

    for info in pkgutil.walk_packages(envoykit.__path__, "envoykit."):
        if info.name not in ("envoykit.demo", "envoykit.__main__"):
            importlib.import_module(info.name)
    classes: set[type[BaseException]] = set()
    todo: list[type[BaseException]] = [envoykit.EnvoykitError]
    while todo:
        cls = todo.pop()
        classes.add(cls)
        todo.extend(cls.__subclasses__())
    for cls in classes:
        assert cls.__module__ == "envoykit.errors", f"{cls.__module__}.{cls.__name__}"
        assert getattr(envoykit, cls.__name__) is cls, cls.__name__
        drawn = re.search(rf"(─ | {{4}}){cls.__name__}\b", envoykit.errors.__doc__ or "")
        assert drawn, f"{cls.__name__} is not drawn in the tree"
    assert set(envoykit.errors.__all__) - {"Issue"} == {c.__name__ for c in classes}
