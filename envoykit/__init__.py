"""envoykit: configure, run and test Envoy from Python.

The public API is what this module exports, listed once in ``__init__.pyi`` (name → module);
everything else is private. Names are imported on first use, so ``import envoykit`` (and the
pytest plugin) stays cheap. The typed Envoy resources live in :mod:`envoykit.config`.
"""

from envoykit._util import lazy_exports

__version__ = "0.1.0"

# old name → new name: still served, with a DeprecationWarning (not in __all__)
_RENAMED = {"ValidationError": "EnvoyValidationError"}

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__, _RENAMED)
