"""``tokenkeep leak [FILE|-]``: revoke every token found in a leaked text, whatever its owner."""

from __future__ import annotations

import sys
from typing import Any

import click

from ...models import LeakFinding
from ..context import App, pass_app
from ..exit_codes import EXIT_HELP, EXIT_USAGE, CliError
from ..output import info, print_json, visible

_SAYS = {
    "revoked": "revoked",
    "already_revoked": "already revoked",
    "expired": "expired (not revoked)",
    "unknown": "unknown or wrong secret",
}


def finding_json(f: LeakFinding) -> dict[str, Any]:
    t = f.token
    return {
        "token_id": f.token_id,
        "outcome": f.outcome,
        "line": f.line,
        "offset": f.offset,
        "owner": None if t is None else t.owner,
        "name": None if t is None else t.name,
    }


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise CliError(f"cannot read {path}: {e.strerror}", EXIT_USAGE) from None


@click.command(epilog=EXIT_HELP)
@click.argument("file", default="-", metavar="[FILE|-]")
@click.option("--dry-run", is_flag=True, help="Report what would be revoked; change nothing.")
@click.option(
    "--source",
    metavar="LABEL",
    help="Where the text was found, for the audit log (default: FILE or stdin).",
)
@pass_app
def leak(app: App, file: str, dry_run: bool, source: str | None) -> None:
    """Revoke every live token found in FILE (default: stdin), whatever its owner.

    Any text will do: a log, a paste, a diff, binary. A token counts only if its checksum is
    valid and its secret matches the store; each one revoked is audited as 'leaked' with the
    file and line where it was found (never the secret). Already revoked, expired and unknown
    tokens are reported, not errors. Prints one line per token found (tab-separated when
    piped), then a summary on stderr.
    """
    text = _read(file)
    where = source if source is not None else ("stdin" if file == "-" else file)
    report = app.store().scan_leaked(text, actor=app.actor, source=where, dry_run=dry_run)
    if app.as_json:
        findings = [finding_json(f) for f in report.findings]
        print_json({"dry_run": dry_run, "source": where, "findings": findings})
        return
    verb = {"revoked": "would revoke"} if dry_run else {}
    for f in report.findings:
        whose = "-" if f.token is None else f"{visible(f.token.owner)}/{visible(f.token.name)}"
        says = verb.get(f.outcome, _SAYS[f.outcome])
        click.echo("\t".join([says, f.token_id, whose, f"line {f.line}"]))
    owners = len({t.owner for t in report.revoked})
    head = "Would revoke" if dry_run else "Revoked"
    info(
        f"{head} {len(report.revoked)} token{'s' if len(report.revoked) != 1 else ''}"
        f" ({owners} owner{'s' if owners != 1 else ''}) found in {visible(where)}; "
        f"{len(report.already_revoked)} already revoked, {len(report.expired)} expired, "
        f"{len(report.unknown)} unknown."
    )


def register(cli: click.Group) -> None:
    cli.add_command(leak)
