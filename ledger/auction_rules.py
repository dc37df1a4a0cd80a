"""The ledger's auction rules (rule set 2 on): an open record states its terms, a bid record is signed
by its bidder inside the (extended) window with its deposit, and a result reveals every bid and equals
the auction's own clearing re-run on them. Pure: the live ledger and replay run the same checks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import MutableMapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ledger.auction_book import (
    AuctionBook,
    AuctionChange,
    BookBid,
    award_hold_id,
    check_award_paid,
    commitment_matches,
    result_meta,
    terms_from_meta,
)
from ledger.auction_clearing import Bid, clear_with_caps, required_deposit
from ledger.auction_designs import AuctionDesign, RejectReason, ascending_price_problem
from ledger.auction_errors import (
    AuctionNotOpen,
    AuctionNotOver,
    AuctionResultMismatch,
    BidBelowStartPrice,
    BidCommitmentMismatch,
    BidExceedsNeed,
    BidNotAnIncrement,
    BidOutsideWindow,
    DuplicateAuction,
    NotEligible,
    TooManyBids,
)
from ledger.canonical import canonical_bytes
from ledger.errors import InvalidInput, MovementNotAllowed
from ledger.forced_sale import FORCED_SETTLE, check_forced_open, check_forced_settle
from ledger.model import AccountKind, HoldPlace, HoldSettle, Lot, TxBody, check_id
from ledger.timeutil import format_utc
from ledger.units import is_money

if TYPE_CHECKING:  # ledger.rules imports this module; these names are for annotations only
    from ledger.rules import Effect, LedgerView

__all__ = ["AUCTION_RULE_SET", "check_auction", "commit_change"]

AUCTION_RULE_SET = 2  # the first rule set (ledger.movements) under which these rules hold
_HEX64 = frozenset("0123456789abcdef")


def check_auction(body: TxBody, view: LedgerView, at: datetime, effect: Effect) -> Effect:
    """Add an auction record's own checks to ``effect`` (from rule set 2 on); other records pass."""
    if view.rule_set < AUCTION_RULE_SET or not body.action.startswith("auction."):
        return effect
    meta = body.meta
    auction_id = check_id(meta.get("auction_id"), field="body.meta.auction_id")
    if body.action == "auction.open":
        effect.auction = _opened(body, view, at, effect, auction_id)
    elif body.action == "auction.bid":
        effect.auction = _Bid(body, view, at, effect, _open_book(view, auction_id)).check()
    elif body.action == FORCED_SETTLE:
        check_forced_settle(body, view, effect, view.find_auction(auction_id))
    elif body.action == "auction.settle":
        _check_settle(body, view, view.find_auction(auction_id))
    elif body.action == "auction.result":
        book = view.find_auction(auction_id)
        if book is not None or not _legacy_result(body, view, auction_id):
            effect.auction = _Result(body, view, at, effect, _open_book(view, auction_id)).check()
    return effect


def commit_change(
    books: MutableMapping[str, AuctionBook] | MutableMapping[str, AuctionBook | None],
    change: AuctionChange,
    *,
    keep_closed: bool = True,
) -> None:
    """Apply an accepted record's change to ``books`` (a replay's memory, or the live view's cache)."""
    if change.opened is not None:
        books[change.auction_id] = change.opened
        return
    book = books[change.auction_id]
    assert book is not None  # the record's checks read it
    if change.bid is not None:
        book.add(change.bid)
    if change.closed:
        book.open = False
        book.dues = change.dues
        if not keep_closed:
            book.bids = []  # replay keeps no closed auction's bids: nothing reads them again


def _check_settle(body: TxBody, view: LedgerView, book: AuctionBook | None) -> None:
    """``auction.settle``: of an auction closed on the journal, only the winner pays, and exactly what
    the result awards it. An auction opened under rule set 1 has no book and keeps that set's rules."""
    if book is None:
        return
    if book.open or book.pledge is not None:
        raise MovementNotAllowed(
            "an auction.settle settles a closed auction of reserve rights (a forced one: "
            "auction.settle_forced)",
            field="body.meta.auction_id",
        )
    bidder = check_id(body.meta.get("bidder"), field="body.meta.bidder")
    paid = 0
    for i, p in enumerate(body.postings):
        if not is_money(p.instrument) or p.amount >= 0:
            continue
        info = view.find_account(p.account)
        if info is None or info.owner != bidder:
            raise MovementNotAllowed("only the winner pays in a settlement", field=f"postings[{i}]")
        paid -= p.amount
    check_award_paid(book, bidder, paid)


def _open_book(view: LedgerView, auction_id: str) -> AuctionBook:
    book = view.find_auction(auction_id)
    if book is None or not book.open:
        state = "closed" if book is not None else "not on the journal"
        raise AuctionNotOpen(
            f"auction {auction_id} is {state}", field="body.meta.auction_id", auction_id=auction_id
        )
    return book


def _opened(body: TxBody, view: LedgerView, at: datetime, effect: Effect, auction_id: str) -> AuctionChange:
    """``auction.open``: the terms are well formed and the one hold places exactly what they offer: of
    its bureau's reserve, or (``meta.forced``, ``ledger.forced_sale``) of the claiming bank's holding."""
    if view.find_auction(auction_id) is not None:
        raise DuplicateAuction(
            f"auction {auction_id} is already on the journal", field="body.meta.auction_id"
        )
    terms, valid_until = terms_from_meta(body.meta)
    place = body.holds[0] if len(body.holds) == 1 else None
    account = None if not isinstance(place, HoldPlace) else view.find_account(place.account)
    forced = "forced" in body.meta
    if (
        not isinstance(place, HoldPlace)
        or account is None
        or account.kind is not (AccountKind.HOLDING if forced else AccountKind.RESERVE)
        or (not forced and place.controller != account.owner)
        or (place.instrument, place.amount) != (terms.instrument, terms.quantity_kg)
        or place.lot != Lot(jurisdiction=terms.jurisdiction, valid_until=valid_until)
    ):
        raise InvalidInput(
            "an auction.open record holds exactly the offered quantity of the lot in its bureau's reserve "
            "(a forced auction: in the claiming bank's holding)",
            field="body.holds",
        )
    if not forced:
        return AuctionChange(auction_id, opened=AuctionBook(terms, valid_until, account.owner, place.hold))
    # The bank signs as the owner of the held units; the bureau consents by running it (it signs the result).
    bureau, claim = check_forced_open(body, view, at, place, effect)
    book = AuctionBook(terms, valid_until, bureau, place.hold, pledge=claim.pledge)
    return AuctionChange(auction_id, opened=book)


def _legacy_result(body: TxBody, view: LedgerView, auction_id: str) -> bool:
    """The result of an auction opened under rule set 1 (it has no book): every rule set 2 auction.open
    makes a book, so an open ``auction`` hold of that auction without one was placed before rule set 2."""
    first = body.holds[0] if body.holds else None
    if not isinstance(first, HoldSettle) or first.hold != f"auction:{auction_id}":
        return False
    hold = view.find_hold(first.hold)
    placed = [op for op in body.holds if isinstance(op, HoldPlace)]
    return (
        hold is not None
        and hold.status == "open"
        and hold.reason == "auction"
        and all(op.reason == "auction_award" for op in placed)
    )


def _int(meta: dict[str, Any], name: str, *, allow_zero: bool = False) -> int:
    value = meta.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
        raise InvalidInput(
            f"body.meta.{name} must be a {'non-negative' if allow_zero else 'positive'} integer",
            field=f"body.meta.{name}",
        )
    return value


class _Bid:
    """``auction.bid``: one bid signed by its bidder, in the window, under the bid limit, with its deposit."""

    def __init__(
        self, body: TxBody, view: LedgerView, at: datetime, effect: Effect, book: AuctionBook
    ) -> None:
        self.body, self.view, self.at, self.effect, self.book = body, view, at, effect, book
        self.terms = book.terms
        self.meta = body.meta
        self.bidder = check_id(self.meta.get("bidder"), field="body.meta.bidder")

    def check(self) -> AuctionChange:
        party = self.view.find_party(self.bidder)
        if party is None or party.role != "enterprise":
            raise NotEligible(f"{self.bidder} is not a registered enterprise", field="body.meta.bidder")
        self.effect.required_signers.add(self.bidder)
        need_kg = _int(self.meta, "need_kg")
        limit = self.terms.max_bids_per_bidder
        if limit is not None and self.book.counts.get(self.bidder, 0) >= limit:
            raise TooManyBids(f"at most {limit} bids per bidder", field="body.meta.bidder", limit=limit)
        close = self.book.closing()
        if not self.terms.opens_at <= self.at < close:
            raise BidOutsideWindow(
                f"bids are taken from {format_utc(self.terms.opens_at)} until {format_utc(close)}",
                field="at",
                closes_at=format_utc(close),
            )
        deposit_fen, deposit_hold = self._deposit(need_kg)
        bid = BookBid(self.book.count + 1, self.bidder, self.at, need_kg, deposit_fen, deposit_hold)
        if self._open_outcry:
            price, quantity = _int(self.meta, "price_fen_per_t"), _int(self.meta, "quantity_kg")
            self._check_ascending(price, quantity, need_kg)
            return AuctionChange(
                self.book.terms.auction_id, bid=replace(bid, price_fen_per_t=price, quantity_kg=quantity)
            )
        commitment = self.meta.get("commitment")
        if not isinstance(commitment, str) or len(commitment) != 64 or not _HEX64.issuperset(commitment):
            raise InvalidInput(
                "body.meta.commitment must be 64 lowercase hex digits", field="body.meta.commitment"
            )
        salt = self.meta.get("salt")
        if salt not in ("registry", "bidder"):
            raise InvalidInput(
                "body.meta.salt names who keeps the salt: registry or bidder", field="body.meta.salt"
            )
        return AuctionChange(
            self.terms.auction_id, bid=replace(bid, commitment=commitment, salt_held=salt == "registry")
        )

    @property
    def _open_outcry(self) -> bool:
        return self.terms.design is AuctionDesign.ASCENDING

    def _check_ascending(self, price: int, quantity: int, need_kg: int) -> None:
        assert self.terms.increment_fen_per_t is not None  # AuctionTerms requires it for ascending
        standing = self.book.standing_fen_per_t
        problem = ascending_price_problem(
            price,
            start_fen_per_t=self.terms.start_fen_per_t,
            increment_fen_per_t=self.terms.increment_fen_per_t,
            standing_fen_per_t=standing,
        )
        if problem is RejectReason.BELOW_START_PRICE:
            raise BidBelowStartPrice(
                f"{price} fen/t is below the start price", field="body.meta.price_fen_per_t"
            )
        if problem is RejectReason.NOT_AN_INCREMENT:
            raise BidNotAnIncrement(
                f"{price} fen/t is not one increment above the standing bid",
                field="body.meta.price_fen_per_t",
            )
        if quantity > need_kg:
            raise BidExceedsNeed(
                f"{quantity} kg exceeds the need of {need_kg} kg", field="body.meta.quantity_kg"
            )

    def _deposit(self, need_kg: int) -> tuple[int, str | None]:
        """The deposit (保证金) covers the most the bidder could win: a bid places what is still due."""
        most_need = max(need_kg, self.book.needs.get(self.bidder, 0))
        due = required_deposit(self.terms, most_need) - self.book.deposits.get(self.bidder, 0)
        stated = _int(self.meta, "deposit_fen", allow_zero=True)
        if due <= 0:
            if self.body.holds or stated:
                raise InvalidInput("no deposit is due on this bid: it places no hold", field="body.holds")
            return 0, None
        place = self.body.holds[0] if len(self.body.holds) == 1 else None
        cash = None if not isinstance(place, HoldPlace) else self.view.find_account(place.account)
        if (
            not isinstance(place, HoldPlace)
            or cash is None
            or (cash.owner, cash.kind) != (self.bidder, AccountKind.CASH)
            or not is_money(place.instrument)
            or (place.amount, stated) != (due, due)
            or (place.reason, place.controller) != ("auction_deposit", self.book.bureau)
        ):
            raise InvalidInput(
                f"the bid must hold its deposit of {due} fen on the bidder's cash for the bureau",
                field="body.holds",
            )
        return due, place.hold


class _Result:
    """``auction.result``: after the close, every bid revealed and matching its commitment, and the
    awards, prices and rejections exactly those of the auction's clearing re-run on them."""

    def __init__(
        self, body: TxBody, view: LedgerView, at: datetime, effect: Effect, book: AuctionBook
    ) -> None:
        self.body, self.view, self.at, self.effect, self.book = body, view, at, effect, book
        self.terms = book.terms

    def check(self) -> AuctionChange:
        self.effect.required_signers.add(self.book.bureau)
        entries = self.body.meta.get("bids")
        if not isinstance(entries, list) or len(entries) != len(self.book.bids):
            raise AuctionResultMismatch(
                f"the result must reveal all {len(self.book.bids)} bids of the auction",
                field="body.meta.bids",
            )
        bids: list[Bid] = []
        unrevealed: list[BookBid] = []
        for i, (entry, booked) in enumerate(zip(entries, self.book.bids, strict=True)):
            bid = self._revealed(i, entry, booked)
            if bid is None:
                unrevealed.append(booked)
            else:
                bids.append(bid)
        result = clear_with_caps(self.terms, bids, self.book.caps())
        if self.at < result.closed_at:
            raise AuctionNotOver(
                f"bidding runs until {format_utc(result.closed_at)}",
                field="body",
                closes_at=format_utc(result.closed_at),
            )
        expected = result_meta(self.terms.auction_id, result, entries, unrevealed)
        for name in sorted(set(expected) | set(self.body.meta)):
            if self.body.meta.get(name) != expected.get(name):
                raise AuctionResultMismatch(
                    f"the result's {name} differs from the auction's clearing of its revealed bids",
                    field=f"body.meta.{name}",
                    expected=expected.get(name),
                )
        self._check_holds(result.allocations, {r.bidder for r in result.allocations})
        if self.book.pledge is not None:
            # A forced auction's awards re-hold, for the same bureau, units the bank put on hold at the
            # open (the holds are exactly those above): the bank's consent was given there.
            lot_hold = self.view.find_hold(self.book.hold)
            owner = None if lot_hold is None else self.view.find_account(lot_hold.account)
            if owner is not None:
                self.effect.required_signers.discard(owner.owner)
        return AuctionChange(self.terms.auction_id, closed=True, dues=result.amounts_due_fen())

    def _revealed(self, i: int, entry: object, booked: BookBid) -> Bid | None:
        field = f"body.meta.bids[{i}]"
        if not isinstance(entry, dict) or (entry.get("seq"), entry.get("bidder")) != (
            booked.seq,
            booked.bidder,
        ):
            raise AuctionResultMismatch(f"{field} is not bid {booked.seq} of {booked.bidder}", field=field)
        if set(entry) == {"seq", "bidder"}:
            if booked.commitment is None or booked.salt_held:
                raise AuctionResultMismatch(
                    f"bid {booked.seq} must be revealed: the registry holds its salt", field=field
                )
            return None
        price, quantity = _int(entry, "price_fen_per_t"), _int(entry, "quantity_kg")
        if booked.commitment is None:  # an open (ascending) bid: revealed as recorded
            if set(entry) != {"seq", "bidder", "price_fen_per_t", "quantity_kg"} or (price, quantity) != (
                booked.price_fen_per_t,
                booked.quantity_kg,
            ):
                raise AuctionResultMismatch(f"{field} differs from the bid recorded", field=field)
        else:
            salt = entry.get("salt")
            if (
                set(entry) != {"seq", "bidder", "price_fen_per_t", "quantity_kg", "salt"}
                or not isinstance(salt, str)
                or len(salt) != 64
                or not _HEX64.issuperset(salt)
            ):
                raise InvalidInput(
                    f"{field} reveals price, quantity and the 32-byte salt in hex", field=field
                )
            if not commitment_matches(booked.commitment, self.terms.auction_id, booked.bidder, entry):
                raise BidCommitmentMismatch(
                    f"bid {booked.seq}'s revealed terms do not match its commitment",
                    field=field,
                    bid_seq=booked.seq,
                )
        return Bid(booked.bidder, price, quantity, booked.seq, booked.at)

    def _check_holds(self, allocations: Any, winners: set[str]) -> None:
        """The lot's hold released whole, one award hold per winner of exactly its award, and every
        losing bidder's deposits released whole; winners' deposits stay toward payment."""
        lot_hold = self.view.find_hold(self.book.hold)
        if lot_hold is None or lot_hold.status != "open":
            raise AuctionNotOpen(f"the auction's hold {self.book.hold} is not open", field="body.holds")
        awarded = Counter[str]()
        for a in allocations:
            awarded[a.bidder] += a.quantity_kg
        expected: list[dict[str, Any]] = [HoldSettle("release", lot_hold.id, lot_hold.amount).to_json()]
        lot = Lot.from_key(lot_hold.lot_key)
        expected += [
            HoldPlace(
                award_hold_id(self.book.hold, bidder),
                lot_hold.account,
                lot_hold.instrument,
                lot,
                kg,
                "auction_award",
                self.book.bureau,
            ).to_json()
            for bidder, kg in awarded.items()
        ]
        for b in self.book.bids:
            held = (
                None if b.deposit_hold is None or b.bidder in winners else self.view.find_hold(b.deposit_hold)
            )
            if held is not None and held.status == "open":
                expected.append(HoldSettle("release", held.id, held.amount).to_json())
        found = sorted(canonical_bytes(op.to_json()) for op in self.body.holds)
        if found != sorted(map(canonical_bytes, expected)) or self.body.postings:
            raise AuctionResultMismatch(
                "the result's holds differ from its awards: release the lot's hold, hold each award, "
                "release the losers' deposits",
                field="body.holds",
            )
