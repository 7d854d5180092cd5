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
from urllib.parse import unquote_plus

from ..errors import (
    AuthenticationError,
    ExpiredToken,
    InsufficientScope,
    NetworkNotAllowed,
    PermissionDenied,
    RevokedToken,
    StoreError,
    TokenkeepError,
)
from ..models import TokenInfo
from ..service_tokens import RESERVED_OWNER_PREFIX
from ..store import TokenStore

__all__ = [
    "BearerError",
    "authenticate",
    "invalid_token",
    "missing_token",
    "parse_authorization",
    "single_authorization",
    "token_in_query",
    "unavailable",
]

# Fixed descriptions: they go into a quoted header parameter, so no '"' or '\' in them.
_MISSING = "A bearer token is required (Authorization: Bearer <token>)"
_INVALID = "The access token is invalid"
_EXPIRED = "The access token has expired"
_REVOKED = "The access token has been revoked"
_IN_URL = "Access tokens are not accepted in the URL; send them in the Authorization header"
_SCOPE = "The access token lacks the required scope"
_NETWORK = "The access token may not be used from this network"
_DENIED = "The access token may not be used for this request"
_TWO_HEADERS = "A request must carry one Authorization header, not several"
_METHOD = "No access token may use this HTTP method here"
_UNAVAILABLE = "The token store is unavailable; try again later"

_QUERY_PARAM = re.compile(r"(?:^|[&;])access_token=", re.IGNORECASE)


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
        error: str | None,
        description: str,
        *,
        scope: str | None = None,
        realm: str | None = None,
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
    def headers(self) -> dict[str, str]:
        if self.status_code == 503:  # not the token's fault: no challenge, a retry hint
            return {"Retry-After": "1", "Cache-Control": "no-store"}
        return {"WWW-Authenticate": self.www_authenticate, "Cache-Control": "no-store"}

    @property
    def body(self) -> dict[str, str]:
        out = {}
        if self.error:
            out["error"] = self.error
        out["error_description"] = self.description
        if self.scope:
            out["scope"] = self.scope
        return out


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def parse_authorization(header: str | None) -> str | None:
    """The credentials of an ``Authorization: Bearer <token>`` header value, or None when the
    header is absent, empty, or of another scheme (``Basic ...``). The scheme is
    case-insensitive (RFC 7235); surrounding blanks are dropped. An empty token is ``""``."""
    if not header:
        return None
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip()


def token_in_query(query_string: bytes | str, prefix: str) -> bool:
    """True when the query string carries an ``access_token`` parameter, or a key or value
    that, once decoded, holds something shaped like one of this store's tokens (``<prefix>_``
    and 40 or more letters or digits, not glued to a longer word): ``?x=Bearer+tk_...``,
    ``?t=tk%5F...``, ``?t=%2574k_...`` (encoded twice) are all refused. Shape, not checksum:
    a mistyped token in a URL lands in access logs just the same."""
    if not query_string:
        return False
    if isinstance(query_string, bytes):
        query_string = query_string.decode("latin-1")
    if _QUERY_PARAM.search(query_string):
        return True
    marker = prefix + "_"
    if marker not in query_string and "%" not in query_string:
        return False  # the usual query string: nothing to decode
    shape = _token_shape(prefix)
    for part in re.split(r"[&;]", query_string):
        for text in part.split("=", 1):
            for _ in range(4):  # decoded up to three times: %25-encoded layers
                if shape.search(text) or text.lower().startswith("access_token"):
                    return True
                decoded = unquote_plus(text, encoding="latin-1")
                if decoded == text:
                    break
                text = decoded
    return False


_SHAPES: dict[str, re.Pattern[str]] = {}


def _token_shape(prefix: str) -> re.Pattern[str]:
    shape = _SHAPES.get(prefix)
    if shape is None:
        shape = _SHAPES[prefix] = re.compile(
            r"(?<![A-Za-z0-9_])" + re.escape(prefix) + r"_[A-Za-z0-9]{40,}"
        )
    return shape


def single_authorization(
    values: None | str | Sequence[str], *, realm: str | None = None
) -> str | None:
    """The one ``Authorization`` header value of a request (None if absent); two or more
    headers (or one WSGI joined from several) are a malformed request (RFC 6750 §2: one
    method, once), never "first wins"."""
    if values is None:
        return None
    values = [values] if isinstance(values, str) else list(values)
    # WSGI servers join repeated headers with ", " (PEP 3333); a bearer token never holds one.
    if len(values) > 1 or any("," in v for v in values):
        raise BearerError(400, "invalid_request", _TWO_HEADERS, realm=realm)
    return values[0] if values else None


def authenticate(
    store: TokenStore,
    authorization: str | Sequence[str] | None,
    query_string: bytes | str,
    scopes: Sequence[str] = (),
    *,
    realm: str | None = None,
    client: str | None = None,
) -> TokenInfo:
    """Verify the bearer token of one request and check it grants every scope in ``scopes``.

    ``authorization`` is the ``Authorization`` header value (None if absent), or the list of
    every such header's value (two or more are a 400 ``invalid_request``), and
    ``query_string`` the raw query string. ``client``: the request's address
    (:func:`tokenkeep.web.client_address.client_address`), which a network-bound token
    needs. Returns the token's :class:`TokenInfo`, or raises :class:`BearerError` with the
    RFC 6750 answer:

    - token in the query string, or several Authorization headers: 400 ``invalid_request``
      (even with a valid header),
    - no bearer token: 401, ``WWW-Authenticate: Bearer`` with no error code,
    - malformed, unknown, wrong, expired or revoked token, or a service token (those are for
      the OAuth endpoints only, :mod:`tokenkeep.web.oauth`): 401 ``invalid_token``,
    - valid token without a required scope: 403 ``insufficient_scope`` with ``scope``.
    - valid token bound to networks the client is not in, or no client address
      (:class:`~tokenkeep.NetworkNotAllowed`): 403 ``insufficient_scope``, no ``scope``, and
      a description that says so (the caller holds the secret; what it lacks is the place).

    - the store cannot answer (:class:`~tokenkeep.StoreError`: database down or unreadable, a
      PostgreSQL node that can no longer prove its cache fresh): 503 with ``Retry-After`` —
      never 401, and never 200 from a cache that cannot be trusted.
    """
    if query_string and token_in_query(query_string, store.prefix):
        raise BearerError(400, "invalid_request", _IN_URL, realm=realm)
    secret = parse_authorization(single_authorization(authorization, realm=realm))
    if secret is None:
        raise missing_token(realm=realm)
    try:
        info = store.verify(secret, *scopes, client=client)
    except StoreError:
        raise unavailable(realm=realm) from None
    except ExpiredToken:
        raise BearerError(401, "invalid_token", _EXPIRED, realm=realm) from None
    except RevokedToken:
        raise BearerError(401, "invalid_token", _REVOKED, realm=realm) from None
    except AuthenticationError:
        raise invalid_token(realm=realm) from None
    except InsufficientScope:
        if _is_service(store, secret, client):  # its scope says nothing: it is no user's token
            raise invalid_token(realm=realm) from None
        raise BearerError(
            403, "insufficient_scope", _SCOPE, scope=" ".join(scopes), realm=realm
        ) from None
    except NetworkNotAllowed:
        raise BearerError(403, "insufficient_scope", _NETWORK, realm=realm) from None
    except PermissionDenied:  # any later refusal of a good token: 403, never a 500
        raise BearerError(403, "insufficient_scope", _DENIED, realm=realm) from None
    if info.owner.startswith(RESERVED_OWNER_PREFIX):  # a service token is no user's token
        raise invalid_token(realm=realm)
    return info


def _is_service(store: TokenStore, secret: str, client: str | None = None) -> bool:
    """Whether a secret that verified is a service token's (the refusal path only)."""
    try:
        return store.verify(secret, client=client).owner.startswith(RESERVED_OWNER_PREFIX)
    except TokenkeepError:
        return False


def split_scopes(scopes: tuple[str, ...]) -> tuple[str, ...]:
    """Accept ``require("device:read", "policy:read")`` and ``require("device:read policy:read")``."""
    out = []
    for s in scopes:
        if not isinstance(s, str):
            raise TypeError("scopes must be strings")
        out.extend(s.split())
    return tuple(out)


# -- answers for adapters that verify and decide in separate steps (tokenkeep.django) --------
# DRF authenticates a request before its permissions run, and a site maps the token's owner
# to its own user: these are the same answers authenticate() gives, for those steps.


def missing_token(*, realm: str | None = None) -> BearerError:
    """The 401 for a request that carries no bearer token (a bare ``Bearer`` challenge)."""
    return BearerError(401, None, _MISSING, realm=realm)


def invalid_token(*, realm: str | None = None) -> BearerError:
    """The 401 ``invalid_token`` of a token that cannot be used: also the answer when its
    owner is refused by the site (no such user, or an inactive one), so that a caller cannot
    tell a disabled account from a wrong token."""
    return BearerError(401, "invalid_token", _INVALID, realm=realm)


def method_refused(*, realm: str | None = None) -> BearerError:
    """The 403 ``insufficient_scope`` for an HTTP method a per-method scope rule does not
    cover (tokenkeep.django's HasScopes and require_token): no scope grants it."""
    return BearerError(403, "insufficient_scope", _METHOD, realm=realm)


def unavailable(*, realm: str | None = None) -> BearerError:
    """The 503 (with ``Retry-After``) when the store cannot be opened or cannot answer."""
    return BearerError(503, "temporarily_unavailable", _UNAVAILABLE, realm=realm)
