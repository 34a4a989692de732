"""One asyncio face for the blocking cores (supervisor, dynamic proxy): run them in threads.

A facade's constructor takes exactly the core's arguments (:func:`init_like` gives it the
core's signature for type checkers), and :meth:`AsyncFacade.admin` hands out an asyncio admin
client, not a blocking one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar

from envoykit.admin import AsyncAdminClient

__all__ = ["AsyncFacade", "init_like"]


class _Core(Protocol):
    @property
    def admin_address(self) -> str: ...

    def start(self) -> Any: ...

    def stop(self, graceful: bool = True) -> None: ...


CoreT = TypeVar("CoreT", bound=_Core)
FacadeT = TypeVar("FacadeT", bound="AsyncFacade[Any]")
P = ParamSpec("P")
SelfT = TypeVar("SelfT")


def init_like(
    core: Callable[P, object],
) -> Callable[[Callable[Concatenate[SelfT, ...], None]], Callable[Concatenate[SelfT, P], None]]:
    """Give a facade's ``__init__(self, *args, **kwargs)`` the parameters of ``core`` (a
    class), so type checkers see the core's real signature; nothing changes at run time."""

    def same(
        init: Callable[Concatenate[SelfT, ...], None],
    ) -> Callable[Concatenate[SelfT, P], None]:
        return init

    return same


class AsyncFacade(Generic[CoreT]):
    """``async with`` over a blocking core: ``start``/``stop`` run in a worker thread, a
    cancelled start stops the half-started core, attribute reads go to ``self.sync``."""

    sync: CoreT

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sync, name)

    def admin(self, timeout: float = 5.0) -> AsyncAdminClient:
        """A new asyncio admin client for the Envoy serving now (``async with`` it)."""
        return AsyncAdminClient(self.sync.admin_address, timeout=timeout)

    async def start(self: FacadeT) -> FacadeT:
        """Start; if the awaiting task is cancelled, the half-started core is stopped."""
        try:
            await asyncio.to_thread(self.sync.start)
        except asyncio.CancelledError:
            await asyncio.shield(asyncio.to_thread(self.sync.stop, False))
            raise
        return self

    async def stop(self, graceful: bool = True) -> None:
        """Stop (gracefully unless told otherwise)."""
        await asyncio.to_thread(self.sync.stop, graceful)

    async def __aenter__(self: FacadeT) -> FacadeT:
        return await self.start()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop(graceful=kind is None)
