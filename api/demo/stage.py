"""The stage the demo scenario plays on: a registry clock moved event by event, the participants
with keys held in custody and API logins, and one-transaction-per-step calls into the services.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from accounts.credentials import issue_credential
from accounts.custody import Vault, take_into_custody
from accounts.model import Participant, ParticipantSpec
from accounts.service import register_participant
from ledger.crypto import SigningKey
from ledger.model import Lot, Posting, TxBody
from ledger.service import Instruction, Registry, new_nonce, submit_all
from market.consent import Consent

__all__ = ["BEIJING", "Clock", "Login", "Stage"]

T = TypeVar("T")
BEIJING = timezone(timedelta(hours=8), "UTC+8")


class Clock:
    """The registry's clock while the scenario loads: set to each event's moment, in Beijing days
    counted back from the day the demo starts, never backwards and never past the real start, so the
    served registry (on the wall clock) carries on from the journal's last record."""

    def __init__(self, start: datetime) -> None:
        self.start = start.astimezone(UTC)
        self.today = self.start.astimezone(BEIJING).date()
        self.now = self.moment(-366, 0)  # before any event; the first ``at`` sets the real one

    def __call__(self) -> datetime:
        return self.now

    def moment(self, day: int, hour: int, minute: int = 0) -> datetime:
        """``day`` days from today (negative: before), at ``hour:minute`` Beijing time, in UTC."""
        local = datetime.combine(self.today + timedelta(days=day), time(hour, minute), BEIJING)
        return local.astimezone(UTC)

    def at(self, day: int, hour: int, minute: int = 0) -> datetime:
        """Move to an event's moment; the story is told in order, so the clock only moves on."""
        moment = self.moment(day, hour, minute)
        if not self.now <= moment <= self.start:
            raise ValueError(f"the scenario's clock would move from {self.now} to {moment}")
        self.now = moment
        return moment

    def date_at(self, day: int) -> date:
        return self.today + timedelta(days=day)


@dataclass(frozen=True, slots=True)
class Login:
    """One person's way into the console and the API."""

    alias: str
    role: str
    name: str
    party: str
    token: str


@dataclass
class Stage:
    """An engine, the registry on the scenario's clock, the custody vault and everyone registered."""

    engine: Engine
    registry: Registry
    clock: Clock
    vault: Vault
    people: dict[str, Participant] = field(default_factory=dict)
    signing: dict[str, SigningKey] = field(default_factory=dict)
    logins: list[Login] = field(default_factory=list)

    @classmethod
    def create(cls, engine: Engine, registry: Registry, vault: Vault, start: datetime) -> Stage:
        clock = Clock(start)
        return cls(engine, replace(registry, clock=clock), clock, vault)

    def p(self, alias: str) -> Participant:
        return self.people[alias]

    def party(self, alias: str) -> str:
        return self.people[alias].party

    def key(self, alias: str) -> SigningKey:
        return self.signing[self.party(alias)]

    @property
    def keys(self) -> Mapping[str, SigningKey]:
        return self.signing

    def consent(self, alias: str) -> Consent:
        """``alias``'s consent by its key in the registry's custody."""
        return Consent.custody(self.party(alias), self.key(alias))

    def call(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        """One workflow step in its own transaction, committed; ``registry`` and everyone's custody keys
        (``signed_by``) are passed when the service takes them, and ``now`` is the scenario's clock."""
        params = inspect.signature(fn).parameters
        defaults = {"registry": self.registry, "signed_by": Consent(self.signing), "now": self.clock()}
        for name, value in defaults.items():
            if name in params:
                kwargs.setdefault(name, value)
        with Session(self.engine) as s:
            out = fn(s, **kwargs)
            s.commit()
        return out

    def register(self, specs: Mapping[str, ParticipantSpec]) -> None:
        """Register each participant with a key the registry generates and keeps in custody (托管),
        and give each an API credential: the demo's logins."""
        with Session(self.engine) as s:
            for alias, spec in specs.items():
                key = SigningKey.generate().in_custody()
                found = register_participant(
                    s, registry=self.registry, spec=spec, public_key=key.public, custody=True
                )
                take_into_custody(s, vault=self.vault, party=found.party, key=key, at=self.clock())
                issued = issue_credential(s, party=found.party, label="demo login", now=self.clock())
                self.people[alias], self.signing[found.party] = found, key
                self.logins.append(Login(alias, found.role.value, found.name, found.party, issued.token))
            s.commit()

    def deposit(self, fen_by_alias: Mapping[str, int]) -> None:
        """Money paid in through the operator's bank gateway (入金), one record per enterprise.

        No market workflow moves cash in from outside the ledger: the settlement account is where CNY
        enters, so the operator signs a plain ledger transaction, the way a bank feed would."""
        operator = self.party("operator")
        ins = [
            Instruction.signed(
                TxBody(
                    "cash.deposit",
                    new_nonce(),
                    (
                        Posting(f"{operator}.settlement", "CNY", Lot(), -fen),
                        Posting(f"{self.party(alias)}.cash", "CNY", Lot(), fen),
                    ),
                    signers=(operator,),
                    meta={"via": "bank gateway (demo)", "amount_fen": fen},
                ),
                (operator, self.signing[operator]),
            )
            for alias, fen in fen_by_alias.items()
        ]
        with Session(self.engine) as s:
            submit_all(s, ins, registry=self.registry)
            s.commit()
