"""The rules of a transfer between two journals (联合登记, federation), as one journal can check them:
each leg carries a well-formed citation of the other journal's record and moves exactly what it cites.

Run by ``ledger.rules.apply`` under rule set 2, live and in replay. What one journal cannot see (that
the cited record exists in the other, and is credited once) ``ledger.federation_audit`` checks over
both bundles (``ecoledger audit verify A B``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger.errors import InvalidFederationRecord
from ledger.model import REGISTRY, AccountKind, HoldPlace, HoldSettle, TxBody

if TYPE_CHECKING:
    from ledger.rules import _Tx as Transaction

__all__ = [
    "FEDERATION_ACTIONS",
    "HOLD_REASON",
    "Citation",
    "check_federation",
    "citation_of",
    "hold_id_for",
]

HOLD = "federation.hold"
CREDIT = "federation.credit"
COMPLETE = "federation.complete"
VOID = "federation.void"
FEDERATION_ACTIONS = frozenset({HOLD, CREDIT, COMPLETE, VOID})
HOLD_REASON = "federation"
_HEX32 = re.compile(r"[0-9a-f]{64}")
_TRANSFER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}")
_DIVISION = re.compile(r"[0-9]{6}")

# What the ``meta.federation`` object of each leg holds (every field required, no other).
FIELDS: dict[str, frozenset[str]] = {
    HOLD: frozenset({"transfer", "destination", "receiver", "to_jurisdiction"}),
    CREDIT: frozenset(
        {"transfer", "source", "hold_seq", "hold_hash", "hold", "instrument", "amount", "valid_until"}
    ),
    COMPLETE: frozenset({"transfer", "destination", "credit_seq", "credit_hash"}),
    VOID: frozenset({"transfer", "reason"}),
}


def hold_id_for(transfer: str) -> str:
    """The hold a transfer places in its source journal: one per transfer, so a transfer holds once."""
    return f"fed:{transfer}"


@dataclass(frozen=True, slots=True)
class Citation:
    """A leg's ``meta.federation`` after its checks: the other journal's id, and the record cited there."""

    action: str
    transfer: str
    other_journal: str | None  # the destination (hold, complete) or the source (credit)
    seq: int | None  # the cited record: the hold (credit) or the credit (complete)
    hash: str | None
    fields: Mapping[str, Any]


def _bad(message: str, field: str) -> InvalidFederationRecord:
    return InvalidFederationRecord(message, field=f"body.meta.federation.{field}" if field else "body.meta")


def citation_of(action: str, meta: Mapping[str, Any]) -> Citation:
    """The leg's citation, or ``InvalidFederationRecord`` naming the first missing or malformed field."""
    fed = meta.get("federation")
    if not isinstance(fed, dict):
        raise _bad(f"a {action} carries meta.federation, the citation of the other journal", "")
    wanted = FIELDS[action]
    if set(fed) != wanted:
        odd = sorted(set(fed) ^ wanted)
        raise _bad(f"meta.federation of a {action} holds exactly {', '.join(sorted(wanted))}", odd[0])
    transfer = fed["transfer"]
    if not isinstance(transfer, str) or not _TRANSFER.fullmatch(transfer):
        raise _bad("transfer is an id of 1 to 64 letters, digits, '.', '_' or '-'", "transfer")
    other_name = {HOLD: "destination", CREDIT: "source", COMPLETE: "destination"}.get(action)
    other = fed.get(other_name) if other_name else None
    if other_name and (not isinstance(other, str) or not _HEX32.fullmatch(other)):
        raise _bad(f"{other_name} is the other journal's id (its genesis hash, 64 hex digits)", other_name)
    seq_name, hash_name = {CREDIT: ("hold_seq", "hold_hash"), COMPLETE: ("credit_seq", "credit_hash")}.get(
        action, ("", "")
    )
    seq = fed.get(seq_name) if seq_name else None
    digest = fed.get(hash_name) if hash_name else None
    if seq_name:
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
            raise _bad(f"{seq_name} is the cited record's position in the other journal", seq_name)
        if not isinstance(digest, str) or not _HEX32.fullmatch(digest):
            raise _bad(f"{hash_name} is the cited record's hash (64 hex digits)", hash_name)
    return Citation(action, transfer, other, seq, digest, fed)


def check_federation(tx: Transaction) -> None:
    """A federation leg cites the other journal and moves what it cites: a hold for the registry,
    a credit of the cited quantity out of the cap, a completion or void of the whole hold."""
    body = tx.body
    cite = citation_of(body.action, body.meta)
    if body.action == HOLD:
        _check_hold(body, cite)
    elif body.action == CREDIT:
        _check_credit(tx, cite)
    else:
        _check_settlement(tx, cite)


def _check_hold(body: TxBody, cite: Citation) -> None:
    ops = body.holds
    if len(ops) != 1 or not isinstance(ops[0], HoldPlace) or body.postings:
        raise _bad("a federation.hold places exactly one hold and posts nothing", "")
    op = ops[0]
    if op.hold != hold_id_for(cite.transfer) or op.reason != HOLD_REASON or op.controller != REGISTRY:
        raise InvalidFederationRecord(
            f"a federation.hold places hold {hold_id_for(cite.transfer)}, reason {HOLD_REASON}, "
            "controlled by the registry (whose coordinator completes or voids it)",
            field="holds[0]",
        )
    if not isinstance(cite.fields["receiver"], str) or not cite.fields["receiver"]:
        raise _bad("receiver is the account credited in the destination journal", "receiver")
    if not isinstance(cite.fields["to_jurisdiction"], str) or not _DIVISION.fullmatch(
        cite.fields["to_jurisdiction"]
    ):
        raise _bad("to_jurisdiction is the destination's division code", "to_jurisdiction")


def _check_credit(tx: Transaction, cite: Citation) -> None:
    body, fed = tx.body, cite.fields
    if body.holds or len(body.postings) != 2:
        raise _bad("a federation.credit has one debit of a cap and one credit of a holding", "")
    debit, credit = sorted(body.postings, key=lambda p: p.amount)
    if tx.accounts[debit.account].kind is not AccountKind.ISSUANCE:
        raise InvalidFederationRecord("a federation.credit draws on the cap", field="postings")
    amount, instrument, until = fed["amount"], fed["instrument"], fed["valid_until"]
    if isinstance(amount, bool) or not isinstance(amount, int) or credit.amount != amount:
        raise _bad(f"credits {credit.amount}, but the cited hold holds {amount!r}", "amount")
    if credit.instrument != instrument:
        raise _bad(f"credits {credit.instrument}, but the cited hold holds {instrument!r}", "instrument")
    mine = None if credit.lot.valid_until is None else credit.lot.valid_until.isoformat()
    if mine != until or (until is not None and not isinstance(until, str)):
        raise _bad(
            f"credits units valid until {mine}, the cited hold's are valid until {until!r}", "valid_until"
        )
    if fed["hold"] != hold_id_for(cite.transfer):
        raise _bad(f"hold is {hold_id_for(cite.transfer)}, the hold this transfer placed", "hold")


def _check_settlement(tx: Transaction, cite: Citation) -> None:
    """A completion captures the whole federation hold of its transfer and returns it to the cap;
    a void releases the whole hold."""
    body = tx.body
    op = body.holds[0] if len(body.holds) == 1 else None
    want = "capture" if body.action == COMPLETE else "release"
    if not isinstance(op, HoldSettle) or op.op != want or op.hold != hold_id_for(cite.transfer):
        raise InvalidFederationRecord(
            f"a {body.action} must {want} hold {hold_id_for(cite.transfer)}, and nothing else", field="holds"
        )
    before = tx.view.find_hold(op.hold)
    if before is None or before.reason != HOLD_REASON or op.amount != before.amount:
        raise InvalidFederationRecord(
            f"a {body.action} settles the whole of a federation hold", field="holds[0].amount"
        )
    if body.action == VOID:
        if body.postings:
            raise _bad("a federation.void posts nothing", "")
        return
    credits = [p for p in body.postings if p.amount > 0]
    if (
        len(body.postings) != 2
        or len(credits) != 1
        or tx.accounts[credits[0].account].kind is not (AccountKind.ISSUANCE)
    ):
        raise InvalidFederationRecord(
            "a federation.complete returns the held units to the cap", field="postings"
        )
    if credits[0].amount != op.amount:
        raise InvalidFederationRecord("a federation.complete moves exactly the held units", field="postings")
