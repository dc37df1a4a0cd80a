"""Revision 0016 folds trade, paid-use and buy-back offers and four-eyes proposals into the one
proposal model: rows written before the upgrade read the same after it, a carried-over seller's
signature still completes its trade, and closed ones stay closed, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, Engine, inspect, text
from sqlmodel import Session

from api.migrations import head, upgrade
from ledger.canonical import canonical_bytes
from ledger.service import Registry, replay_database
from ledger.timeutil import format_date
from market.consent import Consent, dump_signatures, sign_document
from market.proposals import service as proposals
from market.proposals.errors import ProposalClosed
from market.proposals.model import ProposalStatus, SignerSlot
from market.reserve.offers import buy_back_offers_of
from market.reserve.service import buy_back_draft
from market.trades.offers import OfferStatus, accept_offer, get_offer, offers_of
from market.trades.service import trade_body
from tests.integration.test_market_auctions_world import LOT, VALID_UNTIL, World
from tests.integration.test_migrations import _differences, _market_world, blank

__all__ = ["blank"]  # the fixture: an empty database of this test's own, on either engine

CREATED = "2026-11-01T00:00:00.000000Z"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _insert(conn: Connection, table: str, row: dict[str, object]) -> None:
    names = ", ".join(row)
    conn.execute(text(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + k for k in row)})"), row)


def _trade_offer(conn: Connection, w: World, offer_id: str, status: str, seq: int | None) -> None:
    seller, buyer = w.party("yuyao_chem"), w.party("yuyao_dye")
    nonce = f"n-{offer_id}"
    body = trade_body(
        seller=seller,
        buyer=buyer,
        instrument="COD",
        lot=LOT,
        quantity_kg=1_000,
        price_fen_per_t=1_500_000,
        nonce=nonce,
    )
    sig = sign_document(body, seller, w.people["yuyao_chem"].key)
    closed = None if status == "pending" else CREATED
    _insert(
        conn,
        "trade_offer",
        {
            "id": offer_id, "seller": seller, "buyer": buyer, "instrument": "COD",
            "jurisdiction": LOT.jurisdiction, "valid_until": format_date(VALID_UNTIL), "quantity_kg": 1_000,
            "price_fen_per_t": 1_500_000,
            "nonce": nonce, "seller_signature": dump_signatures({seller: sig}), "status": status,
            "created_at": CREATED, "closed_at": closed, "trade_seq": seq,
        },
    )  # fmt: skip


def _old_rows(conn: Connection, w: World) -> None:
    _trade_offer(conn, w, "t-pending", "pending", None)
    _trade_offer(conn, w, "t-withdrawn", "withdrawn", None)
    _trade_offer(conn, w, "t-accepted", "accepted", 7)
    bureau, chem = w.party("yuyao"), w.party("yuyao_chem")
    with Session(bind=conn) as s:
        body = buy_back_draft(
            s, actor=w.p("yuyao"), enterprise=chem, instrument="COD", quantity_kg=500,
            valid_until=VALID_UNTIL, amount_fen=90_000, nonce="n-bb",
        )  # fmt: skip
    signed = dump_signatures({bureau: sign_document(body, bureau, w.people["yuyao"].key)})
    _insert(
        conn,
        "buyback_offer",
        {
            "id": "bb-1", "bureau": bureau, "enterprise": chem, "instrument": "COD",
            "valid_until": format_date(VALID_UNTIL), "quantity_kg": 500, "amount_fen": 90_000, "basis": None,
            "nonce": "n-bb", "bureau_signature": signed, "status": "pending", "created_at": CREATED,
        },
    )  # fmt: skip
    _insert(
        conn,
        "allocation_offer",
        {
            "id": "al-1", "bureau": bureau, "enterprise": chem, "instrument": "COD",
            "valid_until": format_date(VALID_UNTIL), "quantity_kg": 400, "purpose": "initial",
            "project": None, "years": 5, "price_fen_per_tonne_year": None, "fee_fen": 8_000, "nonce": "n-al",
            "bureau_signature": signed, "status": "withdrawn", "created_at": CREATED, "closed_at": CREATED,
        },
    )  # fmt: skip
    terms = canonical_bytes(
        {"to": "x.holding", "instrument": "COD", "lot": LOT.key(), "quantity_kg": 9}
    ).decode()
    for fe_id, status, expires, decided in (
        ("fe-applied", "applied", "2026-11-08T00:00:00.000000Z", "bob"),
        ("fe-lapsed", "pending", "2026-11-08T00:00:00.000000Z", None),
        ("fe-open", "pending", "2027-01-01T00:00:00.000000Z", None),
    ):
        _insert(
            conn,
            "four_eyes_proposal",
            {
                "id": fe_id, "party": chem, "kind": "transfer", "terms": terms, "proposed_by": "alice",
                "status": status, "created_at": CREATED, "expires_at": expires, "decided_by": decided,
                "decided_at": CREATED if decided else None, "record_seq": 5 if decided else None,
            },
        )  # fmt: skip


def test_offers_and_four_eyes_proposals_written_before_0016_carry_over_into_the_proposal_model(
    blank: Engine, registry: Registry
) -> None:
    assert upgrade(blank, "0015") == "0015"
    w = _market_world(blank, registry)
    with blank.begin() as conn:
        _old_rows(conn, w)

    assert upgrade(blank) == head()

    tables = set(inspect(blank).get_table_names())
    assert {"trade_offer", "allocation_offer", "buyback_offer", "four_eyes_proposal"}.isdisjoint(tables)
    assert _differences(blank) == []
    chem, dye = w.p("yuyao_chem"), w.p("yuyao_dye")
    with Session(blank) as s:
        statuses = {o.id: (o.status, o.trade_seq) for o in offers_of(s, actor=dye)}
        assert statuses == {
            "t-pending": (OfferStatus.PENDING, None),
            "t-withdrawn": (OfferStatus.WITHDRAWN, None),
            "t-accepted": (OfferStatus.ACCEPTED, 7),
        }
        (bb,) = buy_back_offers_of(s, actor=chem)
        assert (bb.id, bb.status, bb.quantity_kg, bb.amount_fen) == ("bb-1", OfferStatus.PENDING, 500, 90_000)
        allocation = proposals.get_proposal(s, actor=chem, proposal_id="al-1", now=NOW)
        assert (allocation.status, allocation.terms["fee_fen"]) == (ProposalStatus.WITHDRAWN, 8_000)
        fe = {p.id: p for p in proposals.proposals_of(s, actor=chem, now=NOW, kind="transfer")}
        assert {k: p.status for k, p in fe.items()} == {
            "fe-applied": ProposalStatus.APPLIED,
            "fe-lapsed": ProposalStatus.EXPIRED,
            "fe-open": ProposalStatus.PENDING,
        }
        assert fe["fe-open"].signers == (SignerSlot(chem.party, "approver", "alice"),)
        assert (fe["fe-applied"].approvers, fe["fe-applied"].record_seq) == (("bob",), 5)

    # The seller's signature carried over completes the trade when the buyer accepts now.
    before = w.position(f"{dye.party}.holding", "COD")[0]
    done = w.run(
        accept_offer, actor=dye, offer_id="t-pending", signed_by=Consent(w.keys_of("yuyao_dye")), now=NOW
    )
    assert w.position(f"{dye.party}.holding", "COD")[0] == before + 1_000
    with Session(blank) as s:
        assert (get_offer(s, actor=chem, offer_id="t-pending").trade_seq) == done.seq
        with pytest.raises(ProposalClosed):
            accept_offer(
                s,
                registry=registry,
                actor=dye,
                offer_id="t-accepted",
                signed_by=Consent(w.keys_of("yuyao_dye")),
                now=NOW,
            )
        report, diff = replay_database(s)
    assert report.ok, report.failure
    assert diff == {}
