"""The RFC 7662 / RFC 7009 endpoints as Django views (see :mod:`tokenkeep.django.oauth_urls`).

Thin adapters over :mod:`tokenkeep.web.oauth`, which decides every answer, on the store of
``settings.TOKENKEEP`` (:func:`~tokenkeep.django.get_store`). CSRF-exempt: a caller
authenticates with a service token in the ``Authorization`` header, which a browser never
adds by itself. Another method than POST is a 405.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ..errors import StoreError
from ..models import TokenInfo
from ..web import oauth
from ..web.bearer import unavailable
from .identity import issued_to, user_for_owner
from .store import get_store

__all__ = ["introspect", "revoke"]


def _body(request: HttpRequest) -> bytes | None:
    """At most MAX_BODY bytes of the body; None when it is larger (left unread)."""
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isdigit() and int(declared) > oauth.MAX_BODY:
        return None
    body = request.read(oauth.MAX_BODY + 1)
    return None if len(body) > oauth.MAX_BODY else body


def _answer(request: HttpRequest, decide: Callable[..., oauth.Answer]) -> HttpResponse:
    try:
        store = get_store()
    except StoreError:
        failure = unavailable()
        answer = oauth.Answer(failure.status_code, failure.headers, b"")
    else:
        answer = decide(
            store,
            request.META.get("HTTP_AUTHORIZATION"),
            request.META.get("QUERY_STRING", ""),
            request.META.get("CONTENT_TYPE"),
            _body(request),
        )
    response = HttpResponse(answer.body, status=answer.status)
    for name, value in answer.headers.items():
        response[name] = value
    if not answer.body:
        del response["Content-Type"]
    return response


def _site_accepts(info: TokenInfo) -> bool:
    """What the site's guards require beyond the store: an active user for the owner, whose
    account existed when the token was made (:mod:`tokenkeep.django.identity`)."""
    user = user_for_owner(info.owner)
    return user is not None and issued_to(user, info)


def _introspect(*args: Any) -> oauth.Answer:
    return oauth.introspect(*args, accept=_site_accepts)


@csrf_exempt
@require_POST
def introspect(request: HttpRequest) -> HttpResponse:
    """``POST …/introspect``: RFC 7662 token introspection; a token the site's guards would
    refuse (its owner is no active user) is ``{"active": false}``."""
    return _answer(request, _introspect)


@csrf_exempt
@require_POST
def revoke(request: HttpRequest) -> HttpResponse:
    """``POST …/revoke``: RFC 7009 token revocation."""
    return _answer(request, oauth.revoke)
