"""Bilateral trades (排污权交易) between two enterprises of one jurisdiction: delivery versus payment
(钱货两清) in one ledger record that the seller and the buyer both sign.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from accounts.errors import PermissionDenied
from accounts.identifiers import account_id
from accounts.model import Participant, Role
from accounts.permissions import Action, authorize, target_of
from accounts.service import SessionDirectory, get_participant
from ledger.model import Lot, Posting, TxBody
from ledger.service import Registry, new_nonce
from ledger.timeutil import format_date
from ledger.units import check_amount, instrument
from market.auctions.model import payment_fen
from market.consent import Consent, submit_consented
from market.trades.errors import CrossJurisdictionTrade, InvalidTrade

__all__ = ["Trade", "instrument_code", "trade", "trade_body", "trade_draft"]


@dataclass(frozen=True, slots=True)
class Trade:
    """A trade recorded: its journal seq, the lot, quantity, agreed price and the amount paid."""

    seq: int
    seller: str
    buyer: str
    instrument: str
    lot: Lot
    quantity_kg: int
    price_fen_per_t: int
    amount_fen: int


def trade_body(
    *,
    seller: str,
    buyer: str,
    instrument: str,
    lot: Lot,
    quantity_kg: int,
    price_fen_per_t: int,
    nonce: str | None = None,
) -> TxBody:
    """The trade's record: units seller -> buyer and ``payment_fen(quantity, price)`` buyer -> seller.

    Signed by both (``signers``), so the units leg carries the seller's consent and the cash leg the
    buyer's in the same record: both legs move, or neither.
    """
    amount = payment_fen(quantity_kg, price_fen_per_t)
    postings = (
        Posting(account_id(seller, "holding"), instrument, lot, -quantity_kg),
        Posting(account_id(buyer, "holding"), instrument, lot, quantity_kg),
        Posting(account_id(buyer, "cash"), "CNY", Lot(), -amount),
        Posting(account_id(seller, "cash"), "CNY", Lot(), amount),
    )
    meta = {
        "seller": seller,
        "buyer": buyer,
        "instrument": instrument,
        "jurisdiction": lot.jurisdiction,
        "valid_until": None if lot.valid_until is None else format_date(lot.valid_until),
        "quantity_kg": quantity_kg,
        "price_fen_per_t": price_fen_per_t,
        "amount_fen": amount,
    }
    return TxBody("trade", nonce or new_nonce(), postings, signers=(seller, buyer), meta=meta)


def trade(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    signed_by: Consent,
    seller: str,
    buyer: str,
    instrument: str,
    valid_until: date,
    quantity_kg: int,
    price_fen_per_t: int,
    nonce: str | None = None,
) -> Trade:
    """Two enterprises trade rights of their jurisdiction, delivery versus payment, in one record.

    Rules: seller and buyer are two enterprises of the same jurisdiction, the units' (a trade across
    cities is 跨地市交易, with its own approvals); rights and VOCs quotas only (blue carbon moves with
    its serials); the price is at least one fen in total. Each party may move only its own side
    (permission table: the seller the units, the buyer the cash), and both sign; either submits.
    The ledger refuses units the seller does not hold free (pledged or in escrow) and cash the
    buyer does not have, and then nothing moves. A party's consent may be its own signatures over the
    body ``trade_draft`` shows for the same terms and ``nonce`` (a self-custody client, a trade offer).
    """
    body = _checked_body(
        session,
        actor=actor,
        seller=seller,
        buyer=buyer,
        instrument=instrument,
        valid_until=valid_until,
        quantity_kg=quantity_kg,
        price_fen_per_t=price_fen_per_t,
        nonce=nonce,
    )
    receipt = submit_consented(
        session, registry=registry, actor=actor, signed_by=signed_by, body=body, signers=body.signers
    )
    units = body.postings[0]
    amount = body.postings[3].amount
    return Trade(
        receipt.seq, seller, buyer, units.instrument, units.lot, quantity_kg, price_fen_per_t, amount
    )


def trade_draft(
    session: Session,
    *,
    actor: Participant,
    seller: str,
    buyer: str,
    instrument: str,
    valid_until: date,
    quantity_kg: int,
    price_fen_per_t: int,
    nonce: str,
) -> TxBody:
    """The body ``trade`` records for these terms and ``nonce``, for seller and buyer to sign apart
    (the same checks as ``trade``, so a draft that would be refused is refused here). Writes nothing."""
    return _checked_body(
        session,
        actor=actor,
        seller=seller,
        buyer=buyer,
        instrument=instrument,
        valid_until=valid_until,
        quantity_kg=quantity_kg,
        price_fen_per_t=price_fen_per_t,
        nonce=nonce,
    )


def _checked_body(
    session: Session,
    *,
    actor: Participant,
    seller: str,
    buyer: str,
    instrument: str,
    valid_until: date,
    quantity_kg: int,
    price_fen_per_t: int,
    nonce: str | None,
) -> TxBody:
    code = instrument_code(instrument)
    check_amount(quantity_kg, field="quantity_kg")
    check_amount(price_fen_per_t, field="price_fen_per_t")
    if actor.party not in (seller, buyer):
        raise PermissionDenied(
            f"{actor.party} may not {Action.TRANSFER_UNITS.value}: only its seller or buyer submits a trade",
            rule="own_units_only",
            action=Action.TRANSFER_UNITS.value,
            actor=actor.party,
        )
    if seller == buyer:
        raise InvalidTrade("seller and buyer must differ", field="buyer")
    sells, buys = get_participant(session, party=seller), get_participant(session, party=buyer)
    for party, field in ((sells, "seller"), (buys, "buyer")):
        if party.role is not Role.ENTERPRISE or party.jurisdiction is None:
            raise InvalidTrade(f"{party.party} is not an enterprise", field=field)
    if sells.jurisdiction != buys.jurisdiction:
        raise CrossJurisdictionTrade(
            f"{seller} is in {sells.jurisdiction} and {buyer} in {buys.jurisdiction}: "
            "a trade across jurisdictions is a cross-city transfer (跨地市交易)",
            field="buyer",
        )
    if payment_fen(quantity_kg, price_fen_per_t) == 0:
        raise InvalidTrade("the trade is worth less than one fen", field="price_fen_per_t")
    lot = Lot(jurisdiction=sells.jurisdiction, valid_until=valid_until)
    body = trade_body(
        seller=seller,
        buyer=buyer,
        instrument=code,
        lot=lot,
        quantity_kg=quantity_kg,
        price_fen_per_t=price_fen_per_t,
        nonce=nonce,
    )
    directory = SessionDirectory(session)
    units, cash = body.postings[:2], body.postings[2:]
    authorize(sells, Action.TRANSFER_UNITS, target_of(TxBody("trade", body.nonce, units), (), directory))
    authorize(buys, Action.TRANSFER_UNITS, target_of(TxBody("trade", body.nonce, cash), (), directory))
    return body


def instrument_code(code: object) -> str:
    """A tradable right: a discharge right or VOCs quota (blue carbon trades with its serials)."""
    inst = instrument(code, field="instrument")  # type: ignore[arg-type]
    if not inst.scoped_to_jurisdiction:
        raise InvalidTrade(f"{inst.code} is not a discharge right or VOCs quota", field="instrument")
    return inst.code
