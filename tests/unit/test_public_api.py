"""The public API is exactly what envoykit/__init__.py exports, sorted."""

from __future__ import annotations

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
    "AsyncAdminClient", "ConfigDiff", "ConfigDump", "diff_configs", "Histogram", "ServerInfo",
    "StatsSnapshot",
    "AdminError", "BinaryNotFound", "Bootstrap", "Cert", "ConfigError", "ConfigLoadError",
    "EdgeDefaults", "EdgeProxy", "EnvoyBinary", "EnvoykitError", "HotRestartError", "Issue",
    "ModelError", "ProcessError", "ProcessExited", "RateLimit", "SemanticError", "Site",
    "StartupError", "UpstreamTLS", "ValidationError", "check", "find_envoy", "load_bootstrap",
    "to_dict", "to_json", "to_yaml", "validate",
    # fleet (envoykit.fleet, the `fleet` extra)
    "AsyncControlPlane", "ControlPlane", "FleetError", "PushRejected", "PushTimeout",
    "fleet_member",
}
