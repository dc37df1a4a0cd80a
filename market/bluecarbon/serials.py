"""Serial numbers of the serialized credits (blue carbon, bamboo carbon; ``Instrument.serialized``),
one per tonne CO2e: a contiguous range per batch, held in blocks that split when part of one moves.
Pure, so the live workflows and an auditor's replay agree.
"""

# Numbering (decided): serials are global integers from 1; each batch takes the range right after
# the previous batch's end, whatever the project or instrument, so a serial alone names one tonne of one batch
# and a range that overlaps or skips shows a double issuance at once.
#
# Assignment (decided, like UNDP's National Carbon Registry serial blocks): within a transaction,
# per batch, each debit of n tonnes takes the n LOWEST serials its account holds in the batch
# (FIFO), in posting order; the serials so taken (or the newly minted range of an issuance) go to
# the credits in posting order, lowest first. Blocks of one account and batch are kept sorted and
# merged when adjacent, so the book has one canonical state for every history.

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.errors import InvalidInput
from ledger.model import AccountKind, Body, OpenAccount, Posting, TxBody
from ledger.units import INSTRUMENTS
from market.bluecarbon.errors import (
    RetiredSerialsImmovable,
    SerialError,
    SerialRangeConflict,
    SerialsNotHeld,
    WholeTonnesOnly,
)
from methodologies.errors import MalformedReplayRecord, QuantityMismatch
from methodologies.registry import recompute

__all__ = [
    "BPS_DENOMINATOR",
    "ISSUE_ACTION",
    "SERIAL_KG",
    "IssuanceSplit",
    "SerialBlock",
    "SerialBook",
    "SerialMove",
    "SerialRange",
    "recheck_issuance",
    "replay_serials",
    "serialized",
    "split_issuance",
    "tonnes_of",
]

SERIAL_KG = 1000  # one serial per tonne CO2e; the ledger counts every serialized credit in kg CO2e
BPS_DENOMINATOR = 10_000  # buffer shares are integer basis points
ISSUE_ACTION = "bc.issue"  # the action whose meta carries serial_start and serial_end


def serialized(code: str) -> bool:
    """Whether units of ``code`` carry serials (an unknown code carries none: the ledger refuses it)."""
    found = INSTRUMENTS.get(code)
    return found is not None and found.serialized


@dataclass(frozen=True, slots=True, order=True)
class SerialRange:
    """Serials ``start`` to ``end``, both included; serials are positive integers."""

    start: int
    end: int

    def __post_init__(self) -> None:
        for value in (self.start, self.end):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError("serials are integers")
        if not 1 <= self.start <= self.end:
            raise InvalidInput(
                f"serial range {self.start}-{self.end} is empty or not positive", field="serials"
            )

    @property
    def tonnes(self) -> int:
        return self.end - self.start + 1

    def to_json(self) -> list[int]:
        return [self.start, self.end]

    @classmethod
    def parse(cls, value: object, *, field: str) -> SerialRange:
        """A ``[start, end]`` pair from a record's meta, or ``SerialRangeConflict`` naming the field."""
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)
            or value[0] > value[1]
        ):
            raise SerialRangeConflict(f"{field} must be a [start, end] pair of serials", field=field)
        return cls(value[0], value[1])


@dataclass(frozen=True, slots=True, order=True)
class SerialBlock:
    """A live block: serials ``start``..``end`` of ``batch`` held in ``account``."""

    batch: str
    start: int
    end: int
    account: str

    @property
    def tonnes(self) -> int:
        return self.end - self.start + 1

    @property
    def range(self) -> SerialRange:
        return SerialRange(self.start, self.end)


@dataclass(frozen=True, slots=True)
class SerialMove:
    """The serials one credit of a transaction received."""

    batch: str
    account: str
    ranges: tuple[SerialRange, ...]

    @property
    def tonnes(self) -> int:
        return sum(r.tonnes for r in self.ranges)


@dataclass(frozen=True, slots=True)
class IssuanceSplit:
    """Whole tonnes issued for a verified sink, and their split between the buffer pool and the owner."""

    issued_t: int
    buffer_t: int
    owner_t: int

    @property
    def issued_kg(self) -> int:
        return self.issued_t * SERIAL_KG

    @property
    def buffer_kg(self) -> int:
        return self.buffer_t * SERIAL_KG

    @property
    def owner_kg(self) -> int:
        return self.owner_t * SERIAL_KG


def split_issuance(sink_kg_co2e: int, buffer_bps: int) -> IssuanceSplit:
    """Issue whole tonnes only: ``floor(sink / 1000)`` tonnes; the buffer pool gets
    ``floor(tonnes x bps / 10000)`` of them (rounded DOWN, so the owner is never short-changed
    by rounding and the buffer share is never above the rate), the owner the rest."""
    for name, value in (("sink_kg_co2e", sink_kg_co2e), ("buffer_bps", buffer_bps)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int")
    if sink_kg_co2e < 0:
        raise InvalidInput("a sink cannot be negative", field="sink_kg_co2e")
    if not 0 <= buffer_bps <= BPS_DENOMINATOR:
        raise InvalidInput("buffer_bps must be 0 to 10000 basis points", field="buffer_bps")
    issued = sink_kg_co2e // SERIAL_KG
    buffer = issued * buffer_bps // BPS_DENOMINATOR
    return IssuanceSplit(issued, buffer, issued - buffer)


def tonnes_of(amount_kg: int, *, field: str) -> int:
    """Whole tonnes in ``amount_kg``; serialized credits move only in whole tonnes (one serial each)."""
    if amount_kg % SERIAL_KG:
        raise WholeTonnesOnly(
            f"{field}: serialized credits move in whole tonnes (1000 kg CO2e, one serial each), "
            f"got {amount_kg} kg",
            field=field,
        )
    return abs(amount_kg) // SERIAL_KG


def _take_lowest(ranges: Sequence[SerialRange], n: int) -> tuple[list[SerialRange], list[SerialRange]]:
    """The ``n`` lowest serials of sorted ``ranges``, and what is left (splitting one block)."""
    taken: list[SerialRange] = []
    left = list(ranges)
    while n and left:
        first = left.pop(0)
        if first.tonnes <= n:
            taken.append(first)
            n -= first.tonnes
        else:
            taken.append(SerialRange(first.start, first.start + n - 1))
            left.insert(0, SerialRange(first.start + n, first.end))
            n = 0
    return taken, left


def _merge(ranges: Iterable[SerialRange]) -> list[SerialRange]:
    """Sorted, with adjacent ranges joined: the one canonical form of a set of serials."""
    out: list[SerialRange] = []
    for r in sorted(ranges):
        if out and out[-1].end >= r.start:
            raise SerialRangeConflict(f"serials {r.start}-{r.end} are already held", field="serials")
        if out and out[-1].end + 1 == r.start:
            out[-1] = SerialRange(out[-1].start, r.end)
        else:
            out.append(r)
    return out


class SerialBook:
    """Who holds which serials. ``apply`` moves them for the serialized postings of one transaction,
    all or nothing; ``sinks`` are retirement accounts, whose serials never move again."""

    def __init__(
        self,
        blocks: Iterable[SerialBlock] = (),
        *,
        minted: Mapping[str, SerialRange] | None = None,
        next_serial: int | None = None,
        sinks: Iterable[str] = (),
    ) -> None:
        self._held: dict[tuple[str, str], list[SerialRange]] = {}
        grouped: dict[tuple[str, str], list[SerialRange]] = {}
        for b in blocks:
            grouped.setdefault((b.account, b.batch), []).append(b.range)
        for key, ranges in grouped.items():
            self._held[key] = _merge(ranges)
        for batch in {b for _, b in self._held}:  # no serial held by two accounts
            _merge(r for (_, b), rs in self._held.items() if b == batch for r in rs)
        self.minted: dict[str, SerialRange] = dict(minted or {})
        last = max((r.end for r in self.minted.values()), default=0)
        self.next_serial = last + 1 if next_serial is None else next_serial
        self.sinks: set[str] = set(sinks)

    # -- reads ---------------------------------------------------------------------------
    def held(self, account: str, batch: str) -> tuple[SerialRange, ...]:
        return tuple(self._held.get((account, batch), ()))

    def tonnes(self, account: str, batch: str) -> int:
        return sum(r.tonnes for r in self._held.get((account, batch), ()))

    def blocks(self, *, account: str | None = None, batch: str | None = None) -> list[SerialBlock]:
        """Live blocks, sorted by batch and serial; of one account and/or batch when given."""
        return sorted(
            SerialBlock(b, r.start, r.end, a)
            for (a, b), ranges in self._held.items()
            if (account is None or a == account) and (batch is None or b == batch)
            for r in ranges
        )

    # -- moves ---------------------------------------------------------------------------
    def apply(self, postings: Sequence[Posting], *, mint: SerialRange | None = None) -> list[SerialMove]:
        """Move serials for the serialized postings (other instruments are ignored), all or nothing.

        With ``mint`` the transaction is an issuance: the debits are the issuer's (a cap account
        holds no serials) and the credits share the new range, which must start at
        ``next_serial`` and match the credited tonnes exactly.
        """
        staged: dict[tuple[str, str], list[SerialRange]] = {}
        moves: list[SerialMove] = []
        by_batch: dict[str, list[tuple[int, Posting]]] = {}
        for i, p in enumerate(postings):
            if serialized(p.instrument):
                if p.lot.batch is None:
                    raise SerialError(
                        f"{p.instrument} units without a batch carry no serials", field=f"postings[{i}].lot"
                    )
                by_batch.setdefault(p.lot.batch, []).append((i, p))
        if mint is not None:
            self._check_mint(by_batch, mint)
        for batch, items in by_batch.items():
            pool = [mint] if mint is not None else self._debit(batch, items, staged)
            for i, p in items:
                if p.amount > 0:
                    n = tonnes_of(p.amount, field=f"postings[{i}].amount")
                    chunk, pool = _take_lowest(pool, n)
                    if sum(r.tonnes for r in chunk) != n:
                        raise SerialRangeConflict(f"batch {batch}: credits exceed debits", field="postings")
                    key = (p.account, batch)
                    staged[key] = _merge([*staged.get(key, self._held.get(key, [])), *chunk])
                    moves.append(SerialMove(batch, p.account, tuple(chunk)))
            if pool:
                raise SerialRangeConflict(
                    f"batch {batch}: debits and credits differ in tonnes", field="postings"
                )
        for key, ranges in staged.items():
            if ranges:
                self._held[key] = ranges
            else:
                self._held.pop(key, None)
        if mint is not None:
            self.minted[next(iter(by_batch))] = mint
            self.next_serial = mint.end + 1
        return moves

    def _check_mint(self, by_batch: Mapping[str, list[tuple[int, Posting]]], mint: SerialRange) -> None:
        if len(by_batch) != 1:
            raise SerialRangeConflict("an issuance mints exactly one batch", field="postings")
        batch, items = next(iter(by_batch.items()))
        if batch in self.minted:
            raise SerialRangeConflict(f"batch {batch} was already issued", field="lot.batch", batch=batch)
        if mint.start != self.next_serial:
            raise SerialRangeConflict(
                f"batch {batch} must start at serial {self.next_serial}, not {mint.start}: ranges never "
                "overlap or skip",
                field="serial_start",
                expected=self.next_serial,
            )
        credited = sum(tonnes_of(p.amount, field=f"postings[{i}].amount") for i, p in items if p.amount > 0)
        if credited != mint.tonnes:
            raise SerialRangeConflict(
                f"batch {batch} credits {credited} t but its range holds {mint.tonnes} serials",
                field="serial_end",
            )

    def _debit(
        self,
        batch: str,
        items: Sequence[tuple[int, Posting]],
        staged: dict[tuple[str, str], list[SerialRange]],
    ) -> list[SerialRange]:
        """The lowest serials of each debited account (FIFO), in posting order."""
        pool: list[SerialRange] = []
        for i, p in items:
            if p.amount > 0:
                continue
            if p.account in self.sinks:
                raise RetiredSerialsImmovable(
                    f"{p.account} is a retirement account: its serials never move again",
                    field=f"postings[{i}].account",
                )
            n = tonnes_of(p.amount, field=f"postings[{i}].amount")
            key = (p.account, batch)
            current = staged.get(key, self._held.get(key, []))
            have = sum(r.tonnes for r in current)
            if have < n:
                raise SerialsNotHeld(
                    f"{p.account} holds {have} serials of batch {batch}, cannot move {n}",
                    field=f"postings[{i}].amount",
                    account=p.account,
                    batch=batch,
                    held=have,
                )
            taken, staged[key] = _take_lowest(current, n)
            pool.extend(taken)
        return pool

    def apply_body(self, body: TxBody) -> list[SerialMove]:
        """Apply a recorded transaction as a replay does, checking the serials its meta states.

        An issuance (``bc.issue``) mints ``[serial_start, serial_end]``; any other record that
        states ``serials`` must state exactly the ranges its credits received.
        """
        mint = None
        if body.action == ISSUE_ACTION:
            mint = SerialRange.parse(
                [body.meta.get("serial_start"), body.meta.get("serial_end")], field="meta"
            )
        moves = self.apply(body.postings, mint=mint)
        stated: Any = body.meta.get("serials")
        if stated is not None and stated != [r.to_json() for m in moves for r in m.ranges]:
            raise SerialRangeConflict("meta.serials differs from the serials the postings move", field="meta")
        return moves


def replay_serials(bodies: Iterable[Body]) -> SerialBook:
    """The serial book rebuilt from journal bodies in order (an auditor's replay): retirement
    accounts become sinks as they open, and every transaction moving serialized credits is applied
    and checked."""
    book = SerialBook()
    for body in bodies:
        if isinstance(body, OpenAccount) and body.kind is AccountKind.RETIREMENT:
            book.sinks.add(body.account)
        elif isinstance(body, TxBody) and any(serialized(p.instrument) for p in body.postings):
            book.apply_body(body)
    return book


def recheck_issuance(meta: Mapping[str, Any]) -> IssuanceSplit:
    """Recompute a recorded issuance (``bc.issue`` meta) the way an auditor does: the methodology
    from the recorded inputs (``methodologies.registry.recompute`` checks the input hash and the
    sink), then the whole tonnes, the buffer share and the serial range from that sink.

    Returns the split; raises ``QuantityMismatch`` or ``SerialRangeConflict`` on any difference.
    """
    result = recompute(meta)
    bps = meta.get("buffer_bps")
    if isinstance(bps, bool) or not isinstance(bps, int):
        raise MalformedReplayRecord("'buffer_bps' should be int")
    split = split_issuance(result.sink_kg_co2e, bps)
    for key, expected in (("issued_kg", split.issued_kg), ("buffer_kg", split.buffer_kg)):
        recorded = meta.get(key)
        if recorded != expected:
            raise QuantityMismatch(recorded if isinstance(recorded, int) else -1, expected)
    serials = SerialRange.parse([meta.get("serial_start"), meta.get("serial_end")], field="meta")
    if serials.tonnes != split.issued_t:
        raise SerialRangeConflict(
            f"the range holds {serials.tonnes} serials for {split.issued_t} tonnes issued", field="meta"
        )
    return split
