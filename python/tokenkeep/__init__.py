"""tokenkeep: personal access tokens done right.

>>> import tokenkeep
>>> with tokenkeep.TokenStore("tokens.db") as store:
...     issued = store.create(owner="alice", name="ci-deploy", scopes={"device", "policy"})
...     info = store.verify(issued.secret, "device:read")
"""

from ._version import __version__  # noqa: F401
from .clock import ManualClock
from .errors import (  # noqa: F401  (errors first: _core raises these classes)
    AuthenticationError,
    ExpiredToken,
    InsufficientScope,
    InvalidArgument,
    InvalidToken,
    NameTaken,
    NotFound,
    PermissionDenied,
    RevokedToken,
    StoreError,
    TokenkeepError,
    UnknownScope,
)
from .models import AuditEvent, IssuedToken, TokenInfo
from .store import TokenStore, default_db_path

__all__ = [
    "TokenStore",
    "TokenInfo",
    "IssuedToken",
    "AuditEvent",
    "ManualClock",
    "default_db_path",
    "TokenkeepError",
    "AuthenticationError",
    "InvalidToken",
    "ExpiredToken",
    "RevokedToken",
    "PermissionDenied",
    "InsufficientScope",
    "NotFound",
    "NameTaken",
    "UnknownScope",
    "InvalidArgument",
    "StoreError",
]
