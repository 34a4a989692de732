"""The public API as a user writes it, checked by mypy --strict (``make typecheck``).

Never run (pytest does not collect it): each function is code a user could write, and the
``assert_type`` lines pin what a type checker infers from envoykit's public names. A change
that loses a type (a name turning ``Any``, a lazy export mypy cannot see) fails here.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from typing_extensions import assert_type

import envoykit
from envoykit import (
    AdminClient,
    ApplyReport,
    AsyncAdminClient,
    AsyncDynamicProxy,
    AsyncSupervisor,
    Bootstrap,
    ConfigDiff,
    DynamicProxy,
    EdgeProxy,
    EnvoykitError,
    EnvoyValidationError,
    Issue,
    ModelError,
    RateLimit,
    SemanticError,
    Supervisor,
    SupervisorEvent,
    SupervisorState,
    check,
    diff_configs,
    load_bootstrap,
    to_yaml,
    validate,
)
from envoykit.config import RBAC, HttpFilter, RouteRateLimit
from envoykit.testing import TestCA, Upstream, async_wait_until, free_port, wait_until


def build_an_edge(upstream: Upstream, ca: TestCA) -> Bootstrap:
    edge = (EdgeProxy()
            .site("a.example.com", upstream.address, rate_limit=RateLimit(20, per=timedelta(1)))
            .http(free_port())
            .admin(free_port()))
    assert_type(edge, EdgeProxy)
    bootstrap = edge.build()
    assert_type(check(bootstrap), list[Issue])
    assert_type(validate(edge, envoy=False), Bootstrap)
    assert_type(to_yaml(bootstrap), str)
    assert_type(diff_configs(bootstrap, edge), ConfigDiff)
    assert_type(load_bootstrap("envoy.yaml"), Bootstrap)
    assert_type(HttpFilter.of(RBAC()), HttpFilter)
    assert_type(RouteRateLimit(actions=[]), RouteRateLimit)
    return bootstrap


def run_it(bootstrap: Bootstrap) -> int:
    events: list[SupervisorEvent] = []
    with Supervisor(bootstrap, on_event=events.append) as proxy:
        assert_type(proxy, Supervisor)
        assert_type(proxy.state, SupervisorState)
        assert_type(proxy.address_of("http"), tuple[str, int])
        assert_type(proxy.admin_socket_address, tuple[str, int])
        assert_type(proxy.admin_address, str)
        assert_type(proxy.url_of("http"), str)
        admin = proxy.admin()
        assert_type(admin, AdminClient)
        assert_type(admin.ready(), bool)
        assert_type(proxy.wait_for_state(SupervisorState.LIVE), SupervisorState)
        try:
            return proxy.hot_restart(bootstrap)
        except EnvoyValidationError as exc:
            assert_type(exc.output, str)
            raise


async def run_it_async(bootstrap: Bootstrap) -> int:
    async with AsyncSupervisor(bootstrap, log_level="debug", drain_time_s=1) as proxy:
        assert_type(proxy, AsyncSupervisor)
        assert_type(proxy.sync.state, SupervisorState)
        async with proxy.admin() as admin:
            assert_type(admin, AsyncAdminClient)
            assert_type(await admin.ready(), bool)
        return await proxy.hot_restart(bootstrap)


def async_faces_take_the_cores_arguments(bootstrap: Bootstrap) -> None:
    # (strict mypy reports an unused ignore: each line below must really be an error)
    AsyncSupervisor(bootstrap, drain_time=1)  # type: ignore[call-arg]
    AsyncSupervisor(bootstrap, log_level=3)  # type: ignore[arg-type]


async def apply_async(bootstrap: Bootstrap) -> ApplyReport:
    async with AsyncDynamicProxy(bootstrap, validate="always", confirm_timeout=5.0) as proxy:
        assert_type(proxy.sync, DynamicProxy)
        assert_type(proxy.admin(), AsyncAdminClient)
        return await proxy.apply(bootstrap)


def errors(exc: EnvoykitError) -> list[str]:
    if isinstance(exc, (ModelError, SemanticError)):
        return [issue.path for issue in exc.issues]
    return [str(exc)]


def deprecated_names_still_type_check() -> None:
    assert_type(envoykit.ValidationError, type[EnvoyValidationError])
    asyncio.run(run_it_async(Bootstrap()))


async def waits_keep_the_probes_type(admin: AsyncAdminClient, sync_admin: AdminClient) -> None:
    assert_type(wait_until(sync_admin.ready), bool)
    assert_type(wait_until(lambda: sync_admin.server_info().state, expected="LIVE"), str)
    assert_type(await async_wait_until(admin.ready, timeout=30.0, what="ready"), bool)
    assert_type(await async_wait_until(lambda: 3, ignore=OSError), int)
