"""Clearing time of ``market.auctions.model.clear`` for 1,000, 10,000 and 100,000 bids per design, against the
target of 100,000 bids cleared in under a second (pure CPython, one core); then the settlement rate of
one closed auction with a few hundred winners (``settle_auction``, one signed delivery-versus-payment
ledger record per winner) and the time of its close, on SQLite and PostgreSQL."""

from __future__ import annotations

import argparse
import functools
import gc
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from ledger_bench import PG_URL, Backend, PostgresBackend, SqliteBackend, apply_all, load_note
from sqlalchemy import Engine, text
from sqlmodel import Session

import accounts.tables  # noqa: F401  (registers the participant tables before create_schema)
import market  # noqa: F401  (registers the workflow tables before create_schema)
from accounts.demo import DEMO_SPECS, demo_key
from accounts.identifiers import account_id, complete_credit_code
from accounts.model import EnterpriseSpec, Participant
from accounts.service import register_participant
from ledger.crypto import SigningKey
from ledger.db import make_engine
from ledger.errors import DomainError
from ledger.model import Lot, Posting, TxBody
from ledger.service import Instruction, Registry, balances, init_ledger, new_nonce, replay_database
from market.auctions.model import AuctionDesign, AuctionTerms, Bid, ClearingResult, FixedDeposit, Need, clear
from market.auctions.service import (
    AuctionStatus,
    Award,
    AwardStatus,
    get_auction,
    open_auction,
    place_bid,
    register_need,
)
from market.auctions.settlement import close_auction, settle_auction
from market.consent import Consent

TARGET_BIDS = 100_000
TARGET_S = 1.0
SIZES = (1_000, 10_000, 100_000)
DESIGNS = (
    AuctionDesign.UNIFORM_PRICE,
    AuctionDesign.PAY_AS_BID,
    AuctionDesign.ONLINE_BIDDING,
    AuctionDesign.ASCENDING,
)
BIDS_PER_BIDDER = 5
NEED_KG = 20_000
RESERVE = 2_000_000  # fen/t: COD, 4,000 CNY per tonne-year x 5 years
INCREMENT = 1_000  # fen/t
OPENS = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)
WINDOW = timedelta(hours=2)


def workload(design: AuctionDesign, n: int, rng: random.Random) -> tuple[AuctionTerms, list[Bid], list[Need]]:
    """``n`` bids from ``n / 5`` eligible bidders in random input order; supply half the demand.

    Sealed prices sit on a 1,000-fen grid over 2,000 steps, so ties at the margin are common.
    Ascending bids each raise the standing price by one increment, as an ascending auction must.
    """
    bidders = [f"913302810000{i:06d}" for i in range(max(1, n // BIDS_PER_BIDDER))]
    needs = [Need(b, "COD", "330281", NEED_KG) for b in bidders]
    step = WINDOW / (n + 1)
    bids = []
    for seq in range(n):
        price = RESERVE + (
            seq * INCREMENT if design is AuctionDesign.ASCENDING else rng.randrange(2_000) * 1_000
        )
        bids.append(
            Bid(bidders[seq // BIDS_PER_BIDDER], price, rng.randint(1, 10_000), seq, OPENS + step * seq)
        )
    rng.shuffle(bids)
    ascending = design is AuctionDesign.ASCENDING
    terms = AuctionTerms(
        auction_id=f"bench-{design.value}-{n}",
        instrument="COD",
        jurisdiction="330281",
        quantity_kg=sum(b.quantity_kg for b in bids) // 2,
        reserve_price_fen_per_t=RESERVE,
        design=design,
        opens_at=OPENS,
        closes_at=OPENS + WINDOW,
        deposit_rule=FixedDeposit(500_000),
        max_bids_per_bidder=None if ascending else 10,
        increment_fen_per_t=INCREMENT if ascending else None,
    )
    return terms, bids, needs


def time_clear(
    terms: AuctionTerms, bids: list[Bid], needs: list[Need], repeats: int
) -> tuple[float, ClearingResult]:
    """Median wall time of ``repeats`` clearings, garbage collector on (as in the service)."""
    times = []
    result = clear(terms, bids, needs)
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        again = clear(terms, bids, needs)
        times.append(time.perf_counter() - start)
        assert again == result, "clearing is not deterministic"
    return statistics.median(times), result


# -- settlement: one auction closed and settled through the services, on SQLite and PostgreSQL --

SETTLE_WINNERS = 200  # settle_auction's cost per winner grows with the winners: keeps the run short
SETTLE_AUCTION = "bench-settlement"
YUYAO = "330281"
SETTLE_VALID_UNTIL = date(2030, 12, 31)
SETTLE_LOT = Lot(jurisdiction=YUYAO, valid_until=SETTLE_VALID_UNTIL)
SETTLE_NEED_KG = 2_000  # each enterprise's approved project need (项目需求)
SETTLE_RESERVE = 600_000  # fen/t: 1.5 x Jinhua's COD base price of 4,000 CNY per tonne-year
SETTLE_BASE = 400_000  # fen/t
SETTLE_DEPOSIT = 100_000  # fen: a fixed deposit (保证金) per bidder, below every price paid
SETTLE_FUNDS = 10_000_000  # fen in each bidder's cash: more than the deposit plus the highest price
PG_SCHEMA = "ecoledger_auction_bench"  # not ledger_bench's schema: the two benches may run at once


class PrivatePostgres(PostgresBackend):
    """``ledger_bench``'s PostgreSQL backend (fresh schema per run, dropped at ``close``) in this bench's
    own schema, so that neither bench drops the other's tables."""

    def _reset_schema(self, *, create: bool) -> None:
        with self.admin.begin() as c:
            c.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
            if create:
                c.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))

    def _make(self) -> Engine:
        self._reset_schema(create=True)
        return make_engine(self.url, connect_args={"options": f"-csearch_path={PG_SCHEMA}"})


@dataclass(frozen=True)
class SettlementMarket:
    """One sealed uniform-price auction of Yuyao COD as set up (untimed) on one engine."""

    registry: Registry
    bureau: Participant
    enterprises: list[Participant]
    keys: dict[str, SigningKey]
    terms: AuctionTerms
    bids: list[Bid]  # one per enterprise, as ``place_bid`` numbered and stamped them
    needs: list[Need]


@dataclass(frozen=True)
class SettlementRun:
    label: str
    winners: int
    close_s: float
    settle_s: float
    records: int  # journal records replayed in the check
    problems: list[str]  # empty: the outcome checked out


def enterprise_spec(i: int) -> EnterpriseSpec:
    code = complete_credit_code("91", YUYAO, f"BN{i:06d}")  # synthetic, well-formed credit codes
    return EnterpriseSpec(code, f"余姚基准示例企业{i:06d}", YUYAO)


def _fixed(moment: datetime) -> datetime:
    return moment


def set_up_auction(engine: Engine, n: int, rng: random.Random) -> SettlementMarket:
    """Through the services: the operator, Yuyao's bureau and ``n`` enterprises registered; rights in
    the reserve for all bids; each enterprise funded, with a project need and one bid (deposit held)."""
    # The registry's clock walks the auction's own times: the ledger checks each bid's window and the
    # close by its record's time (ledger.auction_rules), so records must carry them.
    registry = Registry(demo_key("registry"), clock=lambda: OPENS - timedelta(days=2))
    keys: dict[str, SigningKey] = {}
    people: list[Participant] = []
    with Session(engine) as s:
        init_ledger(s, registry=registry, name="ecoledger auction settlement bench")
        for spec in (DEMO_SPECS["operator"], DEMO_SPECS["yuyao"], *map(enterprise_spec, range(n))):
            key = demo_key(spec.participant().party)
            people.append(register_participant(s, registry=registry, spec=spec, public_key=key.public))
            keys[people[-1].party] = key
        s.commit()
    operator, bureau, *enterprises = people
    bids = [
        Bid(
            e.party,
            SETTLE_RESERVE + rng.randrange(200) * 1_000,
            rng.randint(1, SETTLE_NEED_KG),
            seq,
            OPENS + timedelta(seconds=seq),
        )
        for seq, e in enumerate(enterprises, start=1)
    ]
    offered = sum(b.quantity_kg for b in bids)  # supply = demand: all win, the lowest bid sets the price
    reserve = Posting(account_id(bureau.party, "reserve"), "COD", SETTLE_LOT, offered)
    cap = Posting(account_id(bureau.party, "cap", "COD"), "COD", SETTLE_LOT, -offered)
    funding = [
        Instruction.signed(
            TxBody(
                "cash.deposit",
                new_nonce(),
                (
                    Posting(account_id(operator.party, "settlement"), "CNY", Lot(), -SETTLE_FUNDS),
                    Posting(account_id(e.party, "cash"), "CNY", Lot(), SETTLE_FUNDS),
                ),
            ),
            (operator.party, keys[operator.party]),
        )
        for e in enterprises
    ]
    cap_set = Instruction.signed(
        TxBody("cap.set", new_nonce(), (cap, reserve)), (bureau.party, keys[bureau.party])
    )
    apply_all(engine, registry, [cap_set, *funding], 1000)
    terms = AuctionTerms(
        auction_id=SETTLE_AUCTION,
        instrument="COD",
        jurisdiction=YUYAO,
        quantity_kg=offered,
        reserve_price_fen_per_t=SETTLE_RESERVE,
        design=AuctionDesign.UNIFORM_PRICE,
        opens_at=OPENS,
        closes_at=OPENS + WINDOW,
        deposit_rule=FixedDeposit(SETTLE_DEPOSIT),
        base_price_fen_per_t=SETTLE_BASE,
    )
    bureau_keys = {bureau.party: keys[bureau.party]}
    registry.clock = lambda: OPENS - timedelta(hours=1)
    with Session(engine) as s:
        for e in enterprises:
            register_need(
                s,
                actor=bureau,
                enterprise=e.party,
                instrument="COD",
                approved_kg=SETTLE_NEED_KG,
                project="bench production line",
                now=OPENS - timedelta(days=1),
            )
        open_auction(
            s,
            registry=registry,
            actor=bureau,
            signed_by=Consent(bureau_keys),
            terms=terms,
            valid_until=SETTLE_VALID_UNTIL,
            now=OPENS - timedelta(hours=1),
        )
        for e, bid in zip(enterprises, bids, strict=True):
            registry.clock = functools.partial(_fixed, bid.at)
            accepted = place_bid(
                s,
                registry=registry,
                actor=e,
                signed_by=Consent({e.party: keys[e.party]}),
                auction_id=SETTLE_AUCTION,
                price_fen_per_t=bid.price_fen_per_t,
                quantity_kg=bid.quantity_kg,
                now=bid.at,
            )
            assert accepted.bid == bid, "bids are numbered in arrival order"
        s.commit()
    needs = [Need(e.party, "COD", YUYAO, SETTLE_NEED_KG) for e in enterprises]
    return SettlementMarket(registry, bureau, enterprises, keys, terms, bids, needs)


def time_settlement(backend: Backend, n: int, seed: int) -> SettlementRun:
    """Set up (untimed), then time the bureau's close and ``settle_auction`` of every winner, each
    service call in its own session with its commit; then check the outcome (untimed)."""
    engine = backend.fresh()
    m = set_up_auction(engine, n, random.Random(seed))
    bureau_keys = {m.bureau.party: m.keys[m.bureau.party]}
    gc.collect()
    m.registry.clock = lambda: OPENS + WINDOW
    start = time.perf_counter()
    with Session(engine) as s:
        close_auction(
            s,
            registry=m.registry,
            actor=m.bureau,
            signed_by=Consent(bureau_keys),
            auction_id=SETTLE_AUCTION,
            now=OPENS + WINDOW,
        )
        s.commit()
    close_s = time.perf_counter() - start
    gc.collect()
    m.registry.clock = lambda: OPENS + WINDOW + timedelta(hours=1)
    start = time.perf_counter()
    with Session(engine) as s:
        outcome = settle_auction(
            s,
            registry=m.registry,
            actor=m.bureau,
            signed_by=Consent(m.keys),  # the bureau and every winner sign their delivery versus payment
            auction_id=SETTLE_AUCTION,
            now=OPENS + WINDOW + timedelta(hours=1),
        )
        s.commit()
    settle_s = time.perf_counter() - start
    records, problems = check_settlement(engine, m, outcome)
    backend.release()
    settled = sum(isinstance(a, Award) and a.status is AwardStatus.SETTLED for a in outcome.values())
    return SettlementRun(backend.label, settled, close_s, settle_s, records, problems)


def check_settlement(
    engine: Engine, m: SettlementMarket, outcome: dict[str, Award | DomainError]
) -> tuple[int, list[str]]:
    """Journal records replayed, and what is wrong (nothing, if the settlement was correct work).

    Every bidder won (supply = demand) and settled exactly what a pure ``clear`` of the same bids
    awards; the auction is settled; the journal replays (signatures, chain, checkpoints) to the live
    balances; and the money and rights are where delivery versus payment puts them, nothing held.
    """
    problems: list[str] = []
    expected = clear(m.terms, m.bids, m.needs)
    dues = expected.amounts_due_fen()
    if len(dues) != len(m.enterprises):
        problems.append(f"{len(dues)} winners in the pure clearing, not {len(m.enterprises)}")
    refused = {
        b: o for b, o in outcome.items() if not isinstance(o, Award) or o.status is not AwardStatus.SETTLED
    }
    if refused:
        bidder, first = next(iter(refused.items()))
        problems.append(f"{len(refused)} winners not settled, first {bidder}: {first!r}")
    if set(outcome) != set(dues):
        problems.append("the settled winners are not the winners of a pure clearing of the same bids")
    wrong = [
        b
        for b, a in outcome.items()
        if isinstance(a, Award) and (a.quantity_kg, a.amount_fen) != (expected.awarded_kg(b), dues.get(b))
    ]
    if wrong:
        problems.append(f"{len(wrong)} awards differ from the pure clearing, first {wrong[0]}")
    with Session(engine) as s:
        status = get_auction(s, auction_id=SETTLE_AUCTION).status
        report, diff = replay_database(s)
        live = balances(s)
    if status is not AuctionStatus.SETTLED:
        problems.append(f"the auction is {status.value}, not settled")
    if not report.ok or diff:
        problems.append(
            f"replay failed ({report.failure}; {len(diff)} positions differ from the live tables)"
        )
    pos: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])  # (account, instrument): total, held
    sums: dict[tuple[str, str], int] = defaultdict(int)  # (instrument, lot): sum over accounts
    for b in live:
        pos[b.account, b.instrument][0] += b.total
        pos[b.account, b.instrument][1] += b.held
        sums[b.instrument, b.lot] += b.total
    want: dict[tuple[str, str], list[int]] = {
        (account_id(m.bureau.party, "cash"), "CNY"): [expected.revenue_fen, 0],
        (account_id(m.bureau.party, "reserve"), "COD"): [m.terms.quantity_kg - expected.sold_kg, 0],
    }
    for e in m.enterprises:
        want[account_id(e.party, "cash"), "CNY"] = [SETTLE_FUNDS - dues.get(e.party, 0), 0]
        want[account_id(e.party, "holding"), "COD"] = [expected.awarded_kg(e.party), 0]
    off = [k for k, v in want.items() if pos.get(k, [0, 0]) != v]
    if off:
        problems.append(
            f"{len(off)} positions are not where delivery versus payment puts them, first {off[0]}"
        )
    unbalanced = [k for k, total in sums.items() if total != 0]
    if unbalanced:
        problems.append(f"not conserved: {unbalanced[0]} sums to {sums[unbalanced[0]]}")
    return report.records, problems


def settlement_backends(pg_url: str | None, directory: Path) -> list[Backend]:
    backends: list[Backend] = [SqliteBackend(directory)]
    if pg_url is None:
        print("PostgreSQL skipped (--no-pg)")
        return backends
    pg = PrivatePostgres.connect(pg_url)
    if isinstance(pg, str):
        print(pg + "; settlement on SQLite only")
    else:
        backends.append(pg)
    return backends


def run_settlement(n: int, pg_url: str | None, seed: int) -> bool:
    """Print the close time and settlements/s on each engine; False if any outcome was wrong."""
    print(
        f"settlement: one sealed uniform-price auction of {n:,} bidders (project need, funded cash, "
        "deposit, one bid); all win"
    )
    print("  close:  close_auction (clearing, one auction.result record) and its commit")
    print("  settle: settle_auction, one auction.settle record per winner (delivery versus payment,")
    print("          signed by the bureau and the winner), one commit")
    print("  set-up before and checks after (replay, positions, a pure clearing of the same bids) not timed")
    load_note(os.getloadavg()[0], "before settlement")
    ok = True
    with tempfile.TemporaryDirectory(prefix="ecoledger-auction-bench-") as tmp:
        backends = settlement_backends(pg_url, Path(tmp))
        print()
        print(f"{'engine':<12}{'winners':>9}{'close (ms)':>12}{'settle (s)':>12}{'settlements/s':>15}  check")
        try:
            for backend in backends:
                r = time_settlement(backend, n, seed)
                check = (
                    f"ok: replay of {r.records:,} records matches, positions conserved"
                    if not r.problems
                    else "FAILED: " + "; ".join(r.problems)
                )
                ok &= not r.problems
                print(
                    f"{r.label:<12}{r.winners:>9,}{r.close_s * 1000:>12.1f}{r.settle_s:>12.2f}"
                    f"{r.winners / r.settle_s:>15,.1f}  {check}",
                    flush=True,
                )
        finally:
            for backend in backends:
                backend.close()
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=5, help="timed clearings per cell; the median counts")
    p.add_argument("--seed", type=int, default=20250303)
    p.add_argument("--winners", type=int, default=SETTLE_WINNERS, help="bidders (all win) in the settlement")
    p.add_argument("--pg-url", default=PG_URL, help="PostgreSQL URL for the settlement (default %(default)s)")
    p.add_argument("--no-pg", action="store_true", help="settlement on SQLite only")
    p.add_argument("--settlement-only", action="store_true", help="skip the clearing table")
    args = p.parse_args(argv)
    print(
        f"auction clearing bench: Python {sys.version.split()[0]}, {platform.machine()} {platform.system()}"
    )
    load_note(os.getloadavg()[0], "at start")
    failures = []
    if not args.settlement_only:
        print(f"median of {args.repeats} runs; {BIDS_PER_BIDDER} bids per bidder; supply = half the demand")
        print()
        print(f"{'design':<16}{'bids':>10}{'clear (ms)':>13}{'bids/s':>13}{'winners':>10}{'rejected':>11}")
        for design in DESIGNS:
            for n in SIZES:
                terms, bids, needs = workload(design, n, random.Random(args.seed + n))
                seconds, result = time_clear(terms, bids, needs, args.repeats)
                print(
                    f"{design.value:<16}{n:>10,}{seconds * 1000:>13.1f}{n / seconds:>13,.0f}"
                    f"{len(result.winners()):>10,}{len(result.rejected):>11,}"
                )
                if n == TARGET_BIDS and seconds >= TARGET_S:
                    failures.append(f"{design.value} {seconds:.3f} s")
        print()
        verdict = "FAIL (" + ", ".join(failures) + ")" if failures else "PASS"
        print(f"target: {TARGET_BIDS:,} bids cleared in under {TARGET_S:.0f} s for every design: {verdict}")
        print()
    settled_ok = run_settlement(args.winners, None if args.no_pg else args.pg_url, args.seed)
    return 1 if failures or not settled_ok else 0


if __name__ == "__main__":
    raise SystemExit(main())
