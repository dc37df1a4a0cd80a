"""Request and response models of the household routes (社员分配): a roster of member households for a
monitoring period, its confirmation, and a member's statement with the inclusion proof of each record."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from api.schemas import Day, StrictIn
from api.schemas.pledges import SafeInt
from ledger.timeutil import format_utc
from market.households.model import MemberEntry, area_cmu
from market.households.service import RosterInfo
from market.households.statement import Statement

__all__ = ["RosterIn", "RosterMemberIn", "RosterOut", "StatementLineOut", "StatementOut"]


class RosterMemberIn(StrictIn):
    """One member household: its name and ID-card number stay in the cooperative's register, off the
    journal, which carries only their salted hash."""

    member: str = Field(max_length=64, description="pseudonymous member id, the one on the journal")
    name: str = Field(max_length=64)
    id_card: str = Field(max_length=18, description="18-character resident ID number (GB 11643)")
    area_mu: str = Field(
        max_length=20, description='farming area in mu (亩), decimal text with 2 places at most, e.g. "42.5"'
    )
    rafts: SafeInt = Field(default=0, description="rafts (筏架) in the period")
    longlines: SafeInt = Field(default=0, description="longlines (延绳) in the period")
    harvest_kg: SafeInt | None = Field(default=None, description="measured fresh harvest in the period, kg")

    def entry(self) -> MemberEntry:
        return MemberEntry(
            member=self.member,
            name=self.name,
            id_card=self.id_card,
            area_mu=Decimal(area_cmu(self.area_mu)) / 100,  # decimal text read exactly, or InvalidInput
            rafts=self.rafts,
            longlines=self.longlines,
            harvest_kg=self.harvest_kg,
        )


class RosterIn(StrictIn):
    """The members of a project's farms for one monitoring period, and the fee they agreed."""

    project: str = Field(max_length=48)
    period_start: Day
    period_end: Day
    fee_bp: SafeInt = Field(description="the cooperative's fee on each sale, basis points (300 = 3%)")
    members: list[RosterMemberIn] = Field(min_length=1, max_length=5_000)


class RosterOut(BaseModel):
    roster: str
    project: str
    cooperative: str
    bureau: str
    status: str = Field(description="submitted (signed by the cooperative) or confirmed (on the journal)")
    fee_bp: int
    members: int
    confirmed_seq: int | None
    rule: str = Field(description="attribution by area, or by harvest when every member's was weighed")

    @classmethod
    def of(cls, r: RosterInfo) -> RosterOut:
        return cls(
            roster=r.roster,
            project=r.project,
            cooperative=r.cooperative,
            bureau=r.bureau,
            status=r.status,
            fee_bp=r.fee_bp,
            members=r.members,
            confirmed_seq=r.confirmed_seq,
            rule=str(r.meta["rule"]),
        )


class StatementLineOut(BaseModel):
    kind: str = Field(description="roster, attribution or sale")
    seq: int
    time: str
    figures: dict[str, Any]
    proof: dict[str, Any] | None = Field(
        description="inclusion proof; null until a checkpoint covers the record"
    )


class StatementOut(BaseModel):
    """A member's statement: farm, attributed kg CO2e, sales and money received, record by record."""

    cooperative: str
    cooperative_name: str
    member: str
    name_masked: str
    identity_hash: str
    account: str
    attributed_kg_co2e: int
    received_fen: int
    balance_fen: int
    lines: list[StatementLineOut]

    @classmethod
    def of(cls, s: Statement) -> StatementOut:
        return cls(
            cooperative=s.cooperative,
            cooperative_name=s.cooperative_name,
            member=s.member,
            name_masked=s.name_masked,
            identity_hash=s.identity_hash,
            account=s.account,
            attributed_kg_co2e=s.attributed_kg,
            received_fen=s.received_fen,
            balance_fen=s.balance_fen,
            lines=[
                StatementLineOut(
                    kind=x.kind,
                    seq=x.seq,
                    time=format_utc(x.time),
                    figures=x.figures,
                    proof=x.proof.to_json() if x.proof is not None else None,
                )
                for x in s.lines
            ],
        )
