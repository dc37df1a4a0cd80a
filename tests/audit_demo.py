"""A tiny, fixed journal for the auditor's tests: a Yuyao bureau, two enterprises and a bank, an
issuance, a trade and a pledge in 22 records, built through the ledger alone.

It was the first ``make demo`` scenario; the audit tests name its records by number (16, 18, 19), so
it stays here, fixed, while ``api.demo`` grew into the full Zhejiang scenario.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from ledger.canonical import canonical_bytes
from ledger.crypto import SigningKey
from ledger.db import make_engine
from ledger.errors import DomainError
from ledger.model import (
    AccountKind,
    HoldPlace,
    Lot,
    OpenAccount,
    Posting,
    RegisterKey,
    RegisterParty,
    Signature,
    TxBody,
)
from ledger.pledge_terms import TAG_APPROVAL, Appraised, PledgeLoan, approval_statement
from ledger.service import (
    Instruction,
    Receipt,
    Registry,
    init_ledger,
    make_checkpoint,
    new_nonce,
    submit_batch,
)
from ledger.timeutil import utc_now

YUYAO = "330281"
RIGHTS_2030 = Lot(jurisdiction=YUYAO, valid_until=date(2030, 12, 31))


@dataclass
class Scenario:
    engine: Engine
    registry: Registry
    keys: dict[str, SigningKey] = field(default_factory=dict)

    def run(self, instructions: list[Instruction]) -> list[Receipt]:
        with Session(self.engine) as s:
            results = submit_batch(s, instructions, registry=self.registry)
            for r in results:
                if isinstance(r, DomainError):
                    raise r
            s.commit()
        return [r for r in results if isinstance(r, Receipt)]

    def party(self, party: str, role: str, profile: dict[str, str], accounts: list[AccountKind]) -> None:
        key = SigningKey.generate()
        self.keys[party] = key
        self.run(
            [
                Instruction(RegisterParty(party, role, profile, new_nonce())),
                Instruction(RegisterKey(party, key.key_id, key.public, utc_now(), new_nonce())),
                *[
                    Instruction(OpenAccount(f"{party}.{kind.value}", party, kind, new_nonce()))
                    for kind in accounts
                ],
            ]
        )

    def signed(self, body: TxBody, *parties: str) -> Instruction:
        return Instruction.signed(body, *[(p, self.keys[p]) for p in parties])


def load(engine: Engine, registry: Registry) -> dict[str, int]:
    """Register the participants and post a first issuance, trade and pledge (after the genesis)."""
    sc = Scenario(engine, registry)
    holder = [AccountKind.HOLDING, AccountKind.CASH]
    sc.party(
        f"bureau:{YUYAO}",
        "bureau",
        {"name": "余姚市生态环境局", "jurisdiction": YUYAO},
        [AccountKind.ISSUANCE, AccountKind.RESERVE],
    )
    here = {"jurisdiction": YUYAO}
    sc.party("ent:yuyao-plastics", "enterprise", {"name": "余姚 demo plastics", **here}, holder)
    sc.party("ent:yuyao-dyeing", "enterprise", {"name": "余姚 demo dyeing", **here}, holder)
    sc.party("bank:demo", "bank", {"name": "demo bank, Yuyao branch", **here}, [AccountKind.HOLDING])
    bureau = f"bureau:{YUYAO}"
    cap, reserve = f"{bureau}.issuance", f"{bureau}.reserve"
    grants = (("ent:yuyao-plastics", 12_500), ("ent:yuyao-dyeing", 48_000))
    total = sum(kg for _, kg in grants)
    raise_cap = TxBody(
        "cap.set",
        new_nonce(),
        (Posting(cap, "COD", RIGHTS_2030, -total), Posting(reserve, "COD", RIGHTS_2030, total)),
    )
    issued = [sc.signed(raise_cap, bureau)] + [
        sc.signed(
            TxBody(
                "allocation.initial",
                new_nonce(),
                (
                    Posting(reserve, "COD", RIGHTS_2030, -kg),
                    Posting(f"{ent}.holding", "COD", RIGHTS_2030, kg),
                ),
            ),
            bureau,
        )
        for ent, kg in grants
    ]
    trade = sc.signed(
        TxBody(
            "transfer",
            new_nonce(),
            (
                Posting("ent:yuyao-dyeing.holding", "COD", RIGHTS_2030, -3_000),
                Posting("ent:yuyao-plastics.holding", "COD", RIGHTS_2030, 3_000),
            ),
        ),
        "ent:yuyao-dyeing",
    )
    pledge = sc.signed(_registration(sc, bureau), "ent:yuyao-dyeing", "bank:demo")
    receipts = sc.run([*issued, trade, pledge])
    return {"records": receipts[-1].seq + 1, "participants": len(sc.keys)}


def _registration(sc: Scenario, bureau: str) -> TxBody:
    """A pledge of 20 t with signed loan terms (rule set 2): the bureau's approval inside the body,
    the bank and the owner signing the body (``ledger.pledge_terms``)."""
    hold = HoldPlace(
        "pledge.demo-1", "ent:yuyao-dyeing.holding", "COD", RIGHTS_2030, 20_000, "pledge", "bank:demo"
    )
    parties = {"enterprise": "ent:yuyao-dyeing", "bank": "bank:demo", "bureau": bureau}
    statement = approval_statement(
        pledge="demo-1", certificate_no="余排污质〔2026〕第001号", hold=hold, **parties
    )
    key = sc.keys[bureau]
    approval = Signature(bureau, key.key_id, key.sign(TAG_APPROVAL, canonical_bytes(statement)))
    meta = {
        "pledge": "demo-1",
        "certificate_no": statement["certificate_no"],
        **parties,
        "names": {
            "enterprise": "余姚 demo dyeing",
            "bank": "demo bank, Yuyao branch",
            "bureau": "余姚市生态环境局",
        },
        "quantity_kg": 20_000,
        "loan": PledgeLoan("LN-demo-1", 20_000_000, 385, 12, date(2026, 1, 5)).to_json(),
        "appraisal": Appraised(1_700_000, "reference", 34_000_000, 8_000).to_json(),
        "approval": approval.to_json(),
        "basis": "杭银发〔2022〕21号",
    }
    return TxBody(
        "pledge.register",
        "demo-1.register",
        holds=(hold,),
        signers=("bank:demo", "ent:yuyao-dyeing"),
        meta=meta,
    )


def build_demo_dir(root: Path) -> Path:
    """``root`` holding demo.db (genesis, the scenario, one checkpoint: 22 records) and registry-key.pem,
    the layout the ``ecoledger`` commands take with ``--db`` and ``--key``."""
    from api import migrations

    key = SigningKey.generate()
    (root / "registry-key.pem").write_bytes(key.to_pem())
    engine = make_engine(f"sqlite:///{root / 'demo.db'}")
    migrations.upgrade(engine)
    registry = Registry(key)
    with Session(engine) as s:
        init_ledger(s, registry=registry, name="ecoledger demo registry (Zhejiang)")
        s.commit()
    load(engine, registry)
    with Session(engine) as s:
        make_checkpoint(s, registry=registry)
        s.commit()
    engine.dispose()
    return root
