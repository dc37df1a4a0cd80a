"""Auctions through HTTP: project needs, opening (reserve on hold), sealed and ascending bids with
deposits, the signed result, DvP settlement with the winner's own signature, and forfeiture."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest

from ledger.timeutil import utc_now
from tests.api.conftest import HttpWorld, error_of
from tests.api.test_api_issuance import LOT, VALID_UNTIL, allocate_free, fund, set_cap, signed_by, total

RESERVE = 400_000  # 4,000 CNY per tonne: the COD base price, as the reserve (底价)
DEPOSIT = 100_000  # 1,000 CNY per bidder


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def auction_terms(auction_id: str = "A1", **overrides: Any) -> dict[str, Any]:
    now = utc_now()
    terms: dict[str, Any] = {
        "auction_id": auction_id,
        "instrument": "COD",
        "jurisdiction": "330281",
        "valid_until": VALID_UNTIL,
        "quantity_kg": 3_000,
        "reserve_price_fen_per_t": RESERVE,
        "design": "uniform_price",
        "opens_at": _iso(now - timedelta(minutes=5)),
        "closes_at": _iso(now + timedelta(hours=1)),
        "deposit": {"kind": "fixed", "amount_fen": DEPOSIT},
    }
    terms.update(overrides)
    return terms


@contextmanager
def later(http: HttpWorld, delta: timedelta) -> Iterator[None]:
    """The registry's clock moved ``delta`` ahead (the close, the payment deadline)."""
    real = http.registry.clock
    http.registry.clock = lambda: real() + delta
    try:
        yield
    finally:
        http.registry.clock = real


def _need(http: HttpWorld, alias: str, kg: int) -> None:
    payload = {
        "enterprise": http.party(alias),
        "instrument": "COD",
        "approved_kg": kg,
        "project": f"{alias} 新建项目",
    }
    r = http.post("yuyao", "/v1/needs", payload)
    assert r.status_code == 200, r.text


@pytest.fixture
def market(http: HttpWorld) -> HttpWorld:
    """Yuyao's cap in the reserve, two enterprises with approved needs and cash."""
    set_cap(http, 10_000)
    _need(http, "yuyao_chem", 2_000)
    _need(http, "yuyao_dye", 2_000)
    fund(http, "yuyao_chem", 5_000_000)
    fund(http, "yuyao_dye", 5_000_000)
    return http


def _bid(
    http: HttpWorld, alias: str, price: int, kg: int, auction_id: str = "A1", key: str | None = None
) -> Any:
    return http.post(
        alias, f"/v1/auctions/{auction_id}/bids", {"price_fen_per_t": price, "quantity_kg": kg}, key=key
    )


def test_a_bureau_registers_needs_and_only_the_enterprise_and_its_bureaus_read_them(http: HttpWorld) -> None:
    chem = http.party("yuyao_chem")
    payload = {
        "enterprise": chem,
        "instrument": "COD",
        "approved_kg": 1_500,
        "project": "年产2万吨新材料项目",
    }
    before = http.head()
    r = http.post("yuyao", "/v1/needs", payload, key="n1")
    assert r.status_code == 200, r.text
    need = r.json()
    assert (need["enterprise"], need["bureau"], need["approved_kg"]) == (chem, http.party("yuyao"), 1_500)
    assert http.post("yuyao", "/v1/needs", payload, key="n1").json() == need
    assert error_of(http.post("yuyao", "/v1/needs", {**payload, "approved_kg": 1}, key="n1"))["code"] == (
        "idempotency_key_reused"
    )
    assert http.head() == before  # a need is a registry row, not a journal record
    assert [n["need_id"] for n in http.get("yuyao_chem", f"/v1/enterprises/{chem}/needs").json()] == [
        need["need_id"]
    ]
    assert len(http.get("ningbo", f"/v1/enterprises/{chem}/needs").json()) == 1  # Ningbo supervises Yuyao
    assert http.get("yuyao_dye", f"/v1/enterprises/{chem}/needs").status_code == 403
    foreign = http.post("zhoushan", "/v1/needs", payload)
    assert foreign.status_code == 403
    assert error_of(foreign)["details"]["rule"] == "bureau_own_jurisdiction"
    assert http.post("yuyao_chem", "/v1/needs", payload).status_code == 403
    carbon = http.post("yuyao", "/v1/needs", {**payload, "instrument": "BC"})
    assert error_of(carbon)["code"] == "invalid_project_need"
    assert len(http.get("yuyao", f"/v1/enterprises/{chem}/needs").json()) == 1


def test_opening_puts_the_reserve_on_hold_and_lists_the_auction(market: HttpWorld) -> None:
    http = market
    before = http.head()
    terms = auction_terms()
    r = http.post("yuyao", "/v1/auctions", terms, key="o1")
    assert r.status_code == 200, r.text
    opened = r.json()
    assert (opened["status"], opened["opened_seq"], opened["quantity_kg"]) == ("open", before, 3_000)
    assert opened["deposit"] == {"kind": "fixed", "amount_fen": DEPOSIT}
    assert http.post("yuyao", "/v1/auctions", terms, key="o1").json() == opened
    assert http.head() == before + 1
    pos = http.get("yuyao", "/v1/caps/330281/COD", params={"valid_until": VALID_UNTIL}).json()
    assert pos["reserve_held_kg"] == 3_000
    listed = http.get("yuyao_dye", "/v1/auctions", params={"status": "open", "jurisdiction": "330281"}).json()
    assert [a["auction_id"] for a in listed["items"]] == ["A1"]
    assert listed["total"] == 1
    assert http.get("yuyao_dye", "/v1/auctions", params={"status": "settled"}).json()["total"] == 0
    one = http.get("zhoushan_ship", "/v1/auctions/A1").json()
    assert one["live"] == {
        "closes_at": one["closes_at"],
        "standing_fen_per_t": None,
        "next_fen_per_t": None,
        "bids": None,
        "bidders": None,
    }
    assert http.get("yuyao", "/v1/auctions/NOPE").status_code == 404


def test_opening_refusals_write_nothing(market: HttpWorld) -> None:
    http = market
    http.post("yuyao", "/v1/auctions", auction_terms())
    before = http.head()
    assert error_of(http.post("yuyao", "/v1/auctions", auction_terms()))["code"] == "duplicate_auction"
    ent = http.post("yuyao_chem", "/v1/auctions", auction_terms("A2"))
    assert ent.status_code == 403
    other = http.post("ningbo", "/v1/auctions", auction_terms("A2"))
    assert other.status_code == 403
    assert error_of(other)["details"]["rule"] == "bureau_own_jurisdiction"
    too_much = http.post("yuyao", "/v1/auctions", auction_terms("A2", quantity_kg=8_000))
    assert too_much.status_code == 409
    assert error_of(too_much)["code"] == "insufficient_balance"
    backwards = http.post(
        "yuyao", "/v1/auctions", auction_terms("A2", closes_at=_iso(utc_now() - timedelta(days=1)))
    )
    assert backwards.status_code == 422
    assert error_of(backwards)["code"] == "invalid_auction_terms"
    no_increment = http.post("yuyao", "/v1/auctions", auction_terms("A2", design="ascending"))
    assert error_of(no_increment)["details"]["field"] == "increment_fen_per_t"
    naive = http.post("yuyao", "/v1/auctions", auction_terms("A2", opens_at="2026-01-01T00:00:00"))
    assert naive.status_code == 422
    assert http.post("yuyao", "/v1/auctions", {**auction_terms("A2"), "owner": "x"}).status_code == 422
    assert http.client.post("/v1/auctions", json=auction_terms("A2")).status_code == 401
    assert http.head() == before


def test_sealed_bids_take_deposits_stay_sealed_and_clear_at_the_uniform_price(market: HttpWorld) -> None:
    http = market
    http.post("yuyao", "/v1/auctions", auction_terms())
    chem, dye, bureau = http.party("yuyao_chem"), http.party("yuyao_dye"), http.party("yuyao")
    before = http.head()
    first = _bid(http, "yuyao_chem", 600_000, 2_000, key="bid-1")
    assert first.status_code == 200, first.text
    # its number in the auction stays hidden (it would count the bids before); the record is its own
    assert (first.json()["seq"], first.json()["deposit_fen"]) == (None, DEPOSIT)
    assert (first.json()["record_seq"], len(first.json()["commitment"])) == (before, 64)
    assert _bid(http, "yuyao_chem", 600_000, 2_000, key="bid-1").json() == first.json()
    assert http.head() == before + 1  # the bid record; the replay wrote nothing
    assert _bid(http, "yuyao_dye", 450_000, 2_000).status_code == 200
    third = _bid(http, "yuyao_dye", 420_000, 1_000)
    assert (third.json()["deposit_fen"], third.json()["deposit_hold"]) == (0, None)  # one deposit per bidder
    assert http.head() == before + 3  # every bid is a journal record, deposit or not
    # the deposits are held on the bidders' cash, under hold ids that count nothing
    cash = http.get("yuyao_chem", f"/v1/accounts/{chem}.cash/balances").json()
    assert (cash[0]["total"], cash[0]["held"]) == (5_000_000, DEPOSIT)
    assert not first.json()["deposit_hold"].endswith(":1")
    # sealed: each bidder sees only its own bids, unnumbered; the bureau sees how many, never a price
    assert [b["seq"] for b in http.get("yuyao_dye", "/v1/auctions/A1/bids").json()] == [None, None]
    assert [b["bidder"] for b in http.get("yuyao_chem", "/v1/auctions/A1/bids").json()] == [chem]
    sealed = http.get("yuyao", "/v1/auctions/A1/bids")
    assert (sealed.status_code, error_of(sealed)["code"]) == (409, "bids_sealed")
    assert error_of(sealed)["details"] == {"auction_id": "A1", "bids": 3, "bidders": 2}
    live = http.get("yuyao", "/v1/auctions/A1").json()["live"]
    assert (live["bids"], live["bidders"], live["standing_fen_per_t"]) == (3, 2, None)
    assert http.get("yuyao_dye", "/v1/auctions/A1").json()["live"]["bids"] is None
    assert "600000" not in http.get("yuyao", "/v1/auctions/A1").text
    mark = http.head()
    low = _bid(http, "yuyao_dye", RESERVE - 1, 100)
    assert (low.status_code, error_of(low)["code"]) == (409, "bid_below_reserve")
    assert error_of(_bid(http, "zhoushan_ship", 500_000, 100))["code"] == "not_eligible"
    assert error_of(_bid(http, "yuyao_chem", 500_000, 2_001))["code"] == "bid_exceeds_need"
    assert _bid(http, "yuyao", 500_000, 100).status_code == 403
    assert error_of(_bid(http, "yuyao_chem", 500_000, 100, auction_id="NOPE"))["code"] == "unknown_auction"
    early = http.post("yuyao", "/v1/auctions/A1/close")
    assert (early.status_code, error_of(early)["code"]) == (409, "auction_still_open")
    assert http.get("yuyao", "/v1/auctions/A1/result").status_code == 409
    assert http.head() == mark
    with later(http, timedelta(hours=2)):
        assert http.post("yuyao_chem", "/v1/auctions/A1/close").status_code == 403
        closed = http.post("yuyao", "/v1/auctions/A1/close", key="close-1")
        assert closed.status_code == 200, closed.text
        assert http.post("yuyao", "/v1/auctions/A1/close", key="close-1").json() == closed.json()
        again = http.post("yuyao", "/v1/auctions/A1/close")
        assert error_of(again)["code"] == "auction_closed"
    # after the result the bureau sees every bid, numbered in arrival order
    assert [b["seq"] for b in http.get("yuyao", "/v1/auctions/A1/bids").json()] == [1, 2, 3]
    result = http.get("yuyao_dye", "/v1/auctions/A1/result").json()
    # 3,000 kg offered: chem's 2,000 at 6,000 CNY/t, dye's 1,000 of its 4,500 bid; uniform price = 4,500
    assert result["clearing_price_fen_per_t"] == 450_000
    assert {a["bidder"]: a["quantity_kg"] for a in result["awards"]} == {chem: 2_000, dye: 1_000}
    assert {a["bidder"]: a["amount_fen"] for a in result["awards"]} == {chem: 900_000, dye: 450_000}
    assert result["sold_kg"] == 3_000
    assert result["revenue_fen"] == 1_350_000
    assert result["rejected"] == [{"seq": 3, "bidder": dye, "reason": "supply_exhausted"}]  # outbid
    assert http.get("yuyao", "/v1/auctions/A1").json()["status"] == "closed"
    assert total(http, f"{bureau}.reserve", "COD", LOT) == 10_000  # held for the winners until they pay


def _closed_auction(http: HttpWorld) -> None:
    http.post("yuyao", "/v1/auctions", auction_terms())
    assert _bid(http, "yuyao_chem", 600_000, 2_000).status_code == 200
    assert _bid(http, "yuyao_dye", 500_000, 1_000).status_code == 200
    with later(http, timedelta(hours=2)):
        assert http.post("yuyao", "/v1/auctions/A1/close").status_code == 200


def test_settlement_is_dvp_with_the_winners_own_signature_over_the_draft(market: HttpWorld) -> None:
    http = market
    _closed_auction(http)
    chem, bureau = http.party("yuyao_chem"), http.party("yuyao")
    before = http.head()
    unsigned = http.post("yuyao", "/v1/auctions/A1/settlements", {"bidder": chem})
    assert (unsigned.status_code, error_of(unsigned)["code"]) == (422, "missing_signature")
    assert http.get("yuyao_dye", f"/v1/auctions/A1/settlements/{chem}/draft").status_code == 403
    draft = http.get("yuyao_chem", f"/v1/auctions/A1/settlements/{chem}/draft").json()
    assert draft["signers"] == [bureau, chem]
    assert draft["body"] == http.get("yuyao", f"/v1/auctions/A1/settlements/{chem}/draft").json()["body"]
    sig = signed_by(http, "yuyao_chem", draft["body"])
    assert http.head() == before
    r = http.post("yuyao", "/v1/auctions/A1/settlements", {"bidder": chem, "signatures": [sig]}, key="s1")
    assert r.status_code == 200, r.text
    award = r.json()
    price = 2_000 * 500_000 // 1000  # uniform price: the lowest accepted bid, 5,000 CNY/t
    assert (award["status"], award["amount_fen"], award["quantity_kg"]) == ("settled", price, 2_000)
    assert total(http, f"{chem}.holding", "COD", LOT) == 2_000
    assert total(http, f"{chem}.cash") == 5_000_000 - price
    assert total(http, f"{bureau}.cash") == price
    assert (
        http.post(
            "yuyao", "/v1/auctions/A1/settlements", {"bidder": chem, "signatures": [sig]}, key="s1"
        ).json()
        == award
    )
    assert http.head() == before + 1
    twice = http.post("yuyao", "/v1/auctions/A1/settlements", {"bidder": chem, "signatures": [sig]})
    assert error_of(twice)["code"] == "award_not_pending"
    nothing = http.post("yuyao", "/v1/auctions/A1/settlements", {"bidder": http.party("ningbo_petro")})
    assert (nothing.status_code, error_of(nothing)["code"]) == (404, "unknown_award")
    # the winner may submit instead, with the bureau's consent
    dye = http.party("yuyao_dye")
    bureau_sig = signed_by(
        http, "yuyao", http.get("yuyao", f"/v1/auctions/A1/settlements/{dye}/draft").json()["body"]
    )
    paid = http.post("yuyao_dye", "/v1/auctions/A1/settlements", {"bidder": dye, "signatures": [bureau_sig]})
    assert paid.status_code == 200, paid.text
    assert http.get("yuyao", "/v1/auctions/A1").json()["status"] == "settled"


def test_a_winner_who_does_not_pay_forfeits_its_deposit_after_the_deadline(market: HttpWorld) -> None:
    http = market
    _closed_auction(http)
    dye, bureau = http.party("yuyao_dye"), http.party("yuyao")
    before = http.head()
    early = http.post("yuyao", "/v1/auctions/A1/forfeitures", {"bidder": dye})
    assert (early.status_code, error_of(early)["code"]) == (409, "payment_window_open")
    assert http.post("yuyao_chem", "/v1/auctions/A1/forfeitures", {"bidder": dye}).status_code == 403
    assert http.head() == before
    with later(http, timedelta(days=6)):
        r = http.post("yuyao", "/v1/auctions/A1/forfeitures", {"bidder": dye}, key="f1")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "forfeited"
        assert http.post("yuyao", "/v1/auctions/A1/forfeitures", {"bidder": dye}, key="f1").json() == r.json()
        late = http.post("yuyao_dye", "/v1/auctions/A1/settlements", {"bidder": dye})
        assert error_of(late)["code"] == "award_not_pending"
    assert total(http, f"{dye}.cash") == 5_000_000 - DEPOSIT
    assert total(http, f"{bureau}.cash") == DEPOSIT
    assert http.head() == before + 1


def test_an_ascending_auction_shows_the_standing_price_and_extends_its_close(market: HttpWorld) -> None:
    http = market
    now = utc_now()
    terms = auction_terms(
        "ASC1",
        design="ascending",
        increment_fen_per_t=10_000,
        max_bids_per_bidder=None,
        closes_at=_iso(now + timedelta(seconds=30)),
        extension_s=240,
    )
    assert http.post("yuyao", "/v1/auctions", terms).status_code == 200
    first = http.get("yuyao_chem", "/v1/auctions/ASC1").json()["live"]
    assert (first["standing_fen_per_t"], first["next_fen_per_t"], first["bids"]) == (None, RESERVE, 0)
    assert _bid(http, "yuyao_chem", RESERVE, 1_000, auction_id="ASC1").status_code == 200
    off = _bid(http, "yuyao_dye", RESERVE + 5_000, 1_000, auction_id="ASC1")
    assert error_of(off)["code"] == "bid_not_an_increment"
    assert _bid(http, "yuyao_dye", RESERVE + 10_000, 1_000, auction_id="ASC1").status_code == 200
    live = http.get("yuyao_chem", "/v1/auctions/ASC1").json()["live"]
    assert (live["standing_fen_per_t"], live["next_fen_per_t"], live["bids"]) == (
        RESERVE + 10_000,
        RESERVE + 20_000,
        2,
    )
    assert live["closes_at"] > http.get("yuyao_chem", "/v1/auctions/ASC1").json()["closes_at"]


def test_settlement_and_drafts_of_an_open_auction_are_refused(market: HttpWorld) -> None:
    http = market
    allocate_free(http, "yuyao_chem", 100)  # unrelated rights do not make an award
    http.post("yuyao", "/v1/auctions", auction_terms())
    chem = http.party("yuyao_chem")
    assert error_of(http.get("yuyao", f"/v1/auctions/A1/settlements/{chem}/draft"))["code"] == "unknown_award"
    assert http.post("yuyao", "/v1/auctions/NOPE/settlements", {"bidder": chem}).status_code == 404


def test_metrics_and_bid_answers_reveal_no_sealed_price_bidder_or_auction(market: HttpWorld) -> None:
    """What a sealed auction's bids leave outside the bid itself: /metrics (the operator's) counts
    requests by route template and refusals by code (no price, bidder or auction id); a bidder's answer
    carries its own terms and commitment but neither its arrival number nor its salt."""
    http = market
    http.post("yuyao", "/v1/auctions", auction_terms())
    placed = _bid(http, "yuyao_chem", 612_345, 2_000).json()
    assert placed["seq"] is None
    assert "salt" not in placed
    assert error_of(_bid(http, "yuyao_dye", RESERVE - 1, 100))["code"] == "bid_below_reserve"
    metrics = http.get("operator", "/metrics").text
    assert 'route="/v1/auctions/{auction_id}/bids"' in metrics
    for secret in ("612345", "612,345", http.party("yuyao_chem"), http.party("yuyao_dye"), '"A1"', "/A1/"):
        assert secret not in metrics, secret


def test_a_winner_pays_by_signing_its_payment_proposal_with_its_own_key(market: HttpWorld) -> None:
    http = market
    _closed_auction(http)
    chem, bureau = http.party("yuyao_chem"), http.party("yuyao")
    awards = {a["bidder"]: a for a in http.get("yuyao_chem", "/v1/auctions/A1/result").json()["awards"]}
    proposal_id = awards[chem]["payment_proposal"]
    (listed,) = http.get("yuyao_chem", "/v1/proposals", params={"awaiting": "true"}).json()["items"]
    assert (listed["id"], listed["kind"], listed["expires_at"] is not None) == (
        proposal_id,
        "auction.payment",
        True,
    )
    assert [(s["party"], s["signed"]) for s in listed["signers"]] == [(bureau, True), (chem, False)]
    draft = http.get("yuyao_chem", f"/v1/auctions/A1/settlements/{chem}/draft").json()["body"]
    before = http.head()
    sig = signed_by(http, "yuyao_chem", draft)
    r = http.post("yuyao_chem", f"/v1/proposals/{proposal_id}/sign", {"signatures": [sig]}, key="pay-1")
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["record_seq"]) == ("applied", before)
    paid = {a["bidder"]: a for a in http.get("yuyao", "/v1/auctions/A1/result").json()["awards"]}[chem]
    assert (paid["status"], paid["done_seq"]) == ("settled", before)
    assert total(http, f"{chem}.holding", "COD", LOT) == 2_000
    assert total(http, f"{bureau}.cash") == paid["amount_fen"]
