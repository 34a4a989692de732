"""The public API is exactly what envoykit/__init__.py exports, sorted."""

from __future__ import annotations

import re

import envoykit
import envoykit.config


def test_all_is_sorted_and_importable() -> None:
    assert envoykit.__all__ == sorted(envoykit.__all__)
    for name in envoykit.__all__:
        assert hasattr(envoykit, name), name
    for name in envoykit.config.__all__:
        assert hasattr(envoykit.config, name), name


def test_exported_set() -> None:
    assert set(envoykit.__all__) == EXPECTED


EXPECTED = {
    "AsyncSupervisor", "Backoff", "EpochInfo", "Supervisor", "SupervisorEvent", "SupervisorState",
    "ApplyReport", "AsyncDynamicProxy", "DynamicProxy", "XdsUpdateRejected",
    "AdminClient", "AdminConnectError", "AdminHTTPError", "AdminParameterError", "AdminTimeout",
    "AdminResponseError", "AdminTransportError",
    "AsyncAdminClient", "ConfigDiff", "ConfigDump", "diff_configs", "Histogram", "ServerInfo",
    "StatsSnapshot",
    "AdminError", "BinaryNotFound", "Bootstrap", "Cert", "ConfigError", "ConfigLoadError",
    "EdgeDefaults", "EdgeProxy", "EnvoyBinary", "EnvoykitError", "HotRestartError", "Issue",
    "ModelError", "ProcessError", "ProcessExited", "RateLimit", "SemanticError", "Site",
    "StartupError", "UpstreamTLS", "ValidationError", "check", "find_envoy", "load_bootstrap",
    "to_dict", "to_json", "to_yaml", "validate",
}


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
