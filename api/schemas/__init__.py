"""Request and response models of the API: inputs forbid extra fields (no mass assignment)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Annotated, Any, Generic, Protocol, Self, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, Strict, field_validator
from pydantic_core import PydanticCustomError

from ledger.text import text_problem
from ledger.timeutil import EARLIEST_DAY, LATEST_DAY, day_in_range, instant_in_range

__all__ = [
    "BalanceOut",
    "CleanText",
    "Day",
    "ErrorOut",
    "Instant",
    "InstructionIn",
    "Page",
    "ReceiptOut",
    "SignatureIn",
    "StrictIn",
]

# Codes of refusals a request model raises itself; ``api.errors`` answers with them, not the generic
# ``invalid_request``, so a client can tell them apart.
INVALID_TEXT, DATE_OUT_OF_RANGE = "invalid_text", "date_out_of_range"


def _day(value: date) -> date:
    if not day_in_range(value):
        raise PydanticCustomError(DATE_OUT_OF_RANGE, f"a day from {EARLIEST_DAY} to {LATEST_DAY}")
    return value


def _instant(value: datetime) -> datetime:
    if not instant_in_range(value):
        raise PydanticCustomError(DATE_OUT_OF_RANGE, f"an instant from {EARLIEST_DAY} to {LATEST_DAY} (UTC)")
    return value


# JSON carries days and instants as ISO 8601 text: accept that text (strict mode would not), and
# only instants with an offset, since the ledger never guesses a time zone; both within the range
# ``ledger.timeutil`` allows, so a far-off date is a 422, never an overflow.
Day = Annotated[date, Strict(False), AfterValidator(_day)]
Instant = Annotated[AwareDatetime, Strict(False), AfterValidator(_instant)]


def _clean(value: object) -> None:
    """Refuse control and bidi characters in every text of a value, nested lists and objects too."""
    if isinstance(value, str):
        problem = text_problem(value)
        if problem is not None:
            raise PydanticCustomError(INVALID_TEXT, "the text {problem}", {"problem": problem})
    elif isinstance(value, dict):
        for key, item in value.items():
            _clean(key)
            _clean(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _clean(item)


class CleanText(BaseModel):
    """Every text field of the model is free of control and bidirectional characters (``ledger.text``)."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: object) -> object:
        _clean(value)
        return value

    def arguments(self, *, but: tuple[str, ...] = ("signatures",)) -> dict[str, Any]:
        """The fields as the service's keyword arguments (values as parsed, not dumped), less ``but``:
        a route whose payload names the service's terms passes them once instead of field by field."""
        return {name: getattr(self, name) for name in type(self).model_fields if name not in but}


Item = TypeVar("Item")


class Window(Protocol):
    """Where a page starts and how long it is (``api.deps.Page``)."""

    @property
    def offset(self) -> int: ...

    @property
    def limit(self) -> int: ...


class StrictIn(CleanText):
    """A request body: no field beyond the declared ones (no mass assignment), exact types, clean text."""

    model_config = ConfigDict(extra="forbid", strict=True)


class SignatureIn(StrictIn):
    party: str = Field(max_length=128)
    key_id: str = Field(max_length=64)
    sig: str = Field(max_length=128, description="unpadded base64url Ed25519 signature")
    custody: bool = False


class InstructionIn(StrictIn):
    """A ledger body (see the record format in the README) and its parties' signatures."""

    body: dict[str, Any]
    signatures: list[SignatureIn] = Field(max_length=16)


class ReceiptOut(BaseModel):
    seq: int
    hash: str
    time: str
    replayed: bool


class BalanceOut(BaseModel):
    account: str
    instrument: str
    lot: str
    total: int = Field(description="minor units: kg, kg CO2e or fen")
    held: int
    available: int


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any]


class ErrorOut(BaseModel):
    error: ErrorDetail


class Page(BaseModel, Generic[Item]):
    """A page of a list: ``items`` from ``offset``, at most ``limit`` of them, ``total`` in all."""

    items: list[Item]
    offset: int
    limit: int
    total: int

    @classmethod
    def cut(cls, found: Sequence[Any], window: Window, convert: Callable[[Any], Item]) -> Self:
        """The page ``window`` of the whole list ``found``, each item shown by ``convert``."""
        start, stop = window.offset, window.offset + window.limit
        return cls(
            items=[convert(x) for x in found[start:stop]],
            offset=window.offset,
            limit=window.limit,
            total=len(found),
        )
