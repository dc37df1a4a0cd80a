"""Discharge rights and VOCs quotas under a jurisdiction's cap (总量控制): setting the cap into the
government reserve (政府储备), and allocating from it with the paid-use fee (有偿使用) in the same record.
"""

# The cap model: ``bureau:J.cap.<INST>`` (an ISSUANCE account, runs negative) is debited by
# ``set_cap`` into ``bureau:J.reserve``, so the cap in force is minus the cap account's balance and
# the reserve holds the unallocated part plus rights bought back. Allocation moves units from the
# reserve to an enterprise's holding; more than the reserve holds would breach the cap.

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Literal

from sqlmodel import Session

from accounts.identifiers import account_id
from accounts.model import Participant, Role
from accounts.permissions import Action, authorize, party_target
from accounts.service import SessionDirectory, get_participant
from ledger.controls import APPROVED_BY
from ledger.errors import InvalidInput
from ledger.model import Lot, Posting, TxBody
from ledger.service import Receipt, Registry, lock_head_time, new_nonce, submit_all
from ledger.units import check_amount
from market.consent import Consent, signed_instruction
from market.issuance.cap import CapPosition, bureau_of, cap_position, rights_instrument, rights_lot, set_cap
from market.issuance.errors import CapExceeded, NotInJurisdiction, PermitRequired

__all__ = [
    "BASE_PRICE_FEN_PER_TONNE_YEAR",
    "DEFAULT_TERM_YEARS",
    "Allocation",
    "CapPosition",
    "allocate",
    "allocate_initial",
    "allocation_draft",
    "bureau_of",
    "cap_position",
    "paid_use_fee_fen",
    "rights_instrument",
    "rights_lot",
    "set_cap",
]

#: Government base prices for paid use, in fen per tonne-year. Jinhua 金价价管〔2012〕137号: COD and
#: NH3-N 4,000 CNY/t·a, SO2 and NOx 1,000 CNY/t·a; VOCs: the Wuyi and Yongkang paid-use pilot
#: (2021), 6,000 CNY/t·a. TN and TP have no published base price here: give one explicitly.
BASE_PRICE_FEN_PER_TONNE_YEAR: Final[Mapping[str, int]] = {
    "COD": 400_000,
    "NH3-N": 400_000,
    "SO2": 100_000,
    "NOX": 100_000,
    "VOCS": 600_000,
}
DEFAULT_TERM_YEARS: Final = 5  # rights are allocated and sold for a 5-year term in Zhejiang

_CITATION = "金价价管〔2012〕137号 (COD, NH3-N, SO2, NOx); Wuyi/Yongkang VOCs paid-use pilot 2021 (VOCs)"


def _int(value: object, *, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{field} must be an int, got {type(value).__name__}")
    if not low <= value <= high:
        raise InvalidInput(f"{field} must be {low} to {high}, got {value}", field=field)
    return value


def paid_use_fee_fen(*, quantity_kg: int, price_fen_per_tonne_year: int, years: int) -> int:
    """Paid-use fee (有偿使用费) = quantity (t/a) x price (fen per t·a) x years, in whole fen.

    Computed as kg x fen/t x years / 1000 in integers. At the base prices (whole multiples of
    10 CNY per tonne) it is exact; a price with fractions of a fen per kg is rounded half up to
    the fen (四舍五入, the usual rule for fees), once, on the total.
    """
    check_amount(quantity_kg, field="quantity_kg")
    _int(price_fen_per_tonne_year, field="price_fen_per_tonne_year", low=0, high=10**12)
    _int(years, field="years", low=1, high=50)
    return (quantity_kg * price_fen_per_tonne_year * years + 500) // 1000


@dataclass(frozen=True, slots=True)
class Allocation:
    """An allocation recorded: the journal receipt, the lot and the fee paid (0 when free)."""

    receipt: Receipt
    lot: Lot
    quantity_kg: int
    fee_fen: int


@dataclass(frozen=True, slots=True)
class _Terms:
    """One allocation's terms, checked: who gets what, for which purpose, at what fee."""

    bureau: str
    enterprise: Participant
    instrument: str
    lot: Lot
    quantity_kg: int
    purpose: Literal["initial", "major_project"]
    project: str | None
    years: int
    price_fen_per_tonne_year: int | None  # None: free allocation
    price_is_base: bool

    @property
    def fee_fen(self) -> int:
        if self.price_fen_per_tonne_year is None:
            return 0
        return paid_use_fee_fen(
            quantity_kg=self.quantity_kg,
            price_fen_per_tonne_year=self.price_fen_per_tonne_year,
            years=self.years,
        )


def _recipient(
    session: Session, *, enterprise: str, jurisdiction: str, purpose: str, project: str | None
) -> Participant:
    """The enterprise, if it may receive this allocation of ``jurisdiction``'s cap."""
    ent = get_participant(session, party=enterprise)
    if ent.role is not Role.ENTERPRISE:
        raise InvalidInput(f"{enterprise} is not an enterprise", field="enterprise")
    if ent.jurisdiction != jurisdiction:
        raise NotInJurisdiction(
            f"{enterprise} belongs to {ent.jurisdiction}, not {jurisdiction}: a bureau allocates its "
            "own cap to its own enterprises",
            field="enterprise",
        )
    if purpose == "major_project" and (not project or len(project) > 200):
        raise InvalidInput("a major-project allocation names its project (1-200 characters)", field="project")
    if purpose == "initial" and ent.permit_number is None:
        raise PermitRequired(
            f"{enterprise} has no discharge permit (排污许可证): initial rights are allocated under one",
            field="enterprise",
        )
    return ent


def _check_cap(session: Session, terms: _Terms, valid_until: date) -> None:
    """The reserve must hold the quantity, or the allocation would breach the cap (总量控制)."""
    jurisdiction = str(terms.lot.jurisdiction)
    pos = cap_position(
        session, jurisdiction=jurisdiction, instrument=terms.instrument, valid_until=valid_until
    )
    if terms.quantity_kg > pos.available_kg:
        raise CapExceeded(
            f"allocating {terms.quantity_kg} kg/a of {terms.instrument} would exceed {jurisdiction}'s cap: "
            f"cap {pos.cap_kg}, allocated {pos.allocated_kg}, available in the reserve {pos.available_kg}",
            cap=pos.cap_kg,
            allocated=pos.allocated_kg,
            requested=terms.quantity_kg,
            available=pos.available_kg,
            instrument=terms.instrument,
            lot=terms.lot.key(),
            field="quantity_kg",
        )


def allocate(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    signed_by: Consent,
    enterprise: str,
    instrument: str,
    quantity_kg: int,
    valid_until: date,
    purpose: Literal["initial", "major_project"],
    project: str | None = None,
    paid_use: bool = True,
    years: int = DEFAULT_TERM_YEARS,
    price_fen_per_tonne_year: int | None = None,
    nonce: str | None = None,
    approved_by: Sequence[str] = (),
) -> Allocation:
    """Allocate rights from the bureau's reserve to an enterprise of its jurisdiction.

    Rules: the enterprise belongs to the jurisdiction; an initial allocation (初始排污权) is made
    under its discharge permit; the reserve must hold the quantity, or the cap would be breached
    (``CapExceeded``; the ledger's no-negative rule is the second line). With paid use the fee
    (quantity x price x years; the base price unless one is given) moves enterprise cash ->
    bureau cash in the same record, so rights and money move together or not at all; both sign.
    The enterprise's consent may come as its own signatures over the body that
    ``allocation_draft`` returns for the same terms and ``nonce``. ``approved_by``: the bureau's
    named users who proposed and approved it (双人审批, ``market.foureyes``), named in the record.
    """
    jurisdiction = bureau_of(actor, Action.ISSUE_RIGHTS)
    terms = _allocation_terms(
        session,
        bureau=actor.party,
        jurisdiction=jurisdiction,
        enterprise=enterprise,
        instrument=instrument,
        quantity_kg=quantity_kg,
        valid_until=valid_until,
        purpose=purpose,
        project=project,
        paid_use=paid_use,
        years=years,
        price_fen_per_tonne_year=price_fen_per_tonne_year,
    )
    body = _allocation_body(terms, nonce or new_nonce(), approved_by)
    ins = signed_instruction(
        session,
        actor=actor,
        action=Action.ISSUE_RIGHTS,
        body=body,
        signed_by=signed_by,
        signers=body.signers,
    )
    lock_head_time(session)  # the sequencer lock first, so the reserve read is the one written against
    _check_cap(session, terms, valid_until)
    receipt = submit_all(session, [ins], registry=registry)[0]
    return Allocation(receipt, terms.lot, quantity_kg, terms.fee_fen)


def allocation_draft(
    session: Session,
    *,
    actor: Participant,
    enterprise: str,
    instrument: str,
    quantity_kg: int,
    valid_until: date,
    purpose: Literal["initial", "major_project"],
    nonce: str,
    project: str | None = None,
    paid_use: bool = True,
    years: int = DEFAULT_TERM_YEARS,
    price_fen_per_tonne_year: int | None = None,
) -> TxBody:
    """The body ``allocate`` would record for these terms and ``nonce``, for the enterprise to sign
    its consent to the paid-use fee; shown to the enterprise and the bureaus over it. Writes nothing."""
    authorize(actor, Action.READ_ACCOUNT, party_target(enterprise, SessionDirectory(session)))
    jurisdiction = get_participant(session, party=enterprise).jurisdiction
    if jurisdiction is None:
        raise InvalidInput(f"{enterprise} is not an enterprise", field="enterprise")
    terms = _allocation_terms(
        session,
        bureau=f"bureau:{jurisdiction}",
        jurisdiction=jurisdiction,
        enterprise=enterprise,
        instrument=instrument,
        quantity_kg=quantity_kg,
        valid_until=valid_until,
        purpose=purpose,
        project=project,
        paid_use=paid_use,
        years=years,
        price_fen_per_tonne_year=price_fen_per_tonne_year,
    )
    return _allocation_body(terms, nonce)


def _allocation_terms(
    session: Session,
    *,
    bureau: str,
    jurisdiction: str,
    enterprise: str,
    instrument: str,
    quantity_kg: int,
    valid_until: date,
    purpose: Literal["initial", "major_project"],
    project: str | None,
    paid_use: bool,
    years: int,
    price_fen_per_tonne_year: int | None,
) -> _Terms:
    code = rights_instrument(instrument)
    check_amount(quantity_kg, field="quantity_kg")
    ent = _recipient(
        session, enterprise=enterprise, jurisdiction=jurisdiction, purpose=purpose, project=project
    )
    price = None
    if paid_use:
        price = (
            BASE_PRICE_FEN_PER_TONNE_YEAR.get(code)
            if price_fen_per_tonne_year is None
            else price_fen_per_tonne_year
        )
        if price is None:
            raise InvalidInput(f"{code} has no base price: give price_fen_per_tonne_year", field="price")
    return _Terms(
        bureau,
        ent,
        code,
        rights_lot(jurisdiction, valid_until),
        quantity_kg,
        purpose,
        project,
        years,
        price,
        price_is_base=price_fen_per_tonne_year is None,
    )


def _allocation_body(terms: _Terms, nonce: str, approved_by: Sequence[str] = ()) -> TxBody:
    ent, code, lot, fee = terms.enterprise, terms.instrument, terms.lot, terms.fee_fen
    postings = [
        Posting(account_id(terms.bureau, "reserve"), code, lot, -terms.quantity_kg),
        Posting(account_id(ent.party, "holding"), code, lot, terms.quantity_kg),
    ]
    meta: dict[str, Any] = {
        "purpose": terms.purpose,
        "enterprise": ent.party,
        "quantity_kg": terms.quantity_kg,
    }
    if ent.permit_number is not None:
        meta["permit_number"] = ent.permit_number
    if terms.project is not None:
        meta["project"] = terms.project
    if approved_by:  # the ledger checks them against the bureau's four-eyes threshold (control_rules)
        meta[APPROVED_BY] = {terms.bureau: list(approved_by)}
    if terms.price_fen_per_tonne_year is not None:
        meta["paid_use"] = {
            "price_fen_per_tonne_year": terms.price_fen_per_tonne_year,
            "years": terms.years,
            "fee_fen": fee,
            "basis": _CITATION if terms.price_is_base else "price agreed for this allocation",
        }
    if fee:
        postings += [
            Posting(account_id(ent.party, "cash"), "CNY", Lot(), -fee),
            Posting(account_id(terms.bureau, "cash"), "CNY", Lot(), fee),
        ]
    signers = (terms.bureau, ent.party) if fee else (terms.bureau,)
    action = "allocation.initial" if terms.purpose == "initial" else "allocation.major_project"
    return TxBody(action, nonce, tuple(postings), signers=signers, meta=meta)


def allocate_initial(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    signed_by: Consent,
    enterprise: str,
    instrument: str,
    quantity_kg: int,
    valid_until: date,
    paid_use: bool = True,
    years: int = DEFAULT_TERM_YEARS,
    price_fen_per_tonne_year: int | None = None,
    nonce: str | None = None,
) -> Allocation:
    """Initial allocation (初始排污权) to an enterprise under its permit: see ``allocate``."""
    return allocate(
        session,
        registry=registry,
        actor=actor,
        signed_by=signed_by,
        enterprise=enterprise,
        instrument=instrument,
        quantity_kg=quantity_kg,
        valid_until=valid_until,
        purpose="initial",
        paid_use=paid_use,
        years=years,
        price_fen_per_tonne_year=price_fen_per_tonne_year,
        nonce=nonce,
    )
