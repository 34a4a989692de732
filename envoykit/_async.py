"""One asyncio face for the blocking cores (supervisor, dynamic proxy): run them in threads."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["AsyncFacade"]


class _Core(Protocol):
    def start(self) -> Any: ...

    def stop(self, graceful: bool = True) -> None: ...


CoreT = TypeVar("CoreT", bound=_Core)
FacadeT = TypeVar("FacadeT", bound="AsyncFacade[Any]")


class AsyncFacade(Generic[CoreT]):
    """``async with`` over a blocking core: ``start``/``stop`` run in a worker thread, a
    cancelled start stops the half-started core, attribute reads go to ``self.sync``."""

    sync: CoreT

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sync, name)

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
