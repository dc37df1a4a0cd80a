"""The to-do panel (待办) on each home page: what waits for this participant's step, counted from the
services' own lists, each line linking to the form where the step is taken."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from accounts.model import Role
from api.console.web import PREFIX, Console
from market.auctions import service as auctions
from market.auctions.state import AuctionStatus, AwardStatus
from market.crosscity import service as crosscity
from market.crosscity.service import TransferStatus
from market.foureyes.service import KINDS as FOUR_EYES_KINDS
from market.issuance.offers import ALLOCATION_OFFER
from market.pledges import service as pledge
from market.pledges.service import PledgeStatus
from market.proposals import service as proposals
from market.reserve.offers import BUY_BACK_OFFER
from market.trades.offers import TRADE_OFFER

__all__ = ["Todo", "todo_of"]


@dataclass(frozen=True, slots=True)
class Todo:
    """One kind of step waiting: its text key, how many, and where to take it."""

    key: str
    count: int
    link: str


def _awaiting(c: Console) -> Counter[str]:
    """How many proposals of each kind await this party's (this user's) signature."""
    found = proposals.proposals_of(c.session, actor=c.me, now=c.now, awaiting=True, awaiting_user=c.user)
    return Counter(p.kind for p in found)


def _approvals(c: Console, awaiting: Counter[str]) -> Todo:
    """Four-eyes proposals (双人审批) awaiting this user, an approver: on the one to-do page."""
    return Todo("todo.approvals", sum(awaiting[k] for k in FOUR_EYES_KINDS), f"{PREFIX}/todo")


def _enterprise(c: Console) -> list[Todo]:
    me = c.me.party
    awaiting = _awaiting(c)
    requests = crosscity.list_transfers(c.session, actor=c.me)
    to_offer = [r for r in requests if r.seller == me and r.status is TransferStatus.DRAFT]
    to_accept = [r for r in requests if r.buyer == me and r.status is TransferStatus.OFFERED]
    pledges = pledge.list_pledges(c.session, actor=c.me, status=PledgeStatus.LOAN_RECORDED)
    awards = [
        a
        for a in auctions.list_auctions(c.session, actor=c.me, status=AuctionStatus.CLOSED)
        if a.result is not None
        and any(w.bidder == me and w.status is AwardStatus.PENDING for w in a.result.awards)
    ]
    return [
        Todo("todo.paid_use_offers", awaiting[ALLOCATION_OFFER], f"{PREFIX}/enterprise"),
        Todo("todo.buy_back_offers", awaiting[BUY_BACK_OFFER], f"{PREFIX}/todo"),
        Todo("todo.trade_offers", awaiting[TRADE_OFFER], f"{PREFIX}/enterprise/trades"),
        _approvals(c, awaiting),
        Todo("todo.transfers_to_offer", len(to_offer), f"{PREFIX}/enterprise/transfers"),
        Todo("todo.transfers_to_accept", len(to_accept), f"{PREFIX}/enterprise/transfers"),
        Todo(
            "todo.pledges_to_confirm",
            len([p for p in pledges if p.enterprise == me]),
            f"{PREFIX}/enterprise/pledges",
        ),
        Todo(
            "todo.awards_to_pay",
            len(awards),
            f"{PREFIX}/auctions/{awards[0].auction_id}" if awards else f"{PREFIX}/auctions",
        ),
    ]


def _bank(c: Console) -> list[Todo]:
    approved = pledge.list_pledges(c.session, actor=c.me, status=PledgeStatus.APPROVED)
    return [
        Todo("todo.loans_to_record", len([p for p in approved if p.bank == c.me.party]), f"{PREFIX}/bank")
    ]


def _bureau(c: Console) -> list[Todo]:
    me = c.me.party
    pledges = [
        p for p in pledge.list_pledges(c.session, actor=c.me, status=PledgeStatus.APPLIED) if p.bureau == me
    ]
    transfers = [
        t
        for t in crosscity.list_transfers(c.session, actor=c.me, status=TransferStatus.ACCEPTED)
        if me in (t.source_bureau, t.destination_bureau) and me not in t.signed_by
    ]
    mine = auctions.list_auctions(c.session, actor=c.me, jurisdiction=c.me.jurisdiction)
    to_close = [
        a
        for a in mine  # an ascending auction's close moves on with late bids: ask the live view
        if a.status is AuctionStatus.OPEN
        and a.terms.closes_at <= c.now
        and auctions.auction_live(c.session, actor=c.me, auction_id=a.auction_id).closes_at <= c.now
    ]
    to_settle = [a for a in mine if a.status is AuctionStatus.CLOSED]
    return [
        _approvals(c, _awaiting(c)),
        Todo("todo.pledges_to_approve", len(pledges), f"{PREFIX}/bureau/approvals"),
        Todo("todo.transfers_to_approve", len(transfers), f"{PREFIX}/bureau/approvals"),
        Todo(
            "todo.auctions_to_close",
            len(to_close),
            f"{PREFIX}/auctions/{to_close[0].auction_id}" if to_close else f"{PREFIX}/auctions",
        ),
        Todo(
            "todo.auctions_to_settle",
            len(to_settle),
            f"{PREFIX}/auctions/{to_settle[0].auction_id}" if to_settle else f"{PREFIX}/auctions",
        ),
    ]


def todo_of(c: Console) -> list[Todo]:
    """The steps waiting for ``c.me``, only the kinds with something waiting."""
    by_role = {Role.ENTERPRISE: _enterprise, Role.BANK: _bank, Role.BUREAU: _bureau}
    found = by_role.get(c.me.role)
    return [t for t in found(c) if t.count] if found else []
