"""The text a Jupyter notebook (``.ipynb``) holds, part by part, with where each part is.

``tokenkeep leak notebook.ipynb`` scans these parts instead of the raw JSON, so that a finding
(and its ``leaked`` audit row) says which cell and which output held the token, and so that
what the JSON hides from a plain scan is scanned as shown: a traceback's ANSI colour codes
are removed (``\\x1b[0;32mtk_...`` reads ``32mtk_...`` in the raw text, a token glued to an
``m``, which the scanner rightly refuses) and JSON escapes are decoded.

Parts, in order: each cell's source (``cell 3 source``), its outputs (``cell 3 output 1
(stream stdout)``, ``(text/html)``, ``(error)``…: a stream's text, every textual MIME type of
a display or a result, a JSON value as JSON, an error's name, message and traceback), its
attachments' textual ones and its metadata, then the notebook's metadata (widget state is
kept there). Base64 binary data (``image/png``…) cannot hold a token (no ``_`` in base64) and
is skipped. Pure: no I/O, no store.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

__all__ = ["NotANotebook", "notebook_parts", "is_notebook_path"]

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
_BINARY = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf")


class NotANotebook(ValueError):
    """The bytes are not a notebook's JSON (the message says why, never the content)."""


def is_notebook_path(path: str) -> bool:
    return path.lower().endswith(".ipynb")


def _text(value: Any) -> str:
    """A notebook's multi-line string (a str, or a list of lines) or any JSON value, as text."""
    if isinstance(value, str):
        return _ANSI.sub("", value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return _ANSI.sub("", "".join(value))
    return json.dumps(value, ensure_ascii=False, indent=1)


def _bundle(where: str, data: Any) -> Iterator[tuple[str, str]]:
    if not isinstance(data, dict):
        return
    for mime, value in data.items():
        if str(mime) not in _BINARY:
            yield f"{where} ({mime})", _text(value)


def _output(where: str, out: Any) -> Iterator[tuple[str, str]]:
    if not isinstance(out, dict):
        yield where, _text(out)
        return
    kind = out.get("output_type")
    if kind == "stream":
        yield (
            f"{where} (stream {out.get('name', '')})".replace(" )", ")"),
            _text(out.get("text", "")),
        )
    elif kind == "error":
        lines = [str(out.get("ename", "")), str(out.get("evalue", ""))]
        traceback = out.get("traceback", [])
        lines += [str(t) for t in traceback] if isinstance(traceback, list) else [str(traceback)]
        yield f"{where} (error)", _ANSI.sub("", "\n".join(lines))
    else:
        yield from _bundle(where, out.get("data"))
    if out.get("metadata"):
        yield f"{where} metadata", _text(out["metadata"])


def notebook_parts(raw: bytes | str) -> Iterator[tuple[str, str]]:
    """``(where, text)`` for every textual part of the notebook ``raw`` (its file's bytes),
    in the order above; NotANotebook if it is not a notebook's JSON."""
    try:
        nb = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise NotANotebook(f"not valid JSON ({type(e).__name__})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise NotANotebook("no list of cells (nbformat 4 is expected)")
    for i, cell in enumerate(nb["cells"], 1):
        where = f"cell {i}"
        if not isinstance(cell, dict):
            yield where, _text(cell)
            continue
        yield f"{where} source", _text(cell.get("source", ""))
        for j, out in enumerate(cell.get("outputs") or [], 1):
            yield from _output(f"{where} output {j}", out)
        for name, bundle in (cell.get("attachments") or {}).items():
            yield from _bundle(f"{where} attachment {name}", bundle)
        if cell.get("metadata"):
            yield f"{where} metadata", _text(cell["metadata"])
    if nb.get("metadata"):
        yield "notebook metadata", _text(nb["metadata"])
