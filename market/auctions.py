"""The auction workflow (排污权竞价) up to the close: project needs (项目需求), opening with the reserve
on hold, and bids with deposits (保证金) in escrow; ``market.auction_settlement`` does the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from accounts.identifiers import account_id
from accounts.model import Participant, Role
from accounts.permissions import Action, authorize, party_target, target_of
from accounts.service import SessionDirectory, get_participant
from ledger.errors import InsufficientBalance, InvalidInput
from ledger.model import HoldPlace, Lot, TxBody, check_id
from ledger.service import Registry, lock_head_time, new_nonce
from ledger.timeutil import format_date, format_utc
from ledger.units import check_amount, instrument
from market.auction import (
    AuctionDesign,
    AuctionTerms,
    Bid,
    FixedDeposit,
    check_bid,
    effective_close,
    eligible_needs,
    required_deposit,
)
from market.auction_state import (
    DEFAULT_PAYMENT_WINDOW,
    AcceptedBid,
    Auction,
    AuctionResult,
    AuctionStatus,
    Award,
    AwardStatus,
    Keys,
    ProjectNeed,
    auction_bid_list,
    auction_row,
    authorize_bureau,
    aware,
    find_auction,
    free_units,
    get_auction,
    need_from_row,
    open_needs,
    submit_signed,
)
from market.auction_tables import AuctionBidRow, AuctionRow, ProjectNeedRow
from market.errors import AuctionClosed, DuplicateAuction, InvalidAuctionTerms, InvalidProjectNeed

__all__ = [  # values and lookups re-exported from market.auction_state: callers import this module
    "DEFAULT_PAYMENT_WINDOW",
    "AcceptedBid",
    "Auction",
    "AuctionLive",
    "AuctionResult",
    "AuctionStatus",
    "Award",
    "AwardStatus",
    "Keys",
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
]

_AUCTION_ID_MAX = 64  # hold ids embed it: auction:<id>:deposit:<seq> stays within the ledger's 128


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
    keys: Keys,
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
    meta = _terms_meta(terms, valid_until, payment_window)
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
        receipt = submit_signed(session, registry=registry, actor=actor, keys=keys, body=body, signers=())
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


def _terms_meta(terms: AuctionTerms, valid_until: date, window: timedelta) -> dict[str, Any]:
    rule = terms.deposit_rule
    deposit: dict[str, Any] = (
        {"fixed_fen": rule.amount_fen}
        if isinstance(rule, FixedDeposit)
        else {"ratio_bp": rule.ratio_bp, "years": rule.years}
    )
    meta: dict[str, Any] = {
        "auction_id": terms.auction_id,
        "design": terms.design.value,
        "instrument": terms.instrument,
        "jurisdiction": terms.jurisdiction,
        "valid_until": format_date(valid_until),
        "quantity_kg": terms.quantity_kg,
        "reserve_price_fen_per_t": terms.reserve_price_fen_per_t,
        "opens_at": format_utc(terms.opens_at),
        "closes_at": format_utc(terms.closes_at),
        "deposit": deposit,
        "base_price_fen_per_t": terms.base_price_fen_per_t,
        "max_bids_per_bidder": terms.max_bids_per_bidder,
        "payment_window_s": int(window.total_seconds()),
    }
    if terms.design is AuctionDesign.ASCENDING:
        meta["start_price_fen_per_t"] = terms.start_fen_per_t
        meta["increment_fen_per_t"] = terms.increment_fen_per_t
        meta["extension_s"] = int(terms.extension.total_seconds())
    return meta


# -- bids --------------------------------------------------------------------------------------


def place_bid(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    keys: Keys,
    auction_id: str,
    price_fen_per_t: int,
    quantity_kg: int,
    now: datetime,
) -> AcceptedBid:
    """An enterprise bids (竞价); its first bid places the deposit (保证金) in escrow.

    Rules (``market.auction.check_bid``): an approved need (项目需求) for this right in this
    jurisdiction, within the (possibly extended) window, at or above the reserve (or on the
    ascending ladder), for no more than the need left, within the bid limit. The deposit is the
    auction's rule applied to the most the bidder could win, held on the bidder's cash (reason
    ``auction_deposit``, controller the bureau) by a record the bidder signs (``auction.deposit``);
    a later bid tops it up only if an approved need grew. Bids are numbered ``seq`` in arrival order
    and kept as registry rows: sealed prices stay out of the journal, which the result then records.
    """
    now = aware(now)
    authorize(actor, Action.BID, party_target(actor.party, SessionDirectory(session)))
    lock_head_time(session)  # bids are numbered and checked against the bids before them
    auction = get_auction(session, auction_id=auction_id)
    if auction.status is not AuctionStatus.OPEN:
        raise AuctionClosed(f"auction {auction_id} is {auction.status.value}", auction_id=auction_id)
    existing = auction_bid_list(session, auction_id)
    needs = open_needs(session, auction)
    seq = max((b.bid.seq for b in existing), default=0) + 1
    bid = Bid(actor.party, price_fen_per_t, quantity_kg, seq, now)
    check_bid(auction.terms, bid, needs=needs, existing_bids=[b.bid for b in existing], now=now)
    need_kg = eligible_needs(auction.terms, needs)[actor.party]
    top_up = required_deposit(auction.terms, need_kg) - sum(
        b.deposit_fen for b in existing if b.bid.bidder == actor.party
    )
    hold = f"{auction.hold}:deposit:{seq}" if top_up > 0 else None
    with session.begin_nested():
        deposit_seq = None
        if hold is not None:
            body = _deposit_body(session, auction, actor.party, hold, top_up, need_kg)
            receipt = submit_signed(session, registry=registry, actor=actor, keys=keys, body=body, signers=())
            deposit_seq = receipt.seq
        row = AuctionBidRow(
            auction_id=auction_id,
            seq=seq,
            bidder=actor.party,
            price_fen_per_t=price_fen_per_t,
            quantity_kg=quantity_kg,
            at=format_utc(now),
            deposit_fen=max(0, top_up),
            deposit_hold=hold,
            deposit_seq=deposit_seq,
        )
        session.add(row)
        session.flush()
    return AcceptedBid(bid, row.deposit_fen, hold, deposit_seq)


def _deposit_body(
    session: Session, auction: Auction, bidder: str, hold: str, fen: int, need_kg: int
) -> TxBody:
    """The deposit (保证金) record: a hold on the bidder's free cash that the bureau controls."""
    cash = account_id(bidder, "cash")
    available = free_units(session, account=cash, instrument="CNY", lot=Lot())
    if available < fen:
        raise InsufficientBalance(
            f"{bidder} has {available} fen free; the deposit (保证金) is {fen} fen",
            account=cash,
            instrument="CNY",
            lot="",
            available=available,
            field="deposit",
        )
    place = HoldPlace(hold, cash, "CNY", Lot(), fen, "auction_deposit", auction.bureau)
    meta = {"auction_id": auction.auction_id, "bidder": bidder, "deposit_fen": fen, "need_kg": need_kg}
    return TxBody("auction.deposit", new_nonce(), holds=(place,), signers=(bidder,), meta=meta)


def auction_bids(session: Session, *, actor: Participant, auction_id: str) -> list[AcceptedBid]:
    """The bids of an auction in arrival order: all of them for the bureau running it, otherwise only
    the actor's own (sealed bids stay sealed from other bidders)."""
    auction = get_auction(session, auction_id=auction_id)
    bids = auction_bid_list(session, auction_id)
    if actor.party == auction.bureau:
        authorize_bureau(actor, auction)
        return bids
    authorize(actor, Action.READ_ACCOUNT, party_target(actor.party, SessionDirectory(session)))
    return [b for b in bids if b.bid.bidder == actor.party]


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


@dataclass(frozen=True, slots=True)
class AuctionLive:
    """What any participant may watch of an auction while it runs: its (possibly extended) close and,
    in an ascending auction only, the standing price, the next acceptable one and the bid count."""

    auction_id: str
    status: AuctionStatus
    closes_at: datetime
    standing_fen_per_t: int | None
    next_fen_per_t: int | None
    bids: int | None


def auction_live(session: Session, *, actor: Participant, auction_id: str) -> AuctionLive:
    """The live state of an auction. An ascending auction (增价竞价) is an open outcry: its standing
    price is public, and each bid in the timed stage extends the close (anti-sniping). Sealed designs
    reveal neither prices nor how many bids arrived until the result is recorded."""
    get_participant(session, party=actor.party)
    auction = get_auction(session, auction_id=auction_id)
    bids = [b.bid for b in auction_bid_list(session, auction_id)]
    terms = auction.terms
    if terms.design is not AuctionDesign.ASCENDING:
        return AuctionLive(auction_id, auction.status, terms.closes_at, None, None, None)
    assert terms.increment_fen_per_t is not None  # AuctionTerms guarantees it for ascending
    standing = max((b.price_fen_per_t for b in bids), default=None)
    following = terms.start_fen_per_t if standing is None else standing + terms.increment_fen_per_t
    return AuctionLive(
        auction_id, auction.status, effective_close(terms, bids), standing, following, len(bids)
    )


def bidder_need(session: Session, *, actor: Participant, auction_id: str) -> int:
    """What the actor may still bid for in this auction (kg): its approved needs (项目需求) for the
    right in the auction's jurisdiction, less what other auctions awarded it; 0 if none."""
    authorize(actor, Action.BID, party_target(actor.party, SessionDirectory(session)))
    auction = get_auction(session, auction_id=auction_id)
    return eligible_needs(auction.terms, open_needs(session, auction)).get(actor.party, 0)
