"""Fifty concurrent clients trading, transferring, bidding and pledging on a few hot accounts, both engines:
every acknowledged commit is journaled, nothing goes negative or is lost, replay agrees, no hold orphaned.

The clients write as the API's routes do, through one group-commit sequencer: each operation a unit
(savepoint) of a shared transaction, or a plain transfer in the group's batch; refusals inside a group
must leave the group's other writes committed and acknowledged.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlmodel import Session

from accounts.demo import DEMO_SPECS, DemoParticipant, demo_key
from accounts.identifiers import complete_credit_code
from accounts.model import EnterpriseSpec, Participant
from accounts.permissions import Action
from accounts.service import register_participant, submit_as
from ledger.crypto import SigningKey
from ledger.db import make_engine, read_only
from ledger.errors import InsufficientBalance, InvalidQuantity, UnitsEncumbered
from ledger.journal import GENESIS_PREV
from ledger.model import AccountKind, Lot, Posting, TxBody
from ledger.repository import HD, A, B, H, J, table
from ledger.sequencer import Sequencer
from ledger.service import Instruction, Registry, init_ledger, new_nonce, replay_database, submit
from ledger.tables import CheckpointRow
from ledger.timeutil import utc_now
from market.auctions import service as auctions
from market.auctions.errors import AuctionClosed, BidExceedsNeed, TooManyBids
from market.auctions.model import FixedDeposit
from market.auctions.tables import AuctionBidRow, AuctionRow
from market.consent import Consent
from market.pledges.errors import CollateralUnavailable, PledgeStateConflict
from market.pledges.service import (
    PledgeStatus,
    apply_for_pledge,
    approve_pledge,
    cancel_pledge,
    confirm_pledge,
    record_loan,
    release_pledge,
)
from market.pledges.tables import PledgeRow
from market.trades.service import trade
from market.trades.transfers import submit_transfer
from tests.integration.test_market_auctions_world import BUREAU, EXTRA, LOT, VALID_UNTIL, YUYAO, terms

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("concurrency")]

CLIENTS = 50
PG_POOL = 16
OPS_PER_CLIENT = (10, 20)
SEED = 20261123  # client i runs the script of random.Random(SEED + i)


class StaleRequest(Exception):
    """A client's request built on a state that changed before it ran (a partial release larger than
    what is still held): refused by the service, and legitimately so."""


# Legitimate refusals: a client asked for something the state no longer allows. Anything else
# (IntegrityError, a deadlock, "database is locked", a PermissionDenied from a bad script) fails.
REFUSALS: tuple[type[Exception], ...] = (
    InsufficientBalance,
    UnitsEncumbered,
    AuctionClosed,
    TooManyBids,
    BidExceedsNeed,
    CollateralUnavailable,
    PledgeStateConflict,
    StaleRequest,
)

ENTERPRISES = (
    "yuyao_chem",
    "yuyao_dye",
    "yuyao_paper",
    "yuyao_metal",
    "yuyao_textile",
    "yuyao_plastic",
)
BANKS = ("bank_yuyao", "bank_ningbo")
SPECS = {
    alias: DEMO_SPECS[alias]
    for alias in ("operator", "yuyao", "yuyao_chem", "yuyao_dye", "bank_yuyao", "bank_ningbo")
} | {
    **EXTRA,
    "yuyao_textile": EnterpriseSpec(
        complete_credit_code("91", YUYAO, "EXAMPLEA"), "余姚示例纺织有限公司", YUYAO
    ),
    "yuyao_plastic": EnterpriseSpec(
        complete_credit_code("91", YUYAO, "EXAMPLEB"), "余姚示例塑料有限公司", YUYAO
    ),
}

RESERVE_KG = 40_000
OFFERED_KG = 20_000  # on hold in the reserve for the auction the whole run
ALLOCATED_KG = 3_000  # each enterprise's rights: trades and pledges of up to 1.5 t make it run short
CASH_FEN = 3_000_000  # 30,000 CNY each: a deposit plus a few trades, then refusals
RESERVE_FEN_PER_T = 600_000
DEPOSIT_FEN = 100_000
PLEDGE_ORDER = ("applied", "approved", "loan_recorded", "active", "released")


# -- the world ------------------------------------------------------------------------------------


@dataclass
class Market:
    """The registry, its participants and the auction, set up through the real services."""

    engine: Engine
    registry: Registry
    people: dict[str, DemoParticipant]
    sequencer: Sequencer | None = None  # the clients' one writer, as a server process has

    def p(self, alias: str) -> Participant:
        return self.people[alias].participant

    def party(self, alias: str) -> str:
        return self.people[alias].party

    def key(self, alias: str) -> SigningKey:
        return self.people[alias].key

    def consent(self, alias: str) -> Consent:
        return Consent.custody(self.party(alias), self.key(alias))

    @property
    def keys(self) -> dict[str, SigningKey]:
        return {d.party: d.key for d in self.people.values()}


def build_market(engine: Engine) -> Market:
    registry = Registry(SigningKey.from_seed(bytes(range(32))), checkpoint_every=64)
    people: dict[str, DemoParticipant] = {}
    with Session(engine) as s:
        init_ledger(s, registry=registry, name="ecoledger mixed concurrency test")
        for alias, spec in SPECS.items():
            key = demo_key(spec.participant().party)
            participant = register_participant(s, registry=registry, spec=spec, public_key=key.public)
            people[alias] = DemoParticipant(participant, key)
        s.commit()
    m = Market(engine, registry, people)
    bureau, operator = people["yuyao"], people["operator"]
    bodies = [
        TxBody(
            "cap.set",
            new_nonce(),
            (
                Posting(f"{BUREAU}.cap.COD", "COD", LOT, -RESERVE_KG),
                Posting(f"{BUREAU}.reserve", "COD", LOT, RESERVE_KG),
            ),
        )
    ]
    signers = [bureau]
    for alias in ENTERPRISES:
        bodies.append(
            TxBody(
                "allocation.initial",
                new_nonce(),
                (
                    Posting(f"{BUREAU}.reserve", "COD", LOT, -ALLOCATED_KG),
                    Posting(f"{m.party(alias)}.holding", "COD", LOT, ALLOCATED_KG),
                ),
            )
        )
        signers.append(bureau)
        bodies.append(
            TxBody(
                "cash.deposit",
                new_nonce(),
                (
                    Posting(f"{operator.party}.settlement", "CNY", Lot(), -CASH_FEN),
                    Posting(f"{m.party(alias)}.cash", "CNY", Lot(), CASH_FEN),
                ),
            )
        )
        signers.append(operator)
    for body, who in zip(bodies, signers, strict=True):
        with Session(engine) as s:
            submit(s, Instruction.signed(body, (who.party, who.key)), registry=registry)
            s.commit()
    now = utc_now()
    with Session(engine) as s:
        for i, alias in enumerate(ENTERPRISES):
            auctions.register_need(
                s,
                actor=m.p("yuyao"),
                enterprise=m.party(alias),
                instrument="COD",
                approved_kg=2_000 + 500 * i,
                project=f"{alias} new production line",
                now=now,
            )
        s.commit()
    with Session(engine) as s:
        auctions.open_auction(
            s,
            registry=registry,
            actor=m.p("yuyao"),
            signed_by=Consent(m.keys),
            terms=terms(
                quantity_kg=OFFERED_KG,
                reserve_price_fen_per_t=RESERVE_FEN_PER_T,
                deposit_rule=FixedDeposit(DEPOSIT_FEN),
                # Open around the real clock: bids are stamped with utc_now(), as a request's are.
                opens_at=now - timedelta(hours=1),
                closes_at=now + timedelta(days=1),
            ),
            valid_until=VALID_UNTIL,
            now=now,
        )
        s.commit()
    return m


@pytest.fixture
def hot_engine(engine: Engine) -> Iterator[Engine]:
    """The test's database (emptied by conftest) through an engine sized for the clients.

    SQLite: a connection per client, so all 50 contend for the write lock in SQLite itself, as
    threads of one server process would. PostgreSQL: a bounded pool, as an application server has:
    50 connections, twice when two runs share the server, would pass its max_connections of 100,
    and 16 transactions at once still queue on the head lock. Waiting for a connection is a queue,
    not a failure, so the pool's timeout is generous (a thread returning a connection may take it
    again before a waiter wakes, so single waits run long under load).
    """
    if engine.dialect.name == "sqlite":
        hot = make_engine(str(engine.url), pool_size=CLIENTS + 4, max_overflow=0)
    else:
        with engine.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        hot = make_engine(
            engine.url.render_as_string(hide_password=False),
            pool_size=PG_POOL,
            max_overflow=0,
            pool_timeout=120,
            connect_args={"options": f"-csearch_path={schema}"},
        )
    yield hot
    hot.dispose()


# -- what the clients saw acknowledged ------------------------------------------------------------


@dataclass
class Log:
    """Everything acknowledged (committed) and everything refused, shared by the client threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    records: list[tuple[int, str, str]] = field(default_factory=list)  # (seq, hash hex, op)
    bids: list[tuple[str, int]] = field(default_factory=list)  # (auction, bid seq)
    pledge_steps: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    refused: Counter[str] = field(default_factory=Counter)
    done: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # each operation, begin to commit or refusal
    groups: dict[int | None, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))


def _tip(s: Session) -> tuple[int, str]:
    """The last record this transaction wrote: it holds the sequencer lock until it commits, so
    the head it reads is its own (PostgreSQL: the locked journal_head row; SQLite: the write lock)."""
    row = s.connection().execute(select(HD.c.next_seq, HD.c.hash).where(HD.c.id == 1)).one()
    return int(row.next_seq) - 1, bytes(row.hash).hex()


class Client:
    """One client: a seeded script of operations, each a unit of the sequencer's current group."""

    def __init__(self, m: Market, log: Log, index: int) -> None:
        self.m, self.log, self.index = m, log, index
        self.rng = random.Random(SEED + index)

    def run(self) -> None:
        ops: list[tuple[Callable[[Session], dict[str, Any]], int]] = [
            (self.trade, 4),
            (self.transfer, 3),
            (self.bid, 3),
            (self.pledge_step, 5),
        ]
        funcs, weights = zip(*ops, strict=True)
        assert self.m.sequencer is not None
        seq = self.m.sequencer
        for step in range(self.rng.randint(*OPS_PER_CLIENT)):
            op = self.rng.choices(funcs, weights)[0]
            name, began = op.__name__, time.perf_counter()
            try:
                if op == self.transfer and self.rng.random() < 0.5:
                    ack = self.batched_transfer()  # the /v1/instructions path: the group's batch
                else:
                    with seq.unit() as s:  # a route's path: a savepoint of the group
                        ack = op(s)
            except REFUSALS as exc:
                with self.log.lock:
                    self.log.refused[f"{name}:{type(exc).__name__}"] += 1
                    self.log.seconds.append(time.perf_counter() - began)
                    self.log.groups[seq.last_group]["refused"] += 1
                continue
            except Exception:
                # Kept with its traceback for the report; this client stops, the others go on.
                with self.log.lock:
                    self.log.failures.append(
                        f"client {self.index} (seed {SEED + self.index}) op {step} {name} "
                        f"after {time.perf_counter() - began:.1f} s:\n" + traceback.format_exc()
                    )
                return
            with self.log.lock:
                self.log.seconds.append(time.perf_counter() - began)
                self.log.groups[seq.last_group]["committed"] += 1
            self.acknowledge(name, ack)

    def acknowledge(self, name: str, ack: dict[str, Any]) -> None:
        with self.log.lock:
            self.log.done[name] += 1
            if "record" in ack:
                seq, digest = ack["record"]
                self.log.records.append((seq, digest, ack.get("kind", name)))
            if "bid" in ack:
                self.log.bids.append(ack["bid"])
            if "pledge" in ack:
                pledge_id, status = ack["pledge"]
                self.log.pledge_steps[pledge_id].append(status)

    # -- operations: each returns what it wrote, read inside its transaction ------------------------

    def two_enterprises(self) -> tuple[str, str]:
        a, b = self.rng.sample(ENTERPRISES, 2)
        return a, b

    def trade(self, s: Session) -> dict[str, Any]:
        seller, buyer = self.two_enterprises()
        done = trade(
            s,
            registry=self.m.registry,
            actor=self.m.p(self.rng.choice((seller, buyer))),
            signed_by=Consent(self.m.keys),
            seller=self.m.party(seller),
            buyer=self.m.party(buyer),
            instrument="COD",
            valid_until=VALID_UNTIL,
            quantity_kg=self.rng.randint(1, 1_500),
            price_fen_per_t=self.rng.randint(RESERVE_FEN_PER_T, 1_700_000),
        )
        seq, digest = _tip(s)
        assert seq == done.seq
        return {"record": (seq, digest)}

    def transfer_body(self) -> tuple[str, TxBody]:
        """A plain signed transfer of rights, as the sender's own request (rule set 2 moves CNY only
        against rights, in trades and settlements)."""
        src, dst = self.two_enterprises()
        kind, inst, lot, amount = "holding", "COD", LOT, self.rng.randint(1, 1_000)
        body = TxBody(
            "transfer",
            new_nonce(),
            (
                Posting(f"{self.m.party(src)}.{kind}", inst, lot, -amount),
                Posting(f"{self.m.party(dst)}.{kind}", inst, lot, amount),
            ),
        )
        return src, body

    def transfer(self, s: Session) -> dict[str, Any]:
        """A plain signed transfer of rights or of cash, as the sender's own request."""
        src, body = self.transfer_body()
        receipt = submit_as(
            s,
            registry=self.m.registry,
            actor=self.m.p(src),
            action=Action.TRANSFER_UNITS,
            instruction=Instruction.signed(body, (self.m.party(src), self.m.key(src))),
        )
        assert _tip(s) == (receipt.seq, receipt.hash)
        return {"record": (receipt.seq, receipt.hash)}

    def batched_transfer(self) -> dict[str, Any]:
        """The same transfer handed to the sequencer's batch, as /v1/instructions does (which awaits
        it from the event loop: ``submit_async``, tests/integration/test_ledger_sequencer_async.py)."""
        assert self.m.sequencer is not None
        src, body = self.transfer_body()
        receipt = submit_transfer(
            self.m.sequencer,
            registry=self.m.registry,
            actor=self.m.p(src),
            instruction=Instruction.signed(body, (self.m.party(src), self.m.key(src))),
        )
        return {"record": (receipt.seq, receipt.hash)}

    def bid(self, s: Session) -> dict[str, Any]:
        bidder = self.rng.choice(ENTERPRISES)
        accepted = auctions.place_bid(
            s,
            registry=self.m.registry,
            actor=self.m.p(bidder),
            signed_by=Consent(self.m.keys),
            auction_id="A1",
            price_fen_per_t=RESERVE_FEN_PER_T + 10_000 * self.rng.randint(0, 50),
            quantity_kg=self.rng.randint(100, 2_000),  # within every need (2,000 kg and up)
            now=utc_now(),
        )
        ack: dict[str, Any] = {"bid": ("A1", accepted.bid.seq)}
        seq, digest = _tip(s)  # every bid is a journal record (auction.bid), with a deposit or not
        assert seq == accepted.record_seq
        ack["record"] = (seq, digest)
        return ack

    def pledge_step(self, s: Session) -> dict[str, Any]:
        """Advance a random pledge by one step, or start one: whichever party's turn it is."""
        rows = s.connection().execute(select(table(PledgeRow).c.id, table(PledgeRow).c.status)).all()
        by_status: dict[str, list[str]] = defaultdict(list)
        for r in rows:
            by_status[r.status].append(r.id)
        choices = ["apply"] + [
            st for st in ("applied", "approved", "loan_recorded", "active") if by_status[st]
        ]
        step = self.rng.choice(choices)
        if step == "apply":
            pledge = apply_for_pledge(
                s,
                registry=self.m.registry,
                actor=self.m.p(self.rng.choice(ENTERPRISES)),
                bank=self.m.party(self.rng.choice(BANKS)),
                instrument_code="COD",
                lot=LOT,
                quantity_kg=self.rng.randint(100, 1_500),
            )
            return {"pledge": (pledge.id, pledge.status.value)}
        pledge_id = self.rng.choice(sorted(by_status[step]))
        row = s.get(PledgeRow, pledge_id)
        assert row is not None
        enterprise, bank = self._alias(row.enterprise), self._alias(row.bank)
        if step == "applied":
            if self.rng.random() < 0.1:
                pledge = cancel_pledge(s, actor=self.m.p("yuyao"), pledge_id=pledge_id, reason="refused")
            else:
                pledge = approve_pledge(
                    s,
                    registry=self.m.registry,
                    actor=self.m.p("yuyao"),
                    pledge_id=pledge_id,
                    approved_kg=row.applied_kg,
                    certificate_no=f"ZJPW-{YUYAO}-{pledge_id}",
                    signed_by=self.m.consent("yuyao"),
                )
        elif step == "approved":
            pledge = record_loan(
                s,
                registry=self.m.registry,
                actor=self.m.p(bank),
                pledge_id=pledge_id,
                loan_id=f"LN-{pledge_id}",
                # Half the reserve price: every trade and award here is at or above the reserve, so the
                # market's 90-day price (docs/valuation.md) keeps this loan under 80% of the value.
                amount_fen=(row.approved_kg or 0) * RESERVE_FEN_PER_T // 2_000,
                rate_bp=385,
                term_months=12,
                signed_by=self.m.consent(bank),
            )
        elif step == "loan_recorded":
            pledge = confirm_pledge(
                s,
                registry=self.m.registry,
                actor=self.m.p(enterprise),
                pledge_id=pledge_id,
                signed_by=self.m.consent(enterprise),
            )
            seq, digest = _tip(s)
            assert seq == pledge.record_seq
            return {"pledge": (pledge.id, pledge.status.value), "record": (seq, digest), "kind": "confirm"}
        else:
            # ``row`` is read unlocked: another release may have emptied it since (then the
            # service refuses the step, PledgeStateConflict).
            partial = row.held_kg > 0 and self.rng.random() < 0.5
            quantity = self.rng.randint(1, row.held_kg) if partial else None
            try:
                pledge = release_pledge(
                    s,
                    registry=self.m.registry,
                    actor=self.m.p(bank),
                    pledge_id=pledge_id,
                    signed_by=self.m.consent(bank),
                    quantity_kg=quantity,
                )
            except InvalidQuantity as exc:
                # The bank asked for part of what it saw held before another release committed.
                raise StaleRequest(str(exc)) from exc
            return {"pledge": (pledge.id, pledge.status.value), "record": _tip(s), "kind": "release"}
        return {"pledge": (pledge.id, pledge.status.value)}

    def _alias(self, party: str) -> str:
        return next(a for a, d in self.m.people.items() if d.party == party)


# -- invariants -----------------------------------------------------------------------------------

Totals = dict[tuple[str, str], int]


def _positions(s: Session) -> list[Any]:
    return list(
        s.connection().execute(
            select(B.c.account, B.c.instrument, B.c.lot, B.c.total, B.c.held, A.c.kind).join(
                A, A.c.id == B.c.account
            )
        )
    )


def _totals(rows: list[Any]) -> tuple[Totals, Totals]:
    """Per (instrument, lot): what holders hold, and what the issuing accounts (cap, settlement
    gateway: the only ones allowed below zero) stand at."""
    held: Totals = defaultdict(int)
    issuing: Totals = defaultdict(int)
    for r in rows:
        (issuing if AccountKind(r.kind).may_be_negative else held)[(r.instrument, r.lot)] += r.total
    return dict(held), dict(issuing)


def _violations(rows: list[Any], issued: Totals, issuing: Totals) -> list[str]:
    """Negative positions and broken conservation in one consistent read of the balances."""
    out = []
    for r in rows:
        if r.held < 0 or (not AccountKind(r.kind).may_be_negative and (r.total < 0 or r.total < r.held)):
            out.append(f"negative: {r.account} {r.instrument} {r.lot} total {r.total} held {r.held}")
    held_now, issuing_now = _totals(rows)
    if held_now != issued:
        out.append(f"holders hold {held_now}, {issued} was issued")
    if issuing_now != issuing:
        out.append(f"issuing accounts moved: {issuing_now} != {issuing}")
    return out


def _auditor(engine: Engine, issued: Totals, issuing: Totals, stop: threading.Event, seen: list[str]) -> None:
    """Reads the balances while the clients write: a transient violation fails too. ``seen`` gets
    one "read" per consistent read and every violation found in it."""
    reader = read_only(engine)  # SQLite: a WAL snapshot, without queueing for the write lock
    while not stop.is_set():
        with Session(reader) as s:
            seen.extend(["read", *_violations(_positions(s), issued, issuing)])
        stop.wait(0.02)


def _check_journal(s: Session, log: Log, first_run_seq: int) -> int:
    rows = s.connection().execute(select(J.c.seq, J.c.prev, J.c.hash).order_by(J.c.seq)).all()
    seqs = [r.seq for r in rows]
    assert seqs == list(range(len(rows))), "the journal has a gap"
    assert bytes(rows[0].prev) == GENESIS_PREV
    broken = [r.seq for prev, r in itertools.pairwise(rows) if bytes(r.prev) != bytes(prev.hash)]
    assert broken == [], f"records not linked to their predecessor: {broken[:10]}"
    head = s.connection().execute(select(HD.c.next_seq, HD.c.hash)).one()
    assert (head.next_seq, bytes(head.hash)) == (len(rows), bytes(rows[-1].hash))
    acked = Counter(seq for seq, _, _ in log.records)
    assert [seq for seq, n in acked.items() if n > 1] == [], "one seq acknowledged to two clients (a fork)"
    stored = {r.seq: bytes(r.hash).hex() for r in rows}
    lost = [(seq, op) for seq, digest, op in log.records if stored.get(seq) != digest]
    assert lost == [], f"acknowledged records missing or different in the journal: {lost[:10]}"
    unacknowledged = sorted(set(range(first_run_seq, len(rows))) - set(acked))
    assert unacknowledged == [], f"records no client was told about: {unacknowledged[:10]}"
    return len(rows)


def _check_holds(s: Session, log: Log) -> None:
    c = s.connection()
    open_holds = {r.id: r for r in c.execute(select(H).where(H.c.status == "open"))}
    auction_holds = {r.hold: r for r in c.execute(select(table(AuctionRow)))}
    bids = list(c.execute(select(table(AuctionBidRow))))
    pledges = {r.id: r for r in c.execute(select(table(PledgeRow)))}
    deposits = {b.deposit_hold: b for b in bids if b.deposit_hold is not None}
    orphans = []
    for hid, h in open_holds.items():
        if hid in auction_holds:
            ok = auction_holds[hid].status == "open" and h.amount == auction_holds[hid].quantity_kg
        elif hid in deposits:
            ok = h.amount == deposits[hid].deposit_fen and h.account == f"{deposits[hid].bidder}.cash"
        elif hid.startswith("pledge.") and hid.removeprefix("pledge.") in pledges:
            p = pledges[hid.removeprefix("pledge.")]
            ok = p.status == PledgeStatus.ACTIVE.value and h.amount == p.held_kg and h.account == p.account
        else:
            ok = False
        if not ok:
            orphans.append(hid)
    assert orphans == [], f"holds with no live bid, auction or pledge behind them: {orphans[:10]}"
    assert [h for h in deposits if h not in open_holds] == [], "a bid's deposit is not held"
    active = [p for p in pledges.values() if p.status == PledgeStatus.ACTIVE.value]
    unheld = [p.id for p in active if f"pledge.{p.id}" not in open_holds]
    assert unheld == [], "an active pledge holds nothing"
    by_position: Counter[tuple[str, str, str]] = Counter()
    for h in open_holds.values():
        by_position[(h.account, h.instrument, h.lot)] += h.amount
    held = {(r.account, r.instrument, r.lot): r.held for r in c.execute(select(B)) if r.held}
    assert held == dict(by_position), "balance.held differs from the open holds"
    # Registry rows acknowledged are stored, and nothing else was written.
    assert sorted((b.auction_id, b.seq) for b in bids) == sorted(log.bids)
    assert set(pledges) == set(log.pledge_steps)


def _check_pledges(s: Session, log: Log) -> None:
    released: Counter[str] = Counter()
    for (body,) in s.connection().execute(select(J.c.core)):
        record = json.loads(bytes(body))
        b = record["body"]
        if b.get("action") == "pledge.release":
            released[b["meta"]["pledge"]] += b["meta"]["quantity_kg"]
    for row in s.connection().execute(select(table(PledgeRow))):
        steps = log.pledge_steps[row.id]
        if row.status == PledgeStatus.CANCELLED.value:
            assert set(steps) <= {"applied", "approved", "loan_recorded", "cancelled"}, (row.id, steps)
        else:
            latest = max(PLEDGE_ORDER.index(st) for st in steps if st != "cancelled")
            assert PLEDGE_ORDER.index(row.status) >= latest, f"pledge {row.id} lost a step: {steps}"
        assert row.released_kg == released[row.id], f"pledge {row.id}: released per row vs per journal"
        if row.status in (PledgeStatus.ACTIVE.value, PledgeStatus.RELEASED.value):
            assert row.held_kg == row.approved_kg - row.released_kg


@pytest.mark.parametrize("clients", [CLIENTS])
def test_fifty_clients_trading_bidding_and_pledging_on_hot_accounts_keep_one_true_ledger(
    hot_engine: Engine, clients: int
) -> None:
    m = build_market(hot_engine)
    m.sequencer = Sequencer(hot_engine)
    with Session(hot_engine) as s:
        start_rows = _positions(s)
        first_run_seq = int(s.connection().execute(select(HD.c.next_seq)).scalar_one())
    issued, issuing = _totals(start_rows)
    assert _violations(start_rows, issued, issuing) == []

    log, stop, seen = Log(), threading.Event(), list[str]()
    auditor = threading.Thread(target=_auditor, args=(hot_engine, issued, issuing, stop, seen))
    threads = [threading.Thread(target=Client(m, log, i).run) for i in range(clients)]
    began = time.perf_counter()
    auditor.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    auditor.join()
    elapsed = time.perf_counter() - began
    print(
        f"\n{hot_engine.dialect.name}: {sum(log.done.values())} commits, "
        f"{sum(log.refused.values())} refusals "
        f"in {elapsed:.1f} s ({seen.count('read')} audit reads); slowest operation "
        f"{max(log.seconds, default=0):.1f} s; "
        f"records {dict(Counter(op for _, _, op in log.records))}; refused {dict(log.refused)}; "
        f"groups {m.sequencer.stats}"
    )

    assert log.failures == [], "\n".join(log.failures)
    assert "read" in seen
    assert [v for v in seen if v != "read"] == []
    # The workload did what it claims: every kind of write committed at least once.
    kinds = Counter(op for _, _, op in log.records)
    for kind in ("trade", "transfer", "bid", "confirm", "release"):
        assert kinds[kind] > 0, kinds
    # Writes were grouped, and refusals happened inside groups whose other writes committed (the
    # journal checks below find every one of those acknowledged writes stored).
    assert None not in log.groups
    assert max(sum(c.values()) for c in log.groups.values()) > 1, "no two writes ever shared a group"
    mixed = [g for g, c in log.groups.items() if c["refused"] and c["committed"]]
    assert mixed, "no group held both a refusal and a committed write"

    with Session(hot_engine) as s:
        assert _violations(_positions(s), issued, issuing) == []
        size = _check_journal(s, log, first_run_seq)
        _check_holds(s, log)
        _check_pledges(s, log)
        report, diff = replay_database(s)
        checkpoints = len(s.connection().execute(select(table(CheckpointRow).c.tree_size)).all())
    assert report.ok, report.failure
    assert report.records == size
    assert report.checkpoints_verified == checkpoints > 0
    assert diff == {}, f"replay differs from the live balances: {list(diff.items())[:5]}"
