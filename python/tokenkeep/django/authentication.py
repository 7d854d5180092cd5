"""``tokenkeep.django.TokenAuthentication``: DRF authentication by ``Authorization: Bearer``.

>>> REST_FRAMEWORK = {
...     "DEFAULT_AUTHENTICATION_CLASSES": ["tokenkeep.django.TokenAuthentication"],
...     "EXCEPTION_HANDLER": "tokenkeep.django.exception_handler",
... }

A request with a good token is ``(request.user, request.auth) == (user, TokenInfo)``: the
user the token's owner stands for (:func:`~tokenkeep.django.identity.user_for_owner`) and
the token's :class:`~tokenkeep.TokenInfo`. The answers are those of the FastAPI and Flask
guards (one rule, :mod:`tokenkeep.web.bearer`):

- a token in the query string, or two Authorization headers: 400 ``invalid_request``;
- a malformed, unknown, expired or revoked token, or an owner with no active user: 401
  ``invalid_token``;
- a token bound to networks the request's client is not in: 403 ``insufficient_scope`` (the
  client is ``REMOTE_ADDR``, or what a proxy of ``TOKENKEEP["TRUSTED_PROXIES"]`` reports:
  :func:`~tokenkeep.django.identity.request_client`);
- the store cannot answer: 503 with ``Retry-After``.

A request without a bearer token is not refused here: it stays anonymous, so that other
authentication classes (DRF's SessionAuthentication) may accept it, and the view's
permissions decide (:class:`~tokenkeep.django.HasScopes` answers 401 with the bare
``Bearer`` challenge, which is also what this class gives DRF for ``IsAuthenticated``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from ..models import TokenInfo
from ..web.bearer import BearerError, missing_token
from .conf import tokenkeep_settings
from .exceptions import BearerFailed
from .identity import authenticate_request

__all__ = ["TokenAuthentication"]


class TokenAuthentication(BaseAuthentication):
    """DRF authentication class for tokenkeep bearer tokens (see the module docstring).

    ``owner_to_user``: a callable ``owner -> user or None`` for this class (a subclass sets
    it); None (default) means ``settings.TOKENKEEP["USER"]``, else the Django user named so.

    >>> class ServiceTokens(TokenAuthentication):
    ...     owner_to_user = TokenUser          # no user query for these views
    """

    owner_to_user: Callable[[str], Any] | None = None

    def authenticate(self, request: Request) -> tuple[Any, TokenInfo] | None:
        try:
            return authenticate_request(request._request, users=type(self).owner_to_user)
        except BearerError as failure:
            if failure.status_code == 401 and failure.error is None:
                return None  # no bearer token: not ours to refuse
            raise BearerFailed(failure) from None

    def authenticate_header(self, request: Request) -> str:
        return missing_token(realm=tokenkeep_settings().realm).www_authenticate
