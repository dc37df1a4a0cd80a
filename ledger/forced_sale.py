"""The end of a default (拍卖处置): a forced auction of enforced pledged rights and the split of its
proceeds, bank first up to its claim (principal and interest, 优先受偿), the rest to the enterprise.

Pure. The ledger runs these checks when a record is accepted and replay runs them again:
- ``auction.open`` with ``meta.forced`` offers units of the bank's holding that it captured from the
  pledge ``meta.forced.pledge`` (the hold ``pledge.<id>``, controlled by the bank, on the enterprise's
  holding); the claim is at most the signed loan's principal plus simple interest at its rate, actual
  days over 365, from the loan's start to the record's day, rounded down; the bureau of the lot's
  jurisdiction runs the auction (it controls the lot's hold and signs the result). The bank signs the
  open, or the bureau does, once the bank has enforced the whole pledge (the hold ``pledge.<id>``
  captured): the bureau may then start the sale the bank has not. A pledge's claim
  is fixed by its first forced auction; a later one (of what an earlier one left unsold) states it again.
- ``auction.settle_forced``: one winner pays its award in ONE record, exactly the amount the auction's
  result on the journal awards it for (its allocations' price x quantity); of that money the bank
  receives ``min(paid, claim - already recovered)`` and the enterprise the rest; no one else is paid,
  and the record's stated ``to_bank_fen`` / ``to_enterprise_fen`` are those amounts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final

from ledger.auction_book import AuctionBook, award_hold_id, check_award_paid
from ledger.errors import InvalidInput, MovementNotAllowed
from ledger.model import AccountKind, HoldPlace, HoldSettle, TxBody, check_id
from ledger.pledge_terms import BP, PledgeLoan
from ledger.units import is_money

if TYPE_CHECKING:
    from ledger.rules import Effect, Hold, LedgerView

__all__ = [
    "FORCED_SETTLE",
    "ForcedClaim",
    "check_forced_open",
    "check_forced_settle",
    "claim_cap",
    "forced_meta",
    "forced_split",
]

FORCED_SETTLE: Final = "auction.settle_forced"
_DAYS_PER_YEAR: Final = 365


@dataclass(frozen=True, slots=True)
class ForcedClaim:
    """What the bank may recover from a defaulted pledge by forced sale, and what it has recovered."""

    pledge: str
    bank: str
    enterprise: str
    principal_fen: int
    interest_fen: int
    recovered_fen: int = 0

    @property
    def claim_fen(self) -> int:
        return self.principal_fen + self.interest_fen

    @property
    def outstanding_fen(self) -> int:
        return self.claim_fen - self.recovered_fen


def claim_cap(loan: PledgeLoan, on: date) -> tuple[int, int]:
    """The most a bank may claim on ``on``: the signed principal and simple interest at the signed
    rate, actual days / 365 from the loan's start, rounded down to the fen. Returns (principal, interest)."""
    days = max(0, (on - loan.start).days)
    return loan.principal_fen, loan.principal_fen * loan.rate_bp * days // (BP * _DAYS_PER_YEAR)


def forced_split(*, paid_fen: int, outstanding_fen: int) -> tuple[int, int]:
    """Of ``paid_fen``, the bank is paid first up to what is still outstanding; the enterprise gets the
    rest. Returns (to the bank, to the enterprise)."""
    to_bank = min(paid_fen, max(outstanding_fen, 0))
    return to_bank, paid_fen - to_bank


def forced_meta(claim: ForcedClaim) -> dict[str, Any]:
    """``meta.forced`` of a forced ``auction.open`` record."""
    return {
        "pledge": claim.pledge,
        "bank": claim.bank,
        "enterprise": claim.enterprise,
        "principal_fen": claim.principal_fen,
        "interest_fen": claim.interest_fen,
        "claim_fen": claim.claim_fen,
    }


def _int(obj: dict[str, Any], name: str) -> int:
    value = obj.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**53 - 1:
        raise InvalidInput(
            f"body.meta.forced.{name} must be a non-negative integer", field=f"body.meta.forced.{name}"
        )
    return value


def _parse(value: object) -> ForcedClaim:
    names = {"pledge", "bank", "enterprise", "principal_fen", "interest_fen", "claim_fen"}
    if not isinstance(value, dict) or set(value) != names:
        raise InvalidInput(
            f"body.meta.forced holds exactly {', '.join(sorted(names))}", field="body.meta.forced"
        )
    claim = ForcedClaim(
        check_id(value["pledge"], field="body.meta.forced.pledge"),
        check_id(value["bank"], field="body.meta.forced.bank"),
        check_id(value["enterprise"], field="body.meta.forced.enterprise"),
        _int(value, "principal_fen"),
        _int(value, "interest_fen"),
    )
    if _int(value, "claim_fen") != claim.claim_fen:
        raise InvalidInput(
            "body.meta.forced.claim_fen is principal plus interest", field="body.meta.forced.claim_fen"
        )
    return claim


def _refuse(message: str, field: str) -> MovementNotAllowed:
    return MovementNotAllowed(message, field=field, action="auction.open")


def check_forced_open(
    body: TxBody, view: LedgerView, at: datetime, place: HoldPlace, effect: Effect
) -> tuple[str, ForcedClaim]:
    """A forced ``auction.open``: returns the bureau that runs it and the pledge's claim (see the
    module's docstring for the rules)."""
    claim = _parse(body.meta["forced"])
    account = view.find_account(place.account)
    bank = view.find_party(claim.bank)
    if account is None or account.kind is not AccountKind.HOLDING or account.owner != claim.bank:
        raise _refuse("a forced auction offers units of the claiming bank's holding", "body.holds")
    if bank is None or bank.role != "bank":
        raise _refuse(f"{claim.bank} is not a bank", "body.meta.forced.bank")
    bureau = view.bureau_of(place.lot.jurisdiction or "")
    if bureau is None or place.controller != bureau:
        raise _refuse(
            "the bureau of the lot's jurisdiction runs a forced auction", "body.holds[0].controller"
        )
    pledged = view.find_hold(f"pledge.{claim.pledge}")
    owner = None if pledged is None else view.find_account(pledged.account)
    if (
        pledged is None
        or owner is None
        or (pledged.reason, pledged.controller, owner.owner) != ("pledge", claim.bank, claim.enterprise)
        or (pledged.instrument, pledged.lot_key) != (place.instrument, place.lot.key())
    ):
        raise _refuse(
            f"pledge {claim.pledge} is not {claim.enterprise}'s pledge of these rights to {claim.bank}",
            "body.meta.forced.pledge",
        )
    loan = view.find_pledge_loan(claim.pledge)
    if loan is None:
        raise _refuse(
            f"pledge {claim.pledge} has no signed loan terms to claim on", "body.meta.forced.pledge"
        )
    principal, interest = claim_cap(loan, at.date())
    if claim.principal_fen > principal or claim.interest_fen > interest:
        raise _refuse(
            f"the claim exceeds the signed loan: principal at most {principal} fen, interest to "
            f"{at.date()} at most {interest} fen",
            "body.meta.forced.claim_fen",
        )
    known = view.find_claim(claim.pledge)
    if known is not None:
        if (known.principal_fen, known.interest_fen) != (claim.principal_fen, claim.interest_fen):
            raise _refuse(
                f"pledge {claim.pledge}'s claim was fixed at {known.claim_fen} fen by its first "
                "forced auction",
                "body.meta.forced.claim_fen",
            )
        claim = known
    _starter(body, pledged, bureau, claim, effect)
    effect.claim = claim
    return bureau, claim


def _starter(body: TxBody, pledged: Hold, bureau: str, claim: ForcedClaim, effect: Effect) -> None:
    """Who may start it: the bank, or the bureau once the bank has enforced the pledge (its hold captured
    whole), the default then being on the journal under the bank's own signature. The bureau then
    signs instead of the bank, which consented to the sale of the enforced units by enforcing them."""
    if claim.bank in body.signers or bureau not in body.signers:
        effect.required_signers.add(claim.bank)
        return
    if pledged.status != "captured":
        raise _refuse(
            f"the bureau starts the forced sale of pledge {claim.pledge} only after the bank enforced it",
            "body.signers",
        )
    effect.required_signers.discard(claim.bank)
    effect.required_signers.add(bureau)


def check_forced_settle(body: TxBody, view: LedgerView, effect: Effect, book: AuctionBook | None) -> None:
    """``auction.settle_forced``: one winner's award of a closed forced auction, captured whole; its
    money split bank first (``forced_split``), in this one record."""
    meta = body.meta
    if book is None or book.open or book.pledge is None:
        raise MovementNotAllowed(
            "an auction.settle_forced settles a closed forced auction", field="body.meta.auction_id"
        )
    claim = view.find_claim(book.pledge)
    assert claim is not None  # the forced open recorded it
    bidder = check_id(meta.get("bidder"), field="body.meta.bidder")
    award = award_hold_id(book.hold, bidder)
    captured = [op for op in body.holds if isinstance(op, HoldSettle) and op.hold == award]
    hold = view.find_hold(award)
    if hold is None or len(captured) != 1 or captured[0].op != "capture" or captured[0].amount != hold.amount:
        raise MovementNotAllowed(
            f"the record captures {bidder}'s whole award hold {award}", field="body.holds"
        )
    credits: dict[str, int] = defaultdict(int)
    paid = 0
    for i, p in enumerate(body.postings):
        if not is_money(p.instrument):
            continue
        info = view.find_account(p.account)
        owner = info.owner if info else ""
        if p.amount < 0:
            if owner != bidder:
                raise MovementNotAllowed(
                    "only the winner pays in a forced settlement", field=f"postings[{i}]"
                )
            paid -= p.amount
        elif owner in (claim.bank, claim.enterprise):
            credits[owner] += p.amount
        else:
            raise MovementNotAllowed(
                "a forced sale pays only the bank and the enterprise", field=f"postings[{i}].account"
            )
    check_award_paid(book, bidder, paid)
    to_bank, to_owner = forced_split(paid_fen=paid, outstanding_fen=claim.outstanding_fen)
    stated = (meta.get("to_bank_fen", to_bank), meta.get("to_enterprise_fen", to_owner))
    if (credits[claim.bank], credits[claim.enterprise]) != (to_bank, to_owner) or stated != (
        to_bank,
        to_owner,
    ):
        raise MovementNotAllowed(
            f"of {paid} fen paid, the bank is owed {to_bank} fen first (outstanding {claim.outstanding_fen}) "
            f"and the enterprise the other {to_owner}",
            field="postings",
            to_bank_fen=to_bank,
            to_enterprise_fen=to_owner,
        )
    effect.required_signers.update({book.bureau, bidder})
    effect.claim = replace(claim, recovered_fen=claim.recovered_fen + to_bank)
