"""The Access Token tab inside a Django site: the views behind ``tokenkeep.django.urls``.

The same page as ``tokenkeep serve``: the same Jinja2 templates (``tokenkeep/web/templates``),
the same view model (``web/view.py``) and actions (``web/actions.py``), the same security
headers (a strict Content-Security-Policy, ``no-store`` on every page). What is Django's:
who is signed in (``login_required``; the owner is ``request.user.get_username()``), CSRF
(Django's middleware token in the forms, ``csrf_protect`` on the views, plus the page's
same-origin check) and the URLs (``reverse`` in the namespace the site included them under).

By default the tab extends the site's own Django ``base.html`` when there is one
(``site_layout.py``: ``TOKENKEEP["BASE_TEMPLATE"]`` and ``["BASE_BLOCK"]``).
``TOKENKEEP["TEMPLATE_DIRS"]`` are searched before tokenkeep's templates: a Jinja2
``base.html`` there is the tab's layout instead (it must keep the ``title`` and ``content``
blocks and link ``{{ urls.static }}admin.css`` and ``admin.js``).
"""

from __future__ import annotations

import mimetypes
import os
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import jinja2
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ImproperlyConfigured
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.urls import reverse
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ..errors import InvalidArgument
from ..web import actions, revoke_all, scope_words, view
from ..web.security import NO_STORE, SECURITY_HEADERS, same_origin
from . import site_layout
from .conf import tokenkeep_settings
from .identity import tokens_since
from .store import get_store

__all__ = ["access_tokens", "profile", "revoke_all_tokens", "static", "token_action"]

WEB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "web")
STATIC = os.path.join(WEB, "static")
STATIC_FILES = frozenset(os.listdir(STATIC))
CSRF_FIELD = "csrfmiddlewaretoken"  # the field Django's CsrfViewMiddleware reads
ACTIONS: dict[str, Callable[..., actions.Answer]] = {
    "scopes": actions.edit,
    "revoke": actions.revoke,
    "rotate": actions.rotate,
}

_env_lock = threading.Lock()
_env: tuple[tuple[str, ...], jinja2.Environment] | None = None


def _templates() -> jinja2.Environment:
    """One Jinja2 environment per set of template folders (they come from the settings)."""
    global _env
    dirs = tokenkeep_settings().template_dirs
    current = _env
    if current is None or current[0] != dirs:
        with _env_lock:
            env = jinja2.Environment(
                loader=jinja2.FileSystemLoader([*dirs, os.path.join(WEB, "templates")]),
                autoescape=True,
            )
            env.filters.update(view.TEMPLATE_FILTERS)
            current = _env = (dirs, env)
    return current[1]


def _urls(request: HttpRequest) -> dict[str, str]:
    namespace = request.resolver_match.namespace if request.resolver_match else ""
    prefix = namespace + ":" if namespace else ""
    base = reverse(prefix + "profile")  # the include's root, ending in "/"
    page = reverse(prefix + "access_tokens")
    return {
        "home": base,
        "profile": base,
        "page": page,
        "create": page,
        "token": page + "/",  # + id + "/scopes" | "/revoke" | "/rotate"
        "static": base + "static/",
    }


def _secure(response: HttpResponse, *, cache: bool = False) -> HttpResponse:
    for name, value in SECURITY_HEADERS.items():
        response[name] = value
    if not cache:
        for name, value in NO_STORE.items():
            response[name] = value
    return response


def _scope_words(words: Any) -> dict[str, str]:
    try:
        return scope_words.scope_descriptions(get_store().vocabulary, words)
    except InvalidArgument as e:  # a typo in the setting: the site's configuration is wrong
        raise ImproperlyConfigured(f'settings.TOKENKEEP["SCOPE_DESCRIPTIONS"]: {e}') from None


def _render(request: HttpRequest, template: str, status: int = 200, **context: Any) -> HttpResponse:
    user = request.user.get_username()
    settings = tokenkeep_settings()
    base = site_layout.site_base()
    context.update(
        title=settings.title,
        user=user,
        urls=_urls(request),
        csrf_field=CSRF_FIELD,
        csrf_token=get_token(request),
        scope_words=_scope_words(settings.scope_descriptions),
        layout=site_layout.EMBEDDED if base else None,
    )
    html = _templates().get_template(template).render(context)
    if base:
        html = site_layout.wrap(request, base, html)
    return _secure(HttpResponse(html, status=status, content_type="text/html; charset=utf-8"))


def _respond(request: HttpRequest, answer: actions.Answer) -> HttpResponse:
    if answer.redirect is not None:
        query = "?" + urlencode(answer.redirect) if answer.redirect else ""
        response = HttpResponseRedirect(_urls(request)["page"] + query)
        response.status_code = 303  # after a POST: the browser GETs the page
        return _secure(response)
    owner = request.user.get_username()
    since = tokens_since(request.user)  # an earlier account of the name: not this user's
    context = view.token_page(get_store(), owner, answer.params, since=since, **answer.state)
    return _render(request, "access_tokens.html", answer.status, **context)


def _cross_site(request: HttpRequest) -> HttpResponse | None:
    """The page's own answer to a form another site sent (Django's CSRF check runs first)."""
    if same_origin(request.headers):
        return None
    message = (
        "The form was not sent from this page, or it is too old. Reload the page and try again."
    )
    return _render(request, "error.html", 403, heading="This form has expired", message=message)


@require_GET
@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """The Profile tab: who is signed in and how many active tokens they have."""
    count = get_store().list(request.user.get_username(), state="active", limit=1).total
    return _render(request, "profile.html", count=count)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@csrf_protect
def access_tokens(request: HttpRequest) -> HttpResponse:
    """The Access Token tab (GET), and the create form (POST)."""
    owner = request.user.get_username()
    if request.method == "POST":
        refused = _cross_site(request)
        return refused or _respond(request, actions.create(get_store(), owner, request.POST))
    return _respond(request, actions.shown(get_store(), owner, request.GET))


@require_POST
@login_required
@csrf_protect
def token_action(request: HttpRequest, token_id: str, action: str) -> HttpResponse:
    """A form on one token: ``scopes`` (edit), ``revoke`` or ``rotate`` (regenerate)."""
    handler = ACTIONS.get(action)
    if handler is None:
        raise Http404("no such action")
    refused = _cross_site(request)
    if refused is not None:
        return refused
    return _respond(
        request, handler(get_store(), request.user.get_username(), token_id, request.POST)
    )


@require_POST
@login_required
@csrf_protect
def revoke_all_tokens(request: HttpRequest) -> HttpResponse:
    """ "Revoke all": every live token of the signed-in user, the count confirmed."""
    refused = _cross_site(request)
    if refused is not None:
        return refused
    since = tokens_since(request.user)
    owner = request.user.get_username()
    return _respond(request, revoke_all.revoke_all(get_store(), owner, request.POST, since))


@require_GET
def static(request: HttpRequest, name: str) -> HttpResponse:
    """The page's stylesheet, script and icon (public, cacheable)."""
    if name not in STATIC_FILES:
        raise Http404("no such file")
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return _secure(
        FileResponse(open(os.path.join(STATIC, name), "rb"), content_type=kind), cache=True
    )
