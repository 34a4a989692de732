"""Validation: semantic checks across resources, then the real ``envoy --mode validate``.

Three levels, cheapest first: pydantic at construction (types, enums, ranges), the
cross-resource checks here (:func:`check`), then envoy itself (:func:`validate`).

One module (~410 lines) on purpose: the checks are one catalogue, read top to bottom, each a
short function naming the field path it reports.
"""

from __future__ import annotations

import functools
import logging
import os
import subprocess
import tempfile
import typing
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envoykit._net import is_ip, is_loopback
from envoykit._tls_files import check_key_pair, known_cipher
from envoykit.binary import EnvoyBinary, find_envoy
from envoykit.config import (
    TYPE_PREFIX,
    Bootstrap,
    DataSource,
    DownstreamTlsContext,
    EnvoyModel,
    FilterChain,
    HttpConnectionManager,
    Listener,
    LocalRateLimit,
    RawConfig,
    RouteConfiguration,
    TlsCertificate,
    TlsParameters,
    TypedConfig,
    gc_paused,
    registered_types,
)
from envoykit.config._base import format_path
from envoykit.config.tls import INTERMEDIATE_CIPHERS
from envoykit.errors import EnvoyValidationError, Issue
from envoykit.load import semantic_error
from envoykit.render import ConfigLike, to_dict, to_json

if TYPE_CHECKING:
    from envoykit.builder import EdgeProxy

__all__ = ["check", "envoy_refused", "envoy_validate_file", "validate"]

log = logging.getLogger("envoykit.validation")

ROUTER = "envoy.filters.http.router"


def validate(
    config: ConfigLike,
    *,
    binary: EnvoyBinary | None = None,
    envoy: bool = True,
    extra_args: Sequence[str] = (),
) -> Bootstrap:
    """Check a config (a Bootstrap, a builder or a dict) our way, then envoy's way.

    Raises :class:`SemanticError` (field paths) or `EnvoyValidationError` (envoy's own
    message). Returns the typed bootstrap.
    """
    bootstrap = as_bootstrap(config)
    issues = check(bootstrap)
    if issues:
        raise semantic_error(issues, config)  # file and line when config was loaded
    if envoy:  # pragma: no mutate block (runs envoy: the integration tests' part)
        with tempfile.TemporaryDirectory(prefix="envoykit-validate-") as tmp:
            path = Path(tmp) / "envoy.json"
            path.write_text(to_json(bootstrap), encoding="utf-8")
            path.chmod(0o600)
            envoy_validate_file(path, binary=binary, extra_args=extra_args)
    return bootstrap


def as_bootstrap(config: ConfigLike) -> Bootstrap:
    """A typed :class:`Bootstrap` from a Bootstrap, anything with ``build()``/``to_dict()``,
    or a dict."""
    if isinstance(config, Bootstrap):
        # re-validate: a model edited after construction is not checked by assignment
        revalidated: Bootstrap = Bootstrap.from_dict(config.to_dict())
        return revalidated
    build = getattr(config, "build", None)
    if callable(build):
        built = build()
        if isinstance(built, Bootstrap):
            return built
    result: Bootstrap = Bootstrap.from_dict(to_dict(config))
    return result


def envoy_validate_file(
    path: str | os.PathLike[str],
    *,
    binary: EnvoyBinary | None = None,
    extra_args: Sequence[str] = (),
    timeout: float = 120.0,
) -> str:  # pragma: no mutate block (runs envoy: the integration tests' part)
    """Run ``envoy --mode validate -c PATH``; return envoy's output, raise
    :class:`EnvoyValidationError` carrying envoy's own message when it refuses the config."""
    envoy = binary or find_envoy()
    argv = [str(envoy.path), "--mode", "validate", "-c", str(Path(path)), "-l", "warn",
            *extra_args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        raise envoy_refused(path, output, done.returncode)
    return output


def envoy_refused(shown_as: str | os.PathLike[str], output: str,
                  returncode: int) -> EnvoyValidationError:
    """The error for a config ``envoy --mode validate`` refused, with envoy's own message
    (one shape whichever process validated it: a fresh one or the supervisor's prewarmed)."""
    return EnvoyValidationError(
        f"envoy --mode validate rejected {shown_as}:\n{_essence(output)}",
        output=output,
        returncode=returncode,
    )


def _essence(output: str) -> str:
    """The useful part of envoy's message: its error lines, not the log preamble."""
    lines = [ln for ln in output.splitlines() if ln.strip()]
    for i, line in enumerate(lines):
        if "[critical]" in line or "[error]" in line:
            return "\n".join(lines[i:i + 8])
    return "\n".join(lines[-5:])


# --- semantic checks ----------------------------------------------------------------------


def check(bootstrap: Bootstrap | EdgeProxy) -> list[Issue]:
    """Cross-resource problems envoy would refuse (or, worse, accept) — each with its path.
    An :class:`~envoykit.EdgeProxy` is checked by :meth:`~envoykit.EdgeProxy.check` (its own
    checks, then these, without compiling every route)."""
    if not isinstance(bootstrap, Bootstrap):
        return bootstrap.check()
    with gc_paused():  # a large config's walk allocates much and frees it all: no cycles
        return _check(bootstrap)


def _check(bootstrap: Bootstrap) -> list[Issue]:
    issues: list[Issue] = []
    static = bootstrap.static_resources
    listeners = (static.listeners if static else None) or []
    clusters = (static.clusters if static else None) or []
    cluster_names = {c.name for c in clusters}
    dynamic_clusters = bool(bootstrap.dynamic_resources and bootstrap.dynamic_resources.cds_config)
    issues += _duplicates("static_resources.listeners", [x.name for x in listeners], "name")
    issues += _duplicates("static_resources.clusters", [c.name for c in clusters], "name")
    issues += _address_clashes(listeners)
    for i, listener in enumerate(listeners):
        issues += _check_listener(f"static_resources.listeners[{i}]", listener)
    for path, rc in _route_configs(listeners):
        issues += _check_routes(path, rc, cluster_names, dynamic_clusters)
    for i, cluster in enumerate(clusters):
        issues += _check_cluster(f"static_resources.clusters[{i}]", cluster)
    found = _found(bootstrap, "", _FILE_AND_TLS_KINDS)  # one walk for both checks
    issues += _check_files((p, n) for p, n in found if isinstance(n, DataSource))
    issues += _check_tls((p, n) for p, n in found if not isinstance(n, DataSource))
    _warn_admin(bootstrap)
    return issues


def _duplicates(path: str, names: Sequence[str], what: str) -> list[Issue]:
    counts = Counter(names)
    return [Issue(f"{path}[{i}].{what}", f"duplicate {what} {n!r}")
            for i, n in enumerate(names) if counts[n] > 1 and names.index(n) != i]


def _socket(listener: Listener) -> tuple[str, int] | None:
    sa = listener.address.socket_address
    if sa is None or not sa.port_value:
        return None
    return sa.address, sa.port_value


def _address_clashes(listeners: Sequence[Listener]) -> list[Issue]:
    issues = []
    seen: dict[tuple[str, int], int] = {}
    for i, listener in enumerate(listeners):
        sock = _socket(listener)
        if sock is None:
            continue
        for (host, port), j in seen.items():
            if port == sock[1] and _overlap(host, sock[0]):
                issues.append(Issue(
                    f"static_resources.listeners[{i}].address",
                    f"{sock[0]}:{port} clashes with listeners[{j}] ({host}:{port})"))
        seen[sock] = i
    return issues


def _overlap(a: str, b: str) -> bool:
    return a == b or a in ("0.0.0.0", "::") or b in ("0.0.0.0", "::")


def _chains(listener: Listener) -> Iterator[tuple[str, FilterChain]]:
    for i, chain in enumerate(listener.filter_chains or []):
        yield f"filter_chains[{i}]", chain
    if listener.default_filter_chain is not None:
        yield "default_filter_chain", listener.default_filter_chain


def _check_filter_types(path: str, filters: Sequence[Any]) -> list[Issue]:
    """A raw ``@type`` under a filter name envoykit models is almost surely a typo."""
    known = _types_by_filter_name()
    issues = []
    for i, flt in enumerate(filters):
        expected = known.get(flt.name)
        if isinstance(flt.typed_config, RawConfig) and expected is not None:
            issues.append(Issue(f"{path}[{i}].typed_config",
                                f"@type {flt.typed_config.at_type!r} is not the type of "
                                f"{flt.name} (expected {TYPE_PREFIX}{expected})"))
    return issues


@functools.lru_cache(maxsize=1)
def _types_by_filter_name() -> dict[str, str]:
    return {cls.filter_name: cls.type_url for cls in registered_types().values()
            if cls.filter_name and issubclass(cls, TypedConfig)}


def _hcms(chain: FilterChain) -> Iterator[tuple[str, HttpConnectionManager]]:
    for i, flt in enumerate(chain.filters or []):
        if isinstance(flt.typed_config, HttpConnectionManager):
            yield f"filters[{i}].typed_config", flt.typed_config


def _check_listener(path: str, listener: Listener) -> list[Issue]:
    issues: list[Issue] = []
    sa = listener.address.socket_address
    if sa is not None and not is_ip(sa.address):
        issues.append(Issue(f"{path}.address.socket_address.address",
                            f"{sa.address!r} is not an IP address: envoy listens on IPs "
                            "(0.0.0.0, ::, 127.0.0.1, ...)"))
    inspector = any(f.name == "envoy.filters.listener.tls_inspector"
                    for f in listener.listener_filters or [])
    sni_seen: dict[str, str] = {}
    for cpath, chain in _chains(listener):
        issues += _check_chain(f"{path}.{cpath}", chain, inspector, sni_seen)
    if not listener.filter_chains and listener.default_filter_chain is None:
        issues.append(Issue(f"{path}.filter_chains", "a listener needs at least one filter chain"))
    return issues


def _check_chain(path: str, chain: FilterChain, inspector: bool,
                 sni_seen: dict[str, str]) -> list[Issue]:
    issues: list[Issue] = []
    names = (chain.filter_chain_match and chain.filter_chain_match.server_names) or []
    tls = chain.transport_socket.typed_config if chain.transport_socket else None
    passthrough = not any(True for _ in _hcms(chain))  # e.g. tcp_proxy: TLS is upstream's
    if names and tls is None and not passthrough:
        issues.append(Issue(f"{path}.filter_chain_match.server_names",
                            "SNI names without TLS: add a transport_socket with a "
                            "DownstreamTlsContext (or pass the TLS through with tcp_proxy)"))
    if names and not inspector:
        issues.append(Issue(f"{path}.filter_chain_match.server_names",
                            "matching on SNI needs the tls_inspector listener filter"))
    for name in names:
        if name in sni_seen:
            issues.append(Issue(f"{path}.filter_chain_match.server_names",
                                f"{name!r} is already matched by {sni_seen[name]}"))
        sni_seen[name] = path
    if isinstance(tls, DownstreamTlsContext):
        issues += _check_downstream_tls(f"{path}.transport_socket.typed_config", tls)
    issues += _check_filter_types(f"{path}.filters", chain.filters or [])
    for hpath, hcm in _hcms(chain):
        issues += _check_hcm(f"{path}.{hpath}", hcm)
    return issues


def _check_downstream_tls(path: str, tls: DownstreamTlsContext) -> list[Issue]:
    common = tls.common_tls_context
    if common is None or not (common.tls_certificates or common.tls_certificate_sds_secret_configs):
        return [Issue(f"{path}.common_tls_context.tls_certificates",
                      "downstream TLS needs a certificate (tls_certificates or SDS)")]
    if tls.require_client_certificate and not (
        common.validation_context or common.validation_context_sds_secret_config
    ):
        return [Issue(f"{path}.require_client_certificate",
                      "requiring client certificates needs a validation_context (trusted_ca)")]
    return []


def _check_hcm(path: str, hcm: HttpConnectionManager) -> list[Issue]:
    issues: list[Issue] = []
    filters = hcm.http_filters or []
    issues += _check_filter_types(f"{path}.http_filters", filters)
    if not filters or filters[-1].name != ROUTER:
        issues.append(Issue(f"{path}.http_filters",
                            f"the last HTTP filter must be {ROUTER} (requests go nowhere)"))
    for i, flt in enumerate(filters):
        if isinstance(flt.typed_config, LocalRateLimit):
            issues += _check_rate_limit(f"{path}.http_filters[{i}].typed_config", flt.typed_config)
    return issues


def _check_rate_limit(path: str, rl: LocalRateLimit) -> list[Issue]:
    issues = []
    if rl.token_bucket is not None and rl.token_bucket.max_tokens == 0:
        issues.append(Issue(f"{path}.token_bucket.max_tokens",
                            "a bucket of 0 tokens refuses every request"))
    if rl.token_bucket is not None and rl.filter_enabled is None:
        log.warning("%s: filter_enabled is unset (envoy's default 0%%): the limit is off", path)
    return issues


def _route_configs(listeners: Sequence[Listener]) -> Iterator[tuple[str, RouteConfiguration]]:
    for i, listener in enumerate(listeners):
        for cpath, chain in _chains(listener):
            for hpath, hcm in _hcms(chain):
                if hcm.route_config is not None:
                    yield (f"static_resources.listeners[{i}].{cpath}.{hpath}.route_config",
                           hcm.route_config)


def _check_routes(path: str, rc: RouteConfiguration, clusters: set[str],
                  dynamic_clusters: bool) -> list[Issue]:
    issues: list[Issue] = []
    vhosts = rc.virtual_hosts or []
    issues += _duplicates(f"{path}.virtual_hosts", [v.name for v in vhosts], "name")
    owner: dict[str, str] = {}
    for i, vhost in enumerate(vhosts):
        for j, domain in enumerate(vhost.domains):
            key = domain.lower()
            if key in owner:
                issues.append(Issue(f"{path}.virtual_hosts[{i}].domains[{j}]",
                                    f"domain {domain!r} is also claimed by {owner[key]}"))
            owner[key] = f"virtual_hosts[{i}] ({vhost.name})"
        for j, route in enumerate(vhost.routes or []):
            rpath = f"{path}.virtual_hosts[{i}].routes[{j}].route"
            issues += _check_route_target(rpath, route.route, clusters, dynamic_clusters)
    return issues


def _check_route_target(path: str, action: Any, clusters: set[str],
                        dynamic_clusters: bool) -> list[Issue]:
    if action is None or dynamic_clusters:
        return []
    targets = [(f"{path}.cluster", action.cluster)] if action.cluster else []
    if action.weighted_clusters is not None:
        targets += [(f"{path}.weighted_clusters.clusters[{k}].name", c.name)
                    for k, c in enumerate(action.weighted_clusters.clusters)]
    missing = [(p, name) for p, name in targets if name not in clusters]
    if not missing:
        return []
    known = ", ".join(sorted(clusters)) or "none"
    return [Issue(p, f"unknown cluster {name!r} (known: {known})") for p, name in missing]


def _check_cluster(path: str, cluster: Any) -> list[Issue]:
    if cluster.type not in (None, "STATIC") or cluster.load_assignment is None:
        return []
    issues = []
    for i, locality in enumerate(cluster.load_assignment.endpoints or []):
        for j, lb in enumerate(locality.lb_endpoints or []):
            sa = lb.endpoint.address.socket_address
            if sa is not None and not is_ip(sa.address):
                issues.append(Issue(
                    f"{path}.load_assignment.endpoints[{i}].lb_endpoints[{j}].endpoint.address",
                    f"{sa.address!r} is not an IP: a STATIC cluster needs IPs "
                    "(use type STRICT_DNS or LOGICAL_DNS for names)"))
    return issues


def _check_files(sources: Iterable[tuple[Parts, DataSource]]) -> list[Issue]:
    """Every ``filename`` a DataSource names must be a readable file."""
    issues = []
    for parts, source in sources:
        if source.filename is None:
            continue
        path = format_path(parts)
        file = Path(source.filename)
        if not file.is_file():
            issues.append(Issue(f"{path}.filename", f"no such file: {file}"))
        elif not os.access(file, os.R_OK):
            issues.append(Issue(f"{path}.filename", f"file is not readable: {file}"))
    return issues


def _models(node: Any, path: str, kinds: tuple[type[EnvoyModel], ...]
            ) -> list[tuple[str, EnvoyModel]]:
    """Every model of one of ``kinds`` under ``node``, with its field path."""
    return [(format_path(parts), model) for parts, model in _found(node, path, kinds)]


def _found(node: Any, path: str, kinds: tuple[type[EnvoyModel], ...]) -> list[Found]:
    """Like ``_models`` with the paths left as parts: a 10,000-site config has ~700,000
    nodes and ~10,000 data sources; a path is only formatted for an issue."""
    found: list[Found] = []
    _walk(node, [path] if path else [], kinds, found)
    return found


def _walk(node: Any, parts: list[str | int], kinds: tuple[type[EnvoyModel], ...],
          found: list[Found]) -> None:
    """Append to ``found`` what ``node`` holds (plain recursion: nested generators would
    pass each find up through every level)."""
    if isinstance(node, kinds):
        found.append((tuple(parts), node))  # and on below: a certificate holds files
    if isinstance(node, EnvoyModel):
        values = node.__dict__
        items: Iterable[tuple[str | int, Any]] = [
            (name, values[name]) for name in _fields_to_walk(type(node), kinds)]
    elif isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return
    for key, value in items:
        if value is not None and not isinstance(value, _SCALARS):
            parts.append(key)
            _walk(value, parts, kinds, found)
            parts.pop()


_SCALARS = (str, int, float, bool, timedelta)
Parts = tuple[str | int, ...]
Found = tuple[Parts, EnvoyModel]
_FILE_AND_TLS_KINDS: tuple[type[EnvoyModel], ...] = (DataSource, TlsCertificate, TlsParameters)


@functools.cache
def _fields_to_walk(model: type[EnvoyModel], kinds: tuple[type[EnvoyModel], ...]
                    ) -> tuple[str, ...]:
    """The fields of ``model`` that can hold one of ``kinds`` anywhere below them, judged
    from the field annotations (a route's match holds no TLS certificate, a cluster's
    endpoints no file name): the walk skips the rest. A field typed loosely (``Any``, a
    typed config) may hold anything."""
    return tuple(name for name, f in model.model_fields.items()
                 if _annotation_may_hold(f.annotation, kinds, {model}))


def _annotation_may_hold(annotation: Any, kinds: tuple[type[EnvoyModel], ...],
                         seen: set[type]) -> bool:
    if annotation is Any or annotation is object:
        return True
    if isinstance(annotation, type):
        if issubclass(annotation, kinds) or annotation is TypedConfig \
                or annotation is EnvoyModel:
            return True
        if issubclass(annotation, EnvoyModel):
            if annotation in seen:
                return False
            seen.add(annotation)
            return any(_annotation_may_hold(f.annotation, kinds, seen)
                       for f in annotation.model_fields.values())
        return False  # str, int, dict/list without arguments, ...
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _annotation_may_hold(typing.get_args(annotation)[0], kinds, seen)
    if origin is typing.Literal or annotation in (None, type(None)):
        return False
    args = typing.get_args(annotation)
    if not args:
        return True  # a typing form not understood here: be safe, walk it
    return any(_annotation_may_hold(a, kinds, seen) for a in args)


def _check_tls(found: Iterable[tuple[Parts, EnvoyModel]]) -> list[Issue]:
    """Certificates and keys parse, keys match their certificates, ciphers exist."""
    issues: list[Issue] = []
    for parts, node in found:
        path = format_path(parts)
        if isinstance(node, TlsCertificate):
            issues += check_key_pair(path, node)
        elif isinstance(node, TlsParameters):
            issues += [Issue(f"{path}.cipher_suites", f"unknown cipher suite {name!r} "
                             f"(BoringSSL knows e.g. {', '.join(INTERMEDIATE_CIPHERS[:2])})")
                       for name in node.cipher_suites or [] if not known_cipher(name)]
    return issues


def _warn_admin(bootstrap: Bootstrap) -> None:
    admin = bootstrap.admin
    sa = admin.address.socket_address if admin and admin.address else None
    if sa is not None and is_ip(sa.address) and not is_loopback(sa.address):
        log.warning("admin listens on %s: it is unauthenticated and can stop envoy; "
                    "bind it to 127.0.0.1 or a unix socket", sa.address)
