"""``revoke --from FILE``: which tokens a file names, all resolved before anything is revoked.

A file is JSON lines with an id (the output of ``create --from``), a CSV with an id or a
name column, or one id per line (blank lines and ``#`` comments skipped).
"""

from __future__ import annotations

import csv
import json

from ..models import TokenInfo
from .context import App, read_text
from .exit_codes import EXIT_NOT_FOUND, EXIT_USAGE, CliError
from .secrets_file import looks_like_secret


def read_revoke_targets(app: App, path: str) -> list[TokenInfo]:
    """Tokens named in a file: JSON lines with an id (create's output), a CSV with an id or a
    name column, or one id per line (blank lines and # comments skipped)."""
    text, label = read_text(path)
    live = app.store().list(app.owner)
    by_id = {t.id: t for t in live}
    by_name = {t.name: t for t in live}
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)]
    lines = [(n, s) for n, s in lines if s and not s.startswith("#")]
    if not lines:
        raise CliError(f"{label} names no tokens", EXIT_USAGE)
    wanted: list[tuple[str, str, str]] = []  # (kind, value, where)
    if lines[0][1].startswith("{"):
        for n, s in lines:
            try:
                obj = json.loads(s)
                tid = obj["token"]["id"] if "token" in obj else obj["id"]
            except (ValueError, KeyError, TypeError):
                raise CliError(
                    f"{label} line {n}: expected a JSON object with an id", EXIT_USAGE
                ) from None
            wanted.append(("id", str(tid), f"{label} line {n}"))
    else:
        header = [h.strip().lower() for h in next(csv.reader([lines[0][1]]))]
        if "id" in header or "name" in header:
            col = header.index("id") if "id" in header else header.index("name")
            kind = header[col]
            for n, s in lines[1:]:
                row = next(csv.reader([s]))
                if col >= len(row) or not row[col].strip():
                    raise CliError(f"{label} line {n}: no {kind}", EXIT_USAGE)
                wanted.append((kind, row[col].strip(), f"{label} line {n}"))
        else:
            wanted = [("id", s, f"{label} line {n}") for n, s in lines]
    targets: dict[str, TokenInfo] = {}
    for kind, value, where in wanted:
        if kind == "id" and looks_like_secret(value):
            raise CliError(
                f"{where}: expected a token id, found what looks like a secret", EXIT_USAGE
            )
        t = (by_id if kind == "id" else by_name).get(value)
        if t is None:
            raise CliError(
                f"{where}: no live token with {kind} '{value}' for owner '{app.owner}'; "
                "nothing was revoked",
                EXIT_NOT_FOUND,
            )
        targets[t.id] = t
    return list(targets.values())
