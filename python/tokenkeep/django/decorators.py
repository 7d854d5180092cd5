"""``require_token(*scopes)``: the bearer-token guard for plain Django views (no DRF).

>>> from tokenkeep.django import require_token
>>> @require_token("policy:read", POST="policy:write")
... def policies(request):
...     return JsonResponse({"owner": request.auth.owner, "user": request.user.get_username()})

The view runs only for a request whose token is good, grants the scopes its method needs
(same keywords as :class:`~tokenkeep.django.HasScopes`; a method no keyword covers is
refused with 403) and whose owner is an active user;
``request.user`` is then that user and ``request.auth`` the token's
:class:`~tokenkeep.TokenInfo`. Otherwise the answer is the guards' JSON and headers
(400/401/403/503, RFC 6750) and the view is not called. The view is CSRF-exempt: it only
runs for a request that carries its credentials in a header, which a browser never adds by
itself. Async views are awaited (authentication runs in a thread, as the ORM requires).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.http import HttpRequest

from ..models import TokenInfo
from ..web.bearer import BearerError, method_refused
from .conf import tokenkeep_settings
from .identity import authenticate_request, bearer_response
from .scopes import ScopeRule, ScopeSpec

__all__ = ["require_token"]

F = TypeVar("F", bound=Callable[..., Any])


def _authenticate(request: HttpRequest, rule: ScopeRule) -> tuple[Any, TokenInfo]:
    """The user and token of a request whose method the rule covers; a method it does not
    cover is refused with 403 once the token itself is known good (a bad one is still 401)."""
    wanted = rule.for_method(request.method or "GET")
    if wanted is None:
        authenticate_request(request)
        raise method_refused(realm=tokenkeep_settings().realm)
    return authenticate_request(request, wanted)


def require_token(
    *scopes: str,
    read: ScopeSpec | None = None,
    write: ScopeSpec | None = None,
    **methods: ScopeSpec,
) -> Callable[[F], F]:
    """A view decorator; see the module docstring. ``require_token()``: any valid token."""
    rule = ScopeRule(scopes, read, write, **methods)

    def decorate(view: F) -> F:
        rule.where = f"@require_token({rule!r}) on {view.__module__}.{view.__qualname__}"
        if asyncio.iscoroutinefunction(view):

            @functools.wraps(view)
            async def guarded_async(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                try:
                    request.user, request.auth = await sync_to_async(_authenticate)(request, rule)
                except BearerError as failure:
                    return bearer_response(failure)
                return await view(request, *args, **kwargs)

            guarded: Any = guarded_async
        else:

            @functools.wraps(view)
            def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                try:
                    request.user, request.auth = _authenticate(request, rule)
                except BearerError as failure:
                    return bearer_response(failure)
                return view(request, *args, **kwargs)

        guarded.csrf_exempt = True
        guarded.tokenkeep_scopes = rule
        return guarded

    return decorate
