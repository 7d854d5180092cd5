"""RFC 6750 bearer-token checks, independent of any web framework.

:mod:`tokenkeep.fastapi` and :mod:`tokenkeep.flask` are thin adapters over
:func:`authenticate`: it reads the ``Authorization`` header value and the raw query string,
verifies the token against a :class:`~tokenkeep.TokenStore`, and either returns the
:class:`~tokenkeep.TokenInfo` or raises :class:`BearerError`, which carries the exact HTTP
answer (status, ``WWW-Authenticate`` header, JSON body). Nothing here ever puts the presented
token into a header, a body, a log line or an exception message.

>>> try:
...     info = authenticate(store, "Bearer " + secret, b"", ("device:read",))
... except BearerError as e:
...     status, headers, body = e.status_code, e.headers, e.body
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Dict, Optional, Tuple, Union

from ..errors import AuthenticationError, ExpiredToken, InsufficientScope, RevokedToken
from ..models import TokenInfo
from ..store import TokenStore

__all__ = ["BearerError", "authenticate", "parse_authorization"]

# Fixed descriptions: they go into a quoted header parameter, so no '"' or '\' in them.
_MISSING = "A bearer token is required (Authorization: Bearer <token>)"
_INVALID = "The access token is invalid"
_EXPIRED = "The access token has expired"
_REVOKED = "The access token has been revoked"
_IN_URL = "Access tokens are not accepted in the URL; send them in the Authorization header"
_SCOPE = "The access token lacks the required scope"

_QUERY_PARAM = re.compile(rb"(?:^|[&;])access_token=", re.IGNORECASE)


class BearerError(Exception):
    """The HTTP answer to a request whose bearer token does not pass.

    ``status_code`` is 401 (no token, or a bad, expired or revoked one), 403 (valid token,
    missing scope) or 400 (token in the URL). ``error`` is the RFC 6750 error code, None when
    the request carried no token at all (RFC 6750 §3.1). ``headers`` holds the
    ``WWW-Authenticate`` challenge; ``body`` is a JSON-ready dict.
    """

    def __init__(
        self,
        status_code: int,
        error: Optional[str],
        description: str,
        *,
        scope: Optional[str] = None,
        realm: Optional[str] = None,
    ) -> None:
        super().__init__(description)
        self.status_code = status_code
        self.error = error
        self.description = description
        self.scope = scope
        self.realm = realm

    @property
    def www_authenticate(self) -> str:
        params = []
        if self.realm:
            params.append(f'realm="{_quote(self.realm)}"')
        if self.error:
            params.append(f'error="{self.error}"')
            params.append(f'error_description="{self.description}"')
        if self.scope:
            params.append(f'scope="{self.scope}"')
        return "Bearer " + ", ".join(params) if params else "Bearer"

    @property
    def headers(self) -> Dict[str, str]:
        return {"WWW-Authenticate": self.www_authenticate, "Cache-Control": "no-store"}

    @property
    def body(self) -> Dict[str, str]:
        out = {}
        if self.error:
            out["error"] = self.error
        out["error_description"] = self.description
        if self.scope:
            out["scope"] = self.scope
        return out


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def parse_authorization(header: Optional[str]) -> Optional[str]:
    """The credentials of an ``Authorization: Bearer <token>`` header value, or None when the
    header is absent, empty, or of another scheme (``Basic ...``). The scheme is
    case-insensitive (RFC 7235); surrounding blanks are dropped. An empty token is ``""``."""
    if not header:
        return None
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip()


def token_in_query(query_string: Union[bytes, str], prefix: str) -> bool:
    """True when the raw query string carries an ``access_token`` parameter, or a value that
    looks like one of this store's tokens (``<prefix>_`` and 40 or more letters or digits)."""
    if not query_string:
        return False
    if isinstance(query_string, str):
        query_string = query_string.encode("latin-1", "replace")
    if _QUERY_PARAM.search(query_string):
        return True
    marker = prefix.encode("ascii") + b"_"
    if marker not in query_string:
        return False
    return (
        re.search(rb"(?:^|[=&;])" + re.escape(marker) + rb"[A-Za-z0-9]{40,}", query_string)
        is not None
    )


def authenticate(
    store: TokenStore,
    authorization: Optional[str],
    query_string: Union[bytes, str],
    scopes: Sequence[str] = (),
    *,
    realm: Optional[str] = None,
) -> TokenInfo:
    """Verify the bearer token of one request and check it grants every scope in ``scopes``.

    ``authorization`` is the ``Authorization`` header value (None if absent) and
    ``query_string`` the raw query string. Returns the token's :class:`TokenInfo`, or raises
    :class:`BearerError` with the RFC 6750 answer:

    - token in the query string: 400 ``invalid_request`` (even with a valid header),
    - no bearer token: 401, ``WWW-Authenticate: Bearer`` with no error code,
    - malformed, unknown, wrong, expired or revoked token: 401 ``invalid_token``,
    - valid token without a required scope: 403 ``insufficient_scope`` with ``scope``.

    Other errors (a :class:`~tokenkeep.StoreError` when the database is unreadable) propagate.
    """
    if query_string and token_in_query(query_string, store.prefix):
        raise BearerError(400, "invalid_request", _IN_URL, realm=realm)
    secret = parse_authorization(authorization)
    if secret is None:
        raise BearerError(401, None, _MISSING, realm=realm)
    try:
        return store.verify(secret, *scopes)
    except ExpiredToken:
        raise BearerError(401, "invalid_token", _EXPIRED, realm=realm) from None
    except RevokedToken:
        raise BearerError(401, "invalid_token", _REVOKED, realm=realm) from None
    except AuthenticationError:
        raise BearerError(401, "invalid_token", _INVALID, realm=realm) from None
    except InsufficientScope:
        raise BearerError(
            403, "insufficient_scope", _SCOPE, scope=" ".join(scopes), realm=realm
        ) from None


def split_scopes(scopes: Tuple[str, ...]) -> Tuple[str, ...]:
    """Accept ``require("device:read", "policy:read")`` and ``require("device:read policy:read")``."""
    out = []
    for s in scopes:
        if not isinstance(s, str):
            raise TypeError("scopes must be strings")
        out.extend(s.split())
    return tuple(out)
