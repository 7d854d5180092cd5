"""``tokenkeep verify``: check a token read from stdin or ``TOKENKEEP_TOKEN``; the exit code says why it failed."""

from __future__ import annotations

import click

from ..._hints import token_hint
from ...errors import ExpiredToken, InsufficientScope, InvalidToken, NetworkNotAllowed, RevokedToken
from ..argtypes import split_scopes
from ..completion import scope_option
from ..context import READS, App, opens_store, pass_app
from ..exit_codes import EXIT_HELP, EXIT_SCOPE, EXIT_USAGE, CliError, exit_code_of
from ..output import describe, print_json, scopes_text, token_json
from ..secrets_file import read_token

_VERIFY_FAILURES = (
    (InvalidToken, "the token is invalid (malformed, mistyped or unknown)"),
    (ExpiredToken, "the token has expired; create a new one"),
    (RevokedToken, "the token has been revoked"),
)


@opens_store(READS)
@click.command(epilog=EXIT_HELP, context_settings={"allow_extra_args": True})
@scope_option("A scope the token must grant; repeat for several (all are required).")
@click.option(
    "--client",
    metavar="ADDRESS",
    help="The IP address the token is presented from; a token bound to networks needs one.",
)
@pass_app
@click.pass_context
def verify(ctx: click.Context, app: App, scopes: tuple[str, ...], client: str | None) -> None:
    """Check a token: read from $TOKENKEEP_TOKEN if set, else from stdin.

    Never from the command line, where every user can see it with ps. The exit code says
    why a token failed: 0 valid, 3 invalid, 4 expired, 5 revoked, 6 lacks a --scope,
    9 bound to networks that --client is not in (or no --client).
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
    try:
        info = app.store().verify(secret, *required, client=client)
    except NetworkNotAllowed as e:
        where = f"from {client}" if client else "without --client ADDRESS"
        raise CliError(
            f"the token may not be used {where}; it is bound to networks", exit_code_of(e), cause=e
        ) from None
    except InsufficientScope as e:
        message = (
            f"the token lacks scope {scopes_text(e.required)}; it has {scopes_text(e.granted)}"
        )
        raise CliError(message, EXIT_SCOPE, cause=e) from None
    except (InvalidToken, ExpiredToken, RevokedToken) as e:
        message = next(text for cls, text in _VERIFY_FAILURES if isinstance(e, cls))
        hint = token_hint(secret) if isinstance(e, InvalidToken) else None
        if hint:  # how the value is wrong ("Bearer " prefix, quotes), never what it holds
            message += f"; hint: {hint}"
        raise CliError(message, exit_code_of(e), cause=e) from None
    if app.as_json:
        result = {"valid": True, "token": token_json(info), "required": sorted(required)}
        print_json({**result, "granted": sorted(info.scopes)})
    else:
        click.echo(f"valid: {describe(info)}, owner {info.owner}")


def register(cli: click.Group) -> None:
    cli.add_command(verify)
