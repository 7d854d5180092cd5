"""How the command line spells durations, dates and scope lists, and the click types for them.

These are the CLI's own notations (``30d``, ``3mo``, ``2027-01-31``, ``device,policy``); what
a valid name, scope or expiry is, the engine decides.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import click

from .._time import day_end

_DURATION_PART = re.compile(r"(\d+)\s*(min|mo|[smhdwy])", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(?:\d+\s*(?:min|mo|[smhdwy])\s*)+$", re.IGNORECASE)
# A month is 30 days. A bare "m" is refused: people mean a month about as often as a minute.
_UNIT_SECONDS = {
    "s": 1,
    "min": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "mo": 30 * 86400,
    "y": 365 * 86400,
}


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``2w``, ``1d12h``, ``90min``, ``3mo`` (30 days each), ``45s`` or
    ``1y`` (365 days). A bare ``m`` is refused as ambiguous (minutes or months?)."""
    if not _DURATION.match(text):
        raise ValueError(
            f"bad duration '{text}': use a number and a unit (s, min, h, d, w, mo, y), e.g. 30d, 12h, 3mo"
        )
    parts = _DURATION_PART.findall(text)
    for n, u in parts:
        if u.lower() == "m":
            raise ValueError(
                f"ambiguous duration '{text}': write {n}min for minutes or {n}mo for months (30 days)"
            )
    seconds = sum(int(n) * _UNIT_SECONDS[u.lower()] for n, u in parts)
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"bad duration '{text}': too long") from None


def parse_date(text: str) -> datetime:
    """An ISO 8601 date or date-time. A date alone means the end of that day in UTC; a
    date-time without an offset is taken as UTC."""
    s = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
            return day_end(date.fromisoformat(s))
        dt = datetime.fromisoformat(s[:-1] + "+00:00" if s[-1:] in ("Z", "z") else s)
    except (ValueError, IndexError):
        raise ValueError(
            f"bad date '{text}': use ISO 8601, e.g. 2027-01-31 or 2027-01-31T18:00:00+02:00"
        ) from None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def parse_expiry(text: str) -> timedelta | datetime:
    """A duration (``30d``) or a date (``2027-01-31``), as the ``expires`` CSV column holds."""
    if _DURATION.match(text):
        return parse_duration(text)
    try:
        return parse_date(text)
    except ValueError:
        raise ValueError(
            f"bad expiry '{text}': use a duration such as 30d or an ISO 8601 date such as 2027-01-31"
        ) from None


def split_scopes(values: Sequence[str]) -> list[str]:
    """Scopes given as repeated options and/or separated by commas, spaces, ``;`` or ``|``."""
    out: list[str] = []
    for v in values:
        out.extend(s for s in re.split(r"[\s,;|]+", v) if s)
    return out


class _Duration(click.ParamType):
    name = "DURATION"

    def convert(self, value: Any, param: Any, ctx: Any) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(value)
        except ValueError as e:
            self.fail(str(e), param, ctx)


class _Date(click.ParamType):
    name = "DATE"

    def convert(self, value: Any, param: Any, ctx: Any) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_date(value)
        except ValueError as e:
            self.fail(str(e), param, ctx)


DURATION = _Duration()
DATE = _Date()
