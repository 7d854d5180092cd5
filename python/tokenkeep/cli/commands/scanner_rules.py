"""``tokenkeep scanner-rules``: this store's token pattern and checksum rule for secret scanners."""

from __future__ import annotations

import click

from ...scanner_rules import FORMATS, render
from ..context import READS, App, opens_store, pass_app
from ..exit_codes import EXIT_HELP


@opens_store(READS)
@click.command("scanner-rules", epilog=EXIT_HELP)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="regex",
    show_default=True,
    help="gitleaks (TOML), trufflehog (YAML custom detector), detect-secrets (a plugin that also "
    "checks the checksum) or regex (one line).",
)
@pass_app
def scanner_rules(app: App, fmt: str) -> None:
    """Print a rule that finds this store's tokens, for a secret scanner in CI.

    The prefix is the store's. Scanners that only match a pattern (gitleaks, trufflehog) report
    anything of a token's shape; the detect-secrets plugin also checks the checksum, so it
    reports real tokens only. Revoke what a scanner found with: tokenkeep leak FILE.
    """
    click.echo(render(app.store().prefix, fmt), nl=False)


def register(cli: click.Group) -> None:
    cli.add_command(scanner_rules)
