"""Dynamic configuration from the filesystem (file xDS), and ``apply()`` on a live proxy.

    from envoykit.xds import DynamicProxy

    with DynamicProxy(edge.build()) as proxy:      # listeners, routes, clusters, endpoints
        report = proxy.apply(new_edge.build())     # and certificates served from files
        print(report)                              # what changed, how, how long

Lower-level pieces: :func:`to_dynamic` (split a static config into a bootstrap and
resource files), :func:`compute_changes` (what differs, in what order to write it),
:func:`write_atomic` (temp file + rename, fsync optional). See ``docs/dynamic.md``.
"""

from envoykit._util import write_atomic
from envoykit.errors import XdsUpdateRejected
from envoykit.xds._changes import ChangeSet, ResourceChange, compute_changes
from envoykit.xds._confirm import Confirmer, Counts
from envoykit.xds._files import XdsFile, config_source
from envoykit.xds._proxy import AsyncDynamicProxy, DynamicProxy, ValidateMode, apply
from envoykit.xds._report import ApplyReport, Step
from envoykit.xds._split import KINDS, DynamicConfig, SourceFor, split_resources, to_dynamic

__all__ = [
    "KINDS",
    "ApplyReport",
    "AsyncDynamicProxy",
    "ChangeSet",
    "Confirmer",
    "Counts",
    "DynamicConfig",
    "DynamicProxy",
    "ResourceChange",
    "SourceFor",
    "Step",
    "ValidateMode",
    "XdsFile",
    "XdsUpdateRejected",
    "apply",
    "compute_changes",
    "config_source",
    "split_resources",
    "to_dynamic",
    "write_atomic",
]
