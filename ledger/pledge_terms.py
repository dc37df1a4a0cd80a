"""The signed terms of a pledge registration (排污权抵质押登记): the loan the bank and the owner sign and
the quantity the bureau approved, checked when the record is accepted and again by replay.

The four steps (杭银发〔2022〕21号) give one record. The bureau approves the quantity first, before any
loan exists, so it signs an *approval statement* derived from the body (below), tagged
``ecoledger-approval-v1``; its signature sits in ``meta.approval``. The bank records the loan and the
owner confirms: both sign the whole body, loan terms included, as the record's ``signers``. The
statement is the canonical JSON (RFC 8785) of::

    {"type": "pledge.approval", "pledge": meta.pledge, "certificate_no": meta.certificate_no,
     "enterprise": ..., "bank": ..., "bureau": ..., "account": hold.account,
     "instrument": hold.instrument, "lot": hold.lot, "quantity_kg": hold.amount}

Records written before loan terms were signed carry no ``meta.loan``; they stay valid as written.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

from ledger.canonical import canonical_bytes
from ledger.crypto import verify
from ledger.errors import (
    BadSignature,
    InvalidInput,
    InvalidPledgeRegistration,
    KeyNotValid,
    UnknownKey,
)
from ledger.model import HoldPlace, Signature, TxBody
from ledger.text import check_display_text

if TYPE_CHECKING:
    from ledger.rules import AccountInfo, KeyInfo

__all__ = [
    "BP",
    "PLEDGE_REASON",
    "PLEDGE_REGISTER",
    "TAG_APPROVAL",
    "Appraised",
    "PledgeLoan",
    "add_months",
    "approval_statement",
    "approval_statement_of",
    "check_registration",
    "has_signed_terms",
]

TAG_APPROVAL: Final = b"ecoledger-approval-v1"  # the bureau's approval of a pledged quantity
PLEDGE_REGISTER: Final = "pledge.register"
PLEDGE_REASON: Final = "pledge"
BP: Final = 10_000
_MAX_FEN: Final = 2**53 - 1  # the I-JSON integer range every amount of a record keeps to
_KG_PER_TONNE: Final = 1_000


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, clamped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _int(obj: dict[str, Any], name: str, path: str, low: int, high: int) -> int:
    value = obj.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidPledgeRegistration(
            f"{path}.{name} must be an integer {low} to {high}", field=f"{path}.{name}"
        )
    return value


def _day(obj: dict[str, Any], name: str, path: str) -> date:
    value = obj.get(name)
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidPledgeRegistration(
            f"{path}.{name} must be a date YYYY-MM-DD", field=f"{path}.{name}"
        ) from None


def _exact(obj: object, names: set[str], path: str) -> dict[str, Any]:
    if not isinstance(obj, dict) or set(obj) != names:
        raise InvalidPledgeRegistration(f"{path} must hold exactly {', '.join(sorted(names))}", field=path)
    return obj


@dataclass(frozen=True, slots=True)
class PledgeLoan:
    """The loan as the bank records it and the owner confirms: principal in fen, annual rate in basis
    points, term from ``start`` (the day the bank recorded it) to ``maturity``."""

    loan_id: str
    principal_fen: int
    rate_bp: int
    term_months: int
    start: date

    @property
    def maturity(self) -> date:
        return add_months(self.start, self.term_months)

    def to_json(self) -> dict[str, Any]:
        return {
            "loan_id": self.loan_id,
            "principal_fen": self.principal_fen,
            "rate_bp": self.rate_bp,
            "term_months": self.term_months,
            "start": self.start.isoformat(),
            "maturity": self.maturity.isoformat(),
        }

    @classmethod
    def parse(cls, value: object, path: str = "meta.loan") -> PledgeLoan:
        obj = _exact(value, {"loan_id", "principal_fen", "rate_bp", "term_months", "start", "maturity"}, path)
        try:
            loan_id = check_display_text(obj.get("loan_id"), field=f"{path}.loan_id")
        except InvalidInput as exc:
            raise InvalidPledgeRegistration(exc.message, field=exc.field) from None
        loan = cls(
            loan_id,
            _int(obj, "principal_fen", path, 1, _MAX_FEN),
            _int(obj, "rate_bp", path, 0, BP),
            _int(obj, "term_months", path, 1, 360),
            _day(obj, "start", path),
        )
        if _day(obj, "maturity", path) != loan.maturity:
            raise InvalidPledgeRegistration(
                f"{path}.maturity must be start plus term_months ({loan.maturity})", field=f"{path}.maturity"
            )
        return loan


@dataclass(frozen=True, slots=True)
class Appraised:
    """The value the loan was checked against: quantity x price per tonne, and the loan-to-value cap.

    Since the bank enters its own appraisal (docs/valuation.md) the record also keeps the registry's
    reference price (``reference_fen_per_tonne``, ``reference_source``: the market's recent
    volume-weighted price, ``market``, or the configured ``reference``) and the bank's price
    (``bank_fen_per_tonne``, or null); ``price_fen_per_tonne`` is then the lower of the two and
    ``source`` says which (``bank`` when the bank's is lower). Older records carry the first four only."""

    price_fen_per_tonne: int
    source: str
    value_fen: int
    max_ltv_bp: int
    reference_fen_per_tonne: int | None = None
    reference_source: str | None = None
    bank_fen_per_tonne: int | None = None

    @property
    def has_reference(self) -> bool:
        return self.reference_fen_per_tonne is not None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "price_fen_per_tonne": self.price_fen_per_tonne,
            "source": self.source,
            "value_fen": self.value_fen,
            "max_ltv_bp": self.max_ltv_bp,
        }
        if self.has_reference:
            out["reference_fen_per_tonne"] = self.reference_fen_per_tonne
            out["reference_source"] = self.reference_source
            out["bank_fen_per_tonne"] = self.bank_fen_per_tonne
        return out

    @classmethod
    def parse(cls, value: object, path: str = "meta.appraisal") -> Appraised:
        base = {"price_fen_per_tonne", "source", "value_fen", "max_ltv_bp"}
        extra = {"reference_fen_per_tonne", "reference_source", "bank_fen_per_tonne"}
        both = isinstance(value, dict) and set(value) == base | extra
        obj = _exact(value, base | extra if both else base, path)
        price = _int(obj, "price_fen_per_tonne", path, 1, _MAX_FEN)
        found = cls(
            price,
            obj["source"],
            _int(obj, "value_fen", path, 0, _MAX_FEN),
            _int(obj, "max_ltv_bp", path, 1, BP),
        )
        if not both:
            if obj.get("source") not in ("auction", "reference"):
                raise InvalidPledgeRegistration(
                    f"{path}.source is auction or reference", field=f"{path}.source"
                )
            return found
        reference = _int(obj, "reference_fen_per_tonne", path, 1, _MAX_FEN)
        ref_source = obj.get("reference_source")
        if ref_source not in ("market", "reference"):
            raise InvalidPledgeRegistration(
                f"{path}.reference_source is market or reference", field=f"{path}.reference_source"
            )
        bank = (
            None
            if obj.get("bank_fen_per_tonne") is None
            else _int(obj, "bank_fen_per_tonne", path, 1, _MAX_FEN)
        )
        # The lower of the registry's reference and the bank's own appraisal values the collateral.
        wanted = (bank, "bank") if bank is not None and bank < reference else (reference, ref_source)
        if (price, obj["source"]) != wanted:
            raise InvalidPledgeRegistration(
                f"{path}.price_fen_per_tonne must be the lower of the reference and the bank's price, "
                f"{wanted[0]} ({wanted[1]})",
                field=f"{path}.price_fen_per_tonne",
            )
        return cls(price, obj["source"], found.value_fen, found.max_ltv_bp, reference, ref_source, bank)


def approval_statement(
    *, pledge: str, certificate_no: str, enterprise: str, bank: str, bureau: str, hold: HoldPlace
) -> dict[str, Any]:
    """What the bureau signs when it approves a quantity (tag ``TAG_APPROVAL``)."""
    return {
        "type": "pledge.approval",
        "pledge": pledge,
        "certificate_no": certificate_no,
        "enterprise": enterprise,
        "bank": bank,
        "bureau": bureau,
        "account": hold.account,
        "instrument": hold.instrument,
        "lot": hold.lot.to_json(),
        "quantity_kg": hold.amount,
    }


def approval_statement_of(body: TxBody) -> dict[str, Any]:
    """The approval statement a registration body implies (its meta and its one hold placed)."""
    meta, hold = body.meta, _hold(body)
    return approval_statement(
        pledge=meta["pledge"],
        certificate_no=meta["certificate_no"],
        enterprise=meta["enterprise"],
        bank=meta["bank"],
        bureau=meta["bureau"],
        hold=hold,
    )


def has_signed_terms(body: TxBody) -> bool:
    """A registration written with signed loan terms (every one since they were introduced)."""
    return body.action == PLEDGE_REGISTER and ("loan" in body.meta or "approval" in body.meta)


def _hold(body: TxBody) -> HoldPlace:
    if body.postings or len(body.holds) != 1 or not isinstance(body.holds[0], HoldPlace):
        raise InvalidPledgeRegistration(
            "a pledge registration places exactly one hold and posts nothing", field="holds"
        )
    return body.holds[0]


class _View(Protocol):
    def find_account(self, account_id: str) -> AccountInfo | None: ...
    def find_key(self, key_id: str) -> KeyInfo | None: ...
    def bureau_of(self, jurisdiction: str) -> str | None: ...


_META = {
    "pledge",
    "certificate_no",
    "enterprise",
    "bank",
    "bureau",
    "names",
    "quantity_kg",
    "loan",
    "appraisal",
    "approval",
    "basis",
}


def check_registration(body: TxBody, view: _View, at: datetime) -> None:
    """A pledge registration with signed terms: one hold of ``quantity_kg`` on the enterprise's units,
    controlled by the bank, hold id ``pledge.<pledge>``; signed by enterprise and bank; a loan that
    matures within the rights' validity and within the appraisal's loan-to-value cap; and the approval
    of the bureau of the rights' jurisdiction under a key valid now. From rule set 2 every registration
    is held to this; before, only those that carry loan terms (older ones stay valid as written)."""
    meta, hold = body.meta, _hold(body)
    if set(meta) != _META:
        raise InvalidPledgeRegistration(f"meta must hold exactly {', '.join(sorted(_META))}", field="meta")
    _texts(meta)
    loan, appraised = PledgeLoan.parse(meta["loan"]), Appraised.parse(meta["appraisal"])
    owner = view.find_account(hold.account)
    facts = {
        "holds[0].hold": (hold.hold, f"pledge.{meta['pledge']}"),
        "holds[0].reason": (hold.reason, PLEDGE_REASON),
        "holds[0].controller": (hold.controller, meta["bank"]),
        "holds[0].account": (owner.owner if owner else None, meta["enterprise"]),
        "meta.quantity_kg": (meta["quantity_kg"], hold.amount),
        "meta.bureau": (meta["bureau"], view.bureau_of(hold.lot.jurisdiction or "")),
        "signers": (sorted(body.signers), sorted({meta["enterprise"], meta["bank"]})),
        "meta.appraisal.value_fen": (
            appraised.value_fen,
            hold.amount * appraised.price_fen_per_tonne // _KG_PER_TONNE,
        ),
    }
    for name, (found, wanted) in facts.items():
        if found != wanted:
            raise InvalidPledgeRegistration(
                f"{name} is {found!r}, the registration needs {wanted!r}", field=name
            )
    if loan.principal_fen > appraised.value_fen * appraised.max_ltv_bp // BP:
        raise InvalidPledgeRegistration(
            f"a principal of {loan.principal_fen} fen exceeds the cap of {appraised.max_ltv_bp} bp "
            f"of the appraised {appraised.value_fen} fen",
            field="meta.loan.principal_fen",
        )
    if hold.lot.valid_until is None or loan.maturity > hold.lot.valid_until:
        raise InvalidPledgeRegistration(
            f"the loan matures on {loan.maturity}, after the pledged rights' validity end",
            field="meta.loan.maturity",
        )
    if loan.start > at.date():
        raise InvalidPledgeRegistration("the loan starts after the record", field="meta.loan.start")
    _check_approval(body, view, at)


def _texts(meta: dict[str, Any]) -> None:
    try:
        check_display_text(meta["certificate_no"], field="meta.certificate_no")
        check_display_text(meta["basis"], field="meta.basis", max_len=128)
        names = _exact(meta["names"], {"enterprise", "bank", "bureau"}, "meta.names")
        for role, name in names.items():
            check_display_text(name, field=f"meta.names.{role}", max_len=128)
        for role in ("pledge", "enterprise", "bank", "bureau"):
            if not isinstance(meta[role], str):
                raise InvalidInput(f"meta.{role} must be a string", field=f"meta.{role}")
    except InvalidInput as exc:
        raise InvalidPledgeRegistration(exc.message, field=exc.field) from None


def _check_approval(body: TxBody, view: _View, at: datetime) -> None:
    field, bureau = "meta.approval", body.meta["bureau"]
    try:
        sig = Signature.parse(body.meta["approval"], field)
    except InvalidInput as exc:
        raise InvalidPledgeRegistration(exc.message, field=exc.field) from None
    if sig.party != bureau:
        raise InvalidPledgeRegistration(f"the approval must be {bureau}'s", field=f"{field}.party")
    key = view.find_key(sig.key_id)
    if key is None or key.party != bureau:
        raise UnknownKey(f"{bureau} has no key {sig.key_id}", key_id=sig.key_id, field=f"{field}.key_id")
    if not key.valid_at(at):
        raise KeyNotValid(
            f"key {sig.key_id} of {bureau} is not valid now", key_id=sig.key_id, field=f"{field}.key_id"
        )
    if not verify(key.public_key, TAG_APPROVAL, canonical_bytes(approval_statement_of(body)), sig.sig):
        raise BadSignature(f"the approval of {bureau} does not verify", party=bureau, field=f"{field}.sig")
