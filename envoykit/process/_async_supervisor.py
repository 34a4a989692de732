"""The asyncio face of the supervisor: the same core, its blocking calls run in threads."""

from __future__ import annotations

import asyncio
from typing import Any

from envoykit._async import AsyncFacade, init_like
from envoykit.process._launch import ConfigInput
from envoykit.process._state import State
from envoykit.process._supervisor import Supervisor

__all__ = ["AsyncSupervisor"]


class AsyncSupervisor(AsyncFacade[Supervisor]):
    """The asyncio face of :class:`Supervisor`: the same core, run with ``to_thread``.

    ``async with AsyncSupervisor(config) as proxy:`` — read-only facts are available as
    ``proxy.sync`` (the :class:`Supervisor`) and through attribute delegation."""

    @init_like(Supervisor)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.sync = Supervisor(*args, **kwargs)

    async def hot_restart(self, config: ConfigInput, *, timeout: float | None = None) -> int:
        """See :meth:`Supervisor.hot_restart`."""
        return await asyncio.to_thread(self.sync.hot_restart, config, timeout=timeout)

    async def validate(self, config: ConfigInput, *, timeout: float | None = None) -> None:
        """See :meth:`Supervisor.validate`."""
        await asyncio.to_thread(self.sync.validate, config, timeout=timeout)

    async def restart(self) -> None:
        """See :meth:`Supervisor.restart`."""
        await asyncio.to_thread(self.sync.restart)

    async def stop(self, graceful: bool = True, timeout: float | None = None) -> None:
        """See :meth:`Supervisor.stop`."""
        await asyncio.to_thread(self.sync.stop, graceful, timeout)

    async def wait_for_state(self, *states: State, timeout: float = 10.0) -> State:
        """See :meth:`Supervisor.wait_for_state`."""
        return await asyncio.to_thread(self.sync.wait_for_state, *states, timeout=timeout)
