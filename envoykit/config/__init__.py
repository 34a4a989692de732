"""Typed Envoy v3 config: pydantic models with Envoy's own field names.

Everything here renders to the exact JSON/YAML envoy reads. Any extension envoykit does not
model can be given as a dict with its ``@type`` (kept verbatim as :class:`RawConfig`).
"""

from typing import TYPE_CHECKING

from envoykit._util import deprecated_aliases
from envoykit.config import (
    _base,
    access_log,
    bootstrap,
    cluster,
    core,
    http,
    listener,
    route,
    tls,
)
from envoykit.config._base import *  # noqa: F403
from envoykit.config.access_log import *  # noqa: F403
from envoykit.config.bootstrap import *  # noqa: F403
from envoykit.config.cluster import *  # noqa: F403
from envoykit.config.core import *  # noqa: F403
from envoykit.config.filters import _common as _filters_common
from envoykit.config.filters import cors as _cors
from envoykit.config.filters import jwt as _jwt
from envoykit.config.filters import local_ratelimit as _local_ratelimit
from envoykit.config.filters import oauth2 as _oauth2
from envoykit.config.filters import rbac as _rbac
from envoykit.config.filters import router as _router
from envoykit.config.filters._common import *  # noqa: F403
from envoykit.config.filters.cors import *  # noqa: F403
from envoykit.config.filters.jwt import *  # noqa: F403
from envoykit.config.filters.local_ratelimit import *  # noqa: F403
from envoykit.config.filters.oauth2 import *  # noqa: F403
from envoykit.config.filters.rbac import *  # noqa: F403
from envoykit.config.filters.router import *  # noqa: F403
from envoykit.config.http import *  # noqa: F403
from envoykit.config.listener import *  # noqa: F403
from envoykit.config.route import *  # noqa: F403
from envoykit.config.tls import *  # noqa: F403
from envoykit.errors import ModelError as ModelError

# each module's own __all__ is the list of what it exports
__all__ = sorted(
    _base.__all__ + access_log.__all__ + bootstrap.__all__ + cluster.__all__ + core.__all__
    + http.__all__ + listener.__all__ + route.__all__ + tls.__all__
    + _filters_common.__all__ + _cors.__all__ + _jwt.__all__ + _local_ratelimit.__all__
    + _oauth2.__all__ + _rbac.__all__ + _router.__all__
    + ["ModelError"]
)

if TYPE_CHECKING:
    RateLimit = RouteRateLimit  # deprecated  # noqa: F405
else:
    __getattr__ = deprecated_aliases(__name__, {"RateLimit": "RouteRateLimit"})
