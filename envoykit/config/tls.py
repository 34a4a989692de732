"""TLS: ``envoy.extensions.transport_sockets.tls.v3`` contexts, certificates and secrets."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from envoykit.config._base import Duration, EnvoyModel, Resource, TypedConfig
from envoykit.config.core import (
    ConfigSource,
    DataSource,
    StringMatcher,
    TransportSocket,
    WatchedDirectory,
)

__all__ = [
    "INTERMEDIATE_CIPHERS",
    "CertificateValidationContext",
    "CommonTlsContext",
    "DownstreamTlsContext",
    "GenericSecret",
    "SdsSecretConfig",
    "Secret",
    "SubjectAltNameMatcher",
    "TlsCertificate",
    "TlsParameters",
    "UpstreamTlsContext",
    "tls_transport_socket",
]

TlsVersion = Literal["TLS_AUTO", "TLSv1_0", "TLSv1_1", "TLSv1_2", "TLSv1_3"]

INTERMEDIATE_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
)
"""Mozilla "intermediate" TLS 1.2 cipher suites (TLS 1.3 suites are not configurable)."""


class TlsParameters(EnvoyModel):
    """Protocol versions, cipher suites and curves."""

    tls_minimum_protocol_version: TlsVersion | None = None
    tls_maximum_protocol_version: TlsVersion | None = None
    cipher_suites: list[str] | None = None
    ecdh_curves: list[str] | None = None
    signature_algorithms: list[str] | None = None


class TlsCertificate(EnvoyModel):
    """A certificate chain and its private key (files or inline)."""

    certificate_chain: DataSource | None = None
    private_key: DataSource | None = None
    password: DataSource | None = None
    watched_directory: WatchedDirectory | None = None
    ocsp_staple: DataSource | None = None

    @classmethod
    def from_files(cls, cert: str, key: str) -> TlsCertificate:
        """``TlsCertificate.from_files("a.pem", "a.key")``."""
        return cls(certificate_chain=DataSource(filename=cert),
                   private_key=DataSource(filename=key))


class SubjectAltNameMatcher(EnvoyModel):
    """Match a peer certificate's SAN of one type."""

    san_type: Literal["DNS", "EMAIL", "URI", "IP_ADDRESS", "OTHER_NAME"]
    matcher: StringMatcher
    oid: str | None = None


class CertificateValidationContext(EnvoyModel):
    """How to verify the peer: trusted CA, SAN matchers, pins, CRL."""

    trusted_ca: DataSource | None = None
    watched_directory: WatchedDirectory | None = None
    match_typed_subject_alt_names: list[SubjectAltNameMatcher] | None = None
    verify_certificate_spki: list[str] | None = None
    verify_certificate_hash: list[str] | None = None
    crl: DataSource | None = None
    allow_expired_certificate: bool | None = None
    trust_chain_verification: Literal["VERIFY_TRUST_CHAIN", "ACCEPT_UNTRUSTED"] | None = None
    only_verify_leaf_cert_crl: bool | None = None


class SdsSecretConfig(EnvoyModel):
    """A secret by name, delivered by SDS (e.g. from a file)."""

    name: str = Field(min_length=1)
    sds_config: ConfigSource | None = None


class CommonTlsContext(EnvoyModel):
    """What downstream and upstream TLS share."""

    tls_params: TlsParameters | None = None
    tls_certificates: list[TlsCertificate] | None = None
    tls_certificate_sds_secret_configs: list[SdsSecretConfig] | None = None
    validation_context: CertificateValidationContext | None = None
    validation_context_sds_secret_config: SdsSecretConfig | None = None
    alpn_protocols: list[str] | None = None


class DownstreamTlsContext(TypedConfig):
    """TLS towards clients (on a listener's filter chain)."""

    type_url = "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"

    common_tls_context: CommonTlsContext | None = None
    require_client_certificate: bool | None = None
    require_sni: bool | None = None
    session_timeout: Duration | None = None
    disable_stateless_session_resumption: bool | None = None
    full_scan_certs_on_sni_mismatch: bool | None = None


class UpstreamTlsContext(TypedConfig):
    """TLS towards upstream hosts (on a cluster)."""

    type_url = "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"

    common_tls_context: CommonTlsContext | None = None
    sni: str | None = None
    allow_renegotiation: bool | None = None
    max_session_keys: int | None = Field(default=None, ge=0)


class GenericSecret(EnvoyModel):
    """An opaque secret (e.g. an OAuth2 client secret or HMAC key)."""

    secret: DataSource


class Secret(Resource):
    """A named secret: a certificate, a validation context or a generic secret.

    Untyped in ``static_resources.secrets``; an SDS file resource with ``to_resource()``."""

    type_url = "envoy.extensions.transport_sockets.tls.v3.Secret"

    name: str = Field(min_length=1)
    tls_certificate: TlsCertificate | None = None
    validation_context: CertificateValidationContext | None = None
    generic_secret: GenericSecret | None = None


def tls_transport_socket(context: DownstreamTlsContext | UpstreamTlsContext) -> TransportSocket:
    """Wrap a TLS context in the ``envoy.transport_sockets.tls`` transport socket."""
    return TransportSocket(name="envoy.transport_sockets.tls", typed_config=context)
