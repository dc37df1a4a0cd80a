"""Revision 0019 makes every cross-city request the seller offered a settlement proposal
(``crosscity.settlement``), moving the signatures the request kept into its slots, and drops the
request's ``signatures`` column; drafts get none. On SQLite and PostgreSQL, and read back by the live
service afterwards."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, inspect, text
from sqlmodel import Session

import market.crosscity.settlement  # noqa: F401  (registers the kind the service reads)
from api.migrations import head, upgrade
from ledger.canonical import canonical_bytes
from ledger.model import Signature
from market.crosscity.settlement import settlement_terms
from market.crosscity.store import request_of, to_request
from market.crosscity.tables import CrossCityTransferRow
from market.proposals.model import ProposalStatus
from market.proposals.reads import find_proposal
from tests.integration.test_migrations import _differences, blank

__all__ = ["blank"]  # the fixture: an empty database of this test's own, on either engine

CREATED = "2026-11-30T02:00:00.000000Z"
EXPIRES = "2026-12-30T02:00:00.000000Z"
SELLER, BUYER = "ent:zhoushan-ship", "ent:ningbo-petro"
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def _sig(party: str, byte: int) -> dict[str, Any]:
    return Signature(party, f"k-{party}", bytes([byte]) * 64).to_json()


def _request(conn: Connection, request_id: str, status: str, sigs: dict[str, Any], **extra: Any) -> None:
    conn.execute(
        text(
            "INSERT INTO crosscity_transfer (id, demand_id, seller, buyer, from_account, instrument, "
            "source, destination, valid_until, quantity_kg, ratio_bp, price_fen_per_tonne, fee_bp, "
            "expires_at, status, signatures, created_at, hold_seq, settled_seq, closed_by, reason) "
            "VALUES (:id, 'dm-1', :seller, 'ent:ningbo-petro', :account, 'COD', '330900', '330200', "
            "'2030-12-31', 5000, 8000, 2000000, 100, :expires, :status, :sigs, :created, :hold, :settled, "
            ":closed_by, :reason)"
        ),
        {
            "id": request_id,
            "seller": extra.get("seller", SELLER),
            "account": f"{extra.get('seller', SELLER)}.holding",
            "expires": EXPIRES,
            "status": status,
            "sigs": canonical_bytes(sigs).decode(),
            "created": CREATED,
            "hold": extra.get("hold", 7),
            "settled": extra.get("settled"),
            "closed_by": extra.get("closed_by"),
            "reason": extra.get("reason"),
        },
    )


def _slots(conn: Connection, proposal_id: str) -> list[tuple[Any, ...]]:
    rows = conn.execute(
        text(
            "SELECT party, signature, signed_at, after_slots FROM proposal_signer WHERE proposal_id = :id "
            "ORDER BY slot"
        ),
        {"id": proposal_id},
    )
    return [tuple(r) for r in rows]


def test_requests_offered_before_revision_0019_become_settlement_proposals_with_their_signatures(
    blank: Engine,
) -> None:
    assert upgrade(blank, "0018") == "0018"
    seller, buyer, zs, nb = (
        _sig(SELLER, 1),
        _sig(BUYER, 2),
        _sig("bureau:330900", 3),
        _sig("bureau:330200", 4),
    )
    with blank.begin() as conn:
        _request(conn, "xc-accepted", "accepted", {SELLER: seller, BUYER: buyer})
        _request(conn, "xc-draft", "draft", {}, hold=None)
        _request(
            conn,
            "xc-settled",
            "settled",
            {SELLER: seller, BUYER: buyer, "bureau:330900": zs, "bureau:330200": nb},
            settled=9,
        )
        _request(conn, "xc-withdrawn", "rejected", {SELLER: seller}, closed_by=SELLER, reason="changed")
        _request(
            conn, "xc-reserve", "offered", {"bureau:330900": zs}, seller="bureau:330900"
        )  # a bureau selling from its reserve: its own slot counts as its approval

    assert upgrade(blank) == head()

    assert _differences(blank) == []
    assert "signatures" not in {c["name"] for c in inspect(blank).get_columns("crosscity_transfer")}
    with blank.connect() as conn:
        pointers = dict(conn.execute(text("SELECT id, proposal FROM crosscity_transfer")).all())
        proposals = {
            r.id: r
            for r in conn.execute(
                text(
                    "SELECT id, kind, party, status, terms, expires_at, decided_party, record_seq "
                    "FROM proposal"
                )
            )
        }
        slots = {request: _slots(conn, pid) for request, pid in pointers.items() if pid is not None}
    assert pointers["xc-draft"] is None  # nothing was signed or held: the proposal opens at the offer
    assert set(proposals) == {
        pointers[r] for r in ("xc-accepted", "xc-settled", "xc-withdrawn", "xc-reserve")
    }
    dump = lambda s: canonical_bytes(s).decode()  # noqa: E731
    assert slots["xc-accepted"] == [
        (SELLER, dump(seller), CREATED, None),
        (BUYER, dump(buyer), CREATED, None),
        ("bureau:330900", None, None, "[1]"),
        ("bureau:330200", None, None, "[1]"),
    ]
    assert slots["xc-reserve"] == [
        ("bureau:330900", dump(zs), CREATED, None),
        (BUYER, None, None, None),
        ("bureau:330200", None, None, "[1]"),
    ]
    by_request = {r: proposals[pointers[r]] for r in ("xc-accepted", "xc-settled", "xc-withdrawn")}
    assert [(p.kind, p.party, p.status, p.expires_at) for p in by_request.values()] == [
        ("crosscity.settlement", SELLER, "pending", EXPIRES),
        ("crosscity.settlement", SELLER, "applied", EXPIRES),
        ("crosscity.settlement", SELLER, "withdrawn", EXPIRES),
    ]
    assert (by_request["xc-settled"].record_seq, by_request["xc-withdrawn"].decided_party) == (9, SELLER)

    # The live service reads them: the terms it would write, the signatures, the bureaus after the buyer.
    with Session(blank) as s:
        row = s.get(CrossCityTransferRow, "xc-accepted")
        assert row is not None
        assert json.loads(by_request["xc-accepted"].terms) == settlement_terms(to_request(row))
        assert request_of(s, row).signed_by == {SELLER, BUYER}
        found = find_proposal(s, proposal_id=pointers["xc-accepted"], now=NOW)
        assert found is not None
        assert found.status is ProposalStatus.PENDING
        assert found.body is not None  # drawn up from the request, as every view
        assert [x.after for x in found.signers] == [(), (), (1,), (1,)]
        assert found.awaits("bureau:330200")
        settled = s.get(CrossCityTransferRow, "xc-settled")
        assert settled is not None
        assert request_of(s, settled).signed_by == {SELLER, BUYER, "bureau:330900", "bureau:330200"}
