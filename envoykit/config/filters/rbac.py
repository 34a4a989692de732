"""RBAC: ``envoy.extensions.filters.http.rbac.v3.RBAC`` (filter ``envoy.filters.http.rbac``)
holding :class:`RBACRules` (``envoy.config.rbac.v3.RBAC``), per route :class:`RBACPerRoute`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_serializer, model_validator

from envoykit.config._base import TYPE_PREFIX, EnvoyModel, TypedConfig
from envoykit.config.core import CidrRange, HeaderMatcher, StringMatcher, TypedExtensionConfig
from envoykit.config.filters._common import Int32Range, PathMatcher

__all__ = [
    "RBAC",
    "Permission",
    "PermissionSet",
    "Policy",
    "Principal",
    "PrincipalAuthenticated",
    "PrincipalSet",
    "RBACPerRoute",
    "RBACRules",
]


class PermissionSet(EnvoyModel):
    """``Permission.Set``: the ``rules`` of ``and_rules`` / ``or_rules``."""

    rules: list[Permission] = Field(min_length=1)


class Permission(EnvoyModel):
    """What a request does (exactly one rule): ``any``, ``header``, ``url_path``,
    ``destination_ip``/``destination_port``/``destination_port_range``,
    ``requested_server_name``, ``and_rules``/``or_rules``/``not_rule``, or an extension."""

    and_rules: PermissionSet | None = None
    or_rules: PermissionSet | None = None
    any: Literal[True] | None = None
    header: HeaderMatcher | None = None
    url_path: PathMatcher | None = None
    destination_ip: CidrRange | None = None
    destination_port: int | None = Field(default=None, ge=0, le=65535)
    destination_port_range: Int32Range | None = None
    metadata: dict[str, Any] | None = None  # deprecated by Envoy: use sourced_metadata
    not_rule: Permission | None = None
    requested_server_name: StringMatcher | None = None
    matcher: TypedExtensionConfig | None = None
    uri_template: TypedExtensionConfig | None = None
    sourced_metadata: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one(self) -> Permission:
        self._exactly_one(*_PERMISSION_RULES)
        return self

    @classmethod
    def all_of(cls, *rules: Permission) -> Permission:
        """``and_rules`` of ``rules``."""
        return cls(and_rules=PermissionSet(rules=list(rules)))

    @classmethod
    def any_of(cls, *rules: Permission) -> Permission:
        """``or_rules`` of ``rules``."""
        return cls(or_rules=PermissionSet(rules=list(rules)))

    @classmethod
    def negate(cls, rule: Permission) -> Permission:
        """``not_rule``."""
        return cls(not_rule=rule)

    @classmethod
    def path_prefix(cls, prefix: str) -> Permission:
        """Requests whose URL path (query excluded) starts with ``prefix``."""
        return cls(url_path=PathMatcher.prefix(prefix))

    @classmethod
    def header_exact(cls, name: str, value: str) -> Permission:
        """Requests whose header ``name`` is exactly ``value`` (``:method`` works too)."""
        return cls(header=HeaderMatcher(name=name, string_match=StringMatcher(exact=value)))


_PERMISSION_RULES = (
    "and_rules", "or_rules", "any", "header", "url_path", "destination_ip", "destination_port",
    "destination_port_range", "metadata", "not_rule", "requested_server_name", "matcher",
    "uri_template", "sourced_metadata",
)


class PrincipalSet(EnvoyModel):
    """``Principal.Set``: the ``ids`` of ``and_ids`` / ``or_ids``."""

    ids: list[Principal] = Field(min_length=1)


class PrincipalAuthenticated(EnvoyModel):
    """``Principal.Authenticated``: a TLS peer, optionally by name (URI/DNS SAN or subject)."""

    principal_name: StringMatcher | None = None


class Principal(EnvoyModel):
    """Who sends the request (exactly one identifier): ``any``, ``authenticated``,
    ``direct_remote_ip``/``remote_ip``/``source_ip``, ``header``, ``url_path``,
    ``and_ids``/``or_ids``/``not_id``, ``filter_state``, metadata or ``custom``."""

    and_ids: PrincipalSet | None = None
    or_ids: PrincipalSet | None = None
    any: Literal[True] | None = None
    authenticated: PrincipalAuthenticated | None = None
    source_ip: CidrRange | None = None  # deprecated by Envoy: use direct_remote_ip
    direct_remote_ip: CidrRange | None = None
    remote_ip: CidrRange | None = None
    header: HeaderMatcher | None = None
    url_path: PathMatcher | None = None
    metadata: dict[str, Any] | None = None  # deprecated by Envoy: use sourced_metadata
    filter_state: dict[str, Any] | None = None
    not_id: Principal | None = None
    sourced_metadata: dict[str, Any] | None = None
    custom: TypedExtensionConfig | None = None

    @model_validator(mode="after")
    def _one(self) -> Principal:
        self._exactly_one(*_PRINCIPAL_IDS)
        return self

    @classmethod
    def anyone(cls) -> Principal:
        """``any: true``."""
        return cls(any=True)

    @classmethod
    def all_of(cls, *ids: Principal) -> Principal:
        """``and_ids`` of ``ids``."""
        return cls(and_ids=PrincipalSet(ids=list(ids)))

    @classmethod
    def any_of(cls, *ids: Principal) -> Principal:
        """``or_ids`` of ``ids``."""
        return cls(or_ids=PrincipalSet(ids=list(ids)))

    @classmethod
    def negate(cls, principal: Principal) -> Principal:
        """``not_id``."""
        return cls(not_id=principal)

    @classmethod
    def ip(cls, cidr: str) -> Principal:
        """``direct_remote_ip`` from ``"10.0.0.0/8"`` (or a bare address: a /32 or /128)."""
        address, _, length = cidr.partition("/")
        default_len = 128 if ":" in address else 32
        prefix_len = int(length) if length else default_len
        return cls(direct_remote_ip=CidrRange(address_prefix=address, prefix_len=prefix_len))


_PRINCIPAL_IDS = (
    "and_ids", "or_ids", "any", "authenticated", "source_ip", "direct_remote_ip", "remote_ip",
    "header", "url_path", "metadata", "filter_state", "not_id", "sourced_metadata", "custom",
)


class Policy(EnvoyModel):
    """A policy matches when one of its ``permissions`` and one of its ``principals`` match
    (and the optional CEL ``condition`` holds)."""

    permissions: list[Permission] = Field(min_length=1)
    principals: list[Principal] = Field(min_length=1)
    condition: dict[str, Any] | None = None
    checked_condition: dict[str, Any] | None = None
    cel_config: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one(self) -> Policy:
        self._exactly_one("condition", "checked_condition", required=False)
        return self


class RBACRules(EnvoyModel):
    """``envoy.config.rbac.v3.RBAC``: ``ALLOW`` lets only matching requests through,
    ``DENY`` stops matching requests (403), ``LOG`` only marks them for access logs.
    Policies are evaluated in the lexicographic order of their names."""

    action: Literal["ALLOW", "DENY", "LOG"] | None = None
    policies: dict[str, Policy] | None = None
    audit_logging_options: dict[str, Any] | None = None


class RBAC(TypedConfig):
    """The RBAC HTTP filter: enforced ``rules`` and optional ``shadow_rules`` (stats and logs
    only). With ``rules`` absent nothing is enforced; present and empty denies all."""

    type_url = "envoy.extensions.filters.http.rbac.v3.RBAC"
    filter_name: ClassVar[str] = "envoy.filters.http.rbac"

    rules: RBACRules | None = None
    rules_stat_prefix: str | None = None
    matcher: dict[str, Any] | None = None
    shadow_rules: RBACRules | None = None
    shadow_matcher: dict[str, Any] | None = None
    shadow_rules_stat_prefix: str | None = None
    track_per_rule_stats: bool | None = None


class RBACPerRoute(TypedConfig):
    """Per-route RBAC (``typed_per_filter_config``): ``rbac`` replaces the filter's config;
    absent, RBAC is disabled for the route."""

    type_url = "envoy.extensions.filters.http.rbac.v3.RBACPerRoute"
    filter_name: ClassVar[str] = "envoy.filters.http.rbac"

    rbac: RBAC | None = None

    @field_validator("rbac", mode="before")
    @classmethod
    def _inner_untyped(cls, value: Any) -> Any:
        # the inner RBAC is a plain message here: accept it with or without an @type
        if isinstance(value, dict):
            return {k: v for k, v in value.items() if k != "@type"}
        return value

    @model_serializer(mode="wrap")
    def _add_type(self, handler: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        # overrides TypedConfig's: the inner ``rbac`` is a plain message (no ``@type``)
        body = handler(self)
        if isinstance(body.get("rbac"), dict):
            body["rbac"] = {k: v for k, v in body["rbac"].items() if k != "@type"}
        return {"@type": TYPE_PREFIX + self.type_url, **body}


for _model in (PermissionSet, Permission, PrincipalSet, Principal):
    _model.model_rebuild()
