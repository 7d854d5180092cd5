"""A request's bearer token and the Django user it stands for, independent of DRF.

:func:`authenticate_request` is what :class:`~tokenkeep.django.TokenAuthentication` and
:func:`~tokenkeep.django.require_token` both call: the RFC 6750 rule of
:mod:`tokenkeep.web.bearer` on the request's ``Authorization`` header and query string,
then the owner -> user mapping. Failures are :class:`~tokenkeep.web.bearer.BearerError`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest, JsonResponse

from ..errors import StoreError
from ..models import TokenInfo
from ..store import TokenStore
from ..web.bearer import BearerError, authenticate, invalid_token, unavailable
from .conf import tokenkeep_settings
from .store import get_store

__all__ = ["authenticate_request", "bearer_response", "user_for_owner"]


UserMapping = Callable[[str], Any | None]


def user_for_owner(owner: str, mapping: UserMapping | None = None) -> Any | None:
    """The active user a token's owner stands for, or None (the token is then refused).

    ``mapping`` (a callable ``owner -> user or None``), else ``settings.TOKENKEEP["USER"]``
    (the same, or its dotted path) decides when set; otherwise the user whose username
    (``USERNAME_FIELD``) is the owner. Either way a user whose ``is_active`` is false is no
    user."""
    if mapping is None:
        mapping = tokenkeep_settings().user
    if mapping is not None:
        user = mapping(owner)
    else:
        model = get_user_model()
        try:
            user = model._default_manager.get_by_natural_key(owner)
        except model.DoesNotExist:
            return None
    if user is None or not getattr(user, "is_active", True):
        return None
    return user


def _store(realm: str | None) -> TokenStore:
    try:
        return get_store()
    except StoreError:
        raise unavailable(realm=realm) from None


def verify_request(request: HttpRequest, scopes: Sequence[str] = ()) -> TokenInfo:
    """The TokenInfo of the request's bearer token if it grants ``scopes``, else BearerError."""
    realm = tokenkeep_settings().realm
    return authenticate(
        _store(realm),
        request.META.get("HTTP_AUTHORIZATION"),
        request.META.get("QUERY_STRING", ""),
        scopes,
        realm=realm,
    )


def authenticate_request(
    request: HttpRequest, scopes: Sequence[str] = (), *, users: UserMapping | None = None
) -> tuple[Any, TokenInfo]:
    """``(user, TokenInfo)`` for a request whose bearer token is good and grants ``scopes``
    and whose owner is an active user (``users``: see :func:`user_for_owner`); else
    :class:`BearerError` (401 ``invalid_token`` for a refused owner, as for a wrong token)."""
    info = verify_request(request, scopes)
    user = user_for_owner(info.owner, users)
    if user is None:
        raise invalid_token(realm=tokenkeep_settings().realm)
    return user, info


def bearer_response(failure: BearerError) -> JsonResponse:
    """The HTTP answer to a refused request: status, challenge headers and the JSON body."""
    response = JsonResponse(failure.body, status=failure.status_code)
    for name, value in failure.headers.items():
        response[name] = value
    return response
