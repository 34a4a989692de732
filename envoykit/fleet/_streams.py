"""One xDS stream per connected Envoy: state of the world or delta, over ADS.

The streams are pure state machines (requests in, responses out) driven by the server's
event loop; they never block. A response is sent only on an open watch (a request not yet
answered), so at most one response per type is in flight, and a NACKed version is never
sent again: it stays parked until the snapshot changes (unlike a resend loop).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from envoykit.fleet._snapshot import CLUSTER, ENDPOINT, LISTENER, ROUTE, TYPE_ORDER, Snapshot

__all__ = ["DeltaStream", "SotwStream", "Stream"]

log = logging.getLogger("envoykit.fleet")

WILDCARD_TYPES = (LISTENER, CLUSTER)
HELD_TYPES = (ENDPOINT, ROUTE)
"""Under ADS, an answer for these waits until the request names every resource of the
snapshot (Envoy asks for them once the clusters / listeners naming them arrived)."""

_nonces = itertools.count(1)


@dataclass
class TypeState:
    """What one stream knows about one resource type."""

    names: set[str] = field(default_factory=set)
    wildcard: bool = False
    subscribed: bool = False
    open: bool = False
    sent_version: str | None = None
    sent_names: frozenset[str] = frozenset()
    nonce: str = ""
    acked: str = ""
    nacked: str = ""
    error: str = ""
    sent: dict[str, Any] = field(default_factory=dict)       # sotw: name → packed, last sent
    accepted: dict[str, Any] = field(default_factory=dict)   # sotw: the same, last ACKed
    known: dict[str, str] = field(default_factory=dict)      # delta: name → version held
    pending: dict[str, str] = field(default_factory=dict)    # delta: after the in-flight one


Report = Callable[["Stream", str], None]
"""Called with (stream, type_url) after an ACK or NACK was recorded."""


class Stream:
    """The common part: node, per-type state, ACK/NACK bookkeeping."""

    delta = False

    def __init__(self, peer: str, report: Report) -> None:
        self.peer = peer
        self.report = report
        self.node: Any = None
        self.types: dict[str, TypeState] = {}
        self.bytes_sent = 0
        self.responses_sent = 0

    @property
    def node_id(self) -> str:
        return "" if self.node is None else str(self.node.id)

    def state(self, type_url: str) -> TypeState:
        return self.types.setdefault(type_url, TypeState())

    def answer(self, snapshot: Snapshot | None) -> list[Any]:
        """Responses due now, in Envoy's order (clusters, endpoints, secrets, listeners,
        routes; types it does not use last)."""
        if snapshot is None:
            return []
        out = []
        for type_url in [*TYPE_ORDER, *sorted(set(self.types) - set(TYPE_ORDER))]:
            state = self.types.get(type_url)
            if state is None or not state.open or not state.subscribed:
                continue
            response = self.respond(type_url, state, snapshot)
            if response is not None:
                state.open = False
                self.bytes_sent += response.ByteSize()
                self.responses_sent += 1
                out.append(response)
        return out

    def respond(self, type_url: str, state: TypeState, snapshot: Snapshot) -> Any:
        raise NotImplementedError

    def record(self, type_url: str, state: TypeState, error: Any) -> None:
        """An answer to our last response: an ACK, or a NACK with Envoy's message."""
        if error is not None and error.message:
            state.nacked, state.error = state.sent_version or "", str(error.message)
            log.warning("node %s NACKed %s version %s: %s", self.node_id, type_url,
                        state.nacked, state.error)
        else:
            state.acked, state.accepted = state.sent_version or "", state.sent
        self.report(self, type_url)

    @staticmethod
    def held(type_url: str, requested: set[str], snapshot: Snapshot) -> bool:
        return type_url in HELD_TYPES and not snapshot.names(type_url) <= requested

    def routing_done(self, snapshot: Snapshot) -> bool:
        """True when the node ACKed the snapshot's listeners and routes: clusters they no
        longer use can go (stale clusters are removed last)."""
        for type_url in (LISTENER, ROUTE):
            state = self.types.get(type_url)
            wanted = snapshot.versions.get(type_url, "")
            if type_url == ROUTE and not snapshot.of_type(ROUTE):
                continue
            if state is None or state.acked != wanted:
                return False
        return True


class SotwStream(Stream):
    """State of the world: one version per type; listeners and clusters as full sets."""

    def on_request(self, request: Any) -> None:
        if self.node is None and request.HasField("node"):
            self.node = request.node
        state = self.state(request.type_url)
        if request.response_nonce and request.response_nonce != state.nonce:
            return                                          # an answer to a superseded response
        if request.response_nonce:
            self.record(request.type_url, state,
                        request.error_detail if request.HasField("error_detail") else None)
        elif not state.subscribed and request.version_info:
            state.sent_version = state.acked = request.version_info   # what it already runs
            state.sent_names = frozenset(request.resource_names)
            self.report(self, request.type_url)
        state.subscribed = True
        state.wildcard = request.type_url in WILDCARD_TYPES and (
            not request.resource_names or "*" in request.resource_names)
        state.names = set(request.resource_names)
        state.open = True

    def respond(self, type_url: str, state: TypeState, snapshot: Snapshot) -> Any:
        from envoy.service.discovery.v3 import discovery_pb2

        version = snapshot.versions.get(type_url, "")
        names = frozenset(snapshot.names(type_url) if state.wildcard else state.names)
        table = snapshot.of_type(type_url)
        resources = {n: table[n].packed for n in names if n in table}
        if type_url == CLUSTER and not self.routing_done(snapshot):
            stale = {n: p for n, p in state.accepted.items() if n not in resources}
            if stale:                                       # removed once routes moved on
                resources.update(stale)
                version = f"{version}+{len(stale)}stale"
        if version == state.sent_version and (state.wildcard or names <= state.sent_names):
            return None                                     # up to date, or parked after a NACK
        if not state.wildcard and self.held(type_url, state.names, snapshot):
            return None
        state.nonce = str(next(_nonces))
        state.sent_version, state.sent_names, state.sent = version, names, resources
        return discovery_pb2.DiscoveryResponse(
            version_info=version, type_url=type_url, nonce=state.nonce,
            resources=[resources[n] for n in sorted(resources)])


class DeltaStream(Stream):
    """Incremental: one version per resource; only what changed is sent."""

    delta = True

    def on_request(self, request: Any) -> None:
        if self.node is None and request.HasField("node"):
            self.node = request.node
        state = self.state(request.type_url)
        if request.response_nonce and request.response_nonce != state.nonce:
            return
        if request.response_nonce:
            error = request.error_detail if request.HasField("error_detail") else None
            if error is None or not error.message:
                state.known = dict(state.pending)
            self.record(request.type_url, state, error)
        if not state.subscribed:
            state.subscribed = True
            state.known = dict(request.initial_resource_versions)
            state.wildcard = request.type_url in WILDCARD_TYPES and \
                not request.resource_names_subscribe
        subscribe = set(request.resource_names_subscribe)
        state.wildcard = state.wildcard or "*" in subscribe
        state.names |= subscribe - {"*"}
        for name in request.resource_names_unsubscribe:
            state.names.discard(name)
            state.known.pop(name, None)
        state.open = True

    def respond(self, type_url: str, state: TypeState, snapshot: Snapshot) -> Any:
        from envoy.service.discovery.v3 import discovery_pb2

        version = snapshot.versions.get(type_url, "")
        table = snapshot.of_type(type_url)
        wanted = set(table) if state.wildcard else state.names
        changed = [n for n in sorted(wanted)
                   if n in table and state.known.get(n) != table[n].version]
        removed = [n for n in sorted(state.known) if n not in table
                   and (state.wildcard or n in state.names)]
        if type_url == CLUSTER and removed and not self.routing_done(snapshot):
            removed = []                                    # stale clusters are removed last
            version = f"{version}+stale"
        if version == state.sent_version and not changed and not removed:
            return None
        if version == state.sent_version and state.nacked == version:
            return None                                     # parked after a NACK
        if not state.wildcard and self.held(type_url, state.names, snapshot):
            return None
        state.sent_version = version
        if not changed and not removed:
            state.acked = version                           # nothing of it concerns this node
            self.report(self, type_url)
            return None
        state.pending = {n: v for n, v in state.known.items() if n not in removed}
        state.pending.update({n: table[n].version for n in changed})
        state.nonce = str(next(_nonces))
        return discovery_pb2.DeltaDiscoveryResponse(
            system_version_info=version, type_url=type_url, nonce=state.nonce,
            removed_resources=removed, resources=list(_delta_resources(table, changed)))


def _delta_resources(table: Any, names: Iterable[str]) -> Iterable[Any]:
    from envoy.service.discovery.v3 import discovery_pb2

    for name in names:
        item = table[name]
        yield discovery_pb2.Resource(name=name, version=item.version, resource=item.packed)
