"""Exceptions of tokenkeep. Every one is a :class:`TokenkeepError`.

The native core reports an outcome code; ``tokenkeep._core`` turns each code into exactly
one class below. No message ever contains a token secret.
"""

from __future__ import annotations

from collections.abc import Set
from typing import TypeVar

E = TypeVar("E", bound="TokenkeepError")

__all__ = [
    "TokenkeepError",
    "AuthenticationError",
    "InvalidToken",
    "ExpiredToken",
    "RevokedToken",
    "PermissionDenied",
    "InsufficientScope",
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


class ExpiredToken(AuthenticationError):
    """The secret matched, but the token is past its expiration date."""


class RevokedToken(AuthenticationError):
    """The secret matched, but the token has been revoked."""


class PermissionDenied(TokenkeepError):
    """The token is valid but may not do this (HTTP 403)."""


class InsufficientScope(PermissionDenied):
    """The token lacks a required scope.

    ``required`` holds the scopes the check asked for, ``granted`` those the token holds.
    """

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


class NotFound(TokenkeepError, LookupError):
    """No such token for this owner (another owner's token is NotFound too)."""


class NameTaken(TokenkeepError):
    """The owner already has a live token with this name."""


class UnknownScope(TokenkeepError, ValueError):
    """A scope outside the store's vocabulary."""


class InvalidArgument(TokenkeepError, ValueError):
    """A bad argument: empty name, past expiry, naive datetime, and so on."""


class StoreError(TokenkeepError):
    """The database cannot be opened, read or written; the message says why."""
