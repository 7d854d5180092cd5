"""``tokenkeep.jupyter.guard()``: no token reaches a notebook's outputs, shown or saved.

A notebook keeps every cell's output in its ``.ipynb`` file, and the file travels (git, a
gist, a shared drive). The guard masks, inside the running kernel and before anything leaves
it, every string shaped like a token of the given prefixes (``tk_`` and 60 base62 characters,
wherever it appears, even glued to other characters) in:

- the ``stdout``/``stderr`` streams (``print``, logging, a subprocess's output captured by
  ipykernel): each ``write`` is masked, and a write that ends with what may be the first part
  of a token holds that part back until the next write or ``flush`` (ipykernel flushes at the
  end of every cell), so a token written in pieces is masked too (between cells, output of a
  background thread is masked by the hook below, without holding back);
- every other output message the kernel sends its frontend — ``display_data`` (``display``,
  rich reprs: ``text/plain``, ``text/html``, JSON, Markdown…), ``update_display_data``,
  ``execute_result`` (the cell's value) and ``error`` (the exception's message and its
  traceback) — through one hook on the kernel's ``Session.send``: what the frontend receives
  is what it displays and saves.

Each token becomes ``tk_[masked by tokenkeep]``, and a cell whose output had one ends with a
short notice on stderr. Every token-shaped string is masked, live or not, without asking the
store: no database lookup per output, nothing to configure beyond the prefix, and it never
lets one through — a revoked or mistyped token costs a masked string, never a leak. A cell's
source is the user's own text and is not changed (``tokenkeep leak notebook.ipynb`` finds
tokens there). Needs a Jupyter kernel (ipykernel); outputs sent by widgets' own comm messages
are not covered.

>>> import tokenkeep.jupyter
>>> tokenkeep.jupyter.guard(store)  # doctest: +SKIP
tokenkeep: masking tk_ tokens in this notebook's outputs
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from . import _core

__all__ = ["Guard", "guard", "mask_tokens", "token_pattern"]

MASK = "[masked by tokenkeep]"
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_MASKED_TYPES = frozenset(
    {"stream", "display_data", "update_display_data", "execute_result", "error", "execute_reply"}
)


def token_pattern(prefixes: Iterable[str]) -> re.Pattern[str]:
    """What the guard masks: ``<prefix>_`` and the token body, anywhere (no word boundary)."""
    alternatives = "|".join(re.escape(p) for p in sorted(set(prefixes), key=len, reverse=True))
    return re.compile(rf"({alternatives})_[0-9A-Za-z]{{{_core.TOKEN_BODY_LENGTH}}}")


def mask_tokens(text: str, pattern: re.Pattern[str]) -> tuple[str, int]:
    """``text`` with each token-shaped string masked, and how many were."""
    return pattern.subn(lambda m: f"{m.group(1)}_{MASK}", text)


def _mask_value(value: Any, pattern: re.Pattern[str]) -> tuple[Any, int]:
    """Every string inside ``value`` (dicts, lists: a message's content) masked; a copy."""
    if isinstance(value, str):
        return mask_tokens(value, pattern)
    if isinstance(value, dict):
        out, n = {}, 0
        for k, v in value.items():
            out[k], m = _mask_value(v, pattern)
            n += m
        return out, n
    if isinstance(value, (list, tuple)):
        items = [_mask_value(v, pattern) for v in value]
        return type(value)(v for v, _ in items), sum(m for _, m in items)
    return value, 0


def _held_back(text: str, prefixes: tuple[str, ...]) -> int:
    """How many characters at the end of ``text`` may be the start of a token a later write
    completes: a trailing ``<prefix>_<body chars>`` shorter than a token, or a trailing piece
    of ``<prefix>_`` itself."""
    body = _core.TOKEN_BODY_LENGTH
    longest = 0
    for prefix in prefixes:
        head = prefix + "_"
        at = text.rfind(head, max(0, len(text) - len(head) - body))
        if at >= 0 and all(c in _TOKEN_CHARS for c in text[at + len(head) :]):
            if len(text) - at < len(head) + body:
                longest = max(longest, len(text) - at)
            continue
        for k in range(min(len(head), len(text)), 0, -1):  # "t", "tk" at the very end
            if text.endswith(head[:k]):
                longest = max(longest, k)
                break
    return longest


class Guard:
    """An installed guard (see the module). :meth:`remove` puts everything back."""

    def __init__(self, shell: Any, prefixes: tuple[str, ...]) -> None:
        self.prefixes = prefixes
        self.pattern = token_pattern(prefixes)
        self.masked = 0  # tokens masked since installed
        self._cell = 0  # masked in the current cell
        self._shell = shell
        self._undo: list[Callable[[], None]] = []
        self._streams: list[tuple[Any, list[str], threading.Lock]] = []
        self._install_streams()
        self._install_session()
        shell.events.register("post_run_cell", self._notice)
        self._undo.append(lambda: shell.events.unregister("post_run_cell", self._notice))

    def __repr__(self) -> str:
        names = ", ".join(f"{p}_" for p in self.prefixes)
        return f"<tokenkeep.jupyter.guard: masking {names} tokens; {self.masked} masked so far>"

    def _count(self, n: int) -> None:
        self.masked += n
        self._cell += n

    def _install_streams(self) -> None:
        """Masks ``sys.stdout``/``sys.stderr`` (ipykernel OutStreams). IPython wraps a stream's
        ``write`` on the instance for the length of each cell (``InteractiveShell._tee``) and
        puts back what was there before, so the masking write is laid over whatever ``write``
        is current now and again when each cell starts (``pre_run_cell``); what is held back
        lives here, per stream, and ``flush`` (never wrapped by IPython) releases it."""
        for stream in (sys.stdout, sys.stderr):
            if not hasattr(stream, "session"):  # not an ipykernel OutStream
                continue
            self._streams.append((stream, [""], threading.Lock()))
            flush = stream.flush

            def masked_flush(stream=stream, flush=flush, held=self._streams[-1]) -> None:
                _, pending, lock = held
                with lock:
                    if pending[0]:
                        out, n = mask_tokens(pending[0], self.pattern)
                        pending[0] = ""
                        self._count(n)
                        type(stream).write(stream, out)
                flush()

            setattr(stream, "flush", masked_flush)  # noqa: B010
            self._undo.append(self._restorer(stream, "write", "flush"))
        self._wrap_streams()
        self._shell.events.register("pre_run_cell", self._wrap_streams)
        self._undo.append(lambda: self._shell.events.unregister("pre_run_cell", self._wrap_streams))

    def _wrap_streams(self, *_: Any) -> None:
        for stream, pending, lock in self._streams:
            inner = stream.write
            if getattr(inner, "tokenkeep_guard", None) is self:
                continue

            def masked_write(text: str, inner=inner, pending=pending, lock=lock) -> int:
                if not isinstance(text, str):
                    return inner(text)  # its own TypeError
                with lock:  # ipykernel's fd watcher thread writes too
                    whole = pending[0] + text
                    keep = _held_back(whole, self.prefixes)
                    out, n = mask_tokens(whole[: len(whole) - keep], self.pattern)
                    pending[0] = whole[len(whole) - keep :]
                    self._count(n)
                    if out:
                        inner(out)
                return len(text)

            masked_write.tokenkeep_guard = self  # type: ignore[attr-defined]
            setattr(stream, "write", masked_write)  # noqa: B010

    def _install_session(self) -> None:
        shell = self._shell
        sessions = {
            id(s): s
            for s in (shell.kernel.session, shell.display_pub.session, shell.displayhook.session)
        }
        for session in sessions.values():
            self._install_send(session)

    def _install_send(self, session: Any) -> None:
        send = session.send

        def masked_send(stream: Any, msg_or_type: Any, content: Any = None, *args: Any, **kw: Any):
            if isinstance(msg_or_type, dict):
                if msg_or_type.get("msg_type") in _MASKED_TYPES:
                    clean, n = _mask_value(msg_or_type.get("content", {}), self.pattern)
                    if n:
                        msg_or_type = {**msg_or_type, "content": clean}
                        self._count(n)
            elif msg_or_type in _MASKED_TYPES and content is not None:
                content, n = _mask_value(content, self.pattern)
                self._count(n)
            return send(stream, msg_or_type, content, *args, **kw)

        setattr(session, "send", masked_send)  # noqa: B010
        self._undo.append(self._restorer(session, "send"))

    @staticmethod
    def _restorer(obj: Any, *names: str) -> Callable[[], None]:
        """Undoes setattr on an instance: its class's methods show through again."""

        def restore() -> None:
            for name in names:
                obj.__dict__.pop(name, None)

        return restore

    def _notice(self, *_: Any) -> None:
        if self._cell:
            n, self._cell = self._cell, 0
            tokens = "token" if n == 1 else "tokens"
            print(
                f"tokenkeep: {n} {tokens} masked in this cell's output "
                "(if one was live, revoke it: tokenkeep leak)",
                file=sys.stderr,
            )
            sys.stderr.flush()

    def remove(self) -> None:
        """Uninstall: outputs are no longer masked."""
        global _installed
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()
        if _installed is self:
            _installed = None


_installed: Guard | None = None


def guard(
    store: Any = None, *, prefixes: Iterable[str] | None = None, quiet: bool = False
) -> Guard:
    """Mask every token of ``store``'s prefix (else ``prefixes``, else ``tk``) in this
    kernel's outputs from now on (see the module). Calling it again replaces the guard.
    RuntimeError outside a Jupyter kernel.

    >>> guard(store)  # doctest: +SKIP
    """
    global _installed
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - the [jupyter] extra installs it
        get_ipython = None
    shell = get_ipython() if get_ipython is not None else None
    if shell is None or not hasattr(shell, "kernel"):
        raise RuntimeError("tokenkeep.jupyter.guard() works inside a Jupyter kernel (ipykernel)")
    chosen = set(prefixes or ())
    if store is not None:
        chosen.add(store.prefix)
    if not chosen:
        chosen.add("tk")
    if _installed is not None:
        _installed.remove()
    _installed = Guard(shell, tuple(sorted(chosen)))
    if not quiet:
        names = ", ".join(f"{p}_" for p in _installed.prefixes)
        print(f"tokenkeep: masking {names} tokens in this notebook's outputs")
    return _installed
