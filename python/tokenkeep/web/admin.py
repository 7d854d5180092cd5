"""The Access Token page: *User Profile -> Access Token*, served by ``tokenkeep serve``.

A small FastAPI + Jinja2 application, rendered on the server, with a little vanilla JavaScript
for the dialogs and the copy button (``static/admin.js``). A signed-in user lists their
tokens, creates one (name, scopes, expiry), sees its secret exactly once, edits its scopes and
revokes it after a confirmation. Every action is limited to the signed-in user's tokens.

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

Security: every state-changing form carries a CSRF token bound to an ``HttpOnly``,
``SameSite=Strict`` cookie and to the user, and cross-site requests are refused; pages are
``Cache-Control: no-store`` (above all the one that shows a new secret); the secret appears
only in the response to the create form, never in a URL, a redirect, a log line or a later
page; a strict Content-Security-Policy allows no inline script; Jinja2 escapes every value.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import logging
import os
import re
import secrets
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import fastapi
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from ..errors import InvalidArgument, NameTaken, NotFound, UnknownScope
from ..models import TokenInfo
from ..store import TokenStore

__all__ = ["CurrentUser", "create_app", "serve"]

log = logging.getLogger("tokenkeep.web")

HERE = os.path.dirname(os.path.abspath(__file__))
CurrentUser = Callable[[fastapi.Request], Union[Optional[str], Awaitable[Optional[str]]]]

CSRF_COOKIE = "tokenkeep_csrf"
CSRF_FIELD = "csrf_token"
EXPIRY_CHOICES: Tuple[Tuple[str, str], ...] = (
    ("7", "7 days"),
    ("30", "30 days"),
    ("60", "60 days"),
    ("90", "90 days"),
    ("365", "1 year"),
    ("custom", "Custom date…"),
)
DEFAULT_EXPIRY = "30"
SOON = timedelta(days=7)
NAME_MAX = 100

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
NO_STORE = {"Cache-Control": "no-store, max-age=0", "Pragma": "no-cache"}


# -- values the templates show ---------------------------------------------------------------


def scope_label(scope: str) -> str:
    """``device`` -> ``Device``; ``device:read`` -> ``Device (read)``."""
    name, _, action = scope.partition(":")
    label = name.replace("_", " ").replace("-", " ").capitalize()
    return f"{label} ({action})" if action else label


def scope_sort_key(scope: str) -> Tuple[str, str]:
    name, _, action = scope.partition(":")
    return (name, action)


def fmt_date(dt: Optional[datetime]) -> str:
    return "" if dt is None else f"{dt:%b} {dt.day}, {dt.year}"


def fmt_datetime(dt: Optional[datetime]) -> str:
    return "" if dt is None else f"{fmt_date(dt)}, {dt:%H:%M} UTC"


@dataclass
class Row:
    """A token as the table shows it."""

    info: TokenInfo
    scopes: List[str]
    status: str  # "", "soon" or "expired"


@dataclass
class Form:
    """What a create or edit form sent back, to show again with its error."""

    kind: str = ""  # "create" or "edit"
    token_id: str = ""
    name: str = ""
    scopes: List[str] = field(default_factory=list)
    expiry: str = DEFAULT_EXPIRY
    expires_on: str = ""
    error: str = ""


# -- CSRF ------------------------------------------------------------------------------------


class Csrf:
    """Signed double-submit tokens: the form field is an HMAC of the cookie's random value and
    the user's name under a key derived from the store's pepper (``TokenStore._subkey``), so
    every worker process and every restart agrees on it. A form from another site has
    neither; a form for another user does not match."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("a CSRF key is 32 bytes")
        self._key = key

    @staticmethod
    def new_cookie() -> str:
        return secrets.token_urlsafe(32)

    def token(self, cookie: str, user: str) -> str:
        msg = f"{len(user)}:{user}:{cookie}".encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()

    def valid(self, cookie: Optional[str], user: str, sent: Optional[str]) -> bool:
        if not cookie or not sent or not isinstance(sent, str):
            return False
        return hmac.compare_digest(self.token(cookie, user), sent)


def _same_origin(request: fastapi.Request) -> bool:
    """False for a request a browser marks as coming from another site (Fetch Metadata), or
    whose Origin header names another host."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or (origin == "null" and site is not None):
        return True  # "null": a privacy-minded browser hid it; Sec-Fetch-Site vouched above
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1].rstrip("/") == host


# -- the application -------------------------------------------------------------------------


def create_app(
    store: TokenStore,
    *,
    current_user: CurrentUser,
    title: str = "tokenkeep",
    allowed_hosts: Optional[Sequence[str]] = None,
    secure_cookies: Optional[bool] = None,
) -> fastapi.FastAPI:
    """The Access Token page as an ASGI application over ``store``.

    - ``current_user(request)``: the signed-in user's name, or None (answered with 401). It
      may be ``async``. Every list, create, edit and revoke is done as that owner.
    - ``allowed_hosts``: accept only requests whose ``Host`` is one of these (defends a
      loopback server against DNS rebinding); None accepts any (the host app decides).
    - ``secure_cookies``: mark the CSRF cookie ``Secure``; None: when the request is HTTPS.

    >>> app = create_app(store, current_user=lambda request: "alice")
    >>> # uvicorn.run(app, host="127.0.0.1", port=8000)
    """
    if not isinstance(store, TokenStore):
        raise TypeError("store must be a tokenkeep.TokenStore")
    if not callable(current_user):
        raise TypeError("current_user must be a callable taking the request")

    app = fastapi.FastAPI(
        title=f"{title} access tokens", docs_url=None, redoc_url=None, openapi_url=None
    )
    templates = Jinja2Templates(directory=os.path.join(HERE, "templates"))
    templates.env.filters.update(scope_label=scope_label, date=fmt_date, datetime=fmt_datetime)
    csrf = Csrf(store._subkey("csrf"))
    hosts = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}
    app.mount("/static", StaticFiles(directory=os.path.join(HERE, "static")), name="static")

    @app.middleware("http")
    async def security_headers(request: fastapi.Request, call_next: Callable) -> Response:
        if hosts is not None:
            host = request.headers.get("host", "").lower()
            if host.rsplit(":", 1)[0] not in hosts and host not in hosts:
                return Response("Invalid host", status_code=400, media_type="text/plain")
        static = request.url.path.startswith(
            _base(request) + "/static/"
        )  # before routing changes root_path
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        if not static:
            response.headers.update(NO_STORE)
        return response

    # -- helpers -----------------------------------------------------------------------------

    async def signed_in(request: fastapi.Request) -> Optional[str]:
        user = current_user(request)
        if inspect.isawaitable(user):
            user = await user
        if user is not None and not isinstance(user, str):
            raise TypeError("current_user must return a str or None")
        return user or None

    def vocabulary() -> List[Tuple[str, Tuple[str, ...]]]:
        return sorted(store.vocabulary.items())

    def rows(user: str) -> List[Row]:
        now = store.now()
        out = []
        for info in store.list(owner=user):
            status = ""
            if info.expires_at is not None:
                if info.expires_at <= now:
                    status = "expired"
                elif info.expires_at - now <= SOON:
                    status = "soon"
            out.append(Row(info, sorted(info.scopes, key=scope_sort_key), status))
        return out

    def render(
        request: fastapi.Request,
        template: str,
        user: str,
        *,
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        cookie = request.cookies.get(CSRF_COOKIE)
        fresh = not cookie or len(cookie) > 100
        if fresh:
            cookie = csrf.new_cookie()
        base = _base(request)
        context.update(
            request=request,
            title=title,
            user=user,
            base=base,
            csrf_field=CSRF_FIELD,
            csrf_token=csrf.token(cookie, user),
            vocabulary=vocabulary(),
            expiry_choices=EXPIRY_CHOICES,
            name_max=NAME_MAX,
            today=store.now().date().isoformat(),
            # A custom date means the end of that day (UTC): the last day that fits the cap.
            last_day=(
                (store.now() + store.max_lifetime - timedelta(days=1)).date().isoformat()
                if store.max_lifetime is not None
                else ""
            ),
        )
        response = templates.TemplateResponse(request, template, context, status_code=status_code)
        if fresh:
            secure = request.url.scheme == "https" if secure_cookies is None else secure_cookies
            response.set_cookie(
                CSRF_COOKIE,
                cookie,
                httponly=True,
                samesite="strict",
                secure=secure,
                path=base or "/",
            )
        return response

    def page(
        request: fastapi.Request,
        user: str,
        *,
        status_code: int = 200,
        form: Optional[Form] = None,
        created: Optional[Tuple[TokenInfo, str]] = None,
        updated: Optional[TokenInfo] = None,
        notice: str = "",
        error: str = "",
    ) -> HTMLResponse:
        return render(
            request,
            "access_tokens.html",
            user,
            status_code=status_code,
            rows=rows(user),
            form=form or Form(),
            created=created,
            updated=updated,
            notice=notice,
            error=error,
        )

    def not_signed_in(request: fastapi.Request) -> HTMLResponse:
        return templates.TemplateResponse(
            request,
            "error.html",
            {
                "title": title,
                "base": _base(request),
                "heading": "Not signed in",
                "message": "Sign in to manage your access tokens.",
            },
            status_code=401,
        )

    def forbidden(request: fastapi.Request, user: str) -> HTMLResponse:
        return render(
            request,
            "error.html",
            user,
            status_code=403,
            heading="This form has expired",
            message="The form was not sent from this page, or it is too old. Reload the page and try again.",
        )

    async def read_form(request: fastapi.Request, user: str) -> Optional[Any]:
        """The posted form, or None when it fails the CSRF and same-origin checks."""
        form = await request.form(max_files=0, max_fields=64)
        if not _same_origin(request):
            return None
        if not csrf.valid(request.cookies.get(CSRF_COOKIE), user, form.get(CSRF_FIELD)):
            return None
        return form

    def redirect(request: fastapi.Request, query: str = "") -> RedirectResponse:
        return RedirectResponse(_base(request) + "/profile/access-tokens" + query, status_code=303)

    # -- routes ------------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    async def home(request: fastapi.Request) -> Response:
        return redirect(request)

    @app.get("/profile", response_class=HTMLResponse)
    async def profile(request: fastapi.Request) -> Response:
        user = await signed_in(request)
        if user is None:
            return not_signed_in(request)
        return render(request, "profile.html", user, count=len(store.list(owner=user)))

    @app.get("/profile/access-tokens", response_class=HTMLResponse, name="access_tokens")
    async def access_tokens(
        request: fastapi.Request, updated: str = "", revoked: str = ""
    ) -> Response:
        user = await signed_in(request)
        if user is None:
            return not_signed_in(request)
        info = None
        if updated:
            try:
                info = store.get(owner=user, token_id=updated)
            except (NotFound, InvalidArgument):
                info = None
        notice = (
            "The access token was revoked. Anything using it can no longer sign in."
            if revoked
            else ""
        )
        return page(request, user, updated=info, notice=notice)

    @app.post("/profile/access-tokens", response_class=HTMLResponse)
    async def create_token(request: fastapi.Request) -> Response:
        user = await signed_in(request)
        if user is None:
            return not_signed_in(request)
        data = await read_form(request, user)
        if data is None:
            return forbidden(request, user)
        form = Form(
            kind="create",
            name=str(data.get("name", ""))[: NAME_MAX * 4],
            scopes=_scopes_from(data.getlist("scopes")),
            expiry=str(data.get("expiry", DEFAULT_EXPIRY)),
            expires_on=str(data.get("expires_on", "")),
        )
        form.error, status = _check_name(form.name), 400
        if not form.error and not form.scopes:
            form.error = "Select at least one scope."
        expiry: Dict[str, Any] = {}
        if not form.error:
            expiry, form.error = _expiry_from(form.expiry, form.expires_on)
        if not form.error:
            try:
                issued = store.create(
                    owner=user, name=form.name, scopes=form.scopes, actor=user, **expiry
                )
            except NameTaken:
                form.error, status = (
                    f"You already have an access token named “{form.name.strip()}”. Choose another name.",
                    409,
                )
            except UnknownScope:
                form.error = "One of the selected scopes does not exist."
            except InvalidArgument as e:
                form.error = _expiry_message(str(e))
            else:
                log.info("access token created: owner=%s id=%s", user, issued.info.id)
                return page(request, user, created=(issued.info, issued.secret))
        return page(request, user, status_code=status, form=form)

    @app.post("/profile/access-tokens/{token_id}/scopes", response_class=HTMLResponse)
    async def edit_token(request: fastapi.Request, token_id: str) -> Response:
        user = await signed_in(request)
        if user is None:
            return not_signed_in(request)
        data = await read_form(request, user)
        if data is None:
            return forbidden(request, user)
        form = Form(kind="edit", token_id=token_id, scopes=_scopes_from(data.getlist("scopes")))
        if not form.scopes:
            form.error = "Select at least one scope."
            return page(request, user, status_code=400, form=form)
        try:
            store.update_scopes(owner=user, token_id=token_id, scopes=form.scopes, actor=user)
        except (NotFound, InvalidArgument):
            return page(request, user, status_code=404, error="That access token no longer exists.")
        except UnknownScope:
            form.error = "One of the selected scopes does not exist."
            return page(request, user, status_code=400, form=form)
        log.info("access token scopes changed: owner=%s id=%s", user, token_id)
        return redirect(request, f"?updated={token_id}")

    @app.post("/profile/access-tokens/{token_id}/revoke", response_class=HTMLResponse)
    async def revoke_token(request: fastapi.Request, token_id: str) -> Response:
        user = await signed_in(request)
        if user is None:
            return not_signed_in(request)
        data = await read_form(request, user)
        if data is None:
            return forbidden(request, user)
        try:
            store.revoke(owner=user, token_id=token_id, actor=user)
        except (NotFound, InvalidArgument):
            return page(request, user, status_code=404, error="That access token no longer exists.")
        log.info("access token revoked: owner=%s id=%s", user, token_id)
        return redirect(request, "?revoked=1")

    return app


def _base(request: fastapi.Request) -> str:
    """Where this app is mounted ("" at the root), so links work inside a host application."""
    return request.scope.get("root_path", "").rstrip("/")


def _scopes_from(values: Sequence[Any]) -> List[str]:
    """The selected scopes, with ``device:read`` dropped when ``device`` itself is selected."""
    chosen = {str(v) for v in values if str(v)}
    return sorted(
        (s for s in chosen if s.partition(":")[0] == s or s.partition(":")[0] not in chosen),
        key=scope_sort_key,
    )


def _check_name(name: str) -> str:
    stripped = name.strip()
    if not stripped:
        return "Enter a token name."
    if len(stripped) > NAME_MAX:
        return f"The token name can have at most {NAME_MAX} characters."
    if any(ord(c) < 32 or ord(c) == 127 for c in stripped):
        return "The token name cannot contain control characters."
    return ""


def _expiry_from(choice: str, on: str) -> Tuple[Dict[str, Any], str]:
    """Keyword arguments for ``TokenStore.create`` from the expiry choice, or an error."""
    if choice == "custom":
        try:
            day = date.fromisoformat(on)
        except ValueError:
            return {}, "Choose an expiration date."
        return {"expires_at": datetime.combine(day, time(23, 59, 59), tzinfo=timezone.utc)}, ""
    if choice.isdigit() and any(choice == value for value, _ in EXPIRY_CHOICES):
        return {"expires_in": timedelta(days=int(choice))}, ""
    return {}, "Choose when the token expires."


def _expiry_message(message: str) -> str:
    """The engine's reason a create failed (in practice: the expiry), for the page."""
    longest = re.search(r"max_lifetime of (.+?)\.?$", message)
    if longest:
        return f"Tokens on this server can live at most {longest.group(1)}. Choose an earlier expiration date."
    if "future" in message:
        return "Choose an expiration date in the future."
    return _sentence(message)


def _sentence(message: str) -> str:
    """An engine message as a sentence for the page: ``the expiry exceeds...`` -> ``The expiry exceeds....``"""
    message = message.strip()
    if not message:
        return "The token could not be created."
    message = message[0].upper() + message[1:]
    return message if message.endswith(".") else message + "."


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
    allowed = set(LOOPBACK_NAMES) | {host.lower(), f"[{host.lower()}]"}
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
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
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
                "choose another with --port"
            ) from None
