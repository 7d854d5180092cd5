"""tokenkeep for Django and Django REST framework.

>>> INSTALLED_APPS += ["tokenkeep.django"]
>>> TOKENKEEP = {"DB": BASE_DIR / "tokens.db"}
>>> REST_FRAMEWORK = {
...     "DEFAULT_AUTHENTICATION_CLASSES": ["tokenkeep.django.TokenAuthentication"],
...     "EXCEPTION_HANDLER": "tokenkeep.django.exception_handler",
... }
>>> from tokenkeep.django import HasScopes, require_token, get_store

Names are imported on first use, so ``import tokenkeep.django`` needs neither configured
settings nor DRF (``require_token`` and ``get_store`` work without DRF).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "BearerFailed",
    "HasScopes",
    "TokenAuthentication",
    "TokenUser",
    "exception_handler",
    "get_store",
    "require_token",
    "user_changed",
    "user_for_owner",
]

_WHERE = {
    "BearerFailed": "exceptions",
    "HasScopes": "permissions",
    "TokenAuthentication": "authentication",
    "TokenUser": "users",
    "exception_handler": "exceptions",
    "get_store": "store",
    "require_token": "decorators",
    "user_changed": "lifecycle",
    "user_for_owner": "identity",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'tokenkeep.django' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted([*globals(), *__all__])
