"""Opening a forced auction (拍卖处置) of a bank's enforced pledged rights: the lot is held in the bank's
holding for the bureau that runs the auction, with the bank's claim in the record (``ledger.forced_sale``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from accounts.errors import PermissionDenied
from accounts.identifiers import account_id
from accounts.model import Participant, Role
from accounts.permissions import Action
from accounts.service import get_participant
from ledger.auction_book import terms_meta
from ledger.errors import InsufficientBalance
from ledger.forced_sale import ForcedClaim, forced_meta
from ledger.model import HoldPlace, Lot, TxBody
from ledger.service import Registry, lock_head_time, new_nonce
from market.auctions.errors import DuplicateAuction, InvalidAuctionTerms
from market.auctions.model import AuctionTerms
from market.auctions.service import _check_opening
from market.auctions.state import (
    DEFAULT_PAYMENT_WINDOW,
    Auction,
    auction_row,
    aware,
    free_units,
    get_auction,
)
from market.auctions.tables import AuctionRow
from market.consent import Consent, submit_consented

__all__ = ["forced_auctions_of", "open_forced_auction"]


def open_forced_auction(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    signed_by: Consent,
    terms: AuctionTerms,
    valid_until: date,
    claim: ForcedClaim,
    now: datetime,
    payment_window: timedelta = DEFAULT_PAYMENT_WINDOW,
) -> Auction:
    """The claiming bank, or the bureau of the rights' jurisdiction once the bank has enforced the pledge,
    puts enforced rights of the bank's holding up for a forced auction (拍卖处置) under any of the
    existing designs (sealed uniform price, sealed pay-as-bid, 网络竞价, ascending). That bureau runs
    it like its own: it controls the lot's hold, closes it and settles each winner, whose payment goes
    to the bank first, up to the claim, and the rest to the enterprise (``market.auctions.settlement``).
    The starter signs the record; the ledger checks who may start it and the claim against the
    pledge's signed loan (``ledger.forced_sale``)."""
    now = aware(now)
    if not isinstance(terms, AuctionTerms):
        raise InvalidAuctionTerms("terms must be AuctionTerms", field="terms")
    _check_opening(terms, valid_until, now, payment_window)
    bureau = get_participant(session, party=f"bureau:{terms.jurisdiction}").party
    if actor.party not in (claim.bank, bureau) or actor.role not in (Role.BANK, Role.BUREAU):
        raise PermissionDenied(
            f"{actor.party} is neither the bank that claims on pledge {claim.pledge} nor the bureau of "
            f"jurisdiction {terms.jurisdiction}",
            rule="pledgee_or_bureau_only",
            action=Action.ENFORCE_PLEDGE.value,
            actor=actor.party,
        )
    body = _body(terms, valid_until, claim, bureau, payment_window, starter=actor.party)
    lock_head_time(session)
    if session.get(AuctionRow, terms.auction_id) is not None:
        raise DuplicateAuction(f"auction {terms.auction_id} already exists", field="auction_id")
    holding = account_id(claim.bank, "holding")
    lot = body.holds[0].lot  # type: ignore[union-attr]
    available = free_units(session, account=holding, instrument=terms.instrument, lot=lot)
    if terms.quantity_kg > available:
        raise InsufficientBalance(
            f"the bank's holding has {available} kg of {terms.instrument} free in lot {lot.key()}, "
            f"the forced auction offers {terms.quantity_kg}",
            account=holding,
            instrument=terms.instrument,
            lot=lot.key(),
            available=available,
            field="quantity_kg",
        )
    hold = body.holds[0].hold
    with session.begin_nested():
        receipt = submit_consented(session, registry=registry, actor=actor, signed_by=signed_by, body=body)
        row = auction_row(terms, bureau, valid_until, payment_window, hold, receipt.seq)
        row.pledge, row.seller = claim.pledge, claim.bank
        session.add(row)
        session.flush()
    return get_auction(session, auction_id=terms.auction_id)


def _body(
    terms: AuctionTerms,
    valid_until: date,
    claim: ForcedClaim,
    bureau: str,
    window: timedelta,
    *,
    starter: str,
) -> TxBody:
    lot = Lot(jurisdiction=terms.jurisdiction, valid_until=valid_until)
    hold = f"auction:{terms.auction_id}"
    holding = account_id(claim.bank, "holding")
    place = HoldPlace(hold, holding, terms.instrument, lot, terms.quantity_kg, "auction", bureau)
    meta = {**terms_meta(terms, valid_until, window), "forced": forced_meta(claim)}
    # The bank signs it, or the bureau once the bank enforced the pledge (ledger.forced_sale).
    return TxBody("auction.open", new_nonce(), holds=(place,), signers=(starter,), meta=meta)


def forced_auctions_of(session: Session, *, pledge: str) -> list[Auction]:
    """The forced auctions of a defaulted pledge, oldest first (terms and results are public, 成交公示)."""
    stmt = select(AuctionRow).where(AuctionRow.pledge == pledge).order_by(col(AuctionRow.opened_seq))
    return [get_auction(session, auction_id=r.auction_id) for r in session.exec(stmt)]
