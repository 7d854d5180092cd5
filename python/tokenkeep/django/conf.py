"""``settings.TOKENKEEP``: read once, checked, and read again when a test overrides it.

>>> TOKENKEEP = {
...     "DB": BASE_DIR / "tokens.db",        # required: a file, or a postgresql:// URL
...     "VOCABULARY": ["device", "policy"],  # optional, as TokenStore(vocabulary=...)
...     "REALM": "api",                      # optional: WWW-Authenticate: Bearer realm="api"
...     "USER": "myapp.auth.user_for_owner", # optional: owner -> user (dotted path or callable)
...     "USER_CACHE": 60,                    # optional: seconds (0: off); see django/user_cache.py
...     "TITLE": "Acme",                     # optional: the Access Token page's title
...     "TEMPLATE_DIRS": [BASE_DIR / "tokenkeep_templates"],  # optional: searched first
...     "SCOPE_DESCRIPTIONS": {"device": "Read and manage devices"},  # optional: the page's words
...     "BASE_TEMPLATE": "base.html",        # optional: the site's layout the tab extends
...     "BASE_BLOCK": "content",             # optional: the block of it the tab fills
...     "TRUSTED_PROXIES": ["10.0.0.0/8"],   # optional: proxies whose X-Forwarded-For counts
...     "PROXY_HEADER": "X-Forwarded-For",   # optional: or "Forwarded" (RFC 7239)
... }

Every other key is a :class:`~tokenkeep.TokenStore` argument in capitals (``PEPPER``,
``PREVIOUS_PEPPERS``, ``PREFIX``, ``DEFAULT_LIFETIME``, ``MAX_LIFETIME``,
``ALLOW_NEVER_EXPIRE``, ``CACHE_SIZE``, ``BUSY_TIMEOUT``, ``CREATE_DIRS``, ``CONSISTENCY``,
``LEASE``; ``CLOCK`` takes a :class:`~tokenkeep.ManualClock`, for tests). An unknown key is
:class:`~django.core.exceptions.ImproperlyConfigured`, so that a typo is not silently ignored.
No message here ever shows a value (the pepper is one of them).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from ..errors import InvalidArgument
from ..web.client_address import X_FORWARDED_FOR, TrustedProxies

__all__ = ["TokenkeepSettings", "tokenkeep_settings"]

# settings.TOKENKEEP key -> TokenStore keyword argument.
_STORE_KEYS = {
    "DB": "path",
    "PEPPER": "pepper",
    "PREVIOUS_PEPPERS": "previous_peppers",
    "PREFIX": "prefix",
    "VOCABULARY": "vocabulary",
    "DEFAULT_LIFETIME": "default_lifetime",
    "MAX_LIFETIME": "max_lifetime",
    "ALLOW_NEVER_EXPIRE": "allow_never_expire",
    "CACHE_SIZE": "cache_size",
    "BUSY_TIMEOUT": "busy_timeout",
    "CREATE_DIRS": "create_dirs",
    "CONSISTENCY": "consistency",
    "LEASE": "lease",
    "CLOCK": "clock",
}
_OWN_KEYS = (
    "REALM",
    "USER",
    "USER_CACHE",
    "TITLE",
    "TEMPLATE_DIRS",
    "SCOPE_DESCRIPTIONS",
    "BASE_TEMPLATE",
    "BASE_BLOCK",
    "TRUSTED_PROXIES",
    "PROXY_HEADER",
)


@dataclass(frozen=True)
class TokenkeepSettings:
    """``settings.TOKENKEEP`` once checked: the store's arguments, the challenge's realm,
    the owner -> user function (None: the user whose username is the owner), and the Access
    Token page's title and template folders (searched before tokenkeep's own), and the
    reverse proxies whose forwarding header names a request's client (none: the peer)."""

    store_options: Mapping[str, Any] = field(repr=False)  # holds the pepper: never shown
    realm: str | None
    user: Callable[[str], Any] | None
    user_cache: float = 60.0  # seconds the default mapping's user is kept at most (0: off)
    title: str = "tokenkeep"
    template_dirs: tuple[str, ...] = ()
    scope_descriptions: Mapping[str, str] = field(default_factory=dict)
    base_template: str = "base.html"  # "" : tokenkeep's own layout
    base_block: str = "content"
    trusted_proxies: TrustedProxies = field(default_factory=TrustedProxies)

    @property
    def db(self) -> str:
        return self.store_options["path"]


_lock = threading.Lock()
_cached: TokenkeepSettings | None = None


def tokenkeep_settings() -> TokenkeepSettings:
    """The checked ``settings.TOKENKEEP`` (ImproperlyConfigured if it is missing or wrong)."""
    global _cached
    current = _cached
    if current is None:
        with _lock:
            if _cached is None:
                _cached = _load()
            current = _cached
    return current


def _load() -> TokenkeepSettings:
    raw = getattr(settings, "TOKENKEEP", None)
    if not isinstance(raw, Mapping):
        raise ImproperlyConfigured(
            'settings.TOKENKEEP must be a dict with at least "DB" (the token database file, '
            "or a postgresql:// URL)"
        )
    unknown = sorted(str(k) for k in raw if k not in _STORE_KEYS and k not in _OWN_KEYS)
    if unknown:
        known = ", ".join(sorted([*_STORE_KEYS, *_OWN_KEYS]))
        raise ImproperlyConfigured(
            f"settings.TOKENKEEP: unknown key(s) {', '.join(unknown)} (known: {known})"
        )
    if raw.get("DB") in (None, ""):
        raise ImproperlyConfigured(
            'settings.TOKENKEEP["DB"] is required: the token database file or URL'
        )
    options: dict[str, Any] = {_STORE_KEYS[k]: v for k, v in raw.items() if k in _STORE_KEYS}
    try:
        options["path"] = os.fspath(options["path"])
    except TypeError:
        raise ImproperlyConfigured('settings.TOKENKEEP["DB"] must be a path or a string') from None
    realm = raw.get("REALM")
    if realm is not None and (not isinstance(realm, str) or not realm.isprintable()):
        raise ImproperlyConfigured('settings.TOKENKEEP["REALM"] must be printable text')
    title = raw.get("TITLE", "tokenkeep")
    if not isinstance(title, str) or not title.strip():
        raise ImproperlyConfigured('settings.TOKENKEEP["TITLE"] must be a non-empty string')
    dirs = raw.get("TEMPLATE_DIRS", ())
    try:
        template_dirs = tuple(
            os.fspath(d) for d in ([dirs] if isinstance(dirs, (str, os.PathLike)) else dirs)
        )
    except TypeError:
        raise ImproperlyConfigured(
            'settings.TOKENKEEP["TEMPLATE_DIRS"] must be a list of folders'
        ) from None
    words = raw.get("SCOPE_DESCRIPTIONS") or {}
    if not isinstance(words, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in words.items()
    ):
        raise ImproperlyConfigured(
            'settings.TOKENKEEP["SCOPE_DESCRIPTIONS"] must map a scope to its description'
        )
    user_cache = raw.get("USER_CACHE", 60)
    if (
        not isinstance(user_cache, (int, float))
        or isinstance(user_cache, bool)
        or not 0 <= user_cache <= 86400
    ):
        raise ImproperlyConfigured(
            'settings.TOKENKEEP["USER_CACHE"] must be a number of seconds from 0 (off) to 86400'
        )
    base = raw.get("BASE_TEMPLATE", "base.html")
    if base is None:
        base = ""
    block = raw.get("BASE_BLOCK", "content")
    if not isinstance(base, str):
        raise ImproperlyConfigured('settings.TOKENKEEP["BASE_TEMPLATE"] must be a template name')
    if not isinstance(block, str) or not block.isidentifier():
        raise ImproperlyConfigured('settings.TOKENKEEP["BASE_BLOCK"] must be a block name')
    try:
        proxies = TrustedProxies(
            raw.get("TRUSTED_PROXIES") or (), header=raw.get("PROXY_HEADER") or X_FORWARDED_FOR
        )
    except InvalidArgument as e:
        key = "PROXY_HEADER" if e.field == "proxy_header" else "TRUSTED_PROXIES"
        raise ImproperlyConfigured(f'settings.TOKENKEEP["{key}"]: {e}') from None
    return TokenkeepSettings(
        store_options=options,
        trusted_proxies=proxies,
        scope_descriptions=dict(words),
        base_template=base,
        base_block=block,
        realm=realm or None,
        user=_user_function(raw.get("USER")),
        user_cache=float(user_cache),
        title=title,
        template_dirs=template_dirs,
    )


def _user_function(value: Any) -> Callable[[str], Any] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = import_string(value)
        except ImportError as e:
            raise ImproperlyConfigured(
                f'settings.TOKENKEEP["USER"]: cannot import {value!r} ({e})'
            ) from None
    if not callable(value):
        raise ImproperlyConfigured(
            'settings.TOKENKEEP["USER"] must be a callable owner -> user, or its dotted path'
        )
    return value


def _reset(*, setting: str, **_: Any) -> None:
    """``override_settings(TOKENKEEP=...)`` (and any other change of the setting) takes effect
    on the next request: the checked copy is dropped, and so is the open store."""
    global _cached
    if setting != "TOKENKEEP":
        return
    with _lock:
        _cached = None
    from .store import reset_store
    from .user_cache import forget_users

    reset_store()
    forget_users()


setting_changed.connect(_reset, dispatch_uid="tokenkeep.django.conf.reset")
