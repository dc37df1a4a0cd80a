"""Reading the console's form fields into the services' exact types: tonnes and yuan as decimal text
to integer kg and fen (ledger.units.parse_amount, never float), dates, China-time instants, choices.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from ledger.errors import InvalidInput
from ledger.model import Lot
from ledger.text import check_text
from ledger.timeutil import EARLIEST_DAY, LATEST_DAY, DateOutOfRange, day_in_range, instant_in_range
from ledger.units import INSTRUMENTS, instrument, parse_amount

__all__ = ["choice", "day", "kg", "local_instant", "lot", "text", "whole", "yuan_fen"]


def text(form: Mapping[str, str], name: str, *, optional: bool = False) -> str:
    """A one-line field, trimmed; control and bidirectional characters refused (``ledger.text``)."""
    value = form.get(name, "").strip()
    if not value and not optional:
        raise InvalidInput(f"{name} is required", field=name)
    return check_text(value, field=name)


def kg(form: Mapping[str, str], name: str, code: str) -> int:
    """Tonnes (t/a, tCO2e) typed by a person -> kg, exactly: ``"1.5"`` is 1500."""
    return parse_amount(text(form, name), instrument(code, field="instrument"), field=name)


def yuan_fen(form: Mapping[str, str], name: str) -> int:
    """Yuan typed by a person -> fen, exactly: ``"4000.5"`` is 400050; a third decimal is refused."""
    return parse_amount(text(form, name), INSTRUMENTS["CNY"], field=name)


def whole(form: Mapping[str, str], name: str, *, low: int = 0, high: int = 10**9) -> int:
    raw = text(form, name)
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidInput(f"{name} must be a whole number from {low} to {high}", field=name)
    return int(raw)


def day(form: Mapping[str, str], name: str) -> date:
    try:
        value = date.fromisoformat(text(form, name))
    except ValueError:
        raise InvalidInput(f"{name} must be a date (YYYY-MM-DD)", field=name) from None
    if not day_in_range(value):
        raise DateOutOfRange(f"{name} must be from {EARLIEST_DAY} to {LATEST_DAY}", field=name)
    return value


def local_instant(form: Mapping[str, str], name: str, zone: object) -> datetime:
    """An ``<input type=datetime-local>`` value, read in China Standard Time, as an aware instant."""
    try:
        naive = datetime.fromisoformat(text(form, name))
    except ValueError:
        raise InvalidInput(f"{name} must be a date and time", field=name) from None
    if naive.tzinfo is not None:
        raise InvalidInput(f"{name} must be a local time without an offset", field=name)
    moment = naive.replace(tzinfo=zone)  # type: ignore[arg-type]
    if not instant_in_range(moment):
        raise DateOutOfRange(f"{name} must be from {EARLIEST_DAY} to {LATEST_DAY}", field=name)
    return moment


def choice(form: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str | None = None) -> str:
    """One of ``allowed``; ``default`` (when given) if the form left the field out or empty."""
    value = text(form, name, optional=default is not None) or (default or "")
    if value not in allowed:
        raise InvalidInput(f"{name} must be one of {', '.join(allowed)}", field=name)
    return value


def lot(form: Mapping[str, str], name: str) -> Lot:
    """A lot chosen from a list of positions, by its key (``330281|2030-12-31``)."""
    try:
        return Lot.from_key(text(form, name))
    except (ValueError, InvalidInput):
        raise InvalidInput(f"{name} is not a lot", field=name) from None
