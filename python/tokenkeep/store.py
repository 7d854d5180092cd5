"""TokenStore: issue, list, edit, revoke, rotate and verify personal access tokens."""

from __future__ import annotations

import builtins
import contextlib
import gc
import ipaddress
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from . import _core
from ._time import duration_us, to_us
from .clock import ManualClock
from .errors import InvalidArgument, NotFound, StoreError, TokenkeepError, with_field
from .hygiene import StoreHygiene
from .models import AuditEvent, AuditLog, IssuedToken, TokenInfo, TokenList
from .networks import Networks, StoreNetworks, network_list
from .service_tokens import ServiceTokens, owner_checked

__all__ = ["TokenStore", "default_db_path", "Scopes"]

Scopes = str | Iterable[str]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Vocabulary = Iterable[str] | Mapping[str, Iterable[str]]

# How a create or rotate chooses the expiry: the engine's own enum (engine.h, Expiry::Kind).
_Expiry = _core.ExpiryKind


# The engine returns records as these named tuples, built natively (no Python call per record).
_core.record_types(TokenInfo, IssuedToken)


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Pauses the cyclic garbage collector (bulk calls allocate only acyclic tuples)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


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


def _scope_list(scopes: Scopes, what: str = "scopes") -> list[str]:
    if isinstance(scopes, str):
        return [scopes]
    try:
        out = list(scopes)
    except TypeError:
        raise with_field(
            InvalidArgument(f"{what} must be a string or an iterable of strings"), what
        ) from None
    for s in out:
        _text(s, what)
    return out


def _invalid(message: str, field: str) -> InvalidArgument:
    return with_field(InvalidArgument(message), field)


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise _invalid(f"{what} must be a string", what.replace(" ", "_"))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, e.g. from an undecodable argv or file name
        raise with_field(InvalidArgument(f"{what} must be valid Unicode text"), what) from None
    return value


def _owner(owner: object) -> str:
    """A user's owner name: text, and not in the namespace reserved for service tokens."""
    return _text(owner_checked(owner), "owner")


def _shown(text: str) -> str:
    """``text`` quoted for a message: control and invisible characters escaped, long cut."""
    text = text if len(text) <= 64 else text[:64] + "..."
    return "'" + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text) + "'"


def _not_found(owner: str, token_id: str) -> NotFound:
    """NotFound naming what was looked for. An id is public and shown; anything else (it
    might be a pasted secret) is not."""
    what = (
        f"id {_shown(token_id)}"
        if _core.token_id_valid(token_id)
        else "that id (not a token id; use TokenInfo.id)"
    )
    return with_field(
        NotFound(
            f"no live token with {what} for owner {_shown(owner)} (revoked and other owners' tokens are not found)"
        ),
        "token_id",
    )


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


def _nfc(name: str) -> str:
    """Names are compared in Unicode NFC, so composed and decomposed spellings are one name."""
    return name if name.isascii() else unicodedata.normalize("NFC", name)


def _names_nfc(items: Sequence[Any]) -> Sequence[Any]:
    """The items with NFC names; the same object when every name already is (the usual case)."""
    out = None
    for i, item in enumerate(items):
        if (
            isinstance(item, (tuple, list))
            and item
            and isinstance(item[0], str)
            and not item[0].isascii()
        ):
            name = unicodedata.normalize("NFC", item[0])
            if name != item[0]:
                if out is None:
                    out = list(items)
                out[i] = (name, *item[1:])
    return items if out is None else out


def _vocabulary(v: Vocabulary | None) -> list[tuple[str, list[str]]] | None:
    if v is None:
        return None
    if isinstance(v, Mapping):
        return [(_text(k, "scope name"), _scope_list(a, "actions")) for k, a in v.items()]
    out = []
    for item in _scope_list(v, "vocabulary"):
        name, _, actions = item.partition(":")
        out.append((name, actions.split(",") if actions else ["read", "write"]))
    return out


class TokenStore(StoreHygiene, ServiceTokens, StoreNetworks):
    """A store of personal access tokens, backed by an SQLite database file.

    >>> from datetime import timedelta
    >>> store = TokenStore(":memory:")
    >>> issued = store.create(owner="alice", name="ci-deploy", scopes={"device", "policy"},
    ...                       expires_in=timedelta(days=30))
    >>> store.verify(issued.secret, "device:read").name
    'ci-deploy'

    Arguments (all keyword-only but ``path``):

    - ``path``: the database file (created 0600 if missing; its folder must exist), a
      ``file:`` URI of one, or ``":memory:"`` for tests; None for :func:`default_db_path`.
      Or a PostgreSQL database shared by several hosts: a libpq URL
      (``"postgresql://user@host/db"``) or ``"host=... dbname=..."``; its pepper then comes
      only from ``pepper=`` or ``TOKENKEEP_PEPPER`` (the same on every host).
    - ``consistency`` (PostgreSQL): ``"strict"`` (default): a revoke or scope edit returns
      once every live node has applied it (waiting at most about ``lease``); ``"bounded"``:
      writers never wait, and other nodes follow within ``lease`` seconds.
    - ``lease`` (PostgreSQL, 2.0 s): a node that cannot renew its lease for this long stops
      answering from its cache (verification reads the database, or raises StoreError).
    - ``relay`` (PostgreSQL, True): the processes of one host share one coherence channel:
      one of them (elected; another takes over when it dies) holds the LISTEN connection and
      the host's lease, the others read a shared-memory feed. False: each store listens for
      itself (one more server connection per process).
    - ``runtime_dir`` (PostgreSQL): the folder of the host's shared files; default
      ``$TOKENKEEP_RUNTIME_DIR``, else ``$XDG_RUNTIME_DIR/tokenkeep``, else
      ``/tmp/tokenkeep-<uid>`` (created 0700). Processes share a channel only through it.
    - ``pool_size`` (PostgreSQL, 4): the most server connections this store opens for its
      calls, opened only when needed; a call that finds them all busy waits (at most 5 s,
      then StoreError) rather than opening more. ``pool_idle`` (PostgreSQL, 5.0 s): a
      connection unused this long is closed, so an idle worker holds none (0: close each
      one as soon as its call ends).
    - Behind PgBouncer in transaction mode (PostgreSQL; README, "PostgreSQL"): ``path`` is
      PgBouncer's URL and ``relay_url`` the server's own, same database and schema, for the
      one session that LISTENs (the host's relay, or with ``relay=False`` each store's
      listener); ``prepared_statements=False`` for PgBouncer before 1.21, which cannot carry
      named prepared statements across transactions.
    - ``create_dirs``: create the database's missing folders (mode 0700). Default: only for
      the built-in default location ``~/.local/share/tokenkeep/``; anywhere else a missing
      folder is a :class:`StoreError` naming the path (a mistyped path must not become a new
      store). A failed open removes whatever it created.
    - ``prefix``: token prefix, 1-16 of a-z0-9 (default ``tk``); fixed once the store exists.
    - ``vocabulary``: scope names, e.g. ``["collection", "device", "policy"]`` (each with
      ``read``/``write``), ``["fleet:read,write,admin"]`` or a mapping name -> actions.
      Persisted; reopening may add scopes, never remove them.
    - ``default_lifetime`` (30 days), ``max_lifetime`` (365 days; None: no cap),
      ``allow_never_expire`` (False).
    - ``cache_size``: token records kept in memory for verification (100,000; about 30 MiB
      when full; 0 disables the cache). The cache is coherent across processes: see
      docs/ARCHITECTURE.md.
    - ``busy_timeout``: seconds a writer waits for another process's lock (5).
    - ``pepper``: 64 hex chars; default ``TOKENKEEP_PEPPER``, else the key file ``<path>.key``.
      ``previous_peppers``: older ones still accepted (also ``TOKENKEEP_PEPPER_PREVIOUS``).
    - ``clock``: a :class:`ManualClock` for tests; default the system clock.

    Safe to share between threads. Use as a context manager, or call :meth:`close`.
    """

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

    def __enter__(self) -> TokenStore:
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

    # -- issuing -----------------------------------------------------------------------------

    @staticmethod
    def _expiry(
        expires_in: timedelta | None, expires_at: datetime | None, never_expires: bool
    ) -> tuple[_core.ExpiryKind, int]:
        given = (expires_in is not None) + (expires_at is not None) + bool(never_expires)
        if given > 1:
            raise InvalidArgument("give at most one of expires_in, expires_at, never_expires")
        if expires_in is not None:
            return _Expiry.IN, duration_us(expires_in, "expires_in")
        if expires_at is not None:
            return _Expiry.AT, to_us(expires_at, "expires_at")
        if never_expires:
            return _Expiry.NEVER, 0
        return _Expiry.DEFAULT, 0

    def create(
        self,
        owner: str,
        name: str,
        scopes: Scopes,
        *,
        expires_in: timedelta | None = None,
        expires_at: datetime | None = None,
        never_expires: bool = False,
        description: str | None = None,
        networks: Networks | None = None,
        actor: str | None = None,
    ) -> IssuedToken:
        """Issue a token. Its secret is in the result and is never available again.

        ``name`` is stripped of surrounding blanks and must be unique among the owner's live
        tokens. Expiry: the store's default lifetime unless ``expires_in`` or ``expires_at``
        (aware) is given; ``never_expires=True`` only where the store allows it.
        ``description``: an optional note (what the token is for), at most 200 characters,
        checked like a name (:class:`InvalidArgument` with ``field == "description"``).
        ``networks``: CIDRs the token may be used from (see :meth:`update_networks`); None
        or empty: anywhere.

        >>> issued = store.create(owner="alice", name="ci", scopes={"device:read"})
        >>> bound = store.create("alice", "ci-lan", {"device:read"}, networks={"10.0.0.0/8"})
        """
        kind, value = self._expiry(expires_in, expires_at, never_expires)
        # One path into the engine for every create: a batch of one.
        item: tuple[Any, ...] = (_nfc(_text(name, "name")), _scope_list(scopes))
        nets = network_list(networks)
        if description or nets:
            item += (kind, value, _nfc(_text(description or "", "description")))
        if nets:
            item += (nets,)
        return self._e.create_many(_owner(owner), [item], kind, value, self._actor(actor))[0]

    def create_problems(
        self,
        owner: str,
        name: str,
        scopes: Scopes,
        *,
        expires_in: timedelta | None = None,
        expires_at: datetime | None = None,
        never_expires: bool = False,
        description: str | None = None,
        networks: Networks | None = None,
    ) -> builtins.list[TokenkeepError]:
        """Every reason :meth:`create` would refuse these values, without creating anything:
        a list of tokenkeep errors (empty if none), each with the ``field`` it is about, so a
        form can mark all its fields at once. A name already in use is still reported by
        :meth:`create` (:class:`NameTaken`).

        >>> [e.field for e in store.create_problems("alice", " ", [])]
        ['name', 'scopes']
        """
        problems: list[TokenkeepError] = []
        try:
            kind, value = self._expiry(expires_in, expires_at, never_expires)
        except TokenkeepError as e:
            problems.append(e)
            kind, value = _Expiry.DEFAULT, 0
        try:
            nets = network_list(networks)
        except TokenkeepError as e:
            problems.append(e)
            nets = []
        try:
            item = (_nfc(_text(name, "name")), _scope_list(scopes))
            note = "" if description is None else _nfc(_text(description, "description"))
        except TokenkeepError as e:
            return [e] + problems
        found = self._e.create_problems(
            _owner(owner), item[0], item[1], kind, value, description=note, networks=nets
        )
        if problems:  # the expiry's own problem replaces the default the engine checked
            expiry_fields = ("expires_in", "expires_at", "never_expires")
            found = [p for p in found if p.field not in expiry_fields]
        return list(found) + problems

    def create_many(
        self,
        owner: str,
        tokens: Iterable[tuple[str, Scopes] | tuple[str, Scopes, timedelta | datetime | None]],
        *,
        expires_in: timedelta | None = None,
        expires_at: datetime | None = None,
        never_expires: bool = False,
        actor: str | None = None,
    ) -> builtins.list[IssuedToken]:
        """Issue many tokens in one transaction: all or none. Results are in the order given.

        Each item is ``(name, scopes)`` or ``(name, scopes, expiry)`` where expiry is a
        timedelta (expires in), an aware datetime (expires at) or None (the call's expiry).

        >>> issued = store.create_many("ops", [("dev-1", {"device"}), ("dev-2", {"device"})])
        """
        kind, value = self._expiry(expires_in, expires_at, never_expires)
        with _no_gc():  # tens of thousands of small tuples: no collection passes midway
            return self._create_many(owner, tokens, kind, value, actor)

    def _create_many(
        self,
        owner: str,
        tokens: Iterable[Any],
        kind: _core.ExpiryKind,
        value: int,
        actor: str | None,
    ) -> builtins.list[IssuedToken]:
        items: Sequence[Any] = tokens if isinstance(tokens, (list, tuple)) else list(tokens)
        items = _names_nfc(items)
        if any(len(item) == 3 for item in items if isinstance(item, (tuple, list))):
            items = [self._with_expiry(item, kind, value) for item in items]
        # The engine converts and checks the items (names, scopes) natively.
        return self._e.create_many(_owner(owner), items, kind, value, self._actor(actor))

    def _with_expiry(self, item: Any, kind: _core.ExpiryKind, value: int) -> Any:
        """(name, scopes, expiry) -> (name, scopes, kind, value); other items unchanged."""
        if not isinstance(item, (tuple, list)) or len(item) != 3:
            return item
        exp = item[2]
        if exp is None:
            k, v = kind, value
        elif isinstance(exp, timedelta):
            k, v = self._expiry(exp, None, False)
        elif isinstance(exp, datetime):
            k, v = self._expiry(None, exp, False)
        else:
            raise InvalidArgument("an item's expiry must be a timedelta, an aware datetime or None")
        return (item[0], item[1], k, v)

    # -- reading -----------------------------------------------------------------------------

    def list(
        self,
        owner: str | None = None,
        *,
        all_owners: bool = False,
        state: str | None = None,
        search: str | None = None,
        scope: Scopes | None = None,
        sort: str | None = None,
        descending: bool = True,
        limit: int | None = None,
        offset: int = 0,
    ) -> TokenList:
        """Tokens, as a :class:`TokenList` (``.total`` counts every match, ignoring paging),
        answered by the database as one listing query, whatever the keywords.

        ``state``: ``"live"`` (the default: not revoked, expired ones too until purged),
        ``"active"`` (not revoked, not expired), ``"inactive"`` (revoked or expired) or
        ``"all"``; ``search``, a case-insensitive substring of the name taken literally (``%``
        and ``_`` are plain characters); ``scope``, one scope or several, matching tokens that
        grant any of them; ``sort`` by ``"created"`` (default, newest first), ``"name"``,
        ``"expires"`` or ``"last_used"``; ``limit`` rows (None: all) after ``offset``.
        ``all_owners=True`` instead of an owner lists every owner's tokens (for
        administrators). Bad values raise :class:`InvalidArgument` (or :class:`UnknownScope`)
        whose ``field`` names the keyword.

        >>> [t.name for t in store.list("alice")]
        ['ci-deploy']
        >>> page = store.list("alice", state="active", search="ci", limit=50)
        >>> (len(page), page.total)
        (1, 1)
        """
        if all_owners is not True and all_owners is not False:
            raise _invalid("all_owners must be True or False", "all_owners")
        if all_owners:
            if owner is not None:
                raise _invalid("pass an owner or all_owners=True, not both", "all_owners")
        elif owner is None:
            raise _invalid(
                "pass an owner, or all_owners=True to list every owner's tokens", "owner"
            )
        else:
            owner = _owner(owner)
        if not isinstance(descending, bool):
            raise _invalid("descending must be True or False", "descending")
        for value, field in ((limit, "limit"), (offset, "offset")):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise _invalid(f"{field} must be an integer", field)
        scopes = [] if scope is None else _scope_list(scope, "scope")
        rows, total = self._e.query(
            owner,
            "live" if state is None else _text(state, "state"),
            "" if search is None else _text(search, "search"),
            scopes,
            "created" if sort is None else _text(sort, "sort"),
            descending,
            limit,
            offset,
        )
        return TokenList(rows, total=total, limit=limit, offset=offset)

    def get(self, owner: str, token_id: str) -> TokenInfo:
        """One of the owner's live tokens; :class:`NotFound` otherwise (also for another owner's).

        >>> store.get("alice", issued.info.id).expires_at  # doctest: +SKIP
        """
        try:
            return self._e.get(_owner(owner), _text(token_id, "token_id"))
        except NotFound:
            raise _not_found(owner, token_id) from None

    # -- changing ----------------------------------------------------------------------------

    def update_scopes(
        self, owner: str, token_id: str, scopes: Scopes, *, actor: str | None = None
    ) -> TokenInfo:
        """Replace a token's scopes. Seen by the next verification in every process."""
        try:
            return self._e.update_scopes(
                _owner(owner),
                _text(token_id, "token_id"),
                _scope_list(scopes),
                self._actor(actor),
            )
        except NotFound:
            raise _not_found(owner, token_id) from None

    def update_description(
        self, owner: str, token_id: str, description: str, *, actor: str | None = None
    ) -> TokenInfo:
        """Replace a live token's description ("" clears it); checked as in :meth:`create`,
        audited as ``update_description``.

        >>> store.update_description("alice", issued.info.id, "deploys from CI")  # doctest: +SKIP
        """
        try:
            return self._e.update_description(
                _owner(owner),
                _text(token_id, "token_id"),
                _nfc(_text(description, "description")),
                self._actor(actor),
            )
        except NotFound:
            raise _not_found(owner, token_id) from None

    def revoke(self, owner: str, token_id: str, *, actor: str | None = None) -> None:
        """Revoke (delete) a token. Its name is free again; its secret never verifies again."""
        try:
            self._e.revoke(_owner(owner), _text(token_id, "token_id"), self._actor(actor))
        except NotFound:
            raise _not_found(owner, token_id) from None

    def revoke_many(self, owner: str, token_ids: Iterable[str], *, actor: str | None = None) -> int:
        """Revoke several tokens in one transaction: all or none (:class:`NotFound`, nothing
        revoked, if one id is not a live token of the owner). Returns how many were revoked.

        >>> store.revoke_many("ops", [t.info.id for t in issued])  # doctest: +SKIP
        2
        """
        ids = [_text(t, "token_id") for t in _scope_list(token_ids, "token_ids")]
        self._e.revoke_many(_owner(owner), ids, self._actor(actor))
        return len(ids)

    def owner_changed(self, owner: str) -> int:
        """Say that the owner changed outside the store (an account deactivated, renamed or
        deleted) without changing a token: every process's next verification of one of the
        owner's live tokens reloads it from the database, and so returns a new
        :class:`TokenInfo` object (as after a scope edit; strict across PostgreSQL nodes).
        A cache of anything derived from the owner, kept beside the ``TokenInfo`` object
        that :meth:`verify` returned (``tokenkeep.django``'s user cache), is then missed.
        Not audited; returns how many tokens were announced.

        >>> store.owner_changed("alice")  # doctest: +SKIP
        2
        """
        return int(self._e.owner_changed(_owner(owner)))

    def rotate(
        self,
        owner: str,
        token_id: str,
        *,
        actor: str | None = None,
        expires_in: timedelta | None = None,
        expires_at: datetime | None = None,
        never_expires: bool = False,
    ) -> IssuedToken:
        """Replace a token's secret: a new token with the same name and scopes is issued and
        the old one revoked, atomically. It keeps the old expiry unless ``expires_in``,
        ``expires_at`` or ``never_expires`` gives a new one (the rules of :meth:`create`).

        >>> fresh = store.rotate("alice", issued.info.id)  # hand fresh.secret to the user
        >>> renewed = store.rotate("alice", fresh.info.id, expires_in=timedelta(days=30))
        """
        args = (_owner(owner), _text(token_id, "token_id"), self._actor(actor))
        try:
            if expires_in is None and expires_at is None and not never_expires:
                return self._e.rotate(*args)
            kind, value = self._expiry(expires_in, expires_at, never_expires)
            return self._e.rotate(*args, kind, value)
        except NotFound:
            raise _not_found(owner, token_id) from None

    # -- verifying ---------------------------------------------------------------------------

    def verify(
        self, secret: str | bytes, *scopes: str, client: str | IPAddress | None = None
    ) -> TokenInfo:
        """Authenticate ``secret`` and check that it grants every scope in ``scopes``.

        ``client`` is the caller's IP address (``"203.0.113.7"``, ``"2001:db8::1"``, or an
        ``ipaddress`` address); ``::ffff:a.b.c.d`` counts as ``a.b.c.d``. A token bound to
        networks (:meth:`update_networks`) verifies only with a ``client`` inside them; text
        that is no address (a zone id, a host name) counts as no ``client``. A successful
        verification with a ``client`` records it (:meth:`recent_clients`).

        Returns the token's :class:`TokenInfo`. Raises :class:`InvalidToken`,
        :class:`ExpiredToken`, :class:`RevokedToken` (all :class:`AuthenticationError`),
        :class:`NetworkNotAllowed` or :class:`InsufficientScope` (both
        :class:`PermissionDenied`). Safe from many threads; a cache hit takes about a
        microsecond with the GIL held, anything that reads the database releases it. A scope
        edit, network edit, revoke or rotate that returned, in any process, is seen by the
        next verification.

        >>> store.verify(request_token, "device:read", client=request.client.host)  # doctest: +SKIP
        """
        return self._native().verify(secret, *scopes, client=client)

    def check(
        self, secret: str | bytes, *scopes: str, client: str | IPAddress | None = None
    ) -> bool:
        """Like :meth:`verify`, but True/False; never raises for a bad token."""
        return self._native().check(secret, *scopes, client=client)

    def _owned(self, owner: str, token_id: str) -> tuple[str, str]:
        return _owner(owner), _text(token_id, "token_id")

    @staticmethod
    def _not_found(owner: str, token_id: str) -> NotFound:
        return _not_found(owner, token_id)

    def _native(self) -> _core.Verifier:
        if self._fast is None:
            raise StoreError("the token store is closed")
        return self._fast

    # -- housekeeping ------------------------------------------------------------------------

    def expiring_within(
        self, within: timedelta, owner: str | None = None
    ) -> builtins.list[TokenInfo]:
        """Live tokens that expire between now and now + ``within``, soonest first.

        >>> for t in store.expiring_within(timedelta(days=7)):  # doctest: +SKIP
        ...     notify(t.owner, f"token {t.name!r} expires {t.expires_at:%Y-%m-%d}")
        """
        if owner is not None:
            _owner(owner)
        return TokenList(self._e.expiring_within(duration_us(within, "within"), owner))

    def purge(
        self,
        older_than: timedelta = timedelta(0),
        *,
        actor: str | None = None,
        dry_run: bool = False,
    ) -> int:
        """Delete tokens revoked or expired longer than ``older_than`` ago; returns how many.
        ``dry_run=True`` only counts them (nothing is deleted or audited).

        >>> store.purge(older_than=timedelta(days=30), dry_run=True)  # doctest: +SKIP
        12
        """
        older = duration_us(older_than, "older_than")
        if dry_run:
            return self._e.purge_count(older)
        return self._e.purge(older, actor or "system")

    def audit(self, owner: str | None = None, limit: int = 100) -> builtins.list[AuditEvent]:
        """Recorded changes, newest first (all owners unless ``owner`` is given).

        >>> [e.action for e in store.audit("alice", limit=2)]  # doctest: +SKIP
        ['revoke', 'create']
        """
        if owner is not None:
            _owner(owner)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 2**62:
            raise InvalidArgument("limit must be a positive int")
        return AuditLog(AuditEvent._from_core(a) for a in self._e.audit(owner, limit))

    def _subkey(self, context: str) -> bytes:
        """A 32-byte key derived from this store's pepper for ``context`` (1-8 characters),
        the same in every process and restart that shares the pepper. For tokenkeep's own
        surfaces (the admin page signs its CSRF tokens with ``_subkey("csrf")``); never log it."""
        return self._e.subkey(context)

    @staticmethod
    def _actor(actor: str | None) -> str:
        return "" if actor is None else _text(actor, "actor")
