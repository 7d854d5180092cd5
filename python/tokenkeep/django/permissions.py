"""``tokenkeep.django.HasScopes``: a DRF permission on the request token's scopes, per method.

>>> class DeviceList(APIView):
...     permission_classes = [HasScopes("device:read", POST="device:write")]
>>> class Policies(APIView):
...     permission_classes = [HasScopes(read="policy:read", write="policy:write")]
>>> class Audit(APIView):
...     permission_classes = [HasScopes("audit:read") & IsAdminUser]   # DRF's operators work

``HasScopes(...)`` is a permission class (DRF instantiates it per request). Positional
scopes apply to every method, ``read=`` to GET/HEAD/OPTIONS, ``write=`` to every other
method, ``GET=``/``POST=``/``PUT=``/``PATCH=``/``DELETE=`` to that method; the most specific
entry wins (:class:`~tokenkeep.django.scopes.ScopeRule`). A method no entry covers is
refused with 403 (``HasScopes(GET="a", POST="b")`` refuses PUT, PATCH and DELETE; say
``DELETE=()`` to let any valid token delete). ``HasScopes()`` lets any valid token through
for every method. A request that was not authenticated by a tokenkeep token (anonymous, or a
session login) is refused with 401 and the ``Bearer`` challenge; a token without the scope
with 403 ``insufficient_scope`` and ``scope="..."``, as the FastAPI/Flask guards answer.
The scope check is the engine's own: the token is verified once more with the scopes
(a microsecond), so a scope edit or a revoke made after authentication still counts.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission, BasePermissionMetaclass
from rest_framework.request import Request

from ..models import TokenInfo
from ..web.bearer import BearerError, invalid_token, method_refused, missing_token
from .conf import tokenkeep_settings
from .exceptions import BearerFailed
from .identity import verify_request
from .scopes import ScopeRule, ScopeSpec

__all__ = ["HasScopes"]


class _HasScopesMeta(BasePermissionMetaclass):
    """``HasScopes("a", POST="b")`` makes a permission class; DRF's ``permission()`` call on
    that class makes the per-request instance."""

    def __call__(
        cls,
        *scopes: str,
        read: ScopeSpec | None = None,
        write: ScopeSpec | None = None,
        **methods: ScopeSpec,
    ) -> Any:
        if cls.rule is None:
            rule = ScopeRule(scopes, read, write, **methods)
            rule.where = f"HasScopes({rule!r})"
            return type(cls)(
                f"HasScopes({rule!r})", (cls,), {"rule": rule, "__module__": cls.__module__}
            )
        if scopes or read is not None or write is not None or methods:
            raise TypeError(
                f"{cls.__name__} is already configured; call HasScopes(...) to make another"
            )
        return super().__call__()


class HasScopes(BasePermission, metaclass=_HasScopesMeta):
    """Requires the request's tokenkeep token to grant scopes, per HTTP method (see module)."""

    rule: ScopeRule | None = None

    def has_permission(self, request: Request, view: Any) -> bool:
        realm = tokenkeep_settings().realm
        info = request.auth
        if not isinstance(info, TokenInfo):
            raise BearerFailed(missing_token(realm=realm))
        wanted: tuple[str, ...] | None = self.rule.for_method(request.method) if self.rule else ()
        if wanted is None:
            raise BearerFailed(method_refused(realm=realm))
        if not wanted:
            return True
        try:
            verified = verify_request(request._request, wanted)
        except BearerError as failure:
            raise BearerFailed(failure) from None
        if verified.id != info.id:  # the header is the one authentication read; never differs
            raise BearerFailed(invalid_token(realm=realm))
        return True
