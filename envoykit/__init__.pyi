# The public API of envoykit: this table (name -> module) is the one list of it.
# envoykit/__init__.py loads each name lazily from it (lazy_loader.attach_stub), __all__ is
# its names, type checkers read it as the package's interface, and tests/unit/test_public_api.py
# checks it. Only relative "from .module import Name as Name" lines and deprecated aliases
# (plain assignments, kept out of __all__) belong here.
from .admin import (
    AdminClient as AdminClient,
    AsyncAdminClient as AsyncAdminClient,
    ConfigDump as ConfigDump,
    Histogram as Histogram,
    ServerInfo as ServerInfo,
    StatsSnapshot as StatsSnapshot,
)
from .binary import (
    EnvoyBinary as EnvoyBinary,
    find_envoy as find_envoy,
)
from .builder import (
    Cert as Cert,
    EdgeDefaults as EdgeDefaults,
    EdgeProxy as EdgeProxy,
    RateLimit as RateLimit,
    Site as Site,
    UpstreamTLS as UpstreamTLS,
)
from .config import (
    Bootstrap as Bootstrap,
)
from .diff import (
    ConfigDiff as ConfigDiff,
    diff_configs as diff_configs,
)
from .errors import (
    AdminConnectError as AdminConnectError,
    AdminError as AdminError,
    AdminHTTPError as AdminHTTPError,
    AdminParameterError as AdminParameterError,
    AdminResponseError as AdminResponseError,
    AdminTimeout as AdminTimeout,
    AdminTransportError as AdminTransportError,
    BinaryNotFound as BinaryNotFound,
    ConfigError as ConfigError,
    ConfigLoadError as ConfigLoadError,
    EnvoyValidationError as EnvoyValidationError,
    EnvoykitError as EnvoykitError,
    FleetError as FleetError,
    HotRestartError as HotRestartError,
    Issue as Issue,
    ModelError as ModelError,
    ProcessError as ProcessError,
    ProcessExited as ProcessExited,
    PushRejected as PushRejected,
    PushTimeout as PushTimeout,
    SemanticError as SemanticError,
    StartupError as StartupError,
    XdsUpdateRejected as XdsUpdateRejected,
)
from .fleet import (
    AsyncControlPlane as AsyncControlPlane,
    ControlPlane as ControlPlane,
    fleet_member as fleet_member,
)
from .load import (
    load_bootstrap as load_bootstrap,
)
from .process import (
    AsyncSupervisor as AsyncSupervisor,
    Backoff as Backoff,
    EpochInfo as EpochInfo,
    Supervisor as Supervisor,
    SupervisorEvent as SupervisorEvent,
    SupervisorState as SupervisorState,
)
from .render import (
    to_dict as to_dict,
    to_json as to_json,
    to_yaml as to_yaml,
)
from .validation import (
    check as check,
    validate as validate,
)
from .xds import (
    ApplyReport as ApplyReport,
    AsyncDynamicProxy as AsyncDynamicProxy,
    DynamicProxy as DynamicProxy,
)

__version__: str

# deprecated old names (see _RENAMED in __init__.py): not in __all__, warn when used
ValidationError = EnvoyValidationError
