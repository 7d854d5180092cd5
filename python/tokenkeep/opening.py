"""Opening and closing a :class:`TokenStore`: where the default database lives, how a store
spelling is read and shown (passwords redacted), the constructor's argument checks, the
engine it opens, and the properties and lifecycle (close, context manager, repr) of an open
store. The rules of each value are the engine's; this module checks Python types only."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Self

from . import _core
from ._args import IPAddress, Vocabulary, _text, _vocabulary
from ._time import duration_us
from .clock import ManualClock
from .errors import InvalidArgument, StoreError, TokenkeepError, with_field

if TYPE_CHECKING:
    from .models import TokenInfo

__all__ = ["StoreOpening", "default_db_path", "store_location_kind"]


def default_db_path() -> str:
    """The embedded default database: ``$TOKENKEEP_DB``, else ``~/.local/share/tokenkeep/tokens.db``."""
    return os.environ.get("TOKENKEEP_DB") or _builtin_db_path()


def _builtin_db_path() -> str:
    """``$XDG_DATA_HOME/tokenkeep/tokens.db`` (XDG default ``~/.local/share``): the one location
    whose folder a store creates by itself, so that a first-time user needs no setup."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return os.path.join(base, "tokenkeep", "tokens.db")


def store_location_kind(spec: str) -> str:
    """``"memory"``, ``"file"`` or ``"url"`` (PostgreSQL): the engine's reading of a store spelling."""
    return _core.store_location_kind(spec)


def _redacted(spec: str) -> str:
    """`spec` with any password in a PostgreSQL URL or conninfo replaced, for reprs."""
    if "://" in spec:
        scheme, _, rest = spec.partition("://")
        auth, at, host = rest.rpartition("@")
        if at and ":" in auth:
            rest = f"{auth.partition(':')[0]}:***@{host}"
        return re.sub(r"([?&]password=)[^&]*", r"\1***", f"{scheme}://{rest}")
    return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)", r"\1***", spec)


class StoreOpening:
    """Mixed into :class:`TokenStore`: its constructor (documented on the class), lifecycle
    and properties. ``verify``/``check`` are bound per instance to the native verifier."""

    if TYPE_CHECKING:

        def verify(
            self, secret: str | bytes, *scopes: str, client: str | IPAddress | None = None
        ) -> TokenInfo: ...

        def check(
            self, secret: str | bytes, *scopes: str, client: str | IPAddress | None = None
        ) -> bool: ...

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        prefix: str | None = None,
        vocabulary: Vocabulary | None = None,
        default_lifetime: timedelta = timedelta(days=30),
        max_lifetime: timedelta | None = timedelta(days=365),
        allow_never_expire: bool = False,
        busy_timeout: float = 5.0,
        read_only: bool = False,
        pepper: str | None = None,
        previous_peppers: Sequence[str] = (),
        clock: ManualClock | None = None,
        cache_size: int = 100_000,
        create_dirs: bool | None = None,
        consistency: str = "strict",
        lease: float = 2.0,
        relay: bool = True,
        runtime_dir: str | os.PathLike[str] | None = None,
        pool_size: int = 4,
        pool_idle: float = 5.0,
        relay_url: str | None = None,
        prepared_statements: bool = True,
        warm_start: bool = True,
    ) -> None:
        self._engine = None
        self._fast = None
        self.path = _text(os.fspath(path), "path") if path is not None else default_db_path()
        if clock is not None and not isinstance(clock, ManualClock):
            raise InvalidArgument("clock must be a tokenkeep.ManualClock")
        # Checked here so that a wrong type never reaches the binding, whose TypeError would
        # echo the arguments (and with them the pepper).
        if pepper is not None and not isinstance(pepper, str):
            raise InvalidArgument("pepper must be a string of 64 hexadecimal characters")
        previous_peppers = list(previous_peppers)
        if not all(isinstance(p, str) for p in previous_peppers):
            raise InvalidArgument("previous_peppers must be strings of 64 hexadecimal characters")
        if prefix is not None and not isinstance(prefix, str):
            raise InvalidArgument("prefix must be a string")
        if (
            not isinstance(cache_size, int)
            or isinstance(cache_size, bool)
            or not 0 <= cache_size <= 10**9
        ):
            raise InvalidArgument("cache_size must be an int from 0 to 1,000,000,000")
        if (
            not isinstance(busy_timeout, (int, float))
            or isinstance(busy_timeout, bool)
            or not 0 <= busy_timeout <= 86_400  # also rejects nan and inf
        ):
            raise InvalidArgument("busy_timeout must be a number of seconds from 0 to 86400")
        if consistency not in ("strict", "bounded"):
            raise InvalidArgument('consistency must be "strict" or "bounded"')
        # Its type only: the range is the engine's check (InvalidArgument, field "lease").
        if not isinstance(lease, (int, float)) or isinstance(lease, bool):
            raise with_field(InvalidArgument("lease must be a number of seconds"), "lease")
        if not isinstance(relay, bool):
            raise InvalidArgument("relay must be True or False")
        if runtime_dir is not None:
            if not isinstance(runtime_dir, (str, os.PathLike)):
                raise with_field(
                    InvalidArgument("runtime_dir must be a folder's path"), "runtime_dir"
                )
            runtime_dir = _text(os.fspath(runtime_dir), "runtime_dir")
        # Their types only: the ranges are the engine's check (fields "pool_size", "pool_idle").
        if not isinstance(pool_size, int) or isinstance(pool_size, bool):
            raise with_field(
                InvalidArgument("pool_size must be a number of connections"), "pool_size"
            )
        if not isinstance(pool_idle, (int, float)) or isinstance(pool_idle, bool):
            raise with_field(InvalidArgument("pool_idle must be a number of seconds"), "pool_idle")
        if relay_url is not None and not isinstance(relay_url, str):
            raise with_field(InvalidArgument("relay_url must be a string"), "relay_url")
        max_us = 0 if max_lifetime is None else duration_us(max_lifetime, "max_lifetime")
        if max_lifetime is not None and max_us <= 0:
            raise InvalidArgument("max_lifetime must be positive (or None for no cap)")
        options: dict[str, Any] = {
            "prefix": prefix,
            "vocabulary": _vocabulary(vocabulary),
            "default_lifetime_us": duration_us(default_lifetime, "default_lifetime"),
            "max_lifetime_us": max_us,
            "allow_never_expire": bool(allow_never_expire),
            "busy_timeout_ms": int(busy_timeout * 1000),
            "read_only": bool(read_only),
            "pepper_hex": pepper,
            "previous_peppers_hex": previous_peppers,
            "clock": None if clock is None else clock._native,
            "cache_capacity": cache_size,
            "create_dirs": bool(create_dirs)
            if create_dirs is not None
            else self.path == _builtin_db_path(),
            "strict": consistency == "strict",
            "lease_seconds": float(lease),
            "relay": relay,
            "runtime_dir": runtime_dir,
            "pool_size": pool_size if -(2**31) < pool_size < 2**31 else 0,
            "pool_idle_seconds": float(pool_idle),
            "listen_conninfo": relay_url or "",
            "prepared_statements": bool(prepared_statements),
            "warm_start": bool(warm_start),
        }
        # Backstop: a binding TypeError would list every argument, the pepper included. Raise
        # outside the except block, so that the original is not even kept as __context__.
        rejected = False
        try:
            self._engine = _core.Engine(self.path, **options)
        except TokenkeepError:
            raise
        except (TypeError, OverflowError, ValueError):
            rejected = True
        del options
        if rejected:
            raise InvalidArgument(
                "invalid TokenStore arguments (a value of the wrong type or out of range)"
            )
        self._max_lifetime = max_lifetime
        self._allows_never_expire = bool(allow_never_expire)
        # The hot path: verify/check are the native Verifier's own methods, bound on the
        # instance (they shadow the documented methods below, which call the same thing).
        self._fast = _core.verifier_new(self._e, max(1024, min(cache_size, 65_536)))
        self.verify = self._fast.verify  # type: ignore[method-assign, assignment]
        self.check = self._fast.check  # type: ignore[method-assign, assignment]

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Persist recorded uses and close the database. Further calls raise :class:`StoreError`."""
        self._engine = None
        if self._fast is not None:
            self._fast.close()  # also for anyone still holding store.verify
            self._fast = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._engine is None else "open"
        return f"TokenStore({_redacted(self.path)!r}, {state})"

    @property
    def _e(self) -> _core.Engine:
        e = self._engine
        if e is None:
            raise StoreError("the token store is closed")
        return e

    @property
    def max_lifetime(self) -> timedelta | None:
        """The longest lifetime a new token may have (None: no cap)."""
        return self._max_lifetime

    @property
    def allows_never_expire(self) -> bool:
        """Whether ``create(..., never_expires=True)`` is allowed (``allow_never_expire``)."""
        return self._allows_never_expire

    @property
    def prefix(self) -> str:
        """The prefix of this store's tokens (``tk`` by default)."""
        return self._e.prefix

    @property
    def vocabulary(self) -> Mapping[str, tuple[str, ...]]:
        """The scope vocabulary: name -> actions, e.g. ``{"device": ("read", "write"), ...}``."""
        return {name: tuple(actions) for name, actions in self._e.vocabulary}

    def now(self) -> datetime:
        """The store's current time (its clock), aware UTC."""
        from ._time import from_us

        return from_us(self._e.now_us())

    def _subkey(self, context: str) -> bytes:
        """A 32-byte key derived from this store's pepper for ``context`` (1-8 characters),
        the same in every process and restart that shares the pepper. For tokenkeep's own
        surfaces (the admin page signs its CSRF tokens with ``_subkey("csrf")``); never log it."""
        return self._e.subkey(context)
