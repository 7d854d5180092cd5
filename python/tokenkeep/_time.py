"""Conversions between aware datetimes / timedeltas and the engine's integer microseconds."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from .errors import InvalidArgument, with_field

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def day_end(day: date) -> datetime:
    """What a date alone means as an expiry on every surface (the CLI's dates and CSV column,
    the page's custom date): the last second of that day, UTC."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


def to_us(dt: datetime, what: str) -> int:
    if not isinstance(dt, datetime):
        raise with_field(InvalidArgument(f"{what} must be a datetime"), what)
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        raise with_field(
            InvalidArgument(f"{what} must be timezone-aware (e.g. datetime.now(timezone.utc))"),
            what,
        )
    return (dt - EPOCH) // _US


# The engine counts microseconds in a signed 64-bit integer (±292,000 years).
_US_LIMIT = 2**63 - 1


def duration_us(td: timedelta, what: str) -> int:
    if not isinstance(td, timedelta):
        raise with_field(InvalidArgument(f"{what} must be a timedelta"), what)
    us = td // _US
    if not -_US_LIMIT <= us <= _US_LIMIT:
        raise with_field(InvalidArgument(f"{what} is too large"), what)
    return us
