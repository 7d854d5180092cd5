"""Tables for people on a terminal, tab-separated rows for pipes (as ``gh`` does).

On a terminal: a header, columns padded to line up, and the wrappable columns (names,
scopes) wrapped onto more lines when the row is wider than the terminal, never cut.
Piped: no header, no padding, one line per row, cells separated by a tab, so that ``cut -f2``
and ``awk -F'\\t'`` work. Cells arrive already made visible (no control characters).
Written for 10,000 rows in well under a second: plain string work, one write.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import unicodedata
from collections.abc import Sequence
from typing import IO

GAP = "  "
_MIN_WRAPPED = 12  # a wrapped column keeps at least this many cells of width


def width(text: str) -> int:
    """Terminal cells ``text`` takes (East Asian wide and full-width characters take two)."""
    if text.isascii():
        return len(text)
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def wrap(text: str, limit: int) -> list[str]:
    """``text`` in lines of at most ``limit`` cells, broken after ", ", a space or a hyphen
    where it can, else inside a word; nothing is dropped."""
    if width(text) <= limit:
        return [text]
    lines: list[str] = []
    line = ""
    for word in re.split(r"(?<=[ ,-])", text):
        while width(line + word) > limit:
            if line:
                lines.append(line.rstrip())
                line = ""
                continue
            cut = limit
            while width(word[:cut]) > limit:
                cut -= 1
            lines.append(word[: max(cut, 1)])
            word = word[max(cut, 1) :]
        line += word
    if line:
        lines.append(line.rstrip())
    return lines


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def colour_enabled(stream: IO[str]) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    wrappable: Sequence[int] = (),
    red: Sequence[bool] | None = None,
    red_column: int | None = None,
    terminal: bool | None = None,
    stream: IO[str] | None = None,
) -> None:
    """Print ``rows`` under ``headers``. ``wrappable``: column indexes that may wrap on a
    terminal; ``red[i]`` colours row i's ``red_column`` (expired) when colour is on."""
    out = stream or sys.stdout
    if terminal is None:
        terminal = out.isatty()
    if not terminal:
        out.write("".join("\t".join(row) + "\n" for row in rows))
        out.flush()
        return
    cell_widths = [[width(c) for c in row] for row in rows]
    widths = [width(h) for h in headers]
    for ws in cell_widths:
        for i, w in enumerate(ws):
            if w > widths[i]:
                widths[i] = w
    total = shutil.get_terminal_size((100, 24)).columns
    overflow = sum(widths) + len(GAP) * (len(widths) - 1) - total
    # The widest wrappable column gives first, down to a comfortable width, then all of them
    # down to their header's width: a row longer than the terminal is the last resort.
    for floor in (_MIN_WRAPPED, 0):
        for i in sorted(wrappable, key=lambda i: -widths[i]):
            if overflow <= 0:
                break
            give = min(overflow, max(0, widths[i] - max(floor, width(headers[i]), 4)))
            widths[i] -= give
            overflow -= give
    colour = colour_enabled(out)
    last = len(widths) - 1
    parts: list[str] = []

    def emit(cells: Sequence[str], ws: Sequence[int], highlight: bool) -> None:
        if all(w <= widths[i] for i, w in enumerate(ws)):  # the common case: one line
            line = [
                c + " " * (widths[i] - w) for i, (c, w) in enumerate(zip(cells, ws, strict=True))
            ]
            if highlight and red_column is not None:
                line[red_column] = f"\x1b[31m{cells[red_column]}\x1b[0m" + " " * (
                    widths[red_column] - ws[red_column]
                )
            parts.append(GAP.join(line).rstrip() + "\n")
            return
        columns = [wrap(c, widths[i]) if i in wrappable else [c] for i, c in enumerate(cells)]
        for n in range(max(len(c) for c in columns)):
            line = []
            for i, col in enumerate(columns):
                cell = col[n] if n < len(col) else ""
                pad = "" if i == last else " " * (widths[i] - width(cell))
                if highlight and i == red_column and cell:
                    cell = f"\x1b[31m{cell}\x1b[0m"
                line.append(cell + pad)
            parts.append(GAP.join(line).rstrip() + "\n")

    header = GAP.join(h + " " * (widths[i] - width(h)) for i, h in enumerate(headers))
    parts.append((f"\x1b[1m{header.rstrip()}\x1b[0m" if colour else header.rstrip()) + "\n")
    for r, row in enumerate(rows):
        emit(row, cell_widths[r], bool(colour and red is not None and red[r]))
    out.write("".join(parts))
    out.flush()
