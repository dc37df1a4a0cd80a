"""Participants of the registry: their roles, what registering one needs, and the ledger
accounts each role gets. Pure values, validated on construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from accounts.identifiers import (
    account_id,
    check_credit_code,
    check_division,
    check_permit_number,
    check_slug,
)
from ledger.errors import InvalidInput
from ledger.model import AccountKind
from ledger.units import INSTRUMENTS

__all__ = [
    "CAPPED_INSTRUMENTS",
    "AccountRef",
    "AuditorSpec",
    "BankSpec",
    "BureauSpec",
    "CooperativeSpec",
    "EnterpriseSpec",
    "OperatorSpec",
    "Participant",
    "ParticipantSpec",
    "Role",
    "account_plan",
]


class Role(StrEnum):
    """What a participant is; the value is the ``role`` of its ``party.register`` record."""

    BUREAU = "bureau"  # 生态环境局, one per jurisdiction
    ENTERPRISE = "enterprise"  # 排污单位
    BANK = "bank"
    AUDITOR = "auditor"
    COOPERATIVE = "cooperative"  # farm cooperative or project owner (blue carbon)
    OPERATOR = "operator"  # the registry operator

    @property
    def prefix(self) -> str:
        """The party-id prefix: ``bureau:330281``, ``ent:<credit code>``, ``coop:<...>``."""
        return _PREFIX[self]


_PREFIX = {
    Role.BUREAU: "bureau",
    Role.ENTERPRISE: "ent",
    Role.BANK: "bank",
    Role.AUDITOR: "auditor",
    Role.COOPERATIVE: "coop",
    Role.OPERATOR: "operator",
}

# A bureau has one cap account per instrument it issues: the capped rights and quotas of its total
# quantity control (总量控制), and the serialized credits it verifies (blue carbon, bamboo carbon).
# A credit instrument added after a bureau registered gets its cap account at its first issuance.
CAPPED_INSTRUMENTS: tuple[str, ...] = tuple(
    code for code, inst in INSTRUMENTS.items() if inst.issued_by_bureau
)


def _name(value: object, field: str = "name") -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200 or value != value.strip():
        raise InvalidInput(f"{field} must be 1-200 characters without surrounding spaces", field=field)
    return value


@dataclass(frozen=True, slots=True)
class Participant:
    """A registered participant, as the registry knows it."""

    party: str
    role: Role
    name: str
    jurisdiction: str | None = None
    credit_code: str | None = None
    permit_number: str | None = None
    branch: str | None = None
    registered_seq: int | None = None

    def profile(self) -> dict[str, Any]:
        """What goes into the journal's ``party.register`` record (absent fields left out)."""
        fields = {
            "name": self.name,
            "jurisdiction": self.jurisdiction,
            "credit_code": self.credit_code,
            "permit_number": self.permit_number,
            "branch": self.branch,
        }
        return {k: v for k, v in fields.items() if v is not None}


@dataclass(frozen=True, slots=True)
class AccountRef:
    """One ledger account of a participant."""

    account: str
    kind: AccountKind


@dataclass(frozen=True, slots=True)
class BureauSpec:
    """An ecology and environment bureau, one per jurisdiction, named by its division code."""

    division: str
    name: str
    role: ClassVar[Role] = Role.BUREAU

    def __post_init__(self) -> None:
        check_division(self.division, field="division")
        _name(self.name)

    def participant(self) -> Participant:
        return Participant(f"bureau:{self.division}", self.role, self.name, jurisdiction=self.division)


@dataclass(frozen=True, slots=True)
class EnterpriseSpec:
    """An enterprise: credit code, the jurisdiction its rights belong to, its discharge permit."""

    credit_code: str
    name: str
    jurisdiction: str
    permit_number: str | None = None
    role: ClassVar[Role] = Role.ENTERPRISE

    def __post_init__(self) -> None:
        check_credit_code(self.credit_code)
        _name(self.name)
        check_division(self.jurisdiction)
        if self.permit_number is not None:
            check_permit_number(self.permit_number, credit_code=self.credit_code)

    def participant(self) -> Participant:
        return Participant(
            f"ent:{self.credit_code}",
            self.role,
            self.name,
            jurisdiction=self.jurisdiction,
            credit_code=self.credit_code,
            permit_number=self.permit_number,
        )


@dataclass(frozen=True, slots=True)
class BankSpec:
    """A bank branch (each branch has its own credit code); the jurisdiction it lends in, if any."""

    credit_code: str
    name: str
    branch: str
    jurisdiction: str | None = None
    role: ClassVar[Role] = Role.BANK

    def __post_init__(self) -> None:
        check_credit_code(self.credit_code)
        _name(self.name)
        _name(self.branch, "branch")
        if self.jurisdiction is not None:
            check_division(self.jurisdiction)

    def participant(self) -> Participant:
        return Participant(
            f"bank:{self.credit_code}",
            self.role,
            self.name,
            jurisdiction=self.jurisdiction,
            credit_code=self.credit_code,
            branch=self.branch,
        )


@dataclass(frozen=True, slots=True)
class AuditorSpec:
    slug: str
    name: str
    role: ClassVar[Role] = Role.AUDITOR

    def __post_init__(self) -> None:
        check_slug(self.slug)
        _name(self.name)

    def participant(self) -> Participant:
        return Participant(f"auditor:{self.slug}", self.role, self.name)


@dataclass(frozen=True, slots=True)
class CooperativeSpec:
    """A farm cooperative or project owner; farmers' cooperatives have credit codes (93...),
    informal project owners a slug. Exactly one of the two."""

    name: str
    jurisdiction: str
    credit_code: str | None = None
    slug: str | None = None
    role: ClassVar[Role] = Role.COOPERATIVE

    def __post_init__(self) -> None:
        _name(self.name)
        check_division(self.jurisdiction)
        if (self.credit_code is None) == (self.slug is None):
            raise InvalidInput("give exactly one of credit_code and slug", field="credit_code")
        if self.credit_code is not None:
            check_credit_code(self.credit_code)
        if self.slug is not None:
            check_slug(self.slug)

    def participant(self) -> Participant:
        return Participant(
            f"coop:{self.credit_code or self.slug}",
            self.role,
            self.name,
            jurisdiction=self.jurisdiction,
            credit_code=self.credit_code,
        )


@dataclass(frozen=True, slots=True)
class OperatorSpec:
    slug: str
    name: str
    role: ClassVar[Role] = Role.OPERATOR

    def __post_init__(self) -> None:
        check_slug(self.slug)
        _name(self.name)

    def participant(self) -> Participant:
        return Participant(f"operator:{self.slug}", self.role, self.name)


ParticipantSpec = BureauSpec | EnterpriseSpec | BankSpec | AuditorSpec | CooperativeSpec | OperatorSpec


def account_plan(participant: Participant) -> list[AccountRef]:
    """The ledger accounts a participant gets on registration, by role.

    - bureau: holding, government reserve (政府储备), one cap account per capped instrument
      for its jurisdiction (总量控制, may run negative), retirement, escrow for auction
      deposits, cash;
    - enterprise: holding, retirement (credits it retires), cash;
    - bank: holding (enforced collateral), cash; cooperative: holding, retirement, cash;
    - operator: the settlement gateway CNY enters and leaves by, and escrow for settlement;
    - auditor: none, since it reads everything and writes nothing.
    """
    party = participant.party
    kinds: list[AccountKind] = {
        Role.BUREAU: [AccountKind.HOLDING, AccountKind.RESERVE, AccountKind.RETIREMENT, AccountKind.ESCROW],
        Role.ENTERPRISE: [AccountKind.HOLDING, AccountKind.RETIREMENT],
        Role.BANK: [AccountKind.HOLDING],
        Role.COOPERATIVE: [AccountKind.HOLDING, AccountKind.RETIREMENT],
        Role.OPERATOR: [AccountKind.SETTLEMENT, AccountKind.ESCROW],
        Role.AUDITOR: [],
    }[participant.role]
    if participant.role not in (Role.AUDITOR, Role.OPERATOR):
        kinds.append(AccountKind.CASH)
    refs = [AccountRef(account_id(party, kind.value), kind) for kind in kinds]
    if participant.role is Role.BUREAU:
        refs += [
            AccountRef(account_id(party, "cap", code), AccountKind.ISSUANCE) for code in CAPPED_INSTRUMENTS
        ]
    return refs
