"""Run Envoy: launch, readiness, hot restart, health checks, crash recovery, clean stop.

    from envoykit.process import Supervisor

    with Supervisor(bootstrap) as proxy:
        host, port = proxy.address_of("ingress")
        proxy.hot_restart(new_bootstrap)   # validated first; zero downtime

See ``docs/supervisor.md``.
"""

from typing import TYPE_CHECKING

from envoykit._util import deprecated_aliases
from envoykit.process._async_supervisor import AsyncSupervisor
from envoykit.process._launch import ConfigInput, config_to_dict
from envoykit.process._state import Backoff, EpochInfo, SupervisorEvent, SupervisorState
from envoykit.process._supervisor import Supervisor

__all__ = [
    "AsyncSupervisor",
    "Backoff",
    "ConfigInput",
    "EpochInfo",
    "Supervisor",
    "SupervisorEvent",
    "SupervisorState",
    "config_to_dict",
]

_RENAMED = {"Event": "SupervisorEvent", "State": "SupervisorState"}
if TYPE_CHECKING:
    Event = SupervisorEvent  # deprecated
    State = SupervisorState  # deprecated
else:
    __getattr__ = deprecated_aliases(__name__, _RENAMED)
