"""The auction workflow (排污权竞价) up to the close: project needs (项目需求), opening with the reserve
on hold; bids are ``market.auctions.bids``, the result and settlement ``market.auctions.settlement``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from accounts.identifiers import account_id
from accounts.model import Participant, Role
from accounts.permissions import Action, authorize, party_target, target_of
from accounts.service import SessionDirectory, get_participant
from ledger.auction_book import terms_meta
from ledger.errors import InsufficientBalance, InvalidInput
from ledger.model import HoldPlace, Lot, TxBody, check_id
from ledger.service import Registry, lock_head_time, new_nonce
from ledger.timeutil import format_utc
from ledger.units import check_amount, instrument
from market.auctions.bids import AuctionLive, auction_bids, auction_live, bidder_need, place_bid, sealed_now
from market.auctions.errors import DuplicateAuction, InvalidAuctionTerms, InvalidProjectNeed
from market.auctions.model import AuctionTerms
from market.auctions.state import (
    DEFAULT_PAYMENT_WINDOW,
    AcceptedBid,
    Auction,
    AuctionResult,
    AuctionStatus,
    Award,
    AwardStatus,
    ProjectNeed,
    auction_row,
    aware,
    find_auction,
    free_units,
    get_auction,
    need_from_row,
)
from market.auctions.tables import AuctionRow, ProjectNeedRow
from market.consent import Consent, submit_consented

__all__ = [  # re-exported from market.auctions.state and market.auctions.bids: callers import this module
    "DEFAULT_PAYMENT_WINDOW",
    "AcceptedBid",
    "Auction",
    "AuctionLive",
    "AuctionResult",
    "AuctionStatus",
    "Award",
    "AwardStatus",
    "ProjectNeed",
    "auction_bids",
    "auction_live",
    "bidder_need",
    "find_auction",
    "get_auction",
    "list_auctions",
    "needs_of",
    "open_auction",
    "place_bid",
    "register_need",
    "sealed_now",
]

_AUCTION_ID_MAX = 64  # hold ids embed it: auction:<id>:deposit:<16 hex> stays within the ledger's 128


def _auctioned(code: object, *, field: str, error: type[InvalidInput]) -> str:
    inst = instrument(code, field=field)  # type: ignore[arg-type]
    if not inst.scoped_to_jurisdiction:
        raise error(f"{inst.code} is not a discharge right or VOCs quota", field=field)
    return inst.code


# -- project needs (项目需求) ----------------------------------------------------------------------


def register_need(
    session: Session,
    *,
    actor: Participant,
    enterprise: str,
    instrument: str,
    approved_kg: int,
    project: str,
    now: datetime,
) -> ProjectNeed:
    """A bureau approves a new project's need (项目需求) for one pollutant: what it may bid for.

    Rules: only the bureau of the enterprise's jurisdiction approves (permission table); rights and
    VOCs quotas only. Needs add up per enterprise, instrument and jurisdiction. Kept as a registry
    row, not a journal record: the ledger records only movements and holds of units and money.
    """
    now = aware(now)
    code = _auctioned(instrument, field="instrument", error=InvalidProjectNeed)
    check_amount(approved_kg, field="approved_kg")
    if not isinstance(project, str) or not project.strip() or len(project) > 200:
        raise InvalidProjectNeed("project must name the project in 1-200 characters", field="project")
    authorize(actor, Action.OPEN_AUCTION, party_target(enterprise, SessionDirectory(session)))
    ent = get_participant(session, party=enterprise)
    if ent.role is not Role.ENTERPRISE or ent.jurisdiction is None:
        raise InvalidProjectNeed(f"{enterprise} is not an enterprise", field="enterprise")
    row = ProjectNeedRow(
        enterprise=enterprise,
        bureau=actor.party,
        instrument=code,
        jurisdiction=ent.jurisdiction,
        approved_kg=approved_kg,
        project=project,
        approved_at=format_utc(now),
    )
    session.add(row)
    session.flush()
    return need_from_row(row)


def needs_of(session: Session, *, actor: Participant, enterprise: str) -> list[ProjectNeed]:
    """An enterprise's approved needs, for itself and the bureaus over its jurisdiction."""
    authorize(actor, Action.READ_ACCOUNT, party_target(enterprise, SessionDirectory(session)))
    stmt = select(ProjectNeedRow).where(ProjectNeedRow.enterprise == enterprise)
    return [need_from_row(r) for r in session.exec(stmt.order_by(col(ProjectNeedRow.need_id)))]


# -- opening ---------------------------------------------------------------------------------


def open_auction(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    signed_by: Consent,
    terms: AuctionTerms,
    valid_until: date,
    now: datetime,
    payment_window: timedelta = DEFAULT_PAYMENT_WINDOW,
) -> Auction:
    """A bureau opens an auction (竞价) of rights from its government reserve (政府储备).

    Rules: the bureau of ``terms.jurisdiction`` only; one reserve lot {jurisdiction, valid_until};
    the reserve must hold ``terms.quantity_kg`` free. Opening places a hold (reason ``auction``,
    controller the bureau) on that quantity, so nothing else allocates it while the auction runs.
    """
    now = aware(now)
    if not isinstance(terms, AuctionTerms):
        raise InvalidAuctionTerms("terms must be AuctionTerms", field="terms")
    _check_opening(terms, valid_until, now, payment_window)
    lot = Lot(jurisdiction=terms.jurisdiction, valid_until=valid_until)
    reserve = account_id(actor.party, "reserve")
    hold = f"auction:{terms.auction_id}"
    place = HoldPlace(hold, reserve, terms.instrument, lot, terms.quantity_kg, "auction", actor.party)
    meta = terms_meta(terms, valid_until, payment_window)
    body = TxBody("auction.open", new_nonce(), holds=(place,), signers=(actor.party,), meta=meta)
    authorize(actor, Action.OPEN_AUCTION, target_of(body, (), SessionDirectory(session)))
    lock_head_time(session)  # the sequencer lock first: the reserve read is the one written against
    if session.get(AuctionRow, terms.auction_id) is not None:
        raise DuplicateAuction(f"auction {terms.auction_id} already exists", field="auction_id")
    available = free_units(session, account=reserve, instrument=terms.instrument, lot=lot)
    if terms.quantity_kg > available:
        raise InsufficientBalance(
            f"the reserve has {available} kg of {terms.instrument} free in lot {lot.key()}, "
            f"the auction offers {terms.quantity_kg}",
            account=reserve,
            instrument=terms.instrument,
            lot=lot.key(),
            available=available,
            field="quantity_kg",
        )
    with session.begin_nested():
        receipt = submit_consented(
            session, registry=registry, actor=actor, signed_by=signed_by, body=body, signers=()
        )
        session.add(auction_row(terms, actor.party, valid_until, payment_window, hold, receipt.seq))
        session.flush()
    return get_auction(session, auction_id=terms.auction_id)


def _check_opening(terms: AuctionTerms, valid_until: date, now: datetime, window: timedelta) -> None:
    if len(terms.auction_id) > _AUCTION_ID_MAX:
        raise InvalidAuctionTerms(f"auction_id is longer than {_AUCTION_ID_MAX}", field="auction_id")
    try:
        check_id(terms.auction_id, field="auction_id")
    except InvalidInput as exc:
        raise InvalidAuctionTerms(exc.message, field="auction_id") from None
    if not isinstance(valid_until, date) or isinstance(valid_until, datetime):
        raise InvalidAuctionTerms("valid_until must be a date", field="valid_until")
    if valid_until < now.date():
        raise InvalidAuctionTerms("the rights offered have expired", field="valid_until")
    if now >= terms.closes_at:
        raise InvalidAuctionTerms("an auction cannot open after its close", field="closes_at")
    if not isinstance(window, timedelta) or window <= timedelta(0):
        raise InvalidAuctionTerms("payment_window must be a positive timedelta", field="payment_window")


# -- reads for lists and live views ------------------------------------------------------------


def list_auctions(
    session: Session,
    *,
    actor: Participant,
    jurisdiction: str | None = None,
    status: AuctionStatus | None = None,
) -> list[Auction]:
    """Auctions, newest first, optionally of one jurisdiction or status. Terms and results are public
    (竞价公告, 成交公示), so every registered participant may list them; bids stay sealed
    (``auction_bids``)."""
    get_participant(session, party=actor.party)  # a registered participant, nothing more
    stmt = select(AuctionRow)
    if jurisdiction is not None:
        stmt = stmt.where(AuctionRow.jurisdiction == jurisdiction)
    if status is not None:
        stmt = stmt.where(AuctionRow.status == status.value)
    rows = session.exec(stmt.order_by(col(AuctionRow.opened_seq).desc()))
    return [get_auction(session, auction_id=r.auction_id) for r in rows]
