"""The control plane: an ADS server on ``grpc.aio`` answering from snapshots.

    async with AsyncControlPlane("127.0.0.1:18000") as plane:
        await plane.push(edge)                      # every connected node, waits for ACKs
        for node in plane.status():
            print(node.id, node.acked_version, node.nacked_version, node.error_detail)

Snapshots are set per node group (``group_by``: the node id, its cluster, or a function of
the node); nodes of a group without one get the default snapshot. Client status (CSDS,
``envoy.service.status.v3``) is served on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

from envoykit.errors import FleetError, PushRejected, PushTimeout
from envoykit.fleet._proto import require_grpc
from envoykit.fleet._snapshot import TYPE_ORDER, Snapshot, short_type
from envoykit.fleet._streams import WILDCARD_TYPES, DeltaStream, SotwStream, Stream
from envoykit.render import ConfigLike

__all__ = ["AsyncControlPlane", "FleetEvent", "GroupBy", "NodeStatus", "ServerTLS",
           "TypeStatus"]

log = logging.getLogger("envoykit.fleet")

GroupBy = Literal["id", "cluster"] | Callable[[Any], str]
_WAKE = object()
_CLOSED = object()


@dataclass(frozen=True)
class ServerTLS:
    """TLS for the control plane's port: PEM files; with ``client_ca`` every Envoy must
    present a certificate it signed (mTLS)."""

    cert: str
    key: str
    client_ca: str | None = None


@dataclass(frozen=True)
class FleetEvent:
    """What happened on a stream: ``kind`` is ``connected``, ``disconnected``, ``ack`` or
    ``nack``; ``type_url``, ``version`` and ``message`` (Envoy's, for a NACK) when they
    apply."""

    kind: str
    node_id: str
    type_url: str = ""
    version: str = ""
    message: str = ""


EventCallback = Callable[[FleetEvent], None]


@dataclass(frozen=True)
class TypeStatus:
    """One resource type on one node: the version it ACKed, the one it NACKed and why."""

    acked: str
    nacked: str
    error_detail: str


@dataclass(frozen=True)
class NodeStatus:
    """What one node runs: ``acked_version`` is the last snapshot it ACKed whole,
    ``nacked_version`` / ``error_detail`` the last one it refused and Envoy's message,
    ``target_version`` the snapshot it should run."""

    id: str
    cluster: str
    group: str
    connected: bool
    delta: bool
    peer: str
    target_version: str
    acked_version: str
    nacked_version: str
    error_detail: str
    types: Mapping[str, TypeStatus]
    bytes_sent: int
    responses_sent: int
    user_agent: str
    connected_at: float
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def in_sync(self) -> bool:
        """True when the node has ACKed the snapshot it should run."""
        return bool(self.target_version) and self.acked_version == self.target_version


@dataclass
class _Node:
    id: str
    cluster: str = ""
    group: str = ""
    user_agent: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    streams: list[Stream] = field(default_factory=list)
    acked_version: str = ""
    nacked_version: str = ""
    error: str = ""
    last_good: Snapshot | None = None
    bytes_closed: int = 0
    responses_closed: int = 0
    connected_at: float = 0.0


class AsyncControlPlane:
    """An aggregated discovery service (SotW and delta) for many Envoys.

    ``address`` is ``host:port`` (port 0 picks a free one, see :attr:`address`);
    ``group_by`` chooses what shares a snapshot; ``tls`` secures the port.
    """

    def __init__(self, address: str = "127.0.0.1:0", *, group_by: GroupBy = "id",
                 tls: ServerTLS | None = None, push_timeout: float = 30.0,
                 on_event: EventCallback | None = None) -> None:
        require_grpc()
        self._callbacks: list[EventCallback] = [on_event] if on_event else []
        self._requested = address
        self._group_by = group_by
        self._tls = tls
        self.push_timeout = push_timeout
        self._server: Any = None
        self._port = 0
        self._default: Snapshot | None = None
        self._groups: dict[str, Snapshot] = {}
        self._nodes: dict[str, _Node] = {}
        self._queues: dict[Stream, asyncio.Queue[Any]] = {}
        self._changed: asyncio.Condition | None = None

    def on_event(self, callback: EventCallback) -> None:
        """Call ``callback(event)`` on every :class:`FleetEvent` (in the event loop: keep
        it short; an exception it raises is logged and ignored)."""
        self._callbacks.append(callback)

    def _emit(self, event: FleetEvent) -> None:
        for callback in self._callbacks:
            try:
                callback(event)
            except Exception:
                log.exception("fleet event callback failed on %s", event)

    # --- lifecycle ------------------------------------------------------------------------
    @property
    def address(self) -> str:
        """``host:port`` the control plane listens on."""
        host = self._requested.rsplit(":", 1)[0]
        return f"{host}:{self._port}"

    async def start(self) -> AsyncControlPlane:
        """Bind and serve."""
        import grpc
        from envoy.service.discovery.v3 import ads_pb2_grpc
        from envoy.service.status.v3 import csds_pb2_grpc

        self._changed = asyncio.Condition()
        server = grpc.aio.server(options=[("grpc.max_receive_message_length", 64 << 20),
                                          ("grpc.max_send_message_length", 256 << 20)])
        ads_pb2_grpc.add_AggregatedDiscoveryServiceServicer_to_server(_Ads(self), server)
        csds_pb2_grpc.add_ClientStatusDiscoveryServiceServicer_to_server(_Csds(self), server)
        if self._tls is None:
            port = server.add_insecure_port(self._requested)
        else:
            port = server.add_secure_port(self._requested, _credentials(self._tls))
        if not port:
            raise FleetError(f"cannot listen on {self._requested}")
        await server.start()
        self._server, self._port = server, port
        log.info("control plane listening on %s", self.address)
        return self

    async def stop(self, grace: float | None = 1.0) -> None:
        """Close every stream and stop listening."""
        if self._server is not None:
            for queue in self._queues.values():
                queue.put_nowait(_CLOSED)
            await self._server.stop(grace)
            self._server = None

    async def __aenter__(self) -> AsyncControlPlane:
        return await self.start()

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    # --- snapshots ------------------------------------------------------------------------
    def set_snapshot(self, snapshot: Snapshot, nodes: Iterable[str] | None = None) -> Snapshot:
        """Serve ``snapshot`` to every node (``nodes=None``: it becomes the default and
        per-group snapshots are dropped) or to the named groups (node ids, or clusters with
        ``group_by="cluster"``), and wake the streams it concerns."""
        if nodes is None:
            self._default = snapshot
            self._groups.clear()
        else:
            for group in nodes:
                self._groups[group] = snapshot
        self._wake(None if nodes is None else set(nodes))
        return snapshot

    def snapshot_for(self, node_id: str) -> Snapshot | None:
        """The snapshot a node should run."""
        node = self._nodes.get(node_id)
        group = node.group if node is not None else node_id
        return self._groups.get(group, self._default)

    @property
    def snapshot(self) -> Snapshot | None:
        """The default snapshot."""
        return self._default

    async def push(self, config: ConfigLike | Snapshot, nodes: Iterable[str] | None = None, *,
                   timeout: float | None = None, rollback: bool = False) -> Snapshot:
        """Serve a new config and wait until every targeted connected node ACKed it.

        Raises :class:`PushRejected` with Envoy's message per node when some NACK it (with
        ``rollback=True`` those nodes are set back to their last ACKed snapshot), or
        :class:`PushTimeout` naming the nodes that did not answer in ``timeout`` seconds.
        """
        snapshot = config if isinstance(config, Snapshot) else \
            await asyncio.to_thread(Snapshot.from_config, config)
        groups = None if nodes is None else set(nodes)
        targets = [n.id for n in self._nodes.values()
                   if n.streams and (groups is None or n.group in groups)]
        previous = {i: self._nodes[i].last_good for i in targets}
        self.set_snapshot(snapshot, groups)
        wait = self.push_timeout if timeout is None else timeout
        try:
            await self.wait_for(snapshot.version, targets, timeout=wait)
        except PushRejected as exc:
            if rollback:
                rolled = self._roll_back(exc.rejections, previous)
                raise PushRejected(exc.version, exc.rejections, rolled) from None
            raise
        return snapshot

    def _roll_back(self, rejections: Mapping[str, str],
                   previous: Mapping[str, Snapshot | None]) -> list[str]:
        rolled = []
        for node_id in sorted(rejections):
            good = previous.get(node_id)
            if good is not None:
                self._groups[self._nodes[node_id].group] = good
                rolled.append(node_id)
        self._wake({self._nodes[n].group for n in rolled})
        log.warning("rolled back to the last ACKed snapshot: %s", ", ".join(rolled))
        return rolled

    async def wait_for(self, version: str, nodes: Iterable[str], *, timeout: float) -> None:
        """Wait until each named node ACKed snapshot ``version`` (PushRejected if one NACKs
        it, PushTimeout naming the silent ones)."""
        waiting = set(nodes)
        assert self._changed is not None, "the control plane is not started"

        def settled() -> bool:
            return all(self._answered(n, version) for n in waiting)

        async with self._changed:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait_for(settled), timeout)
        rejected = {n: self._nodes[n].error for n in sorted(waiting)
                    if self._nodes[n].nacked_version == version}
        if rejected:
            raise PushRejected(version, rejected)
        silent = [n for n in waiting if self._nodes[n].acked_version != version]
        if silent:
            raise PushTimeout(version, silent, timeout)

    def _answered(self, node_id: str, version: str) -> bool:
        node = self._nodes[node_id]
        return version in (node.acked_version, node.nacked_version)

    async def wait_connected(self, count: int, *, timeout: float = 30.0) -> list[str]:
        """Wait until ``count`` nodes are connected; their ids."""
        assert self._changed is not None, "the control plane is not started"

        def connected() -> list[str]:
            return sorted(n.id for n in self._nodes.values() if n.streams)

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: len(connected()) >= count),
                                       timeout)
            except asyncio.TimeoutError:
                raise PushTimeout("(connect)", [f"{count - len(connected())} more node(s)"],
                                  timeout) from None
        return connected()

    async def wait_synced(self, *, timeout: float = 30.0,
                          nodes: Iterable[str] | None = None) -> None:
        """Wait until every connected node (or the named ones) ACKed its target snapshot."""
        assert self._changed is not None, "the control plane is not started"
        names = None if nodes is None else set(nodes)

        def pending() -> list[str]:
            return [s.id for s in self.status()
                    if (s.connected if names is None else s.id in names) and not s.in_sync]

        async with self._changed:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait_for(lambda: not pending()), timeout)
        if pending():
            raise PushTimeout("(target)", pending(), timeout)

    # --- status ---------------------------------------------------------------------------
    def status(self) -> list[NodeStatus]:
        """Every node seen (connected or not), by id."""
        return [self._status(self._nodes[i]) for i in sorted(self._nodes)]

    def _status(self, node: _Node) -> NodeStatus:
        stream = node.streams[-1] if node.streams else None
        target = self.snapshot_for(node.id)
        types = {} if stream is None else {
            short_type(t): TypeStatus(s.acked, s.nacked, s.error)
            for t, s in stream.types.items()}
        return NodeStatus(
            id=node.id, cluster=node.cluster, group=node.group, connected=stream is not None,
            delta=bool(stream and stream.delta), peer=stream.peer if stream else "",
            target_version=target.version if target else "",
            acked_version=node.acked_version, nacked_version=node.nacked_version,
            error_detail=node.error, types=types,
            bytes_sent=node.bytes_closed + sum(s.bytes_sent for s in node.streams),
            responses_sent=node.responses_closed + sum(s.responses_sent for s in node.streams),
            user_agent=node.user_agent, connected_at=node.connected_at,
            metadata=dict(node.metadata))

    def forget(self, node_id: str) -> bool:
        """Drop a disconnected node's record (and, with ``group_by="id"``, its own
        snapshot); False if it is connected or unknown."""
        node = self._nodes.get(node_id)
        if node is None or node.streams:
            return False
        del self._nodes[node_id]
        if not any(n.group == node.group for n in self._nodes.values()) and \
                self._group_by == "id":
            self._groups.pop(node.group, None)
        return True

    def streams(self, node_id: str) -> list[Stream]:
        """The open streams of a node (for status services and tests)."""
        node = self._nodes.get(node_id)
        return list(node.streams) if node else []

    # --- streams --------------------------------------------------------------------------
    def _group_of(self, node: Any) -> str:
        if callable(self._group_by):
            return str(self._group_by(node))
        return str(node.cluster if self._group_by == "cluster" else node.id)

    def _wake(self, groups: set[str] | None) -> None:
        for stream, queue in self._queues.items():
            node = self._nodes.get(stream.node_id)
            if node is not None and (groups is None or node.group in groups):
                queue.put_nowait(_WAKE)

    def _on_answer(self, stream: Stream, type_url: str) -> None:
        node = self._nodes.get(stream.node_id)
        target = self.snapshot_for(stream.node_id)
        if node is None:
            return
        state = stream.types[type_url]
        if state.error and state.nacked == state.sent_version:
            self._emit(FleetEvent("nack", node.id, type_url, state.nacked, state.error))
        else:
            self._emit(FleetEvent("ack", node.id, type_url, state.acked))
        if target is None:
            return
        if _nacked(stream, target):
            node.nacked_version = target.version
            node.error = _nack_message(stream, target)
        elif _acked(stream, target):
            node.acked_version, node.last_good = target.version, target
        self._notify()

    def _notify(self) -> None:
        changed = self._changed
        if changed is None:
            return

        async def notify() -> None:
            async with changed:
                changed.notify_all()

        asyncio.ensure_future(notify())  # noqa: RUF006 (short-lived)

    def _register(self, stream: Stream) -> None:
        node_id = stream.node_id
        node = self._nodes.setdefault(node_id, _Node(node_id))
        node.cluster = str(stream.node.cluster)
        node.group = self._group_of(stream.node)
        node.user_agent = f"{stream.node.user_agent_name} {_build(stream.node)}".strip()
        node.metadata = _metadata(stream.node)           # refreshed on every connect
        node.connected_at = time.time()
        node.streams.append(stream)
        self._emit(FleetEvent("connected", node_id, message=stream.peer))
        log.info("node %s connected from %s (%s)", node_id, stream.peer,
                 "delta" if stream.delta else "state of the world")
        self._notify()

    def _unregister(self, stream: Stream) -> None:
        node = self._nodes.get(stream.node_id)
        if node is not None and stream in node.streams:
            node.streams.remove(stream)
            node.bytes_closed += stream.bytes_sent
            node.responses_closed += stream.responses_sent
            log.info("node %s disconnected", node.id)
            self._emit(FleetEvent("disconnected", node.id, message=stream.peer))
        self._notify()

    async def serve(self, stream: Stream, requests: AsyncIterator[Any], context: Any) -> None:
        """Run one stream: requests and snapshot changes in, responses out."""
        queue: asyncio.Queue[Any] = asyncio.Queue()
        reader = asyncio.ensure_future(_read(requests, queue))
        self._queues[stream] = queue
        try:
            while True:
                item = await queue.get()
                if item is _CLOSED:
                    break
                if item is not _WAKE:
                    first = not stream.node_id
                    stream.on_request(item)   # type: ignore[attr-defined]
                    if first and stream.node_id:
                        self._register(stream)
                if not stream.node_id:
                    continue
                for response in stream.answer(self.snapshot_for(stream.node_id)):
                    await context.write(response)
        finally:
            reader.cancel()
            self._queues.pop(stream, None)
            self._unregister(stream)


async def _read(requests: AsyncIterator[Any], queue: asyncio.Queue[Any]) -> None:
    try:
        async for request in requests:
            queue.put_nowait(request)
    except Exception as exc:  # the stream broke: the peer went away
        log.debug("stream ended: %s", exc)
    finally:
        queue.put_nowait(_CLOSED)


def _metadata(node: Any) -> dict[str, Any]:
    from google.protobuf import json_format

    found: dict[str, Any] = json_format.MessageToDict(node.metadata)
    return found


def _build(node: Any) -> str:
    version = node.user_agent_build_version.version
    if not node.HasField("user_agent_build_version"):
        return str(node.user_agent_version)
    return f"{version.major_number}.{version.minor_number}.{version.patch}"


def _needed(stream: Stream, target: Snapshot) -> list[str]:
    return [t for t in TYPE_ORDER if t in WILDCARD_TYPES or target.of_type(t)]


def _acked(stream: Stream, target: Snapshot) -> bool:
    return all(t in stream.types and stream.types[t].acked == target.versions[t]
               for t in _needed(stream, target))


def _nacked(stream: Stream, target: Snapshot) -> bool:
    return bool(_nack_message(stream, target))


def _nack_message(stream: Stream, target: Snapshot) -> str:
    for t in TYPE_ORDER:
        state = stream.types.get(t)
        if state is not None and state.error and state.nacked == target.versions[t]:
            return state.error
    return ""


def _credentials(tls: ServerTLS) -> Any:
    from pathlib import Path

    import grpc

    pair = [(Path(tls.key).read_bytes(), Path(tls.cert).read_bytes())]
    if tls.client_ca is None:
        return grpc.ssl_server_credentials(pair)
    return grpc.ssl_server_credentials(pair, root_certificates=Path(tls.client_ca).read_bytes(),
                                       require_client_auth=True)


class _Ads:
    """The gRPC face of ADS (``envoy.service.discovery.v3.AggregatedDiscoveryService``)."""

    def __init__(self, plane: AsyncControlPlane) -> None:
        self.plane = plane

    async def StreamAggregatedResources(self, requests: AsyncIterator[Any], context: Any) -> None:
        stream = SotwStream(context.peer(), self.plane._on_answer)
        await self.plane.serve(stream, requests, context)

    async def DeltaAggregatedResources(self, requests: AsyncIterator[Any], context: Any) -> None:
        stream = DeltaStream(context.peer(), self.plane._on_answer)
        await self.plane.serve(stream, requests, context)


class _Csds:
    """Client status (``envoy.service.status.v3.ClientStatusDiscoveryService``): per node
    and type, the version ACKed and the version NACKed with Envoy's message."""

    def __init__(self, plane: AsyncControlPlane) -> None:
        self.plane = plane

    async def FetchClientStatus(self, request: Any, context: Any) -> Any:
        return client_status(self.plane)

    async def StreamClientStatus(self, requests: AsyncIterator[Any], context: Any) -> None:
        async for _request in requests:
            await context.write(client_status(self.plane))


def client_status(plane: AsyncControlPlane) -> Any:
    """A CSDS ``ClientStatusResponse`` for every node the plane has seen."""
    from envoy.admin.v3 import config_dump_shared_pb2 as dump
    from envoy.config.core.v3 import base_pb2
    from envoy.service.status.v3 import csds_pb2

    response = csds_pb2.ClientStatusResponse()
    for node_id in sorted(plane._nodes):
        node = plane._nodes[node_id]
        stream = node.streams[-1] if node.streams else None
        target = plane.snapshot_for(node_id)
        config = response.config.add(node=stream.node if stream else base_pb2.Node(
            id=node.id, cluster=node.cluster), client_scope="connected" if stream else "gone")
        for type_url, state in (stream.types.items() if stream else []):
            wanted = target.versions.get(type_url, "") if target else ""
            item = config.generic_xds_configs.add(type_url=type_url, version_info=state.acked)
            if state.error and state.nacked == wanted:
                item.client_status = dump.ClientResourceStatus.NACKED
                item.config_status = csds_pb2.ConfigStatus.ERROR
                item.error_state.details = state.error
                item.error_state.version_info = state.nacked
            elif state.acked == wanted:
                item.client_status = dump.ClientResourceStatus.ACKED
                item.config_status = csds_pb2.ConfigStatus.SYNCED
            else:
                item.client_status = dump.ClientResourceStatus.REQUESTED
                item.config_status = csds_pb2.ConfigStatus.STALE
    return response
