"""Auctions on the journal, on SQLite and PostgreSQL: a forged or mismatched bid or result record is
refused by the live ledger with a stable code, and a registry-sealed forgery of one (re-signed by a
colluding bureau) fails replay and ``ecoledger audit verify`` at that record, naming the rule."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from api.cli import main
from ledger.auction_errors import (
    AuctionNotOpen,
    AuctionNotOver,
    AuctionResultMismatch,
    BidCommitmentMismatch,
    BidOutsideWindow,
)
from ledger.audit import verify_bundle
from ledger.bundle import JOURNAL, export_bundle
from ledger.errors import DomainError, HoldNotOpen, InvalidInput
from ledger.journal import parse_line, seal
from ledger.model import HoldPlace, TxBody, parse_body
from ledger.replay import replay_lines
from ledger.service import Instruction, Registry, head_size, journal_lines, new_nonce, sign_body, submit
from market.auctions import settlement as auction_settlement
from market.auctions.model import AuctionDesign
from market.consent import Consent
from tests.integration.test_market_auctions_world import (
    BUREAU,
    CLOSE,
    RESERVE_FEN_PER_T,
    World,
    minutes,
    terms,
)

P = RESERVE_FEN_PER_T
AFTER = CLOSE + timedelta(minutes=5)


@pytest.fixture
def world(engine: Engine, registry: Registry) -> World:
    """A pay-as-bid auction A1 of 1.5 t with three sealed bids: chem wins 1 t, dye 0.5 t, metal nothing."""
    w = World.create(engine, registry, extra=True)
    w.reserve(10_000)
    for alias in ("yuyao_chem", "yuyao_dye", "yuyao_metal"):
        w.fund(alias, 10_000_000)
        w.need(alias, 1_000)
    w.open(terms(design=AuctionDesign.PAY_AS_BID, quantity_kg=1_500))
    w.bid("yuyao_chem", P + 30_000, 1_000, minutes(1))
    w.bid("yuyao_dye", P + 20_000, 1_000, minutes(2))
    w.bid("yuyao_metal", P + 10_000, 1_000, minutes(3))
    return w


def honest_result(w: World, at: datetime = AFTER) -> TxBody:
    """The result record the bureau's close would write now, without writing it."""
    w.registry.clock = lambda: at
    with Session(w.engine) as s:
        auction_settlement.close_auction(
            s, registry=w.registry, actor=w.p("yuyao"), signed_by=Consent(w.keys), auction_id="A1", now=at
        )
        line = next(iter(journal_lines(s, start=head_size(s) - 1)))
        s.rollback()
    body = parse_body(json.loads(line)["record"]["body"])
    assert isinstance(body, TxBody)
    return body


def one_award_more(body: TxBody) -> TxBody:
    """The forgery: chem's award grows by 100 kg, in the allocations and in its award hold alike."""
    meta = json.loads(json.dumps(body.meta))
    meta["allocations"][0]["quantity_kg"] += 100
    holds = tuple(
        replace(op, amount=op.amount + 100)
        if isinstance(op, HoldPlace) and op.hold.endswith("EXAMPLE11X")
        else op
        for op in body.holds
    )
    return replace(body, holds=holds, meta=meta)


def with_meta(body: TxBody, change: Callable[[dict[str, Any]], None]) -> TxBody:
    meta = json.loads(json.dumps(body.meta))
    change(meta)
    return replace(body, meta=meta)


def submit_as_bureau(w: World, body: TxBody) -> None:
    with Session(w.engine) as s:
        submit(s, Instruction.signed(body, (BUREAU, w.people["yuyao"].key)), registry=w.registry)
        s.commit()


# --- the live ledger refuses ----------------------------------------------------------------------


def test_the_honest_result_is_accepted_and_reveals_every_bid_with_its_reason(world: World) -> None:
    body = honest_result(world)
    submit_as_bureau(world, body)
    assert [(r["seq"], r["reason"]) for r in body.meta["rejected"]] == [(3, "supply_exhausted")]
    assert [a["quantity_kg"] for a in body.meta["allocations"]] == [1_000, 500]


@pytest.mark.parametrize(
    ("forge", "error", "field"),
    [
        (one_award_more, AuctionResultMismatch, "body.meta.allocations"),
        (
            lambda b: with_meta(b, lambda m: m["rejected"].clear()),
            AuctionResultMismatch,
            "body.meta.rejected",
        ),
        (lambda b: with_meta(b, lambda m: m["bids"].pop()), AuctionResultMismatch, "body.meta.bids"),
        (
            lambda b: with_meta(b, lambda m: m["bids"][2].update(price_fen_per_t=P + 40_000)),
            BidCommitmentMismatch,
            "body.meta.bids[2]",
        ),
        (
            lambda b: with_meta(b, lambda m: m["bids"][0].update(salt="00" * 32)),
            BidCommitmentMismatch,
            "body.meta.bids[0]",
        ),
        (
            lambda b: with_meta(b, lambda m: m.update(revenue_fen=1)),
            AuctionResultMismatch,
            "body.meta.revenue_fen",
        ),
        (lambda b: replace(b, holds=b.holds[:-1]), AuctionResultMismatch, "body.holds"),
    ],
    ids=["award", "rejection_dropped", "bid_hidden", "price_changed", "salt_changed", "revenue", "holds"],
)
def test_the_live_ledger_refuses_a_result_that_differs_from_the_clearing(
    world: World, forge: Callable[[TxBody], TxBody], error: type[DomainError], field: str
) -> None:
    forged = forge(honest_result(world))
    before = world.snapshot()
    with pytest.raises(error) as refused:
        submit_as_bureau(world, forged)
    assert refused.value.details["field"] == field
    assert world.snapshot() == before


def test_a_result_before_the_close_is_refused_even_if_the_bureau_signs_it(world: World) -> None:
    body = honest_result(world)
    world.registry.clock = lambda: CLOSE - timedelta(seconds=1)
    with pytest.raises(AuctionNotOver):
        submit_as_bureau(world, body)
    world.registry.clock = lambda: AFTER
    submit_as_bureau(world, body)  # the same record, after the close
    with pytest.raises(HoldNotOpen):  # and only once: its hold on the lot is gone
        submit_as_bureau(world, replace(body, nonce=new_nonce()))


def bid_body(w: World, alias: str, **meta: Any) -> TxBody:
    fields = {"auction_id": "A1", "bidder": w.party(alias), "need_kg": 1_000, "deposit_fen": 0}
    fields |= {"commitment": "ab" * 32, "salt": "registry"}
    return TxBody("auction.bid", new_nonce(), signers=(w.party(alias),), meta=fields | meta)


def submit_as(w: World, alias: str, body: TxBody) -> None:
    with Session(w.engine) as s:
        submit(s, Instruction.signed(body, (w.party(alias), w.people[alias].key)), registry=w.registry)
        s.commit()


def test_the_live_ledger_refuses_bid_records_the_auction_rules_forbid(world: World) -> None:
    world.need("yuyao_paper", 500)
    before = world.snapshot()
    world.registry.clock = lambda: minutes(30)
    with pytest.raises(AuctionNotOpen):
        submit_as(world, "yuyao_chem", bid_body(world, "yuyao_chem", auction_id="NOPE"))
    with pytest.raises(InvalidInput) as no_deposit:  # a first bid of yuyao_paper owes its deposit
        submit_as(world, "yuyao_paper", bid_body(world, "yuyao_paper"))
    assert no_deposit.value.details["field"] == "body.holds"
    with pytest.raises(InvalidInput) as bad:
        submit_as(world, "yuyao_chem", bid_body(world, "yuyao_chem", commitment="not hex"))
    assert bad.value.details["field"] == "body.meta.commitment"
    world.registry.clock = lambda: CLOSE
    with pytest.raises(BidOutsideWindow):  # the window is half-open: at the close is too late
        submit_as(world, "yuyao_chem", bid_body(world, "yuyao_chem"))
    assert world.snapshot() == before


# --- replay and the auditor's bundle refuse a registry-sealed forgery -------------------------------


def forged_journal(w: World, forge: Callable[[TxBody], TxBody]) -> tuple[list[bytes], int]:
    """The journal after the honest close, its result record replaced by ``forge`` of it, re-signed by
    the bureau and re-sealed with the registry key from there on (an insider and a colluding bureau)."""
    w.close(AFTER)
    with Session(w.engine) as s:
        lines = list(journal_lines(s))
    seq = next(i for i, line in enumerate(lines) if b'"auction.result"' in line)
    out, prev = lines[:seq], parse_line(lines[seq - 1]).hash
    for line in lines[seq:]:
        rec = parse_line(line)
        raw, sigs = rec.body, list(rec.sigs)
        if rec.seq == seq:
            body = forge(parse_body(rec.body))  # type: ignore[arg-type]
            raw, sigs = body.to_json(), [sign_body(body, BUREAU, w.people["yuyao"].key)]
        sealed = seal(seq=rec.seq, prev=prev, time=rec.time, body=raw, sigs=sigs, registry=w.registry.key)
        out.append(sealed.line())
        prev = sealed.hash
    return out, seq


def test_replay_of_the_honest_journal_verifies_and_rebuilds_no_open_auction(world: World) -> None:
    world.close(AFTER)
    with Session(world.engine) as s:
        report = replay_lines(journal_lines(s))
    assert report.ok, report.failure
    assert not report.state.auctions["A1"].open


def test_replay_fails_at_a_sealed_forged_result_naming_the_rule(world: World) -> None:
    lines, seq = forged_journal(world, one_award_more)
    report = replay_lines(lines, registry_key=world.registry.key.public)
    assert report.failure is not None
    assert (report.failure.seq, report.failure.rule) == (seq, "auction_result_mismatch")
    assert report.failure.evidence["field"] == "body.meta.allocations"


def test_replay_names_a_revealed_bid_that_does_not_open_its_commitment(world: World) -> None:
    def cheaper(body: TxBody) -> TxBody:
        return with_meta(body, lambda m: m["bids"][0].update(price_fen_per_t=P))

    lines, seq = forged_journal(world, cheaper)
    report = replay_lines(lines)
    assert report.failure is not None
    assert (report.failure.seq, report.failure.rule) == (seq, "bid_commitment_mismatch")


def test_audit_verify_on_an_exported_bundle_names_the_forged_result(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines, seq = forged_journal(world, one_award_more)
    with Session(world.engine) as s:
        export_bundle(s, tmp_path / "bundle")
    assert verify_bundle(tmp_path / "bundle").ok  # the honest export verifies
    (tmp_path / "bundle" / JOURNAL).write_bytes(b"".join(line + b"\n" for line in lines))
    summary = verify_bundle(tmp_path / "bundle", registry_key=world.registry.key.public)
    assert summary.failure is not None
    assert (summary.failure.seq, summary.failure.rule) == (seq, "auction_result_mismatch")
    capsys.readouterr()
    assert main(["audit", "verify", str(tmp_path / "bundle")]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out
    assert f"record {seq}" in out or f"{seq}" in out
    assert "auction_result_mismatch" in out
