"""``tokenkeep leak [FILE|-]``: revoke every token found in a leaked text, whatever its owner."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import click

from ...errors import InvalidArgument
from ...hygiene import LEAK_MAX_TOKENS
from ...ipynb import NotANotebook, is_notebook_path, notebook_parts
from ...models import LeakFinding
from ..context import App, pass_app
from ..exit_codes import EXIT_HELP, EXIT_USAGE, CliError
from ..output import info, print_json, visible

DEFAULT_MAX_BYTES = 1 << 30

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


PART = 4 << 20  # bytes read and scanned at a time
_TOKEN_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def _cut(buf: bytes) -> int:
    """Where a part may end: after the last newline, else after the last byte no token can
    hold (a token is one run of [A-Za-z0-9_]), else everywhere (a run longer than a part)."""
    at = buf.rfind(b"\n") + 1
    if at:
        return at
    for i in range(len(buf) - 1, max(-1, len(buf) - 4096), -1):
        if buf[i] not in _TOKEN_BYTES:
            return i + 1
    return len(buf)


def _parts(stream: BinaryIO, max_bytes: int, name: str) -> Iterator[tuple[bytes, int, int]]:
    """``(part, first_line, first_offset)``: the stream in parts of about :data:`PART` bytes
    that never split a token, never holding more than two parts in memory. CliError once more
    than ``max_bytes`` were read (what came before was already scanned)."""
    buf, line, offset, total = b"", 1, 0, 0
    while True:
        data = stream.read(PART)
        total += len(data)
        if total > max_bytes:
            raise CliError(
                f"{name} is longer than --max-bytes ({max_bytes} bytes); nothing after the "
                f"first {offset + len(buf)} bytes was scanned",
                EXIT_USAGE,
            )
        buf += data
        if not data or len(buf) >= PART:
            cut = len(buf) if not data else _cut(buf)
            part, buf = buf[:cut], buf[cut:]
            if part:
                yield part, line, offset
                line += part.count(b"\n")
                offset += len(part)
        if not data:
            return


def _open(path: str, max_bytes: int) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    try:
        f = open(path, "rb")  # noqa: SIM115  (closed by the caller)
    except OSError as e:
        raise CliError(f"cannot read {path}: {e.strerror}", EXIT_USAGE) from None
    size = os.fstat(f.fileno()).st_size
    if size > max_bytes:  # a regular file says its size: refused before anything is done
        f.close()
        raise CliError(f"{path} is {size} bytes, over --max-bytes ({max_bytes})", EXIT_USAGE)
    return f


# One part to scan: its bytes, the audit source, its first line and offset in the text, and
# where it is in a notebook (None for a plain text).
Part = tuple[bytes, str, int, int, str | None]


def _text_parts(stream: BinaryIO, where: str, max_bytes: int, name: str) -> Iterator[Part]:
    for part, line, offset in _parts(stream, max_bytes, name):
        yield part, where, line, offset, None


def _notebook_parts(stream: BinaryIO, where: str, name: str) -> Iterator[Part]:
    """A notebook's cells and outputs (tokenkeep.ipynb), each audited as "<where> cell N ...";
    a file that is not a notebook's JSON is scanned as text, with a warning."""
    raw = stream.read()
    try:
        parts = list(notebook_parts(raw))
    except NotANotebook as e:
        info(f"warning: {visible(name)} is not a notebook ({e}); scanning it as text")
        yield raw, where, 1, 0, None
        return
    for location, text in parts:
        yield text.encode("utf-8", "replace"), f"{where} {location}", 1, 0, location


def _scan(
    app: App,
    file: str,
    where: str,
    dry_run: bool,
    limits: tuple[int, int],
    emit: Callable[[LeakFinding, str | None], None],
) -> None:
    """Every finding in FILE to ``emit`` (with where in a notebook it was), part by part (each
    part's revocations commit together), none kept here; a token seen in an earlier part is
    reported once."""
    max_bytes, max_tokens = limits
    stream = _open(file, max_bytes)
    name = "stdin" if file == "-" else file
    store = app.store()
    found = 0
    seen: set[tuple[str, str]] = set()
    revoked: set[str] = set()
    parts = (
        _notebook_parts(stream, where, name)
        if file != "-" and is_notebook_path(file)
        else _text_parts(stream, where, max_bytes, name)
    )
    try:
        for part, source, line, offset, location in parts:
            try:
                report = store.scan_leaked(
                    part,
                    actor=app.actor,
                    source=source,
                    dry_run=dry_run,
                    max_bytes=len(part),
                    max_tokens=max_tokens - found,
                    start_line=line,
                    start_offset=offset,
                )
            except InvalidArgument as e:
                if e.field != "max_tokens":
                    raise
                raise CliError(
                    f"{where} holds more than --max-tokens ({max_tokens}) distinct well-formed "
                    f"tokens; {len(revoked)} found before the limit were "
                    f"{'reported' if dry_run else 'revoked'}, nothing after it was looked up",
                    EXIT_USAGE,
                ) from None
            for f in report.findings:
                again = f.outcome == "already_revoked" and f.token_id in revoked
                if again or (f.token_id, f.outcome) in seen:
                    continue
                seen.add((f.token_id, f.outcome))
                if f.outcome == "revoked":
                    revoked.add(f.token_id)
                found += 1
                emit(f, location)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


@click.command(epilog=EXIT_HELP)
@click.argument("file", default="-", metavar="[FILE|-]")
@click.option("--dry-run", is_flag=True, help="Report what would be revoked; change nothing.")
@click.option(
    "--source",
    metavar="LABEL",
    help="Where the text was found, for the audit log (default: FILE or stdin).",
)
@click.option(
    "--max-bytes",
    type=click.IntRange(min=0),
    default=DEFAULT_MAX_BYTES,
    show_default=True,
    help="Refuse a text longer than this (a file: before reading it).",
)
@click.option(
    "--max-tokens",
    type=click.IntRange(min=0),
    default=LEAK_MAX_TOKENS,
    show_default=True,
    help="Stop at more distinct well-formed tokens than this (each costs a lookup).",
)
@pass_app
def leak(
    app: App, file: str, dry_run: bool, source: str | None, max_bytes: int, max_tokens: int
) -> None:
    """Revoke every live token found in FILE (default: stdin), whatever its owner.

    Any text will do: a log, a paste, a diff, binary; a Jupyter notebook (FILE ending in
    .ipynb) is read cell by cell, sources and outputs (streams, HTML, tracebacks), and each
    finding says which cell and output held it. A token counts only if its checksum is
    valid and its secret matches the store; each one revoked is audited as 'leaked' with the
    file and line where it was found (never the secret). Already revoked, expired and unknown
    tokens are reported, not errors. Prints one line per token found (tab-separated when
    piped), then a summary on stderr. The text is read and scanned 4 MiB at a time, each
    part's revocations committed together.
    """
    where = source if source is not None else ("stdin" if file == "-" else file)
    limits = (max_bytes, max_tokens)
    if app.as_json:  # one document: the findings are kept (at most --max-tokens of them)
        findings: list[dict[str, Any]] = []

        def keep(f: LeakFinding, location: str | None) -> None:
            findings.append(finding_json(f) | ({"where": location} if location else {}))

        _scan(app, file, where, dry_run, limits, keep)
        print_json({"dry_run": dry_run, "source": where, "findings": findings})
        return
    verb = {"revoked": "would revoke"} if dry_run else {}
    counts = dict.fromkeys(_SAYS, 0)
    owners: set[str] = set()

    def emit(f: LeakFinding, location: str | None) -> None:  # printed as found; counts kept
        counts[f.outcome] += 1
        if f.outcome == "revoked" and f.token is not None:
            owners.add(f.token.owner)
        whose = "-" if f.token is None else f"{visible(f.token.owner)}/{visible(f.token.name)}"
        says = verb.get(f.outcome, _SAYS[f.outcome])
        line = f"line {f.line}" if location is None else f"{location}, line {f.line}"
        click.echo("\t".join([says, f.token_id, whose, line]))

    _scan(app, file, where, dry_run, limits, emit)
    n, head = counts["revoked"], "Would revoke" if dry_run else "Revoked"
    info(
        f"{head} {n} token{'s' if n != 1 else ''}"
        f" ({len(owners)} owner{'s' if len(owners) != 1 else ''}) found in {visible(where)}; "
        f"{counts['already_revoked']} already revoked, {counts['expired']} expired, "
        f"{counts['unknown']} unknown."
    )


def register(cli: click.Group) -> None:
    cli.add_command(leak)
