"""FastAPI guard: a dependency that checks ``Authorization: Bearer <token>``.

>>> import fastapi
>>> import tokenkeep
>>> from tokenkeep.fastapi import TokenGuard
>>>
>>> store = tokenkeep.TokenStore("tokens.db")
>>> guard = TokenGuard(store)
>>> app = fastapi.FastAPI()
>>>
>>> @app.get("/api/devices")
... async def list_devices(token: tokenkeep.TokenInfo = fastapi.Depends(guard.require("device:read"))):
...     return {"owner": token.owner, "devices": []}

The dependency returns the token's :class:`~tokenkeep.TokenInfo`, or answers as RFC 6750 says:

- no bearer token: 401 with ``WWW-Authenticate: Bearer``;
- a malformed, unknown, expired or revoked token: 401, ``error="invalid_token"``;
- a valid token without a required scope: 403, ``error="insufficient_scope"``, ``scope="..."``;
- a token bound to networks the caller is not in: 403, ``error="insufficient_scope"``;
- a token in the query string (``?access_token=``): 400, ``error="invalid_request"``.

The caller's address (``verify(..., client=)``) is the connection's peer, or, when the peer
is one of ``TokenGuard(store, trusted_proxies=["10.0.0.0/8"])``, the address those proxies
report in ``X-Forwarded-For`` (``proxy_header="forwarded"``: RFC 7239), read from the right;
a header from any other peer is ignored (:mod:`tokenkeep.web.client_address`).

The body is the same JSON as Flask's and Django's, ``{"error": ..., "error_description": ...}``
(RFC 6750 §3, RFC 6749 §5.2), not FastAPI's ``{"detail": ...}`` wrapper, and never contains
the token. The flat body comes from an exception handler for :class:`BearerHTTPException`:
``install(app)`` (or ``TokenGuard(store, app=app)``) registers it at startup, and a guard
registers it by itself, on the application that is answering, the first time it refuses a
request, so an application that does neither still answers with the flat body. A handler
you register for the status code (``app.exception_handlers[401]``) runs instead of it.
``require_scopes(*scopes, store=store)`` is a shortcut for ``TokenGuard(store).require(*scopes)``. The route also shows up in the OpenAPI docs as
protected by an HTTP bearer scheme, so "Authorize" in ``/docs`` works.

Verification runs on the event loop: it is a few microseconds of C++ that releases the GIL,
which is cheaper than a hop to the threadpool (see ``benchmarks/guard_bench.py``). Pass
``threadpool=True`` when the database sits on slow storage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import fastapi
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .models import TokenInfo
from .store import TokenStore
from .web.bearer import BearerError, authenticate, split_scopes
from .web.client_address import X_FORWARDED_FOR, TrustedProxies, client_address

__all__ = [
    "BearerDependency",
    "BearerHTTPException",
    "TokenGuard",
    "bearer_exception_handler",
    "install",
    "oauth_router",
    "require_scopes",
]

StoreSource = TokenStore | Callable[[], TokenStore]


class BearerHTTPException(fastapi.HTTPException):
    """The 400/401/403/503 a guard raises; ``error`` is the RFC 6750 code (None: no token
    sent), ``body`` the JSON answer and ``response()`` the whole of it."""

    def __init__(self, failure: BearerError) -> None:
        super().__init__(failure.status_code, detail=failure.body, headers=failure.headers)
        self.error = failure.error
        self.body = failure.body

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status_code, headers=self.headers)


async def bearer_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    """The guard's answer as Flask and Django give it: ``{"error": ..., "error_description":
    ...}`` with the RFC 6750 challenge. Registered by :func:`install`."""
    assert isinstance(exc, BearerHTTPException)
    return exc.response()


def install(app: Starlette) -> Starlette:
    """Register :func:`bearer_exception_handler` on ``app`` (a FastAPI or Starlette
    application, before it starts serving); returns ``app``. Calling it twice is harmless.

    >>> app = tokenkeep.fastapi.install(fastapi.FastAPI())
    """
    app.add_exception_handler(BearerHTTPException, bearer_exception_handler)
    return app


def _install_on_answering_app(request: Request) -> None:
    """Register the handler with the exception middleware answering this request, when the
    application was not given it: Starlette looks handlers up in that middleware's table (the
    ``starlette.exception_handlers`` scope entry) when the exception arrives, so the flat body
    is the answer from the first refusal on."""
    handlers = request.scope.get("starlette.exception_handlers")
    if isinstance(handlers, tuple) and handlers and isinstance(handlers[0], dict):
        handlers[0].setdefault(BearerHTTPException, bearer_exception_handler)


class TokenGuard:
    """Makes FastAPI dependencies that authenticate a request's bearer token.

    ``store`` is a :class:`~tokenkeep.TokenStore`, or a function returning one (for a store
    opened in the application's lifespan). ``realm`` adds ``realm="..."`` to challenges.
    ``app``: the application, to :func:`install` the error handler on it now.
    ``trusted_proxies``: the addresses or CIDRs of your reverse proxies, whose
    ``proxy_header`` (``"x-forwarded-for"`` or ``"forwarded"``) names the client; none by
    default (the peer is the client). A bad entry raises :class:`~tokenkeep.InvalidArgument`.

    >>> guard = TokenGuard(store)
    >>> DeviceReader = Annotated[TokenInfo, Depends(guard.require("device:read"))]
    >>> @app.post("/api/devices")
    ... async def add_device(token: Annotated[TokenInfo, Depends(guard.require("device:write"))]): ...
    """

    def __init__(
        self,
        store: StoreSource,
        *,
        realm: str | None = None,
        threadpool: bool = False,
        app: Starlette | None = None,
        trusted_proxies: Iterable[str] | str | None = None,
        proxy_header: str = X_FORWARDED_FOR,
    ) -> None:
        if not isinstance(store, TokenStore) and not callable(store):
            raise TypeError("store must be a tokenkeep.TokenStore or a function returning one")
        self.trusted_proxies = TrustedProxies(trusted_proxies, header=proxy_header)
        if app is not None:
            install(app)
        self._store = store
        self.realm = realm
        self.threadpool = bool(threadpool)

    @property
    def store(self) -> TokenStore:
        s = self._store
        return s if isinstance(s, TokenStore) else s()

    def require(self, *scopes: str) -> BearerDependency:
        """A dependency that returns the request's :class:`~tokenkeep.TokenInfo` if its token
        grants every scope given (none: any valid token). ``require("device:read policy:read")``
        and ``require("device:read", "policy:read")`` mean the same.

        Scope names are checked against the store's vocabulary now, so a typo fails at
        import time with :class:`~tokenkeep.UnknownScope`, not on every request.
        """
        wanted = split_scopes(scopes)
        if isinstance(self._store, TokenStore):
            self._store.check("", *wanted)  # raises UnknownScope for a name not in the vocabulary
        return BearerDependency(
            self._store,
            wanted,
            realm=self.realm,
            threadpool=self.threadpool,
            trusted_proxies=self.trusted_proxies,
        )


class BearerDependency(SecurityBase):
    """One guard for one set of scopes, made by :meth:`TokenGuard.require`.

    A FastAPI security dependency: FastAPI calls it with the request, and lists it in OpenAPI
    as an HTTP bearer scheme named ``tokenkeep``. One object, one call per request, no
    sub-dependencies: the guard's cost is the verification itself.
    """

    def __init__(
        self,
        store: StoreSource,
        scopes: tuple[str, ...],
        *,
        realm: str | None,
        threadpool: bool,
        trusted_proxies: TrustedProxies | None = None,
    ) -> None:
        self.model = HTTPBearerModel(description="tokenkeep personal access token")
        self.scheme_name = "tokenkeep"
        self.scopes = scopes
        self._store = store
        self._realm = realm
        self._threadpool = threadpool
        self._trusted = trusted_proxies or None

    def __repr__(self) -> str:
        return f"<tokenkeep guard require({' '.join(self.scopes)})>"

    async def __call__(self, request: fastapi.Request) -> TokenInfo:
        source = self._store
        store = source if isinstance(source, TokenStore) else source()
        scope = request.scope
        peer = scope.get("client")
        trusted = self._trusted
        client = client_address(
            peer[0] if peer else None,
            request.headers.getlist(trusted.header) if trusted else None,
            trusted,
        )
        args = (
            store,
            request.headers.getlist("authorization"),
            scope.get("query_string", b""),
            self.scopes,
        )
        try:
            if self._threadpool:
                return await run_in_threadpool(
                    authenticate, *args, realm=self._realm, client=client
                )
            return authenticate(*args, realm=self._realm, client=client)
        except BearerError as failure:
            _install_on_answering_app(request)
            raise BearerHTTPException(failure) from None


def require_scopes(
    *scopes: str,
    store: StoreSource,
    realm: str | None = None,
    trusted_proxies: Iterable[str] | str | None = None,
    proxy_header: str = X_FORWARDED_FOR,
) -> BearerDependency:
    """Shortcut for ``TokenGuard(store, realm=realm, trusted_proxies=...).require(*scopes)``.

    >>> @app.get("/api/policies")
    ... async def policies(token: TokenInfo = Depends(require_scopes("policy:read", store=store))): ...
    """
    guard = TokenGuard(
        store, realm=realm, trusted_proxies=trusted_proxies, proxy_header=proxy_header
    )
    return guard.require(*scopes)


def oauth_router(store: StoreSource, *, prefix: str = "/oauth") -> fastapi.APIRouter:
    """``POST {prefix}/introspect`` (RFC 7662) and ``POST {prefix}/revoke`` (RFC 7009) for
    services that are not Python: callers send a service token
    (``store.create_service_token(name)``) as ``Authorization: Bearer``, and the token to
    check or revoke as the form field ``token``. The answers are :mod:`tokenkeep.web.oauth`'s;
    another method is a 405. Introspection runs on the event loop like the guard, revocation
    (a durable write) in the threadpool.

    >>> app.include_router(tokenkeep.fastapi.oauth_router(store))
    """
    from .web import oauth

    router = fastapi.APIRouter(prefix=prefix, tags=["oauth"])

    async def _body(request: Request) -> bytes | None:
        """At most MAX_BODY bytes of the body; None when it is larger (the rest unread)."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > oauth.MAX_BODY:
            return None
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > oauth.MAX_BODY:
                return None
        return body

    async def _answer(
        request: Request, decide: Callable[..., oauth.Answer], thread: bool
    ) -> Response:
        args = (
            store if isinstance(store, TokenStore) else store(),
            request.headers.getlist("authorization"),
            request.scope.get("query_string", b""),
            request.headers.get("content-type"),
            await _body(request),
        )
        answer = await run_in_threadpool(decide, *args) if thread else decide(*args)
        return Response(answer.body, status_code=answer.status, headers=answer.headers)

    @router.post("/introspect", summary="RFC 7662 token introspection")
    async def introspect(request: Request) -> Response:
        return await _answer(request, oauth.introspect, thread=False)

    @router.post("/revoke", summary="RFC 7009 token revocation")
    async def revoke(request: Request) -> Response:
        return await _answer(request, oauth.revoke, thread=True)

    return router
