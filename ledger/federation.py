"""The coordinator of transfers between two journals (联合登记): hold in the source, credit in the
destination, complete (or void) in the source, each step exactly once and recoverable after a crash.

The recovery log is the source journal itself: the hold record carries all a restarted coordinator
needs (what, to whom, in which journal), the hold stays open until a completion or a void settles it,
and every leg is submitted under an idempotency key with a body fixed by the hold, so a leg resent
after a crash returns the receipt it got the first time. docs/federation.md says why this and not
PostgreSQL's PREPARE TRANSACTION.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import Engine, text
from sqlmodel import Session

from ledger.crypto import SigningKey
from ledger.errors import DomainError, InvalidInput
from ledger.federation_audit import CrossCheckpoint
from ledger.federation_rules import COMPLETE, CREDIT, HOLD, HOLD_REASON, VOID, hold_id_for
from ledger.federation_store import find_receipt, journal_id, open_federation_holds, record_at
from ledger.model import HoldPlace, HoldSettle, Lot, Posting, TxBody, parse_body
from ledger.service import (
    Instruction,
    Receipt,
    Registry,
    make_checkpoint,
    new_nonce,
    sign_body,
    submit,
)
from ledger.timeutil import format_utc

__all__ = ["SCOPE", "Coordinator", "Member", "Outcome", "Result", "cross_checkpoint", "hold_body"]

SCOPE = "federation"  # the idempotency scope of every leg the coordinator writes
Outcome = Literal["completed", "voided"]
Step = Callable[[str], None]


@dataclass
class Member:
    """One journal of the federation as a coordinator reaches it: its database and registry key, the
    jurisdiction it keeps, and its bureau's cap accounts and key (held by the registry in custody)
    with which the bureau signs the legs that draw on or return to its cap."""

    engine: Engine
    registry: Registry
    jurisdiction: str
    bureau: str
    bureau_key: SigningKey
    caps: Mapping[str, str]  # instrument code -> the bureau's cap (issuance) account
    _id: str | None = field(default=None, init=False, repr=False)

    @property
    def id(self) -> str:
        if self._id is None:
            with Session(self.engine) as s:
                self._id = journal_id(s)
        return self._id

    def cap(self, instrument: str) -> str:
        found = self.caps.get(instrument)
        if found is None:
            raise InvalidInput(
                f"journal {self.jurisdiction} keeps no cap of {instrument}", field="instrument"
            )
        return found


@dataclass(frozen=True)
class Result:
    """How a transfer ended: its hold, the destination's credit (if any) and the settling record."""

    transfer: str
    outcome: Outcome
    hold: Receipt
    credit: Receipt | None
    end: Receipt
    refusal: str | None = None  # the destination's error code, when it refused the credit


def hold_body(
    *,
    transfer: str,
    account: str,
    instrument: str,
    lot: Lot,
    amount: int,
    destination: str,
    receiver: str,
    to_jurisdiction: str,
) -> TxBody:
    """The first leg, which the seller and its bureau sign: ``amount`` of ``account``'s units held for
    the registry until the destination journal ``destination`` credits ``receiver`` (or refuses)."""
    place = HoldPlace(hold_id_for(transfer), account, instrument, lot, amount, HOLD_REASON, "registry")
    meta = {
        "transfer": transfer,
        "destination": destination,
        "receiver": receiver,
        "to_jurisdiction": to_jurisdiction,
    }
    return TxBody(HOLD, new_nonce(), holds=(place,), meta={"federation": meta})


def _nonce(source: str, transfer: str, leg: str) -> str:
    """A leg's nonce, fixed by the transfer: a resent leg is the same body, so its idempotency key
    answers with the first receipt instead of refusing a different body."""
    return hashlib.sha256(f"ecoledger-federation-v1:{source}:{transfer}:{leg}".encode()).hexdigest()[:32]


def _receipt_of(session: Session, seq: int) -> tuple[Receipt, TxBody]:
    rec = record_at(session, seq)
    body = parse_body(rec.body)
    assert isinstance(body, TxBody)
    return Receipt(rec.seq, rec.hash.hex(), format_utc(rec.time)), body


class Coordinator:
    """Moves units from ``source`` to ``destination``. One coordinator finishes a transfer at a time
    (a PostgreSQL advisory lock on the source, per transfer); ``step`` is called after each flush
    and commit with its name, so a test can kill the process there."""

    def __init__(self, source: Member, destination: Member, *, step: Step | None = None) -> None:
        self.source, self.destination = source, destination
        self.step: Step = step or (lambda _name: None)

    def transfer(self, hold: Instruction) -> Result:
        """Hold, credit, complete: the units leave the source only once the destination credited
        them; if the destination refuses, the hold is voided and they stay where they were."""
        body = hold.body
        if not isinstance(body, TxBody) or body.action != HOLD:
            raise InvalidInput("a federation transfer starts with a federation.hold", field="body.action")
        transfer = str(body.meta["federation"]["transfer"])
        keyed = Instruction(body, hold.signatures, f"{transfer}:hold", SCOPE)
        receipt = self._submit(self.source, keyed, "hold")
        return self._finish(transfer, receipt)

    def recover(self) -> list[Result]:
        """Finish every transfer to ``destination`` whose hold is still open (after a crash)."""
        with Session(self.source.engine) as s:
            pending = open_federation_holds(s)
        results = []
        for _hold, seq in pending:
            with Session(self.source.engine) as s:
                _, body = _receipt_of(s, seq)
            fed = body.meta.get("federation", {})
            if body.action == HOLD and fed.get("destination") == self.destination.id:
                results.append(self._finish(str(fed["transfer"]), None, hold_seq=seq))
        return results

    def _finish(self, transfer: str, receipt: Receipt | None, *, hold_seq: int | None = None) -> Result:
        with self._lock(transfer):
            with Session(self.source.engine) as s:
                seq = receipt.seq if receipt is not None else hold_seq
                assert seq is not None
                hold_receipt, hold = _receipt_of(s, seq)
                ended = find_receipt(s, scope=SCOPE, key=f"{transfer}:end")
                ended_body = None if ended is None else _receipt_of(s, ended.seq)[1]
            credit_key = f"{self.source.id}:{transfer}"
            if ended is not None and ended_body is not None:  # settled before: say how, write nothing
                with Session(self.destination.engine) as d:
                    credit = find_receipt(d, scope=SCOPE, key=credit_key)
                outcome: Outcome = "completed" if ended_body.action == COMPLETE else "voided"
                return Result(transfer, outcome, hold_receipt, credit, ended)
            try:
                credit = self._submit(self.destination, self._credit(transfer, hold, hold_receipt), "credit")
            except DomainError as refusal:
                with Session(self.destination.engine) as d:
                    if find_receipt(d, scope=SCOPE, key=credit_key) is not None:
                        raise  # credited, though the resent leg was refused: never void it
                end = self._submit(self.source, self._void(transfer, hold, refusal.code), "void")
                return Result(transfer, "voided", hold_receipt, None, end, refusal.code)
            end = self._submit(self.source, self._complete(transfer, hold, credit), "complete")
            return Result(transfer, "completed", hold_receipt, credit, end)

    @contextlib.contextmanager
    def _lock(self, transfer: str) -> Iterator[None]:
        """A session-level advisory lock on the source for this transfer (PostgreSQL): a second
        coordinator waits; a killed one's connection ends and the lock with it."""
        if self.source.engine.dialect.name != "postgresql":
            yield
            return
        with self.source.engine.connect() as c:
            key = int.from_bytes(
                hashlib.sha256(f"federation:{transfer}".encode()).digest()[:8], "big", signed=True
            )
            c.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            c.commit()
            try:
                yield
            finally:
                c.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                c.commit()

    def _submit(self, member: Member, ins: Instruction, leg: str) -> Receipt:
        with Session(member.engine) as s:
            receipt = submit(s, ins, registry=member.registry)
            self.step(f"{leg}_flushed")
            s.commit()
        self.step(leg)
        return receipt

    def _signed(self, member: Member, body: TxBody, key: str) -> Instruction:
        sig = sign_body(body, member.bureau, member.bureau_key)
        return Instruction(body, (sig,), key, SCOPE)

    def _credit(self, transfer: str, hold: TxBody, receipt: Receipt) -> Instruction:
        place = hold.holds[0]
        assert isinstance(place, HoldPlace)
        fed = hold.meta["federation"]
        dest = self.destination
        if fed["to_jurisdiction"] != dest.jurisdiction:
            raise InvalidInput(
                f"the hold names jurisdiction {fed['to_jurisdiction']}, "
                f"this journal keeps {dest.jurisdiction}",
                field="meta.federation.to_jurisdiction",
            )
        lot = Lot(jurisdiction=dest.jurisdiction, valid_until=place.lot.valid_until)
        until = None if place.lot.valid_until is None else place.lot.valid_until.isoformat()
        meta = {
            "transfer": transfer,
            "source": self.source.id,
            "hold_seq": receipt.seq,
            "hold_hash": receipt.hash,
            "hold": place.hold,
            "instrument": place.instrument,
            "amount": place.amount,
            "valid_until": until,
        }
        postings = (
            Posting(dest.cap(place.instrument), place.instrument, lot, -place.amount),
            Posting(str(fed["receiver"]), place.instrument, lot, place.amount),
        )
        body = TxBody(CREDIT, _nonce(self.source.id, transfer, "credit"), postings, meta={"federation": meta})
        return self._signed(dest, body, f"{self.source.id}:{transfer}")

    def _complete(self, transfer: str, hold: TxBody, credit: Receipt) -> Instruction:
        place = hold.holds[0]
        assert isinstance(place, HoldPlace)
        postings = (
            Posting(place.account, place.instrument, place.lot, -place.amount),
            Posting(self.source.cap(place.instrument), place.instrument, place.lot, place.amount),
        )
        meta = {
            "transfer": transfer,
            "destination": self.destination.id,
            "credit_seq": credit.seq,
            "credit_hash": credit.hash,
        }
        body = TxBody(
            COMPLETE,
            _nonce(self.source.id, transfer, "end"),
            postings,
            (HoldSettle("capture", place.hold, place.amount),),
            meta={"federation": meta},
        )
        return self._signed(self.source, body, f"{transfer}:end")

    def _void(self, transfer: str, hold: TxBody, reason: str) -> Instruction:
        place = hold.holds[0]
        assert isinstance(place, HoldPlace)
        body = TxBody(
            VOID,
            _nonce(self.source.id, transfer, "end"),
            holds=(HoldSettle("release", place.hold, place.amount),),
            meta={"federation": {"transfer": transfer, "reason": reason}},
        )
        return Instruction(body, (), f"{transfer}:end", SCOPE)  # the registry controls the hold


def cross_checkpoint(members: Sequence[Member]) -> CrossCheckpoint:
    """Each journal's signed tree head now (kept in its own journal's checkpoints), gathered in one
    statement that each registry signs: what ``ecoledger audit verify A B`` ties the bundles with."""
    heads = []
    for m in members:
        with Session(m.engine) as s:
            heads.append((m.id, make_checkpoint(s, registry=m.registry)))
            s.commit()
    now = max(cp.time for _, cp in heads)
    return CrossCheckpoint.sign(now, heads, [m.registry.key for m in members])
