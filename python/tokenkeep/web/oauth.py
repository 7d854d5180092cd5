"""RFC 7662 (token introspection) and RFC 7009 (token revocation), independent of any web
framework: what ``POST /oauth/introspect`` and ``POST /oauth/revoke`` answer.

:func:`tokenkeep.fastapi.oauth_router` and ``tokenkeep.django.oauth_urls`` are thin adapters:
they pass the request's ``Authorization`` header values, raw query string, ``Content-Type``
and raw body to :func:`introspect` or :func:`revoke` and send the :class:`Answer` back.

- The caller authenticates with a **service token** (``store.create_service_token``) as a
  bearer token (RFC 7662 §2.1 allows it); no token, a bad one or a user's token is a 401 with
  a ``WWW-Authenticate: Bearer`` challenge, decided before the body is read.
- The token to check is the form field ``token`` of an
  ``application/x-www-form-urlencoded`` body, once; ``token_type_hint`` is optional.
- Introspection: ``{"active": true, "scope", "username", "sub", "token_type", "iat", "exp",
  "jti"}`` for a live user's token, exactly ``{"active": false}`` for anything else (unknown,
  malformed, wrong secret, expired, revoked, a service token). Never an error for those.
- Revocation: 200 with an empty body whether or not the token was known, live or ours
  (RFC 7009 §2.2); a live user's token is revoked and audited with the service as actor.
- Every answer has ``Cache-Control: no-store``. No answer, header or exception message ever
  holds the presented token or the caller's.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote_plus

from ..errors import NotFound, StoreError, TokenkeepError
from ..models import TokenInfo
from ..service_tokens import is_service_token
from ..store import TokenStore
from .bearer import (
    BearerError,
    invalid_token,
    missing_token,
    parse_authorization,
    single_authorization,
    token_in_query,
    unavailable,
)

__all__ = ["Answer", "MAX_BODY", "introspect", "revoke", "authenticate_service"]

MAX_BODY = 8192  # a form with one token and a hint is under 200 bytes
FORM = "application/x-www-form-urlencoded"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
INACTIVE = {"active": False}
# RFC 7009 §2.1's hint values. Anything else is "an invalid token type hint value", ignored.
_ACCESS, _REFRESH = "access_token", "refresh_token"


class Answer(NamedTuple):
    """One HTTP answer: status, headers and the body as bytes (JSON, or empty)."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def _json(status: int, body: dict[str, Any], extra: dict[str, str] | None = None) -> Answer:
    headers = {"Content-Type": "application/json", **NO_STORE, **(extra or {})}
    return Answer(status, headers, json.dumps(body, separators=(",", ":")).encode())


def _refused(failure: BearerError) -> Answer:
    return _json(failure.status_code, failure.body, failure.headers)


def _bad_request(description: str, error: str = "invalid_request", status: int = 400) -> Answer:
    return _json(status, {"error": error, "error_description": description})


class _BasicRefused(BearerError):
    """A refused HTTP Basic client authentication (RFC 6749 §2.3.1, §5.2): 401
    ``invalid_client`` with a ``Basic`` challenge, the scheme the client used."""

    def __init__(self) -> None:
        super().__init__(401, "invalid_client", "Client authentication failed")

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Basic realm="tokenkeep"', "Cache-Control": "no-store"}


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(client_id, client_secret) of an ``Authorization: Basic`` value, each form-decoded as
    RFC 6749 §2.3.1 says; None for another scheme; _BasicRefused when it is malformed."""
    scheme, _, value = (header or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        pair = base64.b64decode(value.strip(), validate=True).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        raise _BasicRefused() from None
    client_id, colon, client_secret = pair.partition(":")
    if not colon:
        raise _BasicRefused()
    return unquote_plus(client_id), unquote_plus(client_secret)


def authenticate_service(
    store: TokenStore, authorization: str | Sequence[str] | None, query_string: bytes | str
) -> TokenInfo:
    """The calling service's token, or :class:`~tokenkeep.web.bearer.BearerError` (401 for no,
    a bad or a user's token, 400 for a token in the URL or two Authorization headers, 503
    when the store cannot answer). Expired and revoked service tokens get the one
    ``invalid_token`` answer: the endpoints tell a caller nothing it did not know.

    Two ways to send the service token: ``Authorization: Bearer <secret>`` (RFC 7662 §2.1
    allows a bearer token), or HTTP Basic with the token's id as ``client_id`` and its
    secret as ``client_secret`` (RFC 6749 §2.3.1: what Spring Security's and most OAuth
    client libraries' introspection clients send); a Basic failure is 401 ``invalid_client``."""
    if query_string and token_in_query(query_string, store.prefix):
        raise BearerError(
            400, "invalid_request", "Tokens are not accepted in the URL; send them in the body"
        )
    header = single_authorization(authorization)
    basic = _basic_credentials(header)
    secret = basic[1] if basic is not None else parse_authorization(header)
    if secret is None:
        raise missing_token()
    refused = _BasicRefused() if basic is not None else invalid_token()
    try:
        info = store.verify(secret)
    except StoreError:
        raise unavailable() from None
    except TokenkeepError:  # invalid, expired, revoked, or refused for another reason
        raise refused from None
    if not is_service_token(info) or (basic is not None and basic[0] != info.id):
        raise refused
    return info


def _form(content_type: str | None, body: bytes | None) -> dict[str, list[str]] | Answer:
    """The form's fields, or the 400/413 answer for a body that is not one form of ours
    (None: a body larger than :data:`MAX_BODY`, left unread)."""
    if body is None or len(body) > MAX_BODY:
        return _bad_request("The request body is too large", status=413)
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media != FORM:
        return _bad_request(f"The request body must be {FORM}")
    try:
        text = body.decode("ascii")
        fields = parse_qs(text, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return _bad_request("The request body is not a valid form")
    for name in ("token", "token_type_hint"):
        if len(fields.get(name, ())) > 1:  # RFC 6749 §3.1: no parameter twice
            return _bad_request(f"The parameter {name} must appear once")
    if not fields.get("token", [""])[0].strip(" \t\r\n"):
        return _bad_request("The parameter token is required")
    return fields


def _start(
    store: TokenStore,
    authorization: str | Sequence[str] | None,
    query_string: bytes | str,
    content_type: str | None,
    body: bytes | None,
) -> tuple[TokenInfo, str, str] | Answer:
    """The caller, the presented token and its hint, or the answer that ends the request."""
    try:
        caller = authenticate_service(store, authorization, query_string)
    except BearerError as failure:
        return _refused(failure)
    fields = _form(content_type, body)
    if isinstance(fields, Answer):
        return fields
    # Tokens hold no blanks: a trailing newline (curl --data-urlencode token@file) is dropped.
    return caller, fields["token"][0].strip(" \t\r\n"), fields.get("token_type_hint", [""])[0]


def _live_user_token(store: TokenStore, token: str) -> TokenInfo | None:
    """The presented token's info if it is a live user's token, else None (never raises for
    a bad token; StoreError passes)."""
    try:
        info = store.verify(token)
    except StoreError:
        raise
    except TokenkeepError:  # invalid, expired, revoked; also a token too long or not text
        return None
    return None if is_service_token(info) else info


def _revocable(store: TokenStore, token: str) -> TokenInfo | None:
    """The live user's token that ``token`` is exactly, else None. Found by its digest as a
    leak scan finds one (``scan_leaked(dry_run=True)``: no use recorded, whatever networks or
    scopes the token holds), never by a token merely inside the text."""
    if not re.fullmatch(re.escape(store.prefix) + r"_[A-Za-z0-9]+", token):
        return None
    try:
        findings = store.scan_leaked(token, dry_run=True, max_tokens=1).findings
    except StoreError:
        raise
    except TokenkeepError:
        return None
    if len(findings) != 1 or findings[0].offset != 0 or findings[0].outcome != "revoked":
        return None  # unknown, wrong secret, already revoked or expired
    info = findings[0].token
    return None if info is None or is_service_token(info) else info


def _scope_text(store: TokenStore, scopes: frozenset[str]) -> str:
    """Space-separated ``name:action`` grants, so a gateway compares strings: holding
    ``device`` is ``device:read device:write``."""
    vocabulary = store.vocabulary
    out: set[str] = set()
    for s in scopes:
        actions = () if ":" in s else vocabulary.get(s, ())
        out.update(f"{s}:{a}" for a in actions) if actions else out.add(s)
    return " ".join(sorted(out))


def introspect(
    store: TokenStore,
    authorization: str | Sequence[str] | None,
    query_string: bytes | str,
    content_type: str | None,
    body: bytes | None,
    *,
    accept: Callable[[TokenInfo], bool] | None = None,
) -> Answer:
    """``POST /oauth/introspect`` (RFC 7662 §2). The hint is ignored (§2.1 allows it): a
    tokenkeep token is recognized by itself. ``accept``: the site's own rule on top of the
    store's (Django: the owner must be an active user whose account predates the token);
    a live token it refuses is ``{"active": false}``, as the site's guard would refuse it."""
    started = _start(store, authorization, query_string, content_type, body)
    if isinstance(started, Answer):
        return started
    _caller, token, _hint = started
    try:
        info = _live_user_token(store, token)
    except StoreError:
        return _refused(unavailable())
    if info is None or (accept is not None and not accept(info)):
        return _json(200, INACTIVE)
    answer: dict[str, Any] = {
        "active": True,
        "scope": _scope_text(store, info.scopes),
        "username": info.owner,
        "sub": info.owner,
        "token_type": "bearer",
    }
    if info.expires_at is not None:  # OPTIONAL (§2.2): absent for a token that never expires
        answer["exp"] = int(info.expires_at.timestamp())
    answer["iat"] = int(info.created_at.timestamp())
    answer["jti"] = info.id  # the public id: what lists, the CLI and the page name it by
    return _json(200, answer)


def revoke(
    store: TokenStore,
    authorization: str | Sequence[str] | None,
    query_string: bytes | str,
    content_type: str | None,
    body: bytes | None,
) -> Answer:
    """``POST /oauth/revoke`` (RFC 7009 §2). Writes to the database: adapters run it off the
    event loop. ``token_type_hint``: ``access_token``, none, or a value RFC 7009 does not
    define (ignored, §2.2) search tokenkeep's tokens; ``refresh_token`` searches them too (§2.1:
    the search MUST extend to every type) and, as tokenkeep issues no refresh tokens, answers
    400 ``unsupported_token_type`` (§2.2.1) when the token is not one of its live tokens."""
    started = _start(store, authorization, query_string, content_type, body)
    if isinstance(started, Answer):
        return started
    caller, token, hint = started
    try:
        info = _revocable(store, token)
        if info is not None:
            with contextlib.suppress(NotFound):  # revoked meanwhile: the purpose is achieved
                store.revoke(info.owner, info.id, actor=f"service:{caller.name} ({caller.id})")
    except StoreError:
        return _refused(unavailable())
    if info is None and hint == _REFRESH:
        return _bad_request("This server issues no refresh tokens", error="unsupported_token_type")
    return Answer(200, dict(NO_STORE), b"")
