"""A small world for ledger tests: parties with keys and accounts, built through the service.

It exercises the ledger's mechanics (double entry, balances, holds, consent) under rule set 1,
with ad-hoc body types such as ``issue``; the typed movements of rule set 2 have their own
world in tests/unit/test_movements.py and the workflows' tests run under them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Engine
from sqlmodel import Session

from ledger.crypto import SigningKey
from ledger.model import AccountKind, Lot, OpenAccount, Posting, RegisterKey, RegisterParty, TxBody
from ledger.service import Instruction, Receipt, Registry, init_ledger, new_nonce, submit, submit_batch
from ledger.timeutil import utc_now

YUYAO = "330281"
COD_YUYAO = Lot(jurisdiction=YUYAO, valid_until=date(2099, 12, 31))


@dataclass
class World:
    engine: Engine
    registry: Registry
    keys: dict[str, SigningKey] = field(default_factory=dict)

    @classmethod
    def create(cls, engine: Engine, registry: Registry, *, rule_set: int = 1) -> World:
        world = cls(engine, registry)
        with Session(engine) as s:
            init_ledger(s, registry=registry, name="ecoledger test registry", rule_set=rule_set)
            s.commit()
        world.add_party(
            "bureau:330281",
            "bureau",
            [("330281.cap", AccountKind.ISSUANCE), ("330281.reserve", AccountKind.RESERVE)],
        )
        for name in ("ent:a", "ent:b", "bank:x"):
            world.add_party(
                name,
                name.split(":")[0],
                [(f"{name}.h", AccountKind.HOLDING), (f"{name}.cash", AccountKind.CASH)],
            )
        world.add_party("gateway", "operator", [("gateway.cny", AccountKind.SETTLEMENT)])
        return world

    def add_party(
        self,
        party: str,
        role: str,
        accounts: list[tuple[str, AccountKind]],
        profile: dict[str, str] | None = None,
    ) -> SigningKey:
        key = SigningKey.from_seed(party.encode().ljust(32, b"\x00")[:32])
        self.keys[party] = key
        bodies = [
            RegisterParty(party, role, profile or {}, new_nonce()),
            RegisterKey(party, key.key_id, key.public, utc_now(), new_nonce()),
            *[OpenAccount(acc, party, kind, new_nonce()) for acc, kind in accounts],
        ]
        self.batch([Instruction(b) for b in bodies])
        return key

    def batch(self, instructions: list[Instruction]) -> list[Receipt]:
        with Session(self.engine) as s:
            results = submit_batch(s, instructions, registry=self.registry)
            s.commit()
        for r in results:
            if not isinstance(r, Receipt):
                raise r
        return [r for r in results if isinstance(r, Receipt)]

    def submit(self, body: TxBody, *signers: str, **kwargs: object) -> Receipt:
        ins = Instruction.signed(body, *[(p, self.keys[p]) for p in signers], **kwargs)  # type: ignore[arg-type]
        with Session(self.engine) as s:
            receipt = submit(s, ins, registry=self.registry)
            s.commit()
        return receipt

    def issue(self, account: str, amount: int, lot: Lot = COD_YUYAO, instrument: str = "COD") -> Receipt:
        body = TxBody(
            "issue",
            new_nonce(),
            (
                Posting("330281.cap", instrument, lot, -amount),
                Posting(account, instrument, lot, amount),
            ),
        )
        return self.submit(body, "bureau:330281")

    def fund(self, account: str, fen: int) -> Receipt:
        body = TxBody(
            "deposit",
            new_nonce(),
            (
                Posting("gateway.cny", "CNY", Lot(), -fen),
                Posting(account, "CNY", Lot(), fen),
            ),
        )
        return self.submit(body, "gateway")


def transfer(src: str, dst: str, amount: int, lot: Lot = COD_YUYAO, instrument: str = "COD") -> TxBody:
    return TxBody(
        "transfer",
        new_nonce(),
        (
            Posting(src, instrument, lot, -amount),
            Posting(dst, instrument, lot, amount),
        ),
    )


def grant_rights(
    bureau: str, holding: str, amount: int, lot: Lot = COD_YUYAO, instrument: str = "COD"
) -> list[TxBody]:
    """Rights reach a holding as rule set 2 allows: the bureau raises its cap into its reserve
    (``cap.set``), then allocates from the reserve (``allocation.initial``); the bureau signs both."""
    reserve = f"{bureau}.reserve"
    return [
        TxBody(
            "cap.set",
            new_nonce(),
            (
                Posting(f"{bureau}.cap.{instrument}", instrument, lot, -amount),
                Posting(reserve, instrument, lot, amount),
            ),
        ),
        TxBody(
            "allocation.initial",
            new_nonce(),
            (Posting(reserve, instrument, lot, -amount), Posting(holding, instrument, lot, amount)),
        ),
    ]
