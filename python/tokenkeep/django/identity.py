"""A request's bearer token and the Django user it stands for, independent of DRF.

:func:`authenticate_request` is what :class:`~tokenkeep.django.TokenAuthentication` and
:func:`~tokenkeep.django.require_token` both call: the RFC 6750 rule of
:mod:`tokenkeep.web.bearer` on the request's ``Authorization`` header and query string,
then the owner -> user mapping. Failures are :class:`~tokenkeep.web.bearer.BearerError`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from ..errors import StoreError
from ..models import TokenInfo
from ..store import TokenStore
from ..web.bearer import BearerError, authenticate, invalid_token, unavailable
from ..web.client_address import client_address
from .conf import tokenkeep_settings
from .store import get_store
from .user_cache import cached_user, remember_user

__all__ = [
    "authenticate_request",
    "bearer_response",
    "issued_to",
    "request_client",
    "user_for_owner",
]

# How much earlier than the account's date_joined a token may say it was made and still be
# the account's: the token's clock (the process that created it) and the one that stamped
# date_joined may be different hosts' clocks.
CLOCK_SLACK = timedelta(minutes=2)


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


def tokens_since(user: Any) -> datetime | None:
    """The earliest ``created_at`` a token of ``user`` can have: its ``date_joined`` less
    :data:`CLOCK_SLACK` (aware); None for a user without a ``date_joined`` datetime
    (``TokenUser``, custom models), which is not checked."""
    joined = getattr(user, "date_joined", None)
    if not isinstance(joined, datetime):
        return None
    if timezone.is_naive(joined):
        joined = timezone.make_aware(joined, timezone.get_default_timezone())
    return joined - CLOCK_SLACK


def issued_to(user: Any, info: TokenInfo) -> bool:
    """False for a token made before the user's account existed (:func:`tokens_since`): it
    was issued to an earlier account of the same name, which was deleted (its tokens are
    revoked then: :mod:`~tokenkeep.django.lifecycle`) or renamed."""
    since = tokens_since(user)
    return since is None or info.created_at >= since


def _store(realm: str | None) -> TokenStore:
    try:
        return get_store()
    except StoreError:
        raise unavailable(realm=realm) from None


def request_client(request: HttpRequest) -> str | None:
    """The request's client address: ``REMOTE_ADDR``, or what the proxies of
    ``TOKENKEEP["TRUSTED_PROXIES"]`` report in ``TOKENKEEP["PROXY_HEADER"]`` when the peer is
    one of them (:mod:`tokenkeep.web.client_address`)."""
    trusted = tokenkeep_settings().trusted_proxies
    meta = request.META
    if not trusted:
        return client_address(meta.get("REMOTE_ADDR"))
    key = "HTTP_" + trusted.header.upper().replace("-", "_")
    return client_address(meta.get("REMOTE_ADDR"), meta.get(key), trusted)


def verify_request(request: HttpRequest, scopes: Sequence[str] = ()) -> TokenInfo:
    """The TokenInfo of the request's bearer token if it grants ``scopes``, else BearerError.
    The token is verified with the request's client address (:func:`request_client`)."""
    realm = tokenkeep_settings().realm
    return authenticate(
        _store(realm),
        request.META.get("HTTP_AUTHORIZATION"),
        request.META.get("QUERY_STRING", ""),
        scopes,
        realm=realm,
        client=request_client(request),
    )


def authenticate_request(
    request: HttpRequest, scopes: Sequence[str] = (), *, users: UserMapping | None = None
) -> tuple[Any, TokenInfo]:
    """``(user, TokenInfo)`` for a request whose bearer token is good and grants ``scopes``
    and whose owner is an active user (``users``: see :func:`user_for_owner`) whose account
    existed when the token was made (:func:`issued_to`); else :class:`BearerError` (401
    ``invalid_token`` for a refused owner, as for a wrong token). The default mapping's
    user comes from :mod:`~tokenkeep.django.user_cache` when it holds it for this token."""
    info = verify_request(request, scopes)
    conf = tokenkeep_settings()
    cacheable = users is None and conf.user is None and conf.user_cache > 0
    if cacheable:  # the default mapping: see user_cache (never outlives a change of the user)
        user = cached_user(info)
        if user is not None:
            return user, info
    user = user_for_owner(info.owner, users)
    if user is None or not issued_to(user, info):
        raise invalid_token(realm=conf.realm)
    if cacheable:
        remember_user(info, user, conf.user_cache)
    return user, info


def bearer_response(failure: BearerError) -> JsonResponse:
    """The HTTP answer to a refused request: status, challenge headers and the JSON body."""
    response = JsonResponse(failure.body, status=failure.status_code)
    for name, value in failure.headers.items():
        response[name] = value
    return response
