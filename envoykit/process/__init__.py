"""Run Envoy: launch, readiness, hot restart, health checks, crash recovery, clean stop.

    from envoykit.process import Supervisor

    with Supervisor(bootstrap) as proxy:
        host, port = proxy.address_of("ingress")
        proxy.hot_restart(new_bootstrap)   # validated first; zero downtime

See ``docs/supervisor.md``.
"""

from envoykit.process._launch import ConfigInput, config_to_dict
from envoykit.process._state import Backoff, EpochInfo, Event, State
from envoykit.process._supervisor import AsyncSupervisor, Supervisor

__all__ = [
    "AsyncSupervisor",
    "Backoff",
    "ConfigInput",
    "EpochInfo",
    "Event",
    "State",
    "Supervisor",
    "config_to_dict",
]
