"""``tokenkeep revoke``: revoke one token or every token a file names, after a confirmation."""

from __future__ import annotations

import sys

import click

from ..completion import complete_tokens
from ..context import App, pass_app, resolve
from ..exit_codes import EXIT_ERROR, EXIT_HELP, EXIT_USAGE, CliError
from ..output import info, print_json
from ..revoke_file import read_revoke_targets


@click.command(epilog=EXIT_HELP)
@click.argument("token", required=False, shell_complete=complete_tokens)
@click.option(
    "--from",
    "from_file",
    metavar="FILE",
    help="Revoke every token listed in FILE ('-' for stdin), all or nothing: one id per "
    "line, a CSV with an id or name column, or the JSON lines of create.",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def revoke(app: App, token: str | None, from_file: str | None, yes: bool) -> None:
    """Revoke (delete) a token, by id or name, after a confirmation.

    A revoked token never verifies again and its name is free for a new token. Without a
    terminal to ask on, --yes is required.
    """
    if (token is None) == (from_file is None):
        raise click.UsageError("give one token id (or name), or --from FILE")
    targets = (
        [resolve(app, token)] if token is not None else read_revoke_targets(app, from_file or "-")
    )
    if not yes:
        if len(targets) == 1:
            prompt = f"Revoke token '{targets[0].name}'?"
        else:
            names = ", ".join(f"'{t.name}'" for t in targets[:3]) + (
                ", ..." if len(targets) > 3 else ""
            )
            prompt = f"Revoke {len(targets)} tokens ({names})?"
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            raise CliError(
                "not revoking: no terminal to confirm on; pass --yes to revoke without asking",
                EXIT_USAGE,
            )
        if not click.confirm(prompt, default=False, err=True):
            raise CliError("not revoked", EXIT_ERROR)
    store = app.store()
    if len(targets) == 1:
        store.revoke(app.owner, targets[0].id, actor=app.actor)
    else:
        store.revoke_many(app.owner, [t.id for t in targets], actor=app.actor)
    if app.as_json:
        print_json({"revoked": [t.id for t in targets]})
    elif len(targets) == 1:
        info(f"Revoked token '{targets[0].name}' (id {targets[0].id}).")
    else:
        info(f"Revoked {len(targets)} tokens.")


def register(cli: click.Group) -> None:
    cli.add_command(revoke)
