"""tokenkeep: personal access tokens done right.

>>> import tokenkeep
>>> with tokenkeep.TokenStore("tokens.db") as store:
...     issued = store.create(owner="alice", name="ci-deploy", scopes={"device", "policy"})
...     info = store.verify(issued.secret, "device:read")
"""

from . import errors
from ._version import __version__  # noqa: F401
from .clock import ManualClock
from .errors import *  # noqa: F403  (the error classes; first: _core looks them up at import)
from .models import AuditEvent, IssuedToken, RecentClient, TokenInfo
from .store import TokenStore, default_db_path

__all__ = [
    "TokenStore",
    "TokenInfo",
    "IssuedToken",
    "AuditEvent",
    "RecentClient",
    "ManualClock",
    "default_db_path",
]
__all__ += errors.__all__  # errors.py is the one list of error classes
