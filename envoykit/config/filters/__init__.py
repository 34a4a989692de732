"""HTTP filters, one module per filter, each on the common :class:`TypedConfig` base.

Every filter config (and per-route config) carries its ``type_url`` and ``filter_name``, so it
registers itself (:func:`envoykit.config.registered_types`) and ``HttpFilter.of(config)`` names
it. To add a filter: a new module here with its models, imported below and in
:mod:`envoykit.config`. Field names and sets are Envoy's own (the integration tests compare
each model reached from a registered filter with the envoy binary's compiled schema).
"""

from envoykit.config.filters import (
    _common,
    cors,
    jwt,
    local_ratelimit,
    oauth2,
    rbac,
    router,
)
from envoykit.config.filters._common import *  # noqa: F403
from envoykit.config.filters.cors import *  # noqa: F403
from envoykit.config.filters.jwt import *  # noqa: F403
from envoykit.config.filters.local_ratelimit import *  # noqa: F403
from envoykit.config.filters.oauth2 import *  # noqa: F403
from envoykit.config.filters.rbac import *  # noqa: F403
from envoykit.config.filters.router import *  # noqa: F403

# each module's own __all__ is the list of what it exports
__all__ = (
    _common.__all__ + cors.__all__ + jwt.__all__ + local_ratelimit.__all__ + oauth2.__all__
    + rbac.__all__ + router.__all__
)
