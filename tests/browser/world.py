"""A registry for console tests: the demo participants with access keys and keys in custody, Yuyao's cap
in its reserve and cash for the enterprises, all through the services; a clock the test can move on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from accounts.credentials import issue_credential
from accounts.custody import Vault, take_into_custody
from accounts.demo import DemoParticipant, register_demo
from accounts.service import get_participant
from ledger.crypto import SigningKey
from ledger.model import Lot, Posting, TxBody
from ledger.service import Instruction, Registry, init_ledger, new_nonce, submit
from ledger.timeutil import utc_now
from market.consent import Consent
from market.issuance import service as issuance

VALID_UNTIL = date(2030, 12, 31)
CAP_KG = 20_000  # 20 t/a of COD in Yuyao's reserve
CASH_FEN = 50_000_000  # 500,000 CNY for each Yuyao enterprise


@dataclass
class Clock:
    """Real time plus an offset the test moves, e.g. past an auction's close without sleeping."""

    offset: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return utc_now() + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


@dataclass
class ConsoleWorld:
    engine: Engine
    registry: Registry
    vault: Vault
    clock: Clock
    demo: dict[str, DemoParticipant]
    tokens: dict[str, str]

    def party(self, alias: str) -> str:
        return self.demo[alias].party


def build_world(engine: Engine, *, cap: bool = True) -> ConsoleWorld:
    """Initialise the ledger on ``engine`` (schema already created) and register everyone."""
    clock = Clock()
    registry = Registry(SigningKey.from_seed(bytes(range(32))), clock=clock, checkpoint_every=50)
    vault = Vault.generate()
    with Session(engine) as s:
        init_ledger(s, registry=registry, name="console test")
        demo = register_demo(s, registry=registry, custody=True)
        tokens = {alias: issue_credential(s, party=p.party).token for alias, p in demo.items()}
        for p in demo.values():
            take_into_custody(s, vault=vault, party=p.party, key=p.key, at=registry.clock())
        if cap:
            yuyao = demo["yuyao"]
            issuance.set_cap(
                s,
                registry=registry,
                actor=yuyao.participant,
                signed_by=Consent({yuyao.party: yuyao.key}),
                instrument="COD",
                quantity_kg=CAP_KG,
                valid_until=VALID_UNTIL,
                basis="test cap",
            )
            for alias in ("yuyao_chem", "yuyao_dye"):
                fund(s, registry, demo, alias, CASH_FEN)
        s.commit()
    return ConsoleWorld(engine, registry, vault, clock, demo, tokens)


def fund(s: Session, registry: Registry, demo: dict[str, DemoParticipant], alias: str, fen: int) -> None:
    """Cash enters through the operator's settlement gateway (as a bank transfer would)."""
    operator = demo["operator"]
    body = TxBody(
        "cash.deposit",
        new_nonce(),
        (
            Posting(f"{operator.party}.settlement", "CNY", Lot(), -fen),
            Posting(f"{demo[alias].party}.cash", "CNY", Lot(), fen),
        ),
    )
    submit(s, Instruction.signed(body, (operator.party, operator.key)), registry=registry)


def grant(s: Session, registry: Registry, demo: dict[str, DemoParticipant], alias: str, kg: int) -> Lot:
    """Yuyao's bureau allocates ``kg`` of COD to ``alias`` free of the paid-use fee; the lot it lands in."""
    bureau = demo["yuyao"]
    issuance.allocate(
        s,
        registry=registry,
        actor=get_participant(s, party=bureau.party),
        signed_by=Consent.custody(bureau.party, bureau.key),
        enterprise=demo[alias].party,
        instrument="COD",
        quantity_kg=kg,
        valid_until=VALID_UNTIL,
        purpose="initial",
        paid_use=False,
    )
    return issuance.rights_lot("330281", VALID_UNTIL)
