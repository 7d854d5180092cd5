"""TokenStore: issue, list, edit, revoke, rotate and verify personal access tokens.

The class is composed of one mixin per concern; this module holds the class, its
documentation and verification (the hot path). Opening, properties and lifecycle:
``opening.py``; create/change/revoke/purge: ``lifecycle.py``; list/get/audit/expiring:
``reads.py``; leak response and scope usage: ``hygiene.py``; service tokens:
``service_tokens.py``; network binding and recent clients: ``networks.py``; the argument
checks they share: ``_args.py``."""

from __future__ import annotations

from . import _core
from ._args import IPAddress, Scopes, _not_found, _owner, _text
from .errors import NotFound, StoreError
from .hygiene import StoreHygiene
from .lifecycle import TokenLifecycle
from .models import IssuedToken, TokenInfo
from .networks import StoreNetworks
from .opening import StoreOpening, default_db_path
from .opening import _redacted as _redacted  # re-exported: shown in reprs, tested
from .opening import store_location_kind as store_location_kind  # re-exported: the CLI's
from .reads import StoreReads
from .service_tokens import ServiceTokens

__all__ = ["TokenStore", "default_db_path", "Scopes"]

# The engine returns records as these named tuples, built natively (no Python call per record).
_core.record_types(TokenInfo, IssuedToken)


class TokenStore(
    StoreOpening, TokenLifecycle, StoreReads, StoreHygiene, ServiceTokens, StoreNetworks
):
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
    - ``warm_start`` (True): after opening, a background thread loads the live tokens used in
      the last 7 days into the cache, most recently used first, up to ``cache_size`` (on
      PostgreSQL through one connection of its own, closed after one read), so a restarted worker answers its users' tokens from
      memory at once. The open does not wait for it; a token revoked meanwhile is never served.
    - ``busy_timeout``: seconds a writer waits for another process's lock (5).
    - ``pepper``: 64 hex chars; default ``TOKENKEEP_PEPPER``, else the key file ``<path>.key``.
      ``previous_peppers``: older ones still accepted (also ``TOKENKEEP_PEPPER_PREVIOUS``).
    - ``clock``: a :class:`ManualClock` for tests; default the system clock.

    Safe to share between threads. Use as a context manager, or call :meth:`close`.
    """

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

    @staticmethod
    def _actor(actor: str | None) -> str:
        return "" if actor is None else _text(actor, "actor")
