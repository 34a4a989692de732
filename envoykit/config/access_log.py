"""Access logs: ``envoy.config.accesslog.v3`` and the stream/file loggers."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from envoykit.config._base import EnvoyModel, Typed, TypedConfig
from envoykit.config.core import DataSource

__all__ = [
    "DEFAULT_JSON_LOG_FORMAT",
    "AccessLog",
    "FileAccessLog",
    "StderrAccessLog",
    "StdoutAccessLog",
    "SubstitutionFormatString",
]

DEFAULT_JSON_LOG_FORMAT: dict[str, str] = {
    "start_time": "%START_TIME%",
    "method": "%REQ(:METHOD)%",
    "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
    "protocol": "%PROTOCOL%",
    "authority": "%REQ(:AUTHORITY)%",
    "status": "%RESPONSE_CODE%",
    "flags": "%RESPONSE_FLAGS%",
    "bytes_received": "%BYTES_RECEIVED%",
    "bytes_sent": "%BYTES_SENT%",
    "duration_ms": "%DURATION%",
    "upstream_host": "%UPSTREAM_HOST%",
    "upstream_cluster": "%UPSTREAM_CLUSTER%",
    "client": "%DOWNSTREAM_REMOTE_ADDRESS%",
    "request_id": "%REQ(X-REQUEST-ID)%",
    "user_agent": "%REQ(USER-AGENT)%",
}
"""The JSON access log fields envoykit uses by default."""


class SubstitutionFormatString(EnvoyModel):
    """A log line format: text or JSON with ``%COMMAND%`` operators."""

    text_format_source: DataSource | None = None
    json_format: dict[str, Any] | None = None
    omit_empty_values: bool | None = None
    content_type: str | None = None

    @classmethod
    def json_fields(cls, fields: dict[str, Any] | None = None) -> SubstitutionFormatString:
        """A JSON log line with ``fields`` (default :data:`DEFAULT_JSON_LOG_FORMAT`)."""
        return cls(json_format=dict(fields or DEFAULT_JSON_LOG_FORMAT))

    @classmethod
    def text_line(cls, line: str) -> SubstitutionFormatString:
        """A text log line, e.g. ``"[%START_TIME%] %REQ(:PATH)%\\n"``."""
        return cls(text_format_source=DataSource(inline_string=line))


class StdoutAccessLog(TypedConfig):
    """Log to envoy's stdout."""

    type_url = "envoy.extensions.access_loggers.stream.v3.StdoutAccessLog"
    log_format: SubstitutionFormatString | None = None


class StderrAccessLog(TypedConfig):
    """Log to envoy's stderr."""

    type_url = "envoy.extensions.access_loggers.stream.v3.StderrAccessLog"
    log_format: SubstitutionFormatString | None = None


class FileAccessLog(TypedConfig):
    """Log to a file."""

    type_url = "envoy.extensions.access_loggers.file.v3.FileAccessLog"
    path: str = Field(min_length=1)
    log_format: SubstitutionFormatString | None = None


class AccessLog(EnvoyModel):
    """One access logger on an HTTP connection manager, listener or admin."""

    name: str
    filter: dict[str, Any] | None = None
    typed_config: Typed | None = None

    @classmethod
    def stdout(cls, log_format: SubstitutionFormatString | None = None) -> AccessLog:
        """``AccessLog.stdout(SubstitutionFormatString.json_fields())``."""
        return cls(name="envoy.access_loggers.stdout",
                   typed_config=StdoutAccessLog(log_format=log_format))

    @classmethod
    def file(cls, path: str, log_format: SubstitutionFormatString | None = None) -> AccessLog:
        """``AccessLog.file("/var/log/envoy/access.log")``."""
        return cls(name="envoy.access_loggers.file",
                   typed_config=FileAccessLog(path=path, log_format=log_format))
