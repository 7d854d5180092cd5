"""A clock that tests and notebooks can pin and advance; the engine reads time only from it."""

from __future__ import annotations

from datetime import datetime, timedelta

from . import _core
from ._time import from_us, to_us

__all__ = ["ManualClock"]


class ManualClock:
    """Time that moves only when told. Pass it to ``TokenStore(..., clock=...)``.

    >>> clock = ManualClock(datetime(2030, 1, 1, tzinfo=timezone.utc))
    >>> clock.advance(timedelta(days=31))
    """

    def __init__(self, now: datetime) -> None:
        self._native = _core.ManualClock(to_us(now, "now"))

    def now(self) -> datetime:
        """The clock's current time (aware, UTC)."""
        return from_us(self._native.now_us())

    def set(self, now: datetime) -> None:
        """Jump to ``now`` (aware datetime)."""
        self._native.set_us(to_us(now, "now"))

    def advance(self, delta: timedelta) -> None:
        """Move forward (or back, for a negative delta)."""
        if not isinstance(delta, timedelta):
            from .errors import InvalidArgument

            raise InvalidArgument("advance() takes a timedelta")
        self._native.advance_us(delta // timedelta(microseconds=1))
