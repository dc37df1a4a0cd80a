"""The ``make demo`` scenario on SQLite and PostgreSQL: it loads through the services, replays clean,
and leaves what the console shows: an open auction, both banks' pledges, the mussel batch with serials,
the cross-city transfers, a trade offer, and logins that authenticate with keys the registry holds.

One load per engine (about 4 s), then each fact checked by a helper named after it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from accounts.credentials import authenticate
from accounts.custody import Vault, custody_key
from accounts.service import get_participant
from api import demo
from api.demo import foureyes as demo_foureyes
from ledger.model import Lot
from ledger.replay import Replayer
from ledger.service import Registry, balances, controls_of, head_size, journal_lines, replay_database
from market.auctions import service as auctions
from market.auctions.state import AuctionStatus, AwardStatus, get_auction
from market.bluecarbon.serial_audit import SerialAudit
from market.bluecarbon.serials import serialized
from market.bluecarbon.service import get_batch, serials_of
from market.consent import Consent
from market.crosscity import service as crosscity
from market.foureyes import service as foureyes
from market.households.service import member_account, rosters_of
from market.pledges.service import PledgeStatus
from market.pledges.tables import PledgeRow
from market.trades.offers import OfferStatus, get_offer

Facts = demo.DemoFacts


def _party(facts: Facts, alias: str) -> str:
    return next(x.party for x in facts.logins if x.alias == alias)


def _position(s: Session, account: str, instrument: str, jurisdiction: str | None = None) -> tuple[int, int]:
    """(total, held) over the lots of one instrument (of one jurisdiction, if given)."""
    rows = [
        b
        for b in balances(s, account=account)
        if b.instrument == instrument
        and (jurisdiction is None or Lot.from_key(b.lot).jurisdiction == jurisdiction)
    ]
    return sum(b.total for b in rows), sum(b.held for b in rows)


def test_the_demo_scenario_loads_through_the_services_and_holds_what_the_console_shows(
    engine: Engine, registry: Registry
) -> None:
    vault = Vault.generate()
    facts = demo.load(engine, registry, vault)
    assert facts.participants == 21
    assert len(facts.logins) == 21 + 2  # and two named users of 宁波示例纺织 (clerk, approver)
    _the_journal_replays_clean(engine)
    _yuyao_settled_one_online_bidding_and_keeps_one_open(engine, facts)
    _both_banks_hold_pledges_at_three_different_steps(engine, facts)
    _one_cross_city_transfer_settled_and_one_awaits_ningbo(engine, facts)
    _zhoushan_vocs_were_allocated_and_traded(engine, facts)
    _a_yuyao_trade_offer_waits_for_the_dyer(engine, facts)
    _the_mussel_project_was_issued_with_serials_and_partly_retired(engine, facts)
    _the_auditors_replay_rebuilds_the_serial_blocks_the_registry_keeps(engine)
    _the_518_households_were_paid_their_split_of_the_sale(engine, facts)
    _logins_authenticate_and_a_person_can_bid_live_with_the_custody_key(engine, registry, vault, facts)
    _a_four_eyes_transfer_waits_for_the_approver_and_a_trusted_account_is_in_its_delay(engine, facts)


def _a_four_eyes_transfer_waits_for_the_approver_and_a_trusted_account_is_in_its_delay(
    engine: Engine, facts: Facts
) -> None:
    textile = _party(facts, "ningbo_textile")
    with Session(engine) as s:
        who = get_participant(s, party=textile)
        todo = foureyes.to_do(s, actor=who, user=demo_foureyes.APPROVER, now=datetime.now(UTC))
        controls = controls_of(s, party=textile)
    assert [(p.id, p.terms["quantity_kg"], p.proposed_by) for p in todo] == [
        (facts.four_eyes_pending, 12_000, demo_foureyes.CLERK)
    ]
    assert controls is not None
    assert controls.trusted_list
    [(account, since)] = controls.trusted.items()
    assert account == f"{_party(facts, 'ningbo_petro')}.holding"
    assert since > datetime.now(UTC)  # still in its delay


def _the_journal_replays_clean(engine: Engine) -> None:
    with Session(engine) as s:
        report, diff = replay_database(s)
        assert report.ok, report.failure
        assert diff == {}
        assert report.records == head_size(s) > 150


def _yuyao_settled_one_online_bidding_and_keeps_one_open(engine: Engine, facts: Facts) -> None:
    with Session(engine) as s:
        done = get_auction(s, auction_id=facts.settled_auction)
        assert done.status is AuctionStatus.SETTLED
        assert done.result is not None
        assert [a.status for a in done.result.awards] == [AwardStatus.SETTLED] * 3  # top 70% of 4 bidders
        assert (done.result.sold_kg, done.result.revenue_fen) == (3_500, 7_918_000)
        assert _position(s, f"{_party(facts, 'yuyao_dye')}.holding", "COD") == (1_500, 0)
        live = get_auction(s, auction_id=facts.live_auction)
        assert live.status is AuctionStatus.OPEN
        assert live.terms.opens_at < datetime.now(UTC) < live.terms.closes_at - timedelta(days=1)


def _both_banks_hold_pledges_at_three_different_steps(engine: Engine, facts: Facts) -> None:
    with Session(engine) as s:
        rows = {r.id: r for r in s.exec(select(PledgeRow))}
    active, partial = rows[facts.active_pledge], rows[facts.partly_released_pledge]
    pending = rows[facts.pending_pledge]
    assert (active.bank, active.status, active.held_kg) == (
        _party(facts, "bank_yuyao"),
        PledgeStatus.ACTIVE.value,
        60_000,
    )
    assert active.loan_amount_fen == 80_000_000
    # docs/valuation.md: Yuyao's settled auction and trades of the last 90 days price it, not the reference
    assert (active.price_source, active.reference_source) == ("market", "market")
    assert active.price_fen_per_tonne is not None
    assert active.price_fen_per_tonne > 1_700_000
    assert (partial.bank, partial.status, partial.held_kg, partial.released_kg) == (
        _party(facts, "bank_ningbo"),
        PledgeStatus.ACTIVE.value,
        30_000,
        20_000,
    )
    assert (pending.bank, pending.status, pending.bureau) == (
        _party(facts, "bank_ningbo"),
        PledgeStatus.APPLIED.value,
        "bureau:330281",
    )


def _one_cross_city_transfer_settled_and_one_awaits_ningbo(engine: Engine, facts: Facts) -> None:
    with Session(engine) as s:
        petro = _party(facts, "ningbo_petro")
        buyer = get_participant(s, party=petro)
        settled = crosscity.get_transfer(s, actor=buyer, request_id=facts.settled_transfer)
        awaiting = crosscity.get_transfer(s, actor=buyer, request_id=facts.awaiting_transfer)
        assert settled.status is crosscity.TransferStatus.SETTLED
        assert _position(s, f"{petro}.holding", "COD", "330200") == (10_000, 0)
        assert awaiting.status is crosscity.TransferStatus.ACCEPTED
        assert awaiting.signed_by == {awaiting.seller, awaiting.buyer, "bureau:330900"}


def _zhoushan_vocs_were_allocated_and_traded(engine: Engine, facts: Facts) -> None:
    with Session(engine) as s:
        assert _position(s, f"{_party(facts, 'zhoushan_ship')}.holding", "VOCS") == (5_000, 0)
        assert _position(s, f"{_party(facts, 'zhoushan_tank')}.holding", "VOCS") == (25_000, 0)


def _a_yuyao_trade_offer_waits_for_the_dyer(engine: Engine, facts: Facts) -> None:
    with Session(engine) as s:
        dyer = get_participant(s, party=_party(facts, "yuyao_dye"))
        offer = get_offer(s, actor=dyer, offer_id=facts.pending_trade_offer)
    assert (offer.seller, offer.status, offer.quantity_kg) == (
        _party(facts, "yuyao_chem"),
        OfferStatus.PENDING,
        2_000,
    )
    assert offer.price_fen_per_t == 2_200_000  # the cross-city offers' price, a little above the term price


def _the_mussel_project_was_issued_with_serials_and_partly_retired(engine: Engine, facts: Facts) -> None:
    coop, tank = _party(facts, "shengsi_coop"), _party(facts, "zhoushan_tank")
    with Session(engine) as s:
        (batch,) = {b.batch for b in serials_of(s, account=f"{coop}.holding")}
        row = get_batch(s, batch=batch)
        assert row.project == facts.blue_carbon_project
        assert (row.serial_start, row.serial_end, row.buffer_kg) == (1, 17_640, 1_764_000)
        (retired,) = serials_of(s, account=f"{tank}.retirement")
        assert retired.end - retired.start + 1 == 1_000  # one serial per tonne, one block
        assert _position(s, f"{tank}.retirement", "BC") == (1_000_000, 0)


def _the_auditors_replay_rebuilds_the_serial_blocks_the_registry_keeps(engine: Engine) -> None:
    """The serial book ``audit verify`` rebuilds accepts every record the services wrote (issuance, the
    households' sale, a retirement) and ends where the registry's stored blocks are."""
    audit = SerialAudit()
    replayer = Replayer(checks=[audit])
    with Session(engine) as s:
        for line in journal_lines(s):
            replayer.feed(line)
        holders = {b.account for b in balances(s) if serialized(b.instrument) and b.total > 0}
        live = sorted(b for account in holders for b in serials_of(s, account=account))
    assert audit.records == 3  # the issuance, the households' sale (bc.sale), a retirement
    assert audit.book.blocks() == live


def _the_518_households_were_paid_their_split_of_the_sale(engine: Engine, facts: Facts) -> None:
    """22,000 mu over 518 households; 3,000 t sold at 100 CNY/t: 9,000 CNY fee (3%), 291,000 CNY to them."""
    coop = _party(facts, "shengsi_coop")
    with Session(engine) as s:
        (row,) = rosters_of(s, cooperative=coop)
        assert (row.status, row.members, row.meta["total_area_cmu"]) == ("confirmed", 518, 2_200_000)
        paid = [_position(s, member_account(coop, m["member"]), "CNY")[0] for m in row.meta["members"]]
        assert sum(paid) == 29_100_000
        assert min(paid) > 0
        assert _position(s, f"{coop}.cash", "CNY") == (900_000, 0)


def _logins_authenticate_and_a_person_can_bid_live_with_the_custody_key(
    engine: Engine, registry: Registry, vault: Vault, facts: Facts
) -> None:
    """One login per role authenticates as its party; 余姚示例化工 then bids in the open auction now,
    on the wall clock, signing with the key the registry keeps for it (as the console would)."""
    by_role = {x.role: x for x in facts.logins}
    assert set(by_role) == {"operator", "auditor", "bureau", "enterprise", "bank", "cooperative"}
    with Session(engine) as s:
        for login in by_role.values():
            assert authenticate(s, login.token).party == login.party
        chem = next(x for x in facts.logins if x.alias == "yuyao_chem")
        actor = authenticate(s, chem.token)
        key = custody_key(s, vault=vault, party=chem.party, at=registry.clock())
        bid = auctions.place_bid(
            s,
            registry=registry,
            actor=actor,
            signed_by=Consent({chem.party: key}),
            auction_id=facts.live_auction,
            price_fen_per_t=2_200_000,
            quantity_kg=1_000,
            now=registry.clock(),
        )
        s.commit()
    assert bid.deposit_fen == 200_000  # 10% x 4,000 CNY x 1 t x 5 years (Quzhou's formula)
