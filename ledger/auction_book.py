"""What the ledger knows of an auction on the journal (its terms, its bids, sealed or open) and the
record forms both sides write: the terms of ``auction.open``, a bid's commitment, the result's meta.

Pure. ``market`` builds its records with these functions and ``ledger.auction_rules`` checks them
with the same ones, so the two can only disagree when a record was forged.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from ledger.auction_clearing import AuctionTerms, ClearingResult
from ledger.auction_designs import AuctionDesign, FixedDeposit, RatioDeposit, RejectReason
from ledger.auction_errors import AuctionResultMismatch, InvalidAuctionTerms
from ledger.canonical import canonical_bytes
from ledger.crypto import sha256, tagged
from ledger.errors import InvalidInput
from ledger.timeutil import format_date, format_utc, parse_date, parse_utc

__all__ = [
    "SALT_BYTES",
    "TAG_BID",
    "AuctionBook",
    "AuctionChange",
    "BookBid",
    "award_hold_id",
    "bid_commitment",
    "check_award_paid",
    "commitment_matches",
    "result_meta",
    "revealed_bid",
    "terms_from_meta",
    "terms_meta",
]

TAG_BID = b"ecoledger-bid-v1"  # domain tag of a sealed bid's commitment (ledger.crypto's scheme)
SALT_BYTES = 32  # 256 random bits: the terms of a bid are few enough to guess without it


@dataclass(frozen=True, slots=True)
class BookBid:
    """One bid record as the ledger keeps it: ``seq`` is its arrival number in the auction (1, 2, ...),
    ``at`` its record's time. A sealed bid has a ``commitment`` and no terms until the result reveals
    them; an ascending bid has its terms. ``need_kg`` is the bidder's need the registry reserved for
    this auction when the bid was placed; ``salt_held``: the registry keeps the salt (custody), so the
    result must reveal the bid."""

    seq: int
    bidder: str
    at: datetime
    need_kg: int
    deposit_fen: int
    deposit_hold: str | None
    commitment: str | None = None
    salt_held: bool = True
    price_fen_per_t: int | None = None
    quantity_kg: int | None = None


@dataclass(slots=True)
class AuctionBook:
    """An auction the journal opened: its terms, the bureau running it, the hold on the reserve, its bids,
    and running figures kept as bids arrive, so checking one more bid never rescans the others."""

    terms: AuctionTerms
    valid_until: date  # the end of the lot offered
    bureau: str
    hold: str
    open: bool = True
    bids: list[BookBid] = field(default_factory=list)
    count: int = 0  # bids recorded (replay drops a closed auction's bids, not this)
    counts: dict[str, int] = field(default_factory=dict)  # bids per bidder
    needs: dict[str, int] = field(default_factory=dict)  # the largest need a bidder's bids carried
    deposits: dict[str, int] = field(default_factory=dict)  # deposits a bidder placed, fen
    standing_fen_per_t: int | None = None  # ascending: the best price so far
    close: datetime | None = None  # ascending: the timed stage's close after the bids so far
    pledge: str | None = None  # a forced auction (拍卖处置, ledger.forced_sale): the defaulted pledge
    # Once closed: what each winner owes, fen (its allocations' amounts), so that a settlement's
    # payment is checked against the result on the journal; None while open.
    dues: dict[str, int] | None = None

    def add(self, bid: BookBid) -> None:
        """Record one more bid (in arrival order) and bring the running figures up to date."""
        self.bids.append(bid)
        self.count += 1
        self.counts[bid.bidder] = self.counts.get(bid.bidder, 0) + 1
        self.needs[bid.bidder] = max(self.needs.get(bid.bidder, 0), bid.need_kg)
        self.deposits[bid.bidder] = self.deposits.get(bid.bidder, 0) + bid.deposit_fen
        if bid.price_fen_per_t is not None:  # an open (ascending) bid
            self.standing_fen_per_t = max(self.standing_fen_per_t or 0, bid.price_fen_per_t)
            close = self.closing()  # ``timed_close``'s rule, one bid at a time
            self.close = max(close, bid.at + self.terms.extension) if bid.at < close else close

    def closing(self) -> datetime:
        """When bidding ends now: ``closes_at``, or an ascending auction's (extended) timed stage."""
        if self.terms.design is not AuctionDesign.ASCENDING:
            return self.terms.closes_at
        return self.close if self.close is not None else self.terms.closes_at + self.terms.extension

    def caps(self) -> dict[str, int]:
        """Each bidder's need for the clearing: the largest its bids carried (it never shrinks, so no
        accepted bid is later refused as over the need)."""
        return dict(self.needs)


@dataclass(frozen=True, slots=True)
class AuctionChange:
    """What an auction record changes: an auction opened, a bid added, or the auction closed."""

    auction_id: str
    opened: AuctionBook | None = None
    bid: BookBid | None = None
    closed: bool = False
    dues: dict[str, int] | None = None  # with ``closed``: each winner's amount due, fen


def award_hold_id(auction_hold: str, bidder: str) -> str:
    """The hold that keeps a winner's rights in the reserve from the result until it pays or forfeits."""
    return f"{auction_hold}:award:{bidder}"


def check_award_paid(book: AuctionBook, bidder: str, paid_fen: int) -> None:
    """A settlement pays exactly what the auction's result on the journal awards ``bidder`` (its
    allocations' price x quantity, deposit counted in): a lower payment shifts the loss to whoever the
    money is owed, a higher one takes from the winner what it never bid."""
    due = None if book.dues is None else book.dues.get(bidder)
    if paid_fen != due:
        raise AuctionResultMismatch(
            f"{bidder} pays {paid_fen} fen; the auction's result on the journal awards it for {due} fen",
            field="postings",
            paid_fen=paid_fen,
            due_fen=due,
        )


# -- sealed bids ---------------------------------------------------------------------------------


def bid_commitment(auction_id: str, bidder: str, price_fen_per_t: int, quantity_kg: int, salt: bytes) -> str:
    """SHA-256 over the bid tag, the canonical (RFC 8785) terms and the secret salt, in hex: binding
    (other terms give another hash) and hiding (without the salt the terms cannot be guessed)."""
    terms = {
        "auction_id": auction_id,
        "bidder": bidder,
        "price_fen_per_t": price_fen_per_t,
        "quantity_kg": quantity_kg,
    }
    return sha256(tagged(TAG_BID, canonical_bytes(terms) + salt)).hex()


def commitment_matches(commitment: str, auction_id: str, bidder: str, revealed: dict[str, Any]) -> bool:
    salt = bytes.fromhex(revealed["salt"])
    found = bid_commitment(auction_id, bidder, revealed["price_fen_per_t"], revealed["quantity_kg"], salt)
    return hmac.compare_digest(found, commitment)


def revealed_bid(
    bid: BookBid, price_fen_per_t: int | None, quantity_kg: int | None, salt: bytes | None
) -> dict[str, Any]:
    """A bid as the result record reveals it; a sealed bid whose bidder kept its salt and did not
    reveal it is listed with no terms (it is rejected as ``not_revealed``)."""
    out: dict[str, Any] = {"seq": bid.seq, "bidder": bid.bidder}
    if price_fen_per_t is None or quantity_kg is None:
        return out
    out["price_fen_per_t"], out["quantity_kg"] = price_fen_per_t, quantity_kg
    if salt is not None:
        out["salt"] = salt.hex()
    return out


def result_meta(
    auction_id: str, result: ClearingResult, bids: list[dict[str, Any]], unrevealed: list[BookBid]
) -> dict[str, Any]:
    """The meta of an ``auction.result`` record: every bid revealed, the clearing as ``clear`` gives it,
    and every bid that won nothing with its reason, in arrival order."""
    rejected = [{"seq": r.seq, "bidder": r.bidder, "reason": r.reason.value} for r in result.rejected]
    rejected += [
        {"seq": b.seq, "bidder": b.bidder, "reason": RejectReason.NOT_REVEALED.value} for b in unrevealed
    ]
    rejected.sort(key=lambda r: r["seq"])
    return {
        "auction_id": auction_id,
        "design": result.design.value,
        "closed_at": format_utc(result.closed_at),
        "clearing_price_fen_per_t": result.clearing_price_fen_per_t,
        "winning_share": result.winning_share,
        "bids": bids,
        "allocations": [
            {
                "bidder": a.bidder,
                "quantity_kg": a.quantity_kg,
                "price_fen_per_t": a.price_fen_per_t,
                "amount_fen": a.amount_fen,
                "bid_seqs": list(a.bid_seqs),
            }
            for a in result.allocations
        ],
        "rejected": rejected,
        "sold_kg": result.sold_kg,
        "unsold_kg": result.unsold_kg,
        "revenue_fen": result.revenue_fen,
    }


# -- the terms an auction.open record carries --------------------------------------------------------


def terms_meta(terms: AuctionTerms, valid_until: date, payment_window: timedelta | None) -> dict[str, Any]:
    """The meta of an ``auction.open`` record: the terms (竞价公告), the lot's end and the payment window
    (a workflow term the ledger does not read; None leaves it out)."""
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
    }
    if payment_window is not None:
        meta["payment_window_s"] = int(payment_window.total_seconds())
    if terms.design is AuctionDesign.ASCENDING:
        meta["start_price_fen_per_t"] = terms.start_fen_per_t
        meta["increment_fen_per_t"] = terms.increment_fen_per_t
        meta["extension_s"] = int(terms.extension.total_seconds())
    return meta


def terms_from_meta(meta: dict[str, Any]) -> tuple[AuctionTerms, date]:
    """The terms and the lot's end an ``auction.open`` record states; ``InvalidInput`` naming the field."""
    try:
        deposit = meta["deposit"]
        rule = (
            FixedDeposit(deposit["fixed_fen"])
            if "fixed_fen" in deposit
            else RatioDeposit(deposit["ratio_bp"], deposit["years"])
        )
        ascending = meta["design"] == AuctionDesign.ASCENDING.value
        terms = AuctionTerms(
            auction_id=meta["auction_id"],
            instrument=meta["instrument"],
            jurisdiction=meta["jurisdiction"],
            quantity_kg=meta["quantity_kg"],
            reserve_price_fen_per_t=meta["reserve_price_fen_per_t"],
            design=AuctionDesign(meta["design"]),
            opens_at=parse_utc(meta["opens_at"]),
            closes_at=parse_utc(meta["closes_at"]),
            deposit_rule=rule,
            base_price_fen_per_t=meta["base_price_fen_per_t"],
            max_bids_per_bidder=meta["max_bids_per_bidder"],
            start_price_fen_per_t=meta["start_price_fen_per_t"] if ascending else None,
            increment_fen_per_t=meta["increment_fen_per_t"] if ascending else None,
            extension=timedelta(seconds=meta["extension_s"]) if ascending else timedelta(minutes=4),
        )
        return terms, parse_date(meta["valid_until"])
    except InvalidInput as exc:
        raise InvalidAuctionTerms(exc.message, field=f"body.meta.{exc.details['field']}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidAuctionTerms(
            f"the auction's terms are incomplete or malformed: {exc}", field="body.meta"
        ) from None
