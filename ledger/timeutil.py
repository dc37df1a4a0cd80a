"""UTC instants as the ledger writes them: ISO 8601 with microseconds and a Z, never naive."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

__all__ = ["format_date", "format_utc", "parse_date", "parse_utc", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_utc(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetimes are refused: the ledger keeps time in UTC")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
