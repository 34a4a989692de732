"""The blocking face of the control plane: its event loop runs in a thread of its own."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, TypeVar

from envoykit.fleet._server import (
    AsyncControlPlane,
    EventCallback,
    GroupBy,
    NodeStatus,
    ServerTLS,
)
from envoykit.fleet._snapshot import Snapshot
from envoykit.render import ConfigLike

__all__ = ["ControlPlane"]

T = TypeVar("T")


class ControlPlane:
    """:class:`AsyncControlPlane` for blocking code (scripts, tests, the CLI)::

        with ControlPlane("127.0.0.1:0") as plane:
            plane.push(edge)
            print(plane.status())
    """

    def __init__(self, address: str = "127.0.0.1:0", *, group_by: GroupBy = "id",
                 tls: ServerTLS | None = None, push_timeout: float = 30.0,
                 on_event: EventCallback | None = None) -> None:
        self.core = AsyncControlPlane(address, group_by=group_by, tls=tls,
                                      push_timeout=push_timeout, on_event=on_event)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        """``host:port`` the control plane listens on."""
        return self.core.address

    def start(self) -> ControlPlane:
        """Start the loop thread and the server."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="envoykit-fleet", daemon=True)
        self._thread.start()
        ready.wait()
        self._loop = loop
        try:
            self._run(self.core.start)
        except BaseException:
            self._halt()
            raise
        return self

    def stop(self, grace: float | None = 1.0) -> None:
        """Stop the server and the loop thread."""
        if self._loop is None:
            return
        try:
            self._run(lambda: self.core.stop(grace))
        finally:
            self._halt()

    def _halt(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _run(self, make: Callable[[], Awaitable[T]]) -> T:
        if self._loop is None:
            raise RuntimeError("the control plane is not started")

        async def call() -> T:
            return await make()

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result()

    def _call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        async def call() -> T:
            return func(*args, **kwargs)

        return self._run(call)

    # --- the control plane's operations ---------------------------------------------------
    def push(self, config: ConfigLike | Snapshot, nodes: Iterable[str] | None = None, *,
             timeout: float | None = None, rollback: bool = False) -> Snapshot:
        """See :meth:`AsyncControlPlane.push`."""
        targets = None if nodes is None else list(nodes)
        return self._run(lambda: self.core.push(config, targets, timeout=timeout,
                                                rollback=rollback))

    def set_snapshot(self, snapshot: Snapshot | ConfigLike,
                     nodes: Iterable[str] | None = None) -> Snapshot:
        """Serve a snapshot (or a config) without waiting for ACKs."""
        if not isinstance(snapshot, Snapshot):
            snapshot = Snapshot.from_config(snapshot)
        targets = None if nodes is None else list(nodes)
        return self._call(self.core.set_snapshot, snapshot, targets)

    def status(self) -> list[NodeStatus]:
        """Every node seen, by id (see :class:`NodeStatus`)."""
        return self._call(self.core.status)

    def node(self, node_id: str) -> NodeStatus:
        """One node's status (KeyError if it never connected)."""
        for item in self.status():
            if item.id == node_id:
                return item
        raise KeyError(f"no node {node_id!r} has connected")

    def on_event(self, callback: EventCallback) -> None:
        """See :meth:`AsyncControlPlane.on_event` (called in the control plane's thread)."""
        if self._loop is None:
            self.core.on_event(callback)
        else:
            self._call(self.core.on_event, callback)

    def forget(self, node_id: str) -> bool:
        """See :meth:`AsyncControlPlane.forget`."""
        return self._call(self.core.forget, node_id)

    def snapshot_for(self, node_id: str) -> Snapshot | None:
        """The snapshot a node should run."""
        return self._call(self.core.snapshot_for, node_id)

    def wait_connected(self, count: int, *, timeout: float = 30.0) -> list[str]:
        """Block until ``count`` nodes are connected; their ids."""
        return self._run(lambda: self.core.wait_connected(count, timeout=timeout))

    def wait_synced(self, *, timeout: float = 30.0, nodes: Iterable[str] | None = None) -> None:
        """Block until every connected node (or the named ones) runs its target snapshot."""
        names = None if nodes is None else list(nodes)
        return self._run(lambda: self.core.wait_synced(timeout=timeout, nodes=names))
