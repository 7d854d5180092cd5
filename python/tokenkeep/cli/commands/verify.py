"""``tokenkeep verify``: check a token read from stdin or ``TOKENKEEP_TOKEN``; the exit code says why it failed."""

from __future__ import annotations

from typing import Any, Dict, Tuple

import click

from ...errors import ExpiredToken, InsufficientScope, InvalidToken, RevokedToken
from ..argtypes import split_scopes
from ..context import READS, App, json_option, opens_store, pass_app
from ..exit_codes import ERROR_CODES, EXIT_HELP, EXIT_SCOPE, EXIT_USAGE, CliError
from ..output import describe, print_json, scopes_text, token_json
from ..secrets_file import read_token


_VERIFY_FAILURES = (
    (InvalidToken, "invalid", "the token is invalid (malformed, mistyped or unknown)"),
    (ExpiredToken, "expired", "the token has expired; create a new one"),
    (RevokedToken, "revoked", "the token has been revoked"),
)


@opens_store(READS)
@click.command(epilog=EXIT_HELP, context_settings={"allow_extra_args": True})
@click.option(
    "--scope",
    "-s",
    "scopes",
    metavar="SCOPE",
    multiple=True,
    help="A scope the token must grant; repeat for several (all are required).",
)
@json_option
@pass_app
@click.pass_context
def verify(ctx: click.Context, app: App, scopes: Tuple[str, ...]) -> None:
    """Check a token: read from $TOKENKEEP_TOKEN if set, else from stdin.

    Never from the command line, where every user can see it with ps. The exit code says
    why a token failed: 0 valid, 3 invalid, 4 expired, 5 revoked, 6 lacks a --scope.
    The store is opened read-only: a check from here is not recorded as a use.

    \b
      echo "$TOKEN" | tokenkeep verify --scope device:read
      TOKENKEEP_TOKEN="$TOKEN" tokenkeep verify
    """
    if ctx.args:
        raise CliError(
            "verify takes no arguments: pipe the token on stdin or set TOKENKEEP_TOKEN "
            "(an argument is visible to every user via ps)",
            EXIT_USAGE,
        )
    secret = read_token()
    required = split_scopes(scopes)
    store = app.store()
    result: Dict[str, Any] = {
        "valid": False,
        "error": None,
        "token": None,
        "required": sorted(required),
        "granted": [],
    }
    try:
        info = store.verify(secret, *required)
    except InsufficientScope as e:
        result.update(error="insufficient_scope", granted=sorted(e.granted))
        message, code = (
            (f"the token lacks scope {scopes_text(e.required)}; it has {scopes_text(e.granted)}"),
            EXIT_SCOPE,
        )
    except (InvalidToken, ExpiredToken, RevokedToken) as e:
        _, kind, message = next(f for f in _VERIFY_FAILURES if isinstance(e, f[0]))
        result["error"] = kind
        code = next(c for cls, c in ERROR_CODES if isinstance(e, cls))
    else:
        result.update(valid=True, token=token_json(info), granted=sorted(info.scopes))
        if app.as_json:
            print_json(result)
        else:
            click.echo(f"valid: {describe(info)}, owner {info.owner}")
        return
    if app.as_json:
        print_json(result)
    raise CliError(message, code)


def register(cli: click.Group) -> None:
    cli.add_command(verify)
