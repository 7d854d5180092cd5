"""Exceptions of tokenkeep. Every one is a :class:`TokenkeepError`.

The one list of them: each class the engine raises declares its outcome's ``code`` (the
engine's ``ErrorCode``, errors.h, spelled in snake case: ``"name_taken"``); :data:`BY_CODE`
is derived from the classes, ``tokenkeep._core`` looks each code up there once, the package
re-exports :data:`__all__`, and the CLI's exit codes are keyed by class. No message ever
contains a token secret.
"""

from __future__ import annotations

from collections.abc import Set
from typing import ClassVar, TypeVar

E = TypeVar("E", bound="TokenkeepError")

__all__ = [
    "TokenkeepError",
    "AuthenticationError",
    "InvalidToken",
    "ExpiredToken",
    "RevokedToken",
    "PermissionDenied",
    "InsufficientScope",
    "NetworkNotAllowed",
    "NotFound",
    "NameTaken",
    "UnknownScope",
    "InvalidArgument",
    "StoreError",
]


class TokenkeepError(Exception):
    """Base class of every tokenkeep error.

    ``field`` names the argument an error is about (``"name"``, ``"owner"``, ``"actor"``,
    ``"scopes"``, ``"expires_in"``, ``"expires_at"``, ``"path"``, ...) or is None, so that a
    surface can mark its own form field or flag without parsing the message.
    """

    field: str | None = None
    #: The engine outcome this class stands for (None: a base class the engine never raises).
    code: ClassVar[str | None] = None


def with_field(error: E, field: str) -> E:
    """``error`` with its ``field`` set: ``raise with_field(InvalidArgument("..."), "limit")``.
    (The classes keep BaseException's own constructor: raising one from the native verify
    path costs no Python call.)"""
    error.field = field
    return error


class AuthenticationError(TokenkeepError):
    """The presented token does not authenticate (HTTP 401)."""


class InvalidToken(AuthenticationError):
    """Malformed, bad checksum, unknown id or wrong secret: one message for all, so that the
    error reveals nothing about which part was wrong."""

    code = "invalid_token"


class ExpiredToken(AuthenticationError):
    """The secret matched, but the token is past its expiration date."""

    code = "expired_token"


class RevokedToken(AuthenticationError):
    """The secret matched, but the token has been revoked."""

    code = "revoked_token"


class PermissionDenied(TokenkeepError):
    """The token is valid but may not do this (HTTP 403)."""


class InsufficientScope(PermissionDenied):
    """The token lacks a required scope.

    ``required`` holds the scopes the check asked for, ``granted`` those the token holds.
    """

    code = "insufficient_scope"

    def __init__(
        self,
        message: str = "token lacks a required scope",
        *,
        required: Set[str] = frozenset(),
        granted: Set[str] = frozenset(),
    ) -> None:
        super().__init__(message)
        self.required = frozenset(required)
        self.granted = frozenset(granted)


class NetworkNotAllowed(PermissionDenied):
    """The token is bound to networks (``TokenInfo.networks``) and the client address is
    outside them, or was not given (``verify(..., client=None)``). HTTP 403. ``field`` is
    ``"client"``. Decided right after the secret matched, so a caller outside the networks
    learns nothing else about the token (not its scopes, nor whether it was revoked)."""

    code = "network_not_allowed"


class NotFound(TokenkeepError, LookupError):
    """No such token for this owner (another owner's token is NotFound too)."""

    code = "not_found"


class NameTaken(TokenkeepError):
    """The owner already has a live token with this name."""

    code = "name_taken"


class UnknownScope(TokenkeepError, ValueError):
    """A scope outside the store's vocabulary."""

    code = "unknown_scope"


class InvalidArgument(TokenkeepError, ValueError):
    """A bad argument: empty name, past expiry, naive datetime, and so on."""

    code = "invalid_argument"


class StoreError(TokenkeepError):
    """The database cannot be opened, read or written; the message says why."""

    code = "store_error"


def _outcomes() -> dict[str, type[TokenkeepError]]:
    found: dict[str, type[TokenkeepError]] = {}
    pending = [TokenkeepError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        code = vars(cls).get("code")
        if code is not None:
            found[code] = cls
    return found


#: Each engine outcome's class by its code: what ``tokenkeep._core`` raises for it.
BY_CODE: dict[str, type[TokenkeepError]] = _outcomes()
