"""Request and response models of the API: inputs forbid extra fields (no mass assignment)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["BalanceOut", "ErrorOut", "InstructionIn", "Page", "ReceiptOut", "SignatureIn", "StrictIn"]

Item = TypeVar("Item")


class Window(Protocol):
    """Where a page starts and how long it is (``api.deps.Page``)."""

    @property
    def offset(self) -> int: ...

    @property
    def limit(self) -> int: ...


class StrictIn(BaseModel):
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
