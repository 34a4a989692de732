"""Private helpers of the ``envoykit`` command (see :mod:`envoykit.cli`)."""
