"""Errors of the dynamic-configuration package (defined with the others in envoykit.errors)."""

from envoykit.errors import XdsUpdateRejected

__all__ = ["XdsUpdateRejected"]
