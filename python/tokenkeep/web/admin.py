"""The Access Token page: *User Profile -> Access Token*, served by ``tokenkeep serve``.

A small FastAPI + Jinja2 application, rendered on the server, with a little vanilla JavaScript
for the dialogs and the copy button (``static/admin.js``). A signed-in user pages through
their tokens (50 a page, searched, filtered by scope, active or inactive, sorted by any
column), creates one (name, scopes, expiry), sees its secret exactly once, edits its scopes,
regenerates its secret and revokes it after a confirmation. Every action is limited to the
signed-in user's tokens.

Run it on its own (one user, loopback)::

    from tokenkeep.web import serve
    serve("tokens.db", user="alice")            # http://127.0.0.1:8000/

or mount it in a host application that knows who is signed in::

    from tokenkeep.web import create_app
    tokens_page = create_app(store, current_user=lambda request: request.session.get("user"))
    host_app.mount("/settings/tokens", tokens_page)

``current_user(request)`` returns the signed-in user's name (the token owner), or None for
nobody (the page then answers 401); it may be a coroutine function. Inside a mounted app,
``request.scope`` carries what the host's middleware put there (session, auth).

Layout: this module holds the routes only. ``security.py`` filters hosts, sets the headers
and checks CSRF; ``actions.py`` does what each form asks and ``view.py`` computes what the
page shows (both framework-free); the templates take URLs and the CSRF token as variables. Store calls and rendering run in the threadpool,
never on the event loop, and answers are gzipped.

Security: every state-changing form carries a CSRF token bound to an ``HttpOnly``,
``SameSite=Strict`` cookie and to the user, and cross-site requests are refused; pages are
``Cache-Control: no-store`` (above all the one that shows a new secret); the secret appears
only in the response to the create or regenerate form, never in a URL, a redirect, a log
line or a later page; a strict Content-Security-Policy allows no inline script; Jinja2
escapes every value.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

import fastapi
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.middleware.gzip import GZipMiddleware

from ..errors import InvalidArgument
from ..store import TokenStore
from . import actions, revoke_all, scope_words, view
from .security import CSRF_COOKIE, CSRF_FIELD, Csrf, SecurityMiddleware, same_origin

__all__ = ["CurrentUser", "create_app", "serve"]

log = logging.getLogger("tokenkeep.web")

HERE = os.path.dirname(os.path.abspath(__file__))
CurrentUser = Callable[[fastapi.Request], str | None | Awaitable[str | None]]
PAGE = "/profile/access-tokens"


def create_app(
    store: TokenStore,
    *,
    current_user: CurrentUser,
    title: str = "tokenkeep",
    allowed_hosts: Iterable[str] | None = None,
    secure_cookies: bool | None = None,
    scope_descriptions: Mapping[str, str] | None = None,
) -> fastapi.FastAPI:
    """The Access Token page as an ASGI application over ``store``.

    - ``current_user(request)``: the signed-in user's name, or None (answered with 401). It
      may be ``async``. Every list, create, edit, regenerate and revoke is done as that owner.
    - ``allowed_hosts``: accept only requests whose ``Host`` is one of these (defends a
      loopback server against DNS rebinding); None accepts any (the host app decides).
    - ``secure_cookies``: mark the CSRF cookie ``Secure``; None: when the request is HTTPS.
    - ``scope_descriptions``: what each scope grants, in this deployment's words, shown next
      to its checkbox (``{"device": "Read and manage devices", "device:read": ...}``); a
      scope left out gets a default from its name and actions (``web/scope_words.py``). A
      key not in the store's vocabulary raises :class:`tokenkeep.InvalidArgument`.

    >>> app = create_app(store, current_user=lambda request: "alice")
    >>> # uvicorn.run(app, host="127.0.0.1", port=8000)
    """
    if not isinstance(store, TokenStore):
        raise TypeError("store must be a tokenkeep.TokenStore")
    if not callable(current_user):
        raise TypeError("current_user must be a callable taking the request")
    worded = scope_words.check_descriptions(store.vocabulary, scope_descriptions)

    app = fastapi.FastAPI(
        title=f"{title} access tokens", docs_url=None, redoc_url=None, openapi_url=None
    )
    templates = Jinja2Templates(directory=os.path.join(HERE, "templates"))
    templates.env.filters.update(view.TEMPLATE_FILTERS)
    csrf = Csrf(store._subkey("csrf"))
    app.mount("/static", StaticFiles(directory=os.path.join(HERE, "static")), name="static")
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    app.add_middleware(SecurityMiddleware, allowed_hosts=allowed_hosts)

    # -- helpers (sync ones run in the threadpool) ----------------------------------------------

    async def signed_in(request: fastapi.Request) -> str | None:
        user = current_user(request)
        if inspect.isawaitable(user):
            user = await user
        if user is not None and not isinstance(user, str):
            raise TypeError("current_user must return a str or None")
        return user or None

    def urls(request: fastapi.Request) -> dict[str, str]:
        base = _base(request)
        return {
            "home": base or "/",
            "profile": base + "/profile",
            "page": base + PAGE,
            "create": base + PAGE,
            "token": base + PAGE + "/",  # + id + "/scopes" | "/revoke" | "/rotate"
            "static": base + "/static/",
        }

    def render(
        request: fastapi.Request,
        template: str,
        user: str | None,
        status_code: int = 200,
        **context: Any,
    ):
        cookie = request.cookies.get(CSRF_COOKIE)
        fresh = not Csrf.cookie_usable(cookie)
        if fresh or cookie is None:  # (a missing cookie is never usable; this tells mypy)
            cookie = csrf.new_cookie()
        context.update(
            title=title,
            user=user,
            urls=urls(request),
            csrf_field=CSRF_FIELD,
            csrf_token=csrf.token(cookie, user) if user else "",
            scope_words=scope_words.scope_descriptions(store.vocabulary, worded),
        )
        response = templates.TemplateResponse(request, template, context, status_code=status_code)
        if fresh and user:
            secure = request.url.scheme == "https" if secure_cookies is None else secure_cookies
            response.set_cookie(
                CSRF_COOKIE,
                cookie,
                httponly=True,
                samesite="strict",
                secure=secure,
                path=_base(request) or "/",
            )
        return response

    def page(
        request: fastapi.Request,
        user: str,
        params: dict[str, str],
        status_code: int = 200,
        **state: Any,
    ):
        context = view.token_page(store, user, params, **state)
        return render(request, "access_tokens.html", user, status_code, **context)

    def not_signed_in(request: fastapi.Request) -> HTMLResponse:
        return render(
            request,
            "error.html",
            None,
            401,
            heading="Not signed in",
            message="Sign in to manage your access tokens.",
        )

    def forbidden(request: fastapi.Request, user: str) -> HTMLResponse:
        message = (
            "The form was not sent from this page, or it is too old. Reload the page and try again."
        )
        return render(
            request, "error.html", user, 403, heading="This form has expired", message=message
        )

    async def read_form(request: fastapi.Request, user: str) -> Any | None:
        """The posted form, or None when it fails the CSRF and same-origin checks."""
        form = await request.form(max_files=0, max_fields=64)
        if not same_origin(request.headers):
            return None
        if not csrf.valid(request.cookies.get(CSRF_COOKIE), user, form.get(CSRF_FIELD)):
            return None
        return form

    def redirect(request: fastapi.Request, params: dict[str, str]) -> RedirectResponse:
        query = urlencode(params)
        return RedirectResponse(
            _base(request) + PAGE + ("?" + query if query else ""), status_code=303
        )

    async def run(fn: Callable[..., Response], *args: Any, **kwargs: Any) -> Response:
        return await run_in_threadpool(fn, *args, **kwargs)

    # -- the actions (web/actions.py; sync: they run in the threadpool) ---------------------------

    def respond(request: fastapi.Request, user: str, answer: actions.Answer) -> Response:
        if answer.redirect is not None:
            return redirect(request, answer.redirect)
        return page(request, user, answer.params, answer.status, **answer.state)

    def do_create(request: fastapi.Request, user: str, data: Any) -> Response:
        return respond(request, user, actions.create(store, user, data))

    def do_edit(request: fastapi.Request, user: str, token_id: str, data: Any) -> Response:
        return respond(request, user, actions.edit(store, user, token_id, data))

    def do_revoke(request: fastapi.Request, user: str, token_id: str, data: Any) -> Response:
        return respond(request, user, actions.revoke(store, user, token_id, data))

    def do_rotate(request: fastapi.Request, user: str, token_id: str, data: Any) -> Response:
        return respond(request, user, actions.rotate(store, user, token_id, data))

    def do_revoke_all(request: fastapi.Request, user: str, data: Any) -> Response:
        return respond(request, user, revoke_all.revoke_all(store, user, data))

    def show_page(request: fastapi.Request, user: str) -> Response:
        return respond(request, user, actions.shown(store, user, request.query_params))

    def show_profile(request: fastapi.Request, user: str) -> Response:
        return render(
            request, "profile.html", user, count=store.list(user, state="active", limit=1).total
        )

    # -- routes ---------------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    async def home(request: fastapi.Request) -> Response:
        return RedirectResponse(_base(request) + PAGE, status_code=303)

    @app.get("/profile", response_class=HTMLResponse)
    async def profile(request: fastapi.Request) -> Response:
        user = await signed_in(request)
        return not_signed_in(request) if user is None else await run(show_profile, request, user)

    @app.get(PAGE, response_class=HTMLResponse, name="access_tokens")
    async def access_tokens(request: fastapi.Request) -> Response:
        user = await signed_in(request)
        return not_signed_in(request) if user is None else await run(show_page, request, user)

    def action(path: str, handler: Callable[..., Response], with_id: bool = True) -> None:
        async def endpoint(request: fastapi.Request) -> Response:
            user = await signed_in(request)
            if user is None:
                return not_signed_in(request)
            data = await read_form(request, user)
            if data is None:
                return forbidden(request, user)
            ids = (request.path_params["token_id"],) if with_id else ()
            return await run(handler, request, user, *ids, data)

        app.add_api_route(path, endpoint, methods=["POST"], response_class=HTMLResponse)

    action(PAGE, do_create, with_id=False)
    action(PAGE + "/revoke-all", do_revoke_all, with_id=False)
    action(PAGE + "/{token_id}/scopes", do_edit)
    action(PAGE + "/{token_id}/revoke", do_revoke)
    action(PAGE + "/{token_id}/rotate", do_rotate)
    return app


def _base(request: fastapi.Request) -> str:
    """Where this app is mounted ("" at the root), so links work inside a host application."""
    return request.scope.get("root_path", "").rstrip("/")


# -- tokenkeep serve -------------------------------------------------------------------------

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")


def serve(db_path: str, *, user: str, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the Access Token page for one user until interrupted (``tokenkeep serve``).

    ``user`` is the signed-in user: everyone who can reach the port acts as them, so keep the
    default loopback ``host`` unless the network in between is yours. Requests must name this
    host (or a loopback name) in ``Host``, which stops DNS-rebinding attacks.

    >>> serve("tokens.db", user="alice")           # doctest: +SKIP
    """
    import uvicorn

    if not isinstance(user, str) or not user.strip():
        raise InvalidArgument("serve() needs the name of the signed-in user")
    _port_check(host, port)
    store = TokenStore(db_path)
    allowed: set[str] | None = set(LOOPBACK_NAMES) | {host.lower(), f"[{host.lower()}]"}
    if host in ("0.0.0.0", "::", ""):
        allowed = None  # listening everywhere: any Host is legitimate
        log.warning(
            "tokenkeep serve: listening on all interfaces; anyone who reaches it acts as %s", user
        )
    app = create_app(store, current_user=lambda request: user, allowed_hosts=allowed)
    try:
        uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)
    except SystemExit as e:
        if e.code == 3:  # uvicorn's "startup failed", which the CLI documents as "invalid token"
            raise OSError(f"cannot serve on {host}:{port}: the server failed to start") from None
        raise
    finally:
        store.close()


def _port_check(host: str, port: int) -> None:
    """OSError naming the address if ``host:port`` cannot be listened on (a busy port)."""
    import socket

    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as e:
        raise OSError(f"cannot serve on {host}:{port}: {e.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as e:
            raise OSError(
                f"cannot serve on {host}:{port}: {e.strerror}; is another server using it? "
                "choose another with --port (make run: PORT=8001, and HOST= for the address)"
            ) from None
