"""UTC instants as the ledger writes them: ISO 8601 with microseconds and a Z, never naive."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from ledger.errors import InvalidInput

__all__ = [
    "EARLIEST_DAY",
    "LATEST_DAY",
    "DateOutOfRange",
    "day_in_range",
    "format_date",
    "format_utc",
    "instant_in_range",
    "parse_date",
    "parse_utc",
    "utc_now",
]

# The days and instants a request may name: from the Unix epoch (long before any right was issued)
# to the end of 2199 (beyond any validity period). Outside them a date is a typo or a probe, and
# converting it to UTC can overflow Python's datetime (0001-01-01T00:00+01:00 does).
EARLIEST_DAY, LATEST_DAY = date(1970, 1, 1), date(2199, 12, 31)


class DateOutOfRange(InvalidInput):
    code = "date_out_of_range"


def day_in_range(day: date) -> bool:
    return EARLIEST_DAY <= day <= LATEST_DAY


def instant_in_range(moment: datetime) -> bool:
    """An aware instant whose UTC day is in range (checked without converting, which may overflow)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        return False
    local = moment.replace(tzinfo=None).date()
    return EARLIEST_DAY < local < LATEST_DAY or (
        day_in_range(local) and day_in_range(moment.astimezone(UTC).date())
    )


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_utc(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetimes are refused: the ledger keeps time in UTC")
    utc = moment.astimezone(UTC)
    if utc.year < 1000:  # strftime writes such years unpadded; keep that spelling where it applies
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # The same text as strftime's in three quarters of the instructions (twice per record on the
    # write path): UTC's isoformat ends in "+00:00", which becomes the Z.
    return utc.isoformat(timespec="microseconds")[:-6] + "Z"


def parse_utc(text: str) -> datetime:
    """Parses exactly the form ``format_utc`` writes, so a timestamp has one spelling."""
    if not isinstance(text, str) or not _INSTANT.fullmatch(text):
        raise ValueError(f"expected YYYY-MM-DDTHH:MM:SS.ffffffZ, got {text!r}")
    # The pattern fixed the form; fromisoformat reads it several times faster than strptime.
    return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)


def format_date(day: date) -> str:
    return day.isoformat()


def parse_date(text: str) -> date:
    """Exactly YYYY-MM-DD: one spelling per date (fromisoformat alone also takes week dates)."""
    if not isinstance(text, str) or not _DATE.fullmatch(text):
        raise ValueError(f"expected YYYY-MM-DD, got {text!r}")
    return date.fromisoformat(text)


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# strptime alone matches case-insensitively and takes any Unicode digit.
_INSTANT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
