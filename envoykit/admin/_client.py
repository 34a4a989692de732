"""The two thin drivers: :class:`AdminClient` (httpx.Client) and :class:`AsyncAdminClient`.

``AsyncAdminClient`` is written by hand in ``_async_client.py``; ``AdminClient`` in
``_sync_client.py`` is generated from it by ``scripts/unasync.py``. All endpoint logic
lives in :mod:`envoykit.admin._ops`. ``tests/unit/test_admin_client.py`` checks that both
classes expose the same methods with the same signatures.
"""

from envoykit.admin._async_client import AsyncAdminClient
from envoykit.admin._sync_client import AdminClient

__all__ = ["AdminClient", "AsyncAdminClient"]
