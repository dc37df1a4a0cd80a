"""A small auction world shared by the auction and trade tests: Yuyao's bureau, its enterprises, rights
in the reserve and cash from the operator's settlement account, all through the real services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from accounts.demo import DEMO_SPECS, DemoParticipant, demo_key
from accounts.identifiers import complete_credit_code
from accounts.model import EnterpriseSpec, Participant
from accounts.service import register_participant
from ledger.crypto import SigningKey
from ledger.model import Lot, Posting, TxBody
from ledger.service import Balance, Instruction, Registry, balances, head_size, init_ledger, new_nonce, submit
from market.auctions import service as auctions
from market.auctions import settlement as auction_settlement
from market.auctions.model import AuctionDesign, AuctionTerms, FixedDeposit
from market.auctions.state import AcceptedBid, Auction, ProjectNeed, get_auction
from market.consent import Consent

YUYAO = "330281"
BUREAU = "bureau:330281"
VALID_UNTIL = date(2030, 12, 31)
LOT = Lot(jurisdiction=YUYAO, valid_until=VALID_UNTIL)
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Beijing: bidding opens
CLOSE = T0 + timedelta(hours=1)
RESERVE_FEN_PER_T = 600_000  # 6,000 CNY per tonne: 1.5 x Jinhua's COD base price of 4,000 CNY
BASE_FEN_PER_T = 400_000

# The demo's participants this world registers, plus two more Yuyao enterprises for larger auctions.
ALIASES = ("operator", "yuyao", "ningbo", "yuyao_chem", "yuyao_dye", "ningbo_petro")
EXTRA = {
    "yuyao_paper": EnterpriseSpec(
        complete_credit_code("91", YUYAO, "EXAMPLE8"), "余姚示例造纸有限公司", YUYAO
    ),
    "yuyao_metal": EnterpriseSpec(
        complete_credit_code("91", YUYAO, "EXAMPLE9"), "余姚示例金属有限公司", YUYAO
    ),
}


@dataclass
class World:
    """An initialised ledger and the helpers a test calls through the services."""

    engine: Engine
    registry: Registry
    people: dict[str, DemoParticipant]

    @classmethod
    def create(
        cls, engine: Engine, registry: Registry, *, aliases: tuple[str, ...] = ALIASES, extra: bool = False
    ) -> World:
        people: dict[str, DemoParticipant] = {}
        specs = {alias: DEMO_SPECS[alias] for alias in aliases} | (EXTRA if extra else {})
        start = T0 - timedelta(days=30)
        registry.clock = lambda: start  # moved to each workflow's ``now`` by ``run``
        with Session(engine) as s:
            init_ledger(s, registry=registry, name="ecoledger auction test")
            for alias, spec in specs.items():
                key = demo_key(spec.participant().party)
                p = register_participant(s, registry=registry, spec=spec, public_key=key.public)
                people[alias] = DemoParticipant(p, key)
            s.commit()
        return cls(engine, registry, people)

    # -- who ----------------------------------------------------------------------------------

    def p(self, alias: str) -> Participant:
        return self.people[alias].participant

    def party(self, alias: str) -> str:
        return self.people[alias].party

    @property
    def keys(self) -> dict[str, SigningKey]:
        return {d.party: d.key for d in self.people.values()}

    def keys_of(self, *aliases: str) -> dict[str, SigningKey]:
        return {self.party(a): self.people[a].key for a in aliases}

    # -- running services -----------------------------------------------------------------------

    def run(self, fn: Callable[..., Any], /, **kwargs: Any) -> Any:
        """Call a write service in its own session and commit; the keys default to everyone's.

        The registry's clock is the service's ``now``: the ledger checks a bid's window by its
        record's time, as the registry's clock stamps it when the bid arrives."""
        kwargs.setdefault("signed_by", Consent(self.keys))
        now = kwargs.get("now")
        if isinstance(now, datetime):
            self.registry.clock = lambda: now
        with Session(self.engine) as s:
            out = fn(s, registry=self.registry, **kwargs)
            s.commit()
        return out

    def write(self, fn: Callable[..., Any], /, **kwargs: Any) -> Any:
        """Call a service that writes registry rows only (no journal record) and commit."""
        with Session(self.engine) as s:
            out = fn(s, **kwargs)
            s.commit()
        return out

    def read(self, fn: Callable[..., Any], /, **kwargs: Any) -> Any:
        with Session(self.engine) as s:
            return fn(s, **kwargs)

    def snapshot(self) -> tuple[int, list[Balance]]:
        with Session(self.engine) as s:
            return head_size(s), balances(s)

    def position(self, account: str, instrument: str = "CNY") -> tuple[int, int]:
        """(total, held) of one account in one instrument, over its lots."""
        with Session(self.engine) as s:
            rows = [b for b in balances(s, account=account) if b.instrument == instrument]
        return sum(b.total for b in rows), sum(b.held for b in rows)

    # -- set-up through direct, signed ledger records ---------------------------------------------

    def reserve(self, kg: int, instrument: str = "COD") -> None:
        """Put ``kg`` of rights in Yuyao's reserve under its cap (cap account -> reserve)."""
        body = TxBody(
            "cap.set",
            new_nonce(),
            (
                Posting(f"{BUREAU}.cap.{instrument}", instrument, LOT, -kg),
                Posting(f"{BUREAU}.reserve", instrument, LOT, kg),
            ),
        )
        self._submit(body, "yuyao")

    def fund(self, alias: str, fen: int) -> None:
        """Pay ``fen`` into an enterprise's cash from the operator's settlement gateway."""
        body = TxBody(
            "cash.deposit",
            new_nonce(),
            (
                Posting("operator:zj-registry.settlement", "CNY", Lot(), -fen),
                Posting(f"{self.party(alias)}.cash", "CNY", Lot(), fen),
            ),
        )
        self._submit(body, "operator")

    def _submit(self, body: TxBody, alias: str) -> None:
        with Session(self.engine) as s:
            submit(
                s,
                Instruction.signed(body, (self.party(alias), self.people[alias].key)),
                registry=self.registry,
            )
            s.commit()

    # -- the auction workflow, with defaults ----------------------------------------------------

    def need(self, alias: str, kg: int, instrument: str = "COD", *, by: str = "yuyao") -> ProjectNeed:
        need: ProjectNeed = self.write(
            auctions.register_need,
            actor=self.p(by),
            enterprise=self.party(alias),
            instrument=instrument,
            approved_kg=kg,
            project=f"{alias} new production line",
            now=T0 - timedelta(days=1),
        )
        return need

    def open(self, terms: AuctionTerms, *, by: str = "yuyao", **kwargs: Any) -> Auction:
        kwargs.setdefault("now", T0 - timedelta(hours=1))
        opened: Auction = self.run(
            auctions.open_auction, actor=self.p(by), terms=terms, valid_until=VALID_UNTIL, **kwargs
        )
        return opened

    def bid(self, alias: str, price: int, kg: int, at: datetime, auction_id: str = "A1") -> AcceptedBid:
        placed: AcceptedBid = self.run(
            auctions.place_bid,
            actor=self.p(alias),
            auction_id=auction_id,
            price_fen_per_t=price,
            quantity_kg=kg,
            now=at,
        )
        return placed

    def close(self, at: datetime = CLOSE, auction_id: str = "A1", *, by: str = "yuyao") -> Auction:
        closed: Auction = self.run(
            auction_settlement.close_auction, actor=self.p(by), auction_id=auction_id, now=at
        )
        return closed

    def auction(self, auction_id: str = "A1") -> Auction:
        found: Auction = self.read(get_auction, auction_id=auction_id)
        return found


def terms(**overrides: Any) -> AuctionTerms:
    """Sealed uniform-price terms for 1 t of Yuyao COD at the reserve price, a fixed 1,000 CNY deposit."""
    values: dict[str, Any] = {
        "auction_id": "A1",
        "instrument": "COD",
        "jurisdiction": YUYAO,
        "quantity_kg": 1_000,
        "reserve_price_fen_per_t": RESERVE_FEN_PER_T,
        "design": AuctionDesign.UNIFORM_PRICE,
        "opens_at": T0,
        "closes_at": CLOSE,
        "deposit_rule": FixedDeposit(100_000),
        "base_price_fen_per_t": BASE_FEN_PER_T,
    }
    values.update(overrides)
    return AuctionTerms(**values)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)
