"""Exit codes of the ``tokenkeep`` command: stable, listed in every ``--help`` and the README.

A script branches on them (``tokenkeep verify`` exits 4 for an expired token). One table maps
each tokenkeep error class to its code; :class:`CliError` carries a code for the CLI's own
errors.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import (
    ExpiredToken,
    InsufficientScope,
    InvalidArgument,
    InvalidToken,
    NameTaken,
    NetworkNotAllowed,
    NotFound,
    RevokedToken,
    TokenkeepError,
    UnknownScope,
)

EXIT_OK = 0
EXIT_ERROR = 1  # the database cannot be used, an I/O error, a declined confirmation
EXIT_USAGE = 2  # bad command line or input: unknown option, bad date, unknown scope, bad file
EXIT_INVALID = 3  # verify: malformed, mistyped or unknown token
EXIT_EXPIRED = 4  # verify: the token has expired
EXIT_REVOKED = 5  # verify: the token has been revoked
EXIT_SCOPE = 6  # verify: the token lacks a required scope
EXIT_NOT_FOUND = 7  # no such token for this owner
EXIT_NAME_TAKEN = 8  # the owner already has a live token with this name
EXIT_NETWORK = 9  # verify: the token is bound to networks the client is not in (or none given)

EXIT_CODES = {
    EXIT_OK: "success (verify: the token is valid and has every --scope)",
    EXIT_ERROR: "error: the database cannot be used, I/O error, confirmation declined",
    EXIT_USAGE: "usage: bad option, date, duration, scope, name or input file",
    EXIT_INVALID: "verify: invalid token (malformed, mistyped, unknown)",
    EXIT_EXPIRED: "verify: token expired",
    EXIT_REVOKED: "verify: token revoked",
    EXIT_SCOPE: "verify: token lacks a required scope",
    EXIT_NOT_FOUND: "no such token for this owner",
    EXIT_NAME_TAKEN: "a live token with this name already exists",
    EXIT_NETWORK: "verify: token bound to networks the client is not in",
}

# The epilog of every command's --help ("\b" keeps click from rewrapping it).
EXIT_HELP = "\b\nExit codes:\n" + "\n".join(
    f"  {code}  {text}" for code, text in EXIT_CODES.items()
)

# The exit status of each engine outcome with one of its own, by class (errors.py lists the
# classes); any other error (StoreError, the CLI's own) exits EXIT_ERROR.
ERROR_CODES: Sequence[tuple[type[TokenkeepError], int]] = (
    (InvalidToken, EXIT_INVALID),
    (ExpiredToken, EXIT_EXPIRED),
    (RevokedToken, EXIT_REVOKED),
    (InsufficientScope, EXIT_SCOPE),
    (NetworkNotAllowed, EXIT_NETWORK),
    (NotFound, EXIT_NOT_FOUND),
    (NameTaken, EXIT_NAME_TAKEN),
    (UnknownScope, EXIT_USAGE),
    (InvalidArgument, EXIT_USAGE),
)

# The name of each exit status: the "code" of a --json error object. A status of one engine
# outcome is named by that outcome's code (InvalidToken.code: "invalid_token").
EXIT_NAMES = {
    EXIT_OK: "ok",
    EXIT_ERROR: "error",
    EXIT_USAGE: "usage",
    **{status: cls.code for cls, status in ERROR_CODES if status != EXIT_USAGE and cls.code},
}


def exit_code_of(error: BaseException) -> int:
    """The exit code for a tokenkeep error (:data:`EXIT_ERROR` for any other)."""
    return next((c for cls, c in ERROR_CODES if isinstance(error, cls)), EXIT_ERROR)


class CliError(Exception):
    """An error to report as one line on stderr, with an exit code."""

    def __init__(
        self,
        message: str,
        code: int = EXIT_ERROR,
        field: str | None = None,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.field = field  # an API argument name (as TokenkeepError.field) or a flag
        self.cause = cause  # the tokenkeep error behind it, for --json details
