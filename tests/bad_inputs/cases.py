"""The bad-input corpus: broken config files, broken dicts and broken builder calls.

Every case is something a user will one day write. Each must end in an
:class:`envoykit.errors.EnvoykitError` whose message says *where* (a field path, a builder
call, or ``file:line``) — never a bare traceback from inside pydantic, PyYAML or the
standard library — and, when applied to a running proxy, change nothing (see
``tests/integration/test_bad_inputs_live.py``).

Three kinds of case:

* ``file``: a data file in ``files/`` loaded with :func:`envoykit.load_bootstrap`
  (``$CERT_A``-style placeholders are filled in first, see :class:`Env`);
* ``dict``: the company edge rendered to Envoy JSON, then broken by ``mutate`` and read
  back with ``Bootstrap.from_dict``;
* ``builder``: a broken :class:`envoykit.EdgeProxy` call chain.

Then :func:`apply` runs the level-2 semantic checks (``validate(..., envoy=False)``).
``stage="envoy"`` marks a case that only the real ``envoy --mode validate`` refuses
(envoykit lets it through its own checks — recorded as a known gap with ``gap=``);
``bug=`` marks a known library bug (the unit test is a strict xfail until it is fixed).
"""

from __future__ import annotations

import dataclasses
import os
import re
import string
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from envoykit import EdgeDefaults, EdgeProxy, UpstreamTLS
from envoykit.config import Bootstrap
from envoykit.errors import ConfigError, ConfigLoadError, EnvoykitError, SemanticError
from envoykit.load import load_bootstrap
from envoykit.testing.tls import TestCA
from envoykit.validation import validate

FILES = Path(__file__).parent / "files"

# --- the environment a case runs in -------------------------------------------------------


@dataclass(frozen=True)
class Env:
    """Real certificate files (and some broken ones) in a private temporary directory."""

    tmp: Path
    ca_file: str
    cert_a: str
    key_a: str
    cert_b: str
    key_b: str
    garbage_key: str  # a file that is not PEM at all
    empty_key: str  # an empty file
    dir_key: str  # a directory where a key file should be
    dangling_key: str  # a symlink to nowhere

    @classmethod
    def make(cls, tmp: Path) -> Env:
        ca = TestCA(tmp / "certs")
        a = ca.issue("a.example.com")
        b = ca.issue("b.example.com")
        garbage = tmp / "garbage-key.pem"
        garbage.write_bytes(b"this is not a private key\n")
        empty = tmp / "empty-key.pem"
        empty.write_bytes(b"")
        directory = tmp / "key-dir.pem"
        directory.mkdir()
        dangling = tmp / "dangling-key.pem"
        os.symlink(tmp / "gone.pem", dangling)
        return cls(tmp, ca.ca_file, a.cert, a.key, b.cert, b.key, str(garbage), str(empty),
                   str(directory), str(dangling))

    def placeholders(self) -> dict[str, str]:
        return {"TMP": str(self.tmp), "CERT_A": self.cert_a, "KEY_A": self.key_a,
                "CERT_B": self.cert_b, "KEY_B": self.key_b, "CA": self.ca_file}

    def edge(self, **defaults: Any) -> EdgeProxy:
        """The company edge: two sites by SNI, redirect, rate limit, admin."""
        d = dataclasses.replace(EdgeDefaults(), **defaults) if defaults else None
        return (
            EdgeProxy("company-edge", defaults=d)
            .site("a.example.com", "127.0.0.1:9001", cert=(self.cert_a, self.key_a))
            .site("b.example.com", "127.0.0.1:9002", cert=(self.cert_b, self.key_b))
            .https(port=8443)
            .redirect_http(port=8080)
            .rate_limit(requests=100, per="1s")
            .admin(port=9901)
        )


# --- the cases ----------------------------------------------------------------------------

Kind = Literal["file", "dict", "builder"]


@dataclass(frozen=True)
class Case:
    id: str
    kind: Kind
    where: str  # must appear in the error message: a field path, a call, or file:line
    error: type[EnvoykitError] = ConfigError
    file: str = ""
    mutate: Callable[[dict[str, Any], Env], None] | None = None
    build: Callable[[Env], Any] | None = None
    stage: Literal["python", "envoy"] = "python"
    gap: str = ""  # why envoykit's own checks miss it (stage="envoy")
    envoy_says: str = ""  # part of envoy's own message when it refuses the case
    bug: str = ""  # a library bug: the unit test is xfail(strict=True) with this reason


def materialise(case: Case, env: Env) -> Path:
    """Copy a file case into ``env.tmp`` (same name) with its placeholders filled in."""
    src = FILES / case.file
    dest = env.tmp / case.file
    if not src.exists():  # a case about a file that is not there
        return dest
    raw = src.read_bytes()
    try:
        text = string.Template(raw.decode("utf-8")).safe_substitute(env.placeholders())
        dest.write_text(text, encoding="utf-8")
    except UnicodeDecodeError:
        dest.write_bytes(raw)
    return dest


def produce(case: Case, env: Env) -> Any:
    """The config the case describes, as far as envoykit lets it get (may raise)."""
    if case.kind == "file":
        return load_bootstrap(materialise(case, env))
    if case.kind == "dict":
        assert case.mutate is not None
        data = env.edge().build().to_dict()
        case.mutate(data, env)
        return Bootstrap.from_dict(data)
    assert case.build is not None
    return case.build(env)


def apply(case: Case, env: Env, *, envoy: bool = False) -> Bootstrap:
    """Load/build the case, then validate it (envoykit's checks; envoy's too if asked)."""
    return validate(produce(case, env), envoy=envoy)


# --- dict surgery -------------------------------------------------------------------------

_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _steps(path: str) -> list[str | int]:
    return [int(i) if i else k for k, i in _STEP.findall(path)]


def _parent(data: Any, path: str) -> tuple[Any, str | int]:
    steps = _steps(path)
    node = data
    for step in steps[:-1]:
        node = node[step]
    return node, steps[-1]


def put(path: str, value: Any) -> Callable[[dict[str, Any], Env], None]:
    def mutate(data: dict[str, Any], env: Env) -> None:
        node, last = _parent(data, path)
        node[last] = value(env) if callable(value) else value
    return mutate


def insert(path: str, index: int, value: Any) -> Callable[[dict[str, Any], Env], None]:
    def mutate(data: dict[str, Any], env: Env) -> None:
        node, last = _parent(data, path)
        node[last].insert(index, value)

    return mutate


def drop(path: str) -> Callable[[dict[str, Any], Env], None]:
    def mutate(data: dict[str, Any], env: Env) -> None:
        node, last = _parent(data, path)
        del node[last]
    return mutate


def copy(src: str, dest: str) -> Callable[[dict[str, Any], Env], None]:
    """``dest`` becomes a copy of ``src`` (append with ``dest`` = ``list[len]``)."""
    import copy as _copy

    def mutate(data: dict[str, Any], env: Env) -> None:
        snode, slast = _parent(data, src)
        dnode, dlast = _parent(data, dest)
        value = _copy.deepcopy(snode[slast])
        if isinstance(dnode, list) and dlast == len(dnode):
            dnode.append(value)
        else:
            dnode[dlast] = value
    return mutate


def reverse(path: str) -> Callable[[dict[str, Any], Env], None]:
    def mutate(data: dict[str, Any], env: Env) -> None:
        node, last = _parent(data, path)
        node[last] = list(reversed(node[last]))
    return mutate


def chain(*mutations: Callable[[dict[str, Any], Env], None]
          ) -> Callable[[dict[str, Any], Env], None]:
    def mutate(data: dict[str, Any], env: Env) -> None:
        for m in mutations:
            m(data, env)
    return mutate


L0 = "static_resources.listeners[0]"  # https: one SNI chain per site
L1 = "static_resources.listeners[1]"  # http: the redirect
CH0 = f"{L0}.filter_chains[0]"
HCM = f"{CH0}.filters[0].typed_config"
RC = f"{HCM}.route_config"
VH = f"{RC}.virtual_hosts[0]"
R0 = f"{VH}.routes[0]"
RL = f"{HCM}.http_filters[0].typed_config"
TLS = f"{CH0}.transport_socket.typed_config"
CTX = f"{TLS}.common_tls_context"
C0 = "static_resources.clusters[0]"
EP0 = f"{C0}.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address"


def _file(id_: str, file: str, where: str, error: type[EnvoykitError] = ConfigError,
          **kw: Any) -> Case:
    return Case(id_, "file", where, error, file=file, **kw)


def _dict(id_: str, mutate: Callable[[dict[str, Any], Env], None], where: str,
          error: type[EnvoykitError] = ConfigError, **kw: Any) -> Case:
    return Case(id_, "dict", where, error, mutate=mutate, **kw)


def _builder(id_: str, build: Callable[[Env], Any], where: str,
             error: type[EnvoykitError] = ConfigError, **kw: Any) -> Case:
    return Case(id_, "builder", where, error, build=build, **kw)


FILE_CASES = [
    _file("seed-demo-tabbed", "seed_demo_tab.yaml", "seed_demo_tab.yaml:38", ConfigLoadError),
    _file("tab-indent", "tab_indent.yaml", "tab_indent.yaml:4", ConfigLoadError),
    _file("unclosed-flow-sequence", "unclosed_flow.yaml", "unclosed_flow.yaml:4",
          ConfigLoadError),
    _file("duplicate-key", "duplicate_key.yaml", "duplicate_key.yaml:6", ConfigLoadError),
    _file("top-level-list", "top_level_list.yaml", "top_level_list.yaml:1", ConfigLoadError),
    _file("json-trailing-comma", "trailing_comma.json",
          # Python 3.13's json names the comma's line (3), older ones the brace's (4)
          f"trailing_comma.json:{3 if sys.version_info >= (3, 13) else 4}",
          ConfigLoadError),
    _file("yaml-python-tag", "python_tag.yaml", "python_tag.yaml:3", ConfigLoadError),
    _file("unknown-top-level-field", "unknown_top_field.yaml", "static_resource (line 4)"),
    _file("port-is-text", "port_is_text.yaml",
          "static_resources.listeners[0].address.socket_address.port_value (line 7)"),
    _file("yaml-negative-connect-timeout", "negative_connect_timeout.yaml",
          "static_resources.clusters[0].connect_timeout (line 5)"),
    _file("yaml-route-to-unknown-cluster", "route_to_unknown_cluster.yaml",
          "static_resources.listeners[0].filter_chains[0].filters[0].typed_config"
          ".route_config.virtual_hosts[0].routes[0].route.cluster", SemanticError),
    _file("v2-type-url", "v2_type_url.yaml",
          "static_resources.listeners[0].filter_chains[0].filters[0].typed_config"),
    _file("missing-cert-file", "missing_cert_file.yaml",
          "tls_certificates[0].certificate_chain.filename", SemanticError),
    _file("not-utf8", "latin1.yaml", "latin1.yaml", ConfigLoadError),
    _file("no-such-config-file", "does_not_exist.yaml", "does_not_exist.yaml",
          ConfigLoadError),
    _file("yaml-control-character", "control_char.yaml", "control_char.yaml:4",
          ConfigLoadError),
    _file("empty-config", "empty.yaml", "empty.yaml:1", ConfigLoadError),
]

DICT_CASES = [
    # wrong types, out-of-range numbers, bad enums
    _dict("listener-port-out-of-range", put(f"{L0}.address.socket_address.port_value", 70000),
          f"{L0}.address.socket_address.port_value"),
    _dict("listener-port-negative", put(f"{L0}.address.socket_address.port_value", -1),
          f"{L0}.address.socket_address.port_value"),
    _dict("endpoint-port-is-text", put(f"{EP0}.port_value", "http"), f"{EP0}.port_value"),
    _dict("listener-address-not-an-ip", put(f"{L0}.address.socket_address.address",
                                            "edge.example.com"),
          f"{L0}.address.socket_address.address"),
    _dict("admin-port-out-of-range", put("admin.address.socket_address.port_value", 99999),
          "admin.address.socket_address.port_value"),
    _dict("codec-type-unknown", put(f"{HCM}.codec_type", "HTTP3000"), f"{HCM}.codec_type"),
    _dict("cluster-type-typo", put(f"{C0}.type", "STATICK"), f"{C0}.type"),
    _dict("lb-policy-unknown", put(f"{C0}.lb_policy", "RANDOMLY"), f"{C0}.lb_policy"),
    _dict("underscore-action-unknown",
          put(f"{HCM}.common_http_protocol_options.headers_with_underscores_action", "DROP"),
          f"{HCM}.common_http_protocol_options.headers_with_underscores_action"),
    _dict("tls-version-unknown", put(f"{CTX}.tls_params.tls_minimum_protocol_version",
                                     "TLSv1_4"),
          f"{CTX}.tls_params.tls_minimum_protocol_version"),
    _dict("alpn-not-a-list", put(f"{CTX}.alpn_protocols", "h2"), f"{CTX}.alpn_protocols"),
    _dict("redirect-code-unknown", put(f"{L1}.filter_chains[0].filters[0].typed_config"
                                       ".route_config.virtual_hosts[0].routes[0].redirect"
                                       ".response_code", "MOVED"),
          f"{L1}.filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0]"
          ".routes[0].redirect.response_code"),
    _dict("max-connections-negative",
          put("overload_manager.resource_monitors[0].typed_config"
              ".max_active_downstream_connections", -5),
          "overload_manager.resource_monitors[0].typed_config"
          ".max_active_downstream_connections"),
    _dict("buffer-limit-is-text", put(f"{L0}.per_connection_buffer_limit_bytes", "32k"),
          f"{L0}.per_connection_buffer_limit_bytes"),
    _dict("direct-response-status-99",
          put(R0, {"match": {"prefix": "/"}, "direct_response": {"status": 99}}),
          f"{R0}.direct_response.status"),
    # unknown fields and typed configs
    _dict("unknown-listener-field", put(f"{L0}.per_connection_buffer_limit", 1),
          f"{L0}.per_connection_buffer_limit"),
    _dict("unknown-hcm-field", put(f"{HCM}.normalise_path", True), f"{HCM}.normalise_path"),
    _dict("hcm-type-url-typo", put(f"{HCM}.@type", "type.googleapis.com/envoy.extensions."
                                   "filters.network.http_connection_manager.v3.HttpConnMgr"),
          f"{CH0}.filters[0].typed_config"),
    _dict("unmodelled-filter-type-typo", insert(f"{HCM}.http_filters", 0, {
              "name": "envoy.filters.http.buffer",
              "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http."
                                        "buffer.v3.Bufer", "max_request_bytes": 1024}}),
          f"{HCM}.http_filters[0].typed_config", stage="envoy",
          gap="an extension envoykit does not model is kept verbatim (raw @type): only envoy "
          "knows that type does not exist",
          envoy_says="Bufer"),
    _dict("typed-config-without-type", drop(f"{HCM}.@type"), f"{CH0}.filters[0].typed_config"),
    _dict("v2-type-url-in-filter", put(f"{RL}.@type", "type.googleapis.com/envoy.config."
                                       "filter.http.rate_limit.v2.RateLimit"),
          f"{HCM}.http_filters[0].typed_config"),
    # durations
    _dict("negative-connect-timeout", put(f"{C0}.connect_timeout", "-1s"),
          f"{C0}.connect_timeout"),
    _dict("connect-timeout-words", put(f"{C0}.connect_timeout", "5 minutes"),
          f"{C0}.connect_timeout"),
    _dict("headers-timeout-garbage", put(f"{HCM}.request_headers_timeout", "soon"),
          f"{HCM}.request_headers_timeout"),
    _dict("route-timeout-bool", put(f"{R0}.route.timeout", True), f"{R0}.route.timeout"),
    _dict("fill-interval-too-short", put(f"{RL}.token_bucket.fill_interval", "0.01s"),
          f"{RL}.token_bucket.fill_interval"),
    # routes and clusters
    _dict("route-to-unknown-cluster", put(f"{R0}.route.cluster", "a_example_cmo"),
          f"{R0}.route.cluster", SemanticError),
    _dict("weighted-cluster-unknown",
          put(f"{R0}.route", {"weighted_clusters": {"clusters": [
              {"name": "a_example_com", "weight": 50}, {"name": "canary", "weight": 50}]}}),
          f"{R0}.route.weighted_clusters.clusters[1].name", SemanticError),
    _dict("route-prefix-and-path", put(f"{R0}.match", {"prefix": "/", "path": "/x"}),
          f"{R0}.match"),
    _dict("route-without-match-rule", put(f"{R0}.match", {}), f"{R0}.match"),
    _dict("regex-does-not-compile", put(f"{R0}.match", {"safe_regex": {"regex": "(/api"}}),
          f"{R0}.match.safe_regex.regex"),
    _dict("regex-lookahead-not-re2", put(f"{R0}.match", {"safe_regex": {"regex": "/(?=api)"}}),
          f"{R0}.match.safe_regex.regex"),
    _dict("duplicate-domain-in-route-config",
          copy(f"{VH}", f"{RC}.virtual_hosts[1]"), f"{RC}.virtual_hosts[1]", SemanticError),
    _dict("duplicate-domain-differs-in-case",
          chain(copy(f"{VH}", f"{RC}.virtual_hosts[1]"),
                put(f"{RC}.virtual_hosts[1].name", "shouty"),
                put(f"{RC}.virtual_hosts[1].domains", ["A.EXAMPLE.COM"])),
          f"{RC}.virtual_hosts[1].domains[0]", SemanticError),
    _dict("empty-domains", put(f"{VH}.domains", []), f"{VH}.domains"),
    _dict("header-injection-crlf",
          put(f"{VH}.response_headers_to_add[0].header.key", "x-a\r\nset-cookie"),
          f"{VH}.response_headers_to_add[0].header.key"),
    _dict("duplicate-listener-name", put(f"{L1}.name", "https"), f"{L1}.name", SemanticError),
    _dict("duplicate-cluster-name", put("static_resources.clusters[1].name", "a_example_com"),
          "static_resources.clusters[1].name", SemanticError),
    _dict("duplicate-listener-address",
          put(f"{L1}.address.socket_address.port_value", 8443), f"{L1}.address", SemanticError),
    _dict("listener-without-filter-chains", put(f"{L1}.filter_chains", []),
          f"{L1}.filter_chains", SemanticError),
    _dict("static-cluster-with-hostname", put(f"{EP0}.address", "a.internal"),
          f"{C0}.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address",
          SemanticError),
    _dict("router-not-last", reverse(f"{HCM}.http_filters"), f"{HCM}.http_filters",
          SemanticError),
    _dict("no-router-filter", drop(f"{HCM}.http_filters[1]"), f"{HCM}.http_filters",
          SemanticError),
    _dict("zero-token-bucket", put(f"{RL}.token_bucket.max_tokens", 0),
          f"{RL}.token_bucket.max_tokens", SemanticError),
    _dict("tokens-per-fill-negative", put(f"{RL}.token_bucket.tokens_per_fill", -1),
          f"{RL}.token_bucket.tokens_per_fill"),
    # TLS and SNI
    _dict("duplicate-sni-name",
          put(f"{L0}.filter_chains[1].filter_chain_match.server_names", ["a.example.com"]),
          f"{L0}.filter_chains[1].filter_chain_match.server_names", SemanticError),
    _dict("sni-without-tls-inspector", drop(f"{L0}.listener_filters"),
          f"{CH0}.filter_chain_match.server_names", SemanticError),
    _dict("sni-without-tls", drop(f"{CH0}.transport_socket"),
          f"{CH0}.filter_chain_match.server_names", SemanticError),
    _dict("tls-without-certificate", drop(f"{CTX}.tls_certificates"),
          f"{CTX}.tls_certificates", SemanticError),
    _dict("client-cert-without-ca", put(f"{TLS}.require_client_certificate", True),
          f"{TLS}.require_client_certificate", SemanticError),
    _dict("cert-file-missing",
          put(f"{CTX}.tls_certificates[0].certificate_chain.filename",
              lambda env: str(env.tmp / "nope.pem")),
          f"{CTX}.tls_certificates[0].certificate_chain.filename", SemanticError),
    _dict("key-path-is-a-directory",
          put(f"{CTX}.tls_certificates[0].private_key.filename", lambda env: env.dir_key),
          f"{CTX}.tls_certificates[0].private_key.filename", SemanticError),
    _dict("key-path-dangling-symlink",
          put(f"{CTX}.tls_certificates[0].private_key.filename", lambda env: env.dangling_key),
          f"{CTX}.tls_certificates[0].private_key.filename", SemanticError),
    _dict("key-file-not-pem",
          put(f"{CTX}.tls_certificates[0].private_key.filename", lambda env: env.garbage_key),
          f"{CTX}.tls_certificates[0].private_key"),
    _dict("key-file-empty",
          put(f"{CTX}.tls_certificates[0].private_key.filename", lambda env: env.empty_key),
          f"{CTX}.tls_certificates[0].private_key"),
    _dict("key-does-not-match-cert",
          put(f"{CTX}.tls_certificates[0].private_key.filename", lambda env: env.key_b),
          f"{CTX}.tls_certificates[0]"),
    _dict("unknown-cipher-suite", put(f"{CTX}.tls_params.cipher_suites", ["RC4-MD5-FAST"]),
          f"{CTX}.tls_params.cipher_suites"),
]


def _no_sites(env: Env) -> Any:
    return EdgeProxy().https(8443).build()


BUILDER_CASES = [
    _builder("host-not-a-name", lambda env: EdgeProxy().site("not a host!", "127.0.0.1:1"),
             "site('not a host!')"),
    _builder("host-with-port", lambda env: EdgeProxy().site("a.example.com:443",
                                                            "127.0.0.1:1"),
             "site('a.example.com:443')"),
    _builder("host-not-a-string", lambda env: EdgeProxy().site(42, "127.0.0.1:1"),
             "site(42)"),
    _builder("upstream-without-port", lambda env: EdgeProxy().site("a.example.com",
                                                                   "127.0.0.1"),
             "site('a.example.com').upstreams[0]"),
    _builder("upstream-port-out-of-range",
             lambda env: EdgeProxy().site("a.example.com", "127.0.0.1:70000"),
             "site('a.example.com').upstreams[0]"),
    _builder("upstream-port-text", lambda env: EdgeProxy().site("a.example.com",
                                                                "127.0.0.1:http"),
             "site('a.example.com').upstreams[0]"),
    _builder("upstream-tuple-port-text",
             lambda env: EdgeProxy().site("a.example.com", ("127.0.0.1", "80")),
             "site('a.example.com').upstreams[0]"),
    _builder("no-upstream", lambda env: EdgeProxy().site("a.example.com"),
             "site('a.example.com')"),
    _builder("same-site-twice",
             lambda env: EdgeProxy().site("a.example.com", "127.0.0.1:1")
             .site("A.example.com", "127.0.0.1:2"), "site('A.example.com')"),
    _builder("alias-claimed-twice",
             lambda env: EdgeProxy().site("a.example.com", "127.0.0.1:1", aliases=["www.x.com"])
             .site("b.example.com", "127.0.0.1:2", aliases=["www.x.com"]).http(8080).build(),
             "domain 'www.x.com'", SemanticError),
    _builder("https-site-without-cert",
             lambda env: EdgeProxy().site("a.example.com", "127.0.0.1:1").https(8443).build(),
             "site('a.example.com').cert", SemanticError),
    _builder("cert-tuple-of-one",
             lambda env: EdgeProxy().site("a.example.com", "127.0.0.1:1", cert=(env.cert_a,)),
             "site('a.example.com').cert"),
    _builder("builder-cert-file-missing",
             lambda env: EdgeProxy().site("a.example.com", "127.0.0.1:1",
                                          cert=(str(env.tmp / "x.pem"), env.key_a))
             .https(8443).build(),
             "certificate_chain.filename", SemanticError),
    _builder("redirect-without-https",
             lambda env: EdgeProxy().site("a.example.com", "127.0.0.1:1").redirect_http(8080)
             .build(), "redirect_http", SemanticError),
    _builder("no-sites", _no_sites, "sites", SemanticError),
    _builder("no-listeners", lambda env: EdgeProxy().site("a.example.com", "127.0.0.1:1")
             .build(), "listeners", SemanticError),
    _builder("http-and-https-same-port",
             lambda env: env.edge().http(8443).build(), "listeners", SemanticError),
    _builder("https-port-out-of-range", lambda env: EdgeProxy().https(70000),
             "https(port=70000)"),
    _builder("https-port-is-text", lambda env: EdgeProxy().https("443"), "https(port='443')"),
    _builder("admin-port-negative", lambda env: EdgeProxy().admin(-1), "admin(port=-1)"),
    _builder("rate-limit-zero", lambda env: EdgeProxy().rate_limit(0), "rate_limit(requests=0)"),
    _builder("rate-limit-interval-too-short",
             lambda env: EdgeProxy().rate_limit(10, per="10ms"), "rate_limit(per='10ms')"),
    _builder("rate-limit-negative-interval",
             lambda env: EdgeProxy().rate_limit(10, per="-1s"), "rate_limit(per='-1s')"),
    _builder("rate-limit-zero-burst", lambda env: EdgeProxy().rate_limit(10, burst=0),
             "rate_limit(burst=0)"),
    _builder("rate-limit-burst-text", lambda env: EdgeProxy().rate_limit(10, burst="5"),
             "rate_limit(burst='5')"),
    _builder("site-timeout-garbage",
             lambda env: EdgeProxy().site("a.example.com", "127.0.0.1:1", timeout="soon"),
             "site('a.example.com').timeout"),
    _builder("upstream-tls-verify-without-ca",
             lambda env: EdgeProxy().site("a.example.com", "127.0.0.1:1",
                                          upstream_tls=UpstreamTLS(sni="a.internal"))
             .http(8080).build(), "upstream TLS for 'a.internal'"),
    _builder("defaults-negative-headers-timeout",
             lambda env: env.edge(request_headers_timeout=timedelta(seconds=-5)).build(),
             "request_headers_timeout"),
    _builder("defaults-underscore-action-unknown",
             lambda env: env.edge(headers_with_underscores_action="DROP").build(),
             "headers_with_underscores_action"),
    _builder("defaults-max-connections-negative",
             lambda env: env.edge(max_connections=-1).build(),
             "EdgeDefaults.max_connections"),
    _builder("defaults-tls-profile-unknown",
             lambda env: env.edge(tls_profile="ancient").build(), "tls_profile"),
    _builder("defaults-alpn-a-string", lambda env: env.edge(alpn="h2").build(), "alpn"),
    _builder("load-none", lambda env: load_bootstrap(None), "expected a path or YAML/JSON text"),
    _builder("defaults-listen-address-not-an-ip",
             lambda env: env.edge(listen_address="edge.local").build(),
             "listen_address"),
]

CASES: list[Case] = [*FILE_CASES, *DICT_CASES, *BUILDER_CASES]
