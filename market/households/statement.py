"""A member household's statement (社员碳汇收益对账单): its farm per period, the tonnes attributed to it,
the sales of those credits and the money it received, each figure read from a journal record that
comes with its inclusion proof, so the member can check it against a signed checkpoint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from accounts.model import Participant
from accounts.permissions import Action, authorize
from accounts.service import get_participant, target_for_account
from ledger.errors import NotFound
from ledger.service import InclusionProof, balances, journal_lines, prove_inclusion
from ledger.timeutil import parse_utc
from ledger.units import is_money
from market.bluecarbon.tables import BlueCarbonBatchRow
from market.households.errors import UnknownMember
from market.households.model import mask_name
from market.households.tables import HouseholdMemberRow, HouseholdRosterRow, HouseholdSaleRow

__all__ = ["Line", "Statement", "member_statement"]


@dataclass(frozen=True, slots=True)
class Line:
    """One statement line: what it says and the record that says it (with its proof when a signed
    checkpoint covers the record already)."""

    kind: str  # roster | attribution | sale
    seq: int
    time: datetime
    figures: dict[str, Any]
    proof: InclusionProof | None


@dataclass(frozen=True, slots=True)
class Statement:
    cooperative: str
    cooperative_name: str
    member: str
    name_masked: str
    identity_hash: str
    account: str
    lines: tuple[Line, ...] = field(default_factory=tuple)
    balance_fen: int = 0

    @property
    def attributed_kg(self) -> int:
        return sum(int(x.figures["kg_co2e"]) for x in self.lines if x.kind == "attribution")

    @property
    def received_fen(self) -> int:
        return sum(int(x.figures["fen"]) for x in self.lines if x.kind == "sale")


def _record(session: Session, seq: int) -> tuple[dict[str, Any], InclusionProof | None]:
    """The record ``seq`` (its core) and its inclusion proof, or None when no checkpoint covers it yet."""
    proof: InclusionProof | None
    try:
        proof = prove_inclusion(session, seq=seq)
        line = proof.line
    except NotFound:
        proof = None
        line = next(iter(journal_lines(session, start=seq, stop=seq + 1)))
    return json.loads(line)["record"], proof


def _roster_lines(session: Session, cooperative: str, member: str) -> list[Line]:
    rows = session.exec(
        select(HouseholdRosterRow).where(
            HouseholdRosterRow.cooperative == cooperative, HouseholdRosterRow.status == "confirmed"
        )
    )
    out = []
    for row in rows:
        assert row.confirmed_seq is not None
        record, proof = _record(session, row.confirmed_seq)
        meta = record["body"]["meta"]
        found = next((m for m in meta["members"] if m["member"] == member), None)
        if found is None:
            continue
        figures = {
            "roster": meta["roster"],
            "project": meta["project"],
            "start": meta["period"]["start"],
            "end": meta["period"]["end"],
            "fee_bp": meta["fee_bp"],
            **{k: found[k] for k in ("area_cmu", "rafts", "longlines", "identity_hash")},
            "harvest_kg": found.get("harvest_kg"),
        }
        out.append(Line("roster", row.confirmed_seq, parse_utc(record["time"]), figures, proof))
    return out


def _attribution_lines(session: Session, rosters: list[Line], member: str) -> list[Line]:
    out = []
    for roster in rosters:
        batches = session.exec(
            select(BlueCarbonBatchRow).where(BlueCarbonBatchRow.project == roster.figures["project"])
        )
        for batch in batches:
            record, proof = _record(session, batch.issued_seq)
            attribution = record["body"]["meta"].get("attribution")
            if attribution is None or attribution["roster"] != roster.figures["roster"]:
                continue
            kg = next(s["kg_co2e"] for s in attribution["shares"] if s["member"] == member)
            figures = {"batch": batch.batch, "kg_co2e": kg, "sink_kg_co2e": attribution["sink_kg_co2e"]}
            out.append(Line("attribution", batch.issued_seq, parse_utc(record["time"]), figures, proof))
    return out


def _sale_lines(session: Session, cooperative: str, member: str) -> list[Line]:
    rows = session.exec(
        select(HouseholdSaleRow)
        .where(HouseholdSaleRow.cooperative == cooperative)
        .order_by(HouseholdSaleRow.seq)  # type: ignore[arg-type]
    )
    out = []
    for row in rows:
        record, proof = _record(session, row.seq)
        split = record["body"]["meta"]["distribution"]
        fen = next((s["fen"] for s in split["shares"] if s["member"] == member), None)
        if fen is None:
            continue
        figures = {
            "batch": split["batch"],
            "buyer": get_participant(session, party=row.buyer).name,
            "tonnes": row.tonnes,
            "price_fen_per_t": row.price_fen_per_t,
            "proceeds_fen": split["proceeds_fen"],
            "fee_fen": split["fee_fen"],
            "fen": fen,
            "retired": row.retired,
        }
        out.append(Line("sale", row.seq, parse_utc(record["time"]), figures, proof))
    return out


def member_statement(session: Session, *, actor: Participant, cooperative: str, member: str) -> Statement:
    """The statement of ``member`` of ``cooperative``, for those who may read its member account (the
    cooperative, the bureaus over it, auditors, the operator); ``UnknownMember`` when there is none.
    Every figure is read from the journal record the line cites, not from the workflow's tables."""
    row = session.get(HouseholdMemberRow, (cooperative, member))
    if row is None:
        raise UnknownMember(f"{cooperative} has no member {member}", field="member", member=member)
    authorize(actor, Action.READ_ACCOUNT, target_for_account(session, account=row.account))
    rosters = _roster_lines(session, cooperative, member)
    lines = [
        *rosters,
        *_attribution_lines(session, rosters, member),
        *_sale_lines(session, cooperative, member),
    ]
    lines.sort(key=lambda x: x.seq)
    balance = sum(b.total for b in balances(session, account=row.account) if is_money(b.instrument))
    return Statement(
        cooperative=cooperative,
        cooperative_name=get_participant(session, party=cooperative).name,
        member=member,
        name_masked=mask_name(row.name),
        identity_hash=row.identity_hash,
        account=row.account,
        lines=tuple(lines),
        balance_fen=balance,
    )
