"""A running Envoy fed from resource files, changed live with :meth:`DynamicProxy.apply`.

    with DynamicProxy(edge.build()) as proxy:
        report = proxy.apply(new_edge.build())     # files only: same pid, same epoch
        print(report)

``apply`` takes the cheapest safe path. Our checks run first (``check()``: a route to an
unknown cluster, which Envoy accepts over files, is refused here), then — when more than
one thing changes, or a listener, secret or the bootstrap does — ``envoy --mode validate``
of the full equivalent static config. Then the files are written atomically in dependency
order. A changed file, which Envoy already watches, is confirmed by Envoy (its update
counters) before the next one is written; a new file (a route, endpoints or secret nothing
names yet) has no subscriber to confirm it: it is written unconfirmed (``confirmed=False``
in the report's step) and Envoy reads it when the file that names it is written next, and
that one is confirmed. A refused file raises :class:`XdsUpdateRejected` and every file
written so far is restored. A changed bootstrap (admin, node, runtime, overload manager,
…) is applied by a validated hot restart.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from envoykit._async import AsyncFacade, init_like
from envoykit._net import free_port
from envoykit._util import (
    ConfigLike,
    listener_address,
    private_directory,
    url,
)
from envoykit.admin import AdminClient
from envoykit.config import Bootstrap
from envoykit.errors import SemanticError, XdsUpdateRejected
from envoykit.process import Supervisor
from envoykit.validation import as_bootstrap, check
from envoykit.xds._apply import ApplyRun, ValidateMode
from envoykit.xds._confirm import Confirmer, reason_from_log
from envoykit.xds._report import ApplyReport
from envoykit.xds._split import DynamicConfig, to_dynamic

__all__ = [
    "AsyncDynamicProxy",
    "DynamicProxy",
    "ValidateMode",
    "apply",
]

log = logging.getLogger("envoykit.xds")

REJECT_UNKNOWN = "--reject-unknown-dynamic-fields"


class DynamicProxy:
    """Envoy under a :class:`~envoykit.process.Supervisor`, configured from xDS files.

    ``config`` is a static config (a :class:`Bootstrap`, an ``EdgeProxy`` or a dict); it is
    split into a small bootstrap and resource files in ``directory`` (a new private
    temporary directory by default, removed on stop). ``validate`` sets when
    ``envoy --mode validate`` runs before an apply: ``auto`` (unless the change is one
    route, cluster or endpoint assignment — Envoy takes or refuses such a file as a
    whole), ``always`` or ``never``. Other keyword arguments go to the Supervisor.
    """

    def __init__(
        self,
        config: ConfigLike,
        *,
        directory: str | os.PathLike[str] | None = None,
        validate: ValidateMode = "auto",
        confirm_timeout: float = 10.0,
        **supervisor_options: Any,
    ) -> None:
        if "run_dir" in supervisor_options:
            raise TypeError("DynamicProxy takes directory= (it holds the files and envoy's run "
                            "directory), not run_dir=")
        self._initial = config
        self._requested_dir = None if directory is None else Path(directory)
        self.validate = validate
        self.confirm_timeout = confirm_timeout
        extra = list(supervisor_options.pop("extra_args", ()))
        if REJECT_UNKNOWN not in extra:
            extra.append(REJECT_UNKNOWN)
        self._options = {**supervisor_options, "extra_args": tuple(extra)}
        self._lock = threading.RLock()
        self._root: Path | None = None
        self._owns_root = False
        self._supervisor: Supervisor | None = None
        self._current: DynamicConfig | None = None
        self._config: Bootstrap | None = None
        self._ports: dict[str, int] = {}
        self._client: AdminClient | None = None
        self._confirm: Confirmer | None = None
        self._serial = 0

    # --- facts ----------------------------------------------------------------------------
    @property
    def supervisor(self) -> Supervisor:
        """The supervisor running Envoy."""
        if self._supervisor is None:
            raise RuntimeError("the proxy is not started")
        return self._supervisor

    @property
    def directory(self) -> Path:
        """Where the resource files live."""
        if self._root is None:
            raise RuntimeError("the proxy is not started")
        return self._root / "xds"

    @property
    def config(self) -> Bootstrap:
        """The static config serving now (as given to the last apply)."""
        if self._config is None:
            raise RuntimeError("the proxy is not started")
        return self._config

    @property
    def dynamic(self) -> DynamicConfig:
        """The bootstrap and resource files serving now."""
        if self._current is None:
            raise RuntimeError("the proxy is not started")
        return self._current

    @property
    def pid(self) -> int | None:
        """The pid of the Envoy serving now."""
        return self.supervisor.pid

    @property
    def epoch(self) -> int | None:
        """The hot-restart epoch serving now."""
        return self.supervisor.epoch

    @property
    def admin_address(self) -> str:
        """``host:port`` (or ``unix:/path``) of the admin of the Envoy serving now."""
        return self.supervisor.admin_address

    @property
    def admin_socket_address(self) -> tuple[str, int]:
        """``(host, port)`` of the admin, the shape of :meth:`address_of`."""
        return self.supervisor.admin_socket_address

    def admin(self, timeout: float = 5.0) -> AdminClient:
        """A new admin client for the Envoy serving now (close it, or use ``with``)."""
        return self.supervisor.admin(timeout)

    def address_of(self, listener: str) -> tuple[str, int]:
        """The bound (host, port) of a listener (asked from Envoy: LDS listeners too)."""
        return listener_address(self._admin().listeners(), listener)

    def url_of(self, listener: str, scheme: str = "http") -> str:
        """``scheme://host:port`` of a listener."""
        host, port = self.address_of(listener)
        return url(scheme, host, port)

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> DynamicProxy:
        """Write the files, start Envoy on the small bootstrap, check it took them all."""
        with self._lock:
            if self._supervisor is not None:
                raise RuntimeError("the proxy is already started")
            self._root, self._owns_root = _make_root(self._requested_dir)
            try:
                self._start()
            except BaseException:
                self._cleanup()
                raise
        return self

    def _start(self) -> None:
        bootstrap, static = self._prepare(self._initial)
        dynamic = to_dynamic(static, self.directory)
        dynamic.write()
        supervisor = Supervisor(dynamic.bootstrap, run_dir=self._root_path / "envoy",
                                **self._options)
        supervisor.start()
        self._supervisor = supervisor
        self._current, self._config = dynamic, bootstrap
        self._check_started()

    def _check_started(self) -> None:
        """Envoy starts even when it refuses an LDS/CDS file: fail loudly instead."""
        snap = self._admin().stats(filter=r"\.(update_rejected|update_failure)$", type="Counters")
        refused = sorted(name for name, value in snap.counters.items() if value)
        if refused:
            raise XdsUpdateRejected(
                f"envoy refused resource files at start ({', '.join(refused)})",
                reason=reason_from_log(self._output()),
                output_tail=self.supervisor.output_tail(20))

    def stop(self, graceful: bool = True) -> None:
        """Stop Envoy and remove the files (when the directory was ours)."""
        with self._lock:
            self._cleanup(graceful)

    def _cleanup(self, graceful: bool = False) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._supervisor is not None:
            self._supervisor.stop(graceful=graceful)
            self._supervisor = None
        if self._root is not None and self._owns_root:
            shutil.rmtree(self._root, ignore_errors=True)
        self._root = None
        self._current = None

    def __enter__(self) -> DynamicProxy:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop(graceful=kind is None)

    # --- apply ----------------------------------------------------------------------------
    def apply(self, config: ConfigLike, *, validate: ValidateMode | None = None) -> ApplyReport:
        """Make the running Envoy serve ``config``, the cheapest safe way (see the module
        docs). Raises SemanticError or EnvoyValidationError (nothing changed),
        XdsUpdateRejected (Envoy refused a file; files restored, old config serving) or
        HotRestartError (old config serving)."""
        with self._lock:
            return ApplyRun(self, config, validate or self.validate).run()

    def rotate_certificates(self) -> ApplyReport:
        """Re-read every certificate and key file of the current config; changed ones are
        served through SDS, without a restart."""
        return self.apply(self.config)

    # --- helpers for ApplyRun (xds/_apply.py) ---------------------------------------------
    @property
    def _root_path(self) -> Path:
        assert self._root is not None
        return self._root

    def _prepare(self, config: ConfigLike) -> tuple[Bootstrap, dict[str, Any]]:
        """The typed config (our checks passed) and its dict with listener ports pinned."""
        bootstrap = as_bootstrap(config)
        issues = check(bootstrap)
        if issues:
            raise SemanticError(issues)
        static = bootstrap.to_dict()
        self._ports.update(_pin_ports(static, self._ports))
        return bootstrap, static

    def _admin(self) -> AdminClient:
        address = self.supervisor.admin_address
        if self._client is None or self._client.address != address:
            if self._client is not None:
                self._client.close()
            self._client = AdminClient(address, timeout=5.0)
        return self._client

    def _output(self) -> list[str]:
        """Every line of envoy's output the supervisor keeps (a parse failure is followed
        by the whole file, so the reason can be far from the end)."""
        supervisor = self.supervisor
        return supervisor.output_tail(supervisor.output_lines)

    def _confirmer(self) -> Confirmer:
        if self._confirm is None:
            self._confirm = Confirmer(self._admin, self._output,
                                      timeout=self.confirm_timeout,
                                      generation=lambda: (self.pid, self.epoch))
        return self._confirm

    def _validate_path(self) -> Path:
        self._serial += 1
        return self._root_path / f"validate-{self._serial}.json"


def apply(proxy: DynamicProxy, config: ConfigLike, *,
          validate: ValidateMode | None = None) -> ApplyReport:
    """``proxy.apply(config)`` as a function."""
    return proxy.apply(config, validate=validate)


def _make_root(requested: Path | None) -> tuple[Path, bool]:
    if requested is None:
        return private_directory(prefix="envoykit-xds-"), True
    owns = not requested.exists()
    return private_directory(requested), owns


def _pin_ports(static: dict[str, Any], known: dict[str, int]) -> dict[str, int]:
    """Give listeners configured with port 0 a real port (kept across applies), so hot
    restarts and restarts after a crash keep the addresses (a listener keeps its port for
    the proxy's life, even if it is removed and added back). Returns name → port pinned."""
    pinned: dict[str, int] = {}
    listeners = (static.get("static_resources") or {}).get("listeners") or []
    for listener in listeners:
        sock = (listener.get("address") or {}).get("socket_address")
        if not isinstance(sock, dict) or sock.get("port_value") or sock.get("protocol") == "UDP":
            continue
        name = str(listener.get("name", ""))
        port = known.get(name) or free_port(str(sock.get("address", "127.0.0.1")))
        sock["port_value"] = pinned[name] = port
    return pinned


class AsyncDynamicProxy(AsyncFacade[DynamicProxy]):
    """The asyncio face of :class:`DynamicProxy`: the same core, run with ``to_thread``.

    ``async with AsyncDynamicProxy(config) as proxy: await proxy.apply(new)`` — read-only
    facts (``pid``, ``directory``, ``config``…) come from ``proxy.sync`` by delegation."""

    @init_like(DynamicProxy)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.sync = DynamicProxy(*args, **kwargs)

    async def apply(self, config: ConfigLike, *,
                    validate: ValidateMode | None = None) -> ApplyReport:
        """See :meth:`DynamicProxy.apply`."""
        return await asyncio.to_thread(self.sync.apply, config, validate=validate)

    async def rotate_certificates(self) -> ApplyReport:
        """See :meth:`DynamicProxy.rotate_certificates`."""
        return await asyncio.to_thread(self.sync.rotate_certificates)
