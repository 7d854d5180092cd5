"""Flask guard: a decorator that checks ``Authorization: Bearer <token>``.

>>> import flask
>>> import tokenkeep
>>> from tokenkeep.flask import TokenGuard
>>>
>>> store = tokenkeep.TokenStore("tokens.db")
>>> guard = TokenGuard(store)
>>> app = flask.Flask(__name__)
>>>
>>> @app.get("/api/devices")
... @guard.require("device:read")
... def list_devices():
...     token = flask.g.token_info          # the tokenkeep.TokenInfo of the caller
...     return {"owner": token.owner, "devices": []}

The decorator puts the token's :class:`~tokenkeep.TokenInfo` on ``flask.g.token_info`` and
calls the view, or answers as RFC 6750 says, without calling it:

- no bearer token: 401 with ``WWW-Authenticate: Bearer``;
- a malformed, unknown, expired or revoked token: 401, ``error="invalid_token"``;
- a valid token without a required scope: 403, ``error="insufficient_scope"``, ``scope="..."``;
- a token bound to networks the caller is not in: 403, ``error="insufficient_scope"``;
- a token in the query string (``?access_token=``): 400, ``error="invalid_request"``.

The caller's address is ``request.remote_addr``, or, when that is one of
``TokenGuard(store, trusted_proxies=["10.0.0.0/8"])``, the address those proxies report in
``X-Forwarded-For`` (``proxy_header="forwarded"``: RFC 7239), read from the right; a header
from any other peer is ignored (:mod:`tokenkeep.web.client_address`).

The body is JSON, ``{"error": ..., "error_description": ...}``, and never contains the token.
``require_scopes(*scopes, store=store)`` is a shortcut for ``TokenGuard(store).require(...)``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import flask

from .models import TokenInfo
from .store import TokenStore
from .web.bearer import BearerError, authenticate, split_scopes
from .web.client_address import X_FORWARDED_FOR, TrustedProxies, client_address

__all__ = ["TokenGuard", "current_token", "require_scopes"]

F = TypeVar("F", bound=Callable[..., Any])
StoreSource = TokenStore | Callable[[], TokenStore]


def _error_response(failure: BearerError) -> flask.Response:
    response = flask.jsonify(failure.body)
    response.status_code = failure.status_code
    response.headers.update(failure.headers)
    return response


class TokenGuard:
    """Makes Flask view decorators that authenticate a request's bearer token.

    ``store`` is a :class:`~tokenkeep.TokenStore` or a function returning one (e.g. one that
    reads ``flask.current_app.extensions``). ``realm`` adds ``realm="..."`` to challenges.
    ``trusted_proxies``: the addresses or CIDRs of your reverse proxies, whose
    ``proxy_header`` (``"x-forwarded-for"`` or ``"forwarded"``) names the client; none by
    default (the peer is the client). A bad entry raises :class:`~tokenkeep.InvalidArgument`.

    >>> guard = TokenGuard(store)
    >>> @app.post("/api/policies")
    ... @guard.require("policy:write")
    ... def add_policy(): ...
    """

    def __init__(
        self,
        store: StoreSource,
        *,
        realm: str | None = None,
        trusted_proxies: Iterable[str] | str | None = None,
        proxy_header: str = X_FORWARDED_FOR,
    ) -> None:
        if not isinstance(store, TokenStore) and not callable(store):
            raise TypeError("store must be a tokenkeep.TokenStore or a function returning one")
        self.trusted_proxies = TrustedProxies(trusted_proxies, header=proxy_header)
        self._store = store
        self.realm = realm

    def require(self, *scopes: str) -> Callable[[F], F]:
        """A decorator: the view runs only if the request's token grants every scope given
        (none: any valid token); ``flask.g.token_info`` then holds its TokenInfo.
        Scope names are checked against the store's vocabulary now (:class:`UnknownScope`)."""
        wanted = split_scopes(scopes)
        if isinstance(self._store, TokenStore):
            self._store.check("", *wanted)  # raises UnknownScope for a name not in the vocabulary
        source, realm = self._store, self.realm
        trusted = self.trusted_proxies or None

        def decorate(view: F) -> F:
            @functools.wraps(view)
            def guarded(*args: Any, **kwargs: Any) -> Any:
                store = source if isinstance(source, TokenStore) else source()
                request = flask.request
                client = client_address(
                    request.remote_addr,
                    request.headers.getlist(trusted.header) if trusted else None,
                    trusted,
                )
                try:
                    flask.g.token_info = authenticate(
                        store,
                        request.headers.getlist("Authorization"),
                        request.query_string,
                        wanted,
                        realm=realm,
                        client=client,
                    )
                except BearerError as failure:
                    return _error_response(failure)
                return view(*args, **kwargs)

            return guarded  # type: ignore[return-value]

        return decorate


def require_scopes(
    *scopes: str,
    store: StoreSource,
    realm: str | None = None,
    trusted_proxies: Iterable[str] | str | None = None,
    proxy_header: str = X_FORWARDED_FOR,
) -> Callable[[F], F]:
    """Shortcut for ``TokenGuard(store, realm=realm, trusted_proxies=...).require(*scopes)``.

    >>> @app.get("/api/collections")
    ... @require_scopes("collection:read", store=store)
    ... def collections(): ...
    """
    guard = TokenGuard(
        store, realm=realm, trusted_proxies=trusted_proxies, proxy_header=proxy_header
    )
    return guard.require(*scopes)


def current_token() -> TokenInfo:
    """The TokenInfo a guard put on ``flask.g`` for this request (RuntimeError outside one)."""
    info = flask.g.get("token_info")
    if info is None:
        raise RuntimeError("no tokenkeep guard ran for this request")
    return info
