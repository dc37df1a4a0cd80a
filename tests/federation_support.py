"""Two journals of a federation for tests: Yuyao's and Ningbo's, each with its own registry key, bureau
(its cap and key held in custody for federation legs) and one enterprise; Yuyao's holds COD rights."""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from sqlalchemy import Engine
from sqlmodel import Session

from ledger.crypto import SigningKey
from ledger.federation import Coordinator, Member, hold_body
from ledger.model import AccountKind, Body, Lot, OpenAccount, Posting, RegisterKey, RegisterParty, TxBody
from ledger.service import Instruction, Registry, balances, init_ledger, new_nonce, submit, submit_batch
from ledger.timeutil import utc_now

YUYAO, NINGBO = "330281", "330200"
UNTIL = date(2030, 12, 31)
START_KG = 100_000


def key_of(name: str) -> SigningKey:
    return SigningKey.from_seed(name.encode().ljust(32, b"\x00")[:32])


def seller(jurisdiction: str) -> str:
    return f"ent:{jurisdiction}"


def holding(jurisdiction: str) -> str:
    return f"ent:{jurisdiction}.holding"


def member(engine: Engine, jurisdiction: str) -> Member:
    """The journal of ``jurisdiction`` on ``engine`` as the coordinator reaches it (keys from seeds,
    so a subprocess builds the same member from the URL alone)."""
    bureau = f"bureau:{jurisdiction}"
    return Member(
        engine,
        Registry(key_of(f"registry:{jurisdiction}")),
        jurisdiction,
        bureau,
        key_of(bureau),
        {"COD": f"{bureau}.cap.COD"},
    )


def found_journal(engine: Engine, jurisdiction: str, *, rights_kg: int = 0) -> Member:
    """A new journal: genesis under the current rule set, the bureau and an enterprise of the
    jurisdiction with their keys and accounts, and ``rights_kg`` of COD allocated to the enterprise."""
    m = member(engine, jurisdiction)
    bodies: list[Body] = []
    for party, role, accounts in (
        (
            m.bureau,
            "bureau",
            [(f"{m.bureau}.cap.COD", AccountKind.ISSUANCE), (f"{m.bureau}.reserve", AccountKind.RESERVE)],
        ),
        (seller(jurisdiction), "enterprise", [(holding(jurisdiction), AccountKind.HOLDING)]),
    ):
        key = key_of(party)
        bodies += [
            RegisterParty(party, role, {"jurisdiction": jurisdiction}, new_nonce()),
            RegisterKey(party, key.key_id, key.public, utc_now(), new_nonce(), custody=party == m.bureau),
            *[OpenAccount(acc, party, kind, new_nonce()) for acc, kind in accounts],
        ]
    with Session(engine) as s:
        init_ledger(s, registry=m.registry, name=f"ecoledger {jurisdiction}")
        for r in submit_batch(s, [Instruction(b) for b in bodies], registry=m.registry):
            if isinstance(r, Exception):
                raise r
        s.commit()
    if rights_kg:
        lot = Lot(jurisdiction=jurisdiction, valid_until=UNTIL)
        for action, src, dst in (
            ("cap.set", f"{m.bureau}.cap.COD", f"{m.bureau}.reserve"),
            ("allocation.initial", f"{m.bureau}.reserve", holding(jurisdiction)),
        ):
            body = TxBody(
                action,
                new_nonce(),
                (Posting(src, "COD", lot, -rights_kg), Posting(dst, "COD", lot, rights_kg)),
            )
            with Session(engine) as s:
                submit(s, Instruction.signed(body, (m.bureau, key_of(m.bureau))), registry=m.registry)
                s.commit()
    return m


def signed_hold(
    source: Member, destination: Member, transfer: str, amount: int, receiver: str | None = None
) -> Instruction:
    """The seller's and its bureau's signed request to move ``amount`` kg of COD to the destination."""
    body = hold_body(
        transfer=transfer,
        account=holding(source.jurisdiction),
        instrument="COD",
        lot=Lot(jurisdiction=source.jurisdiction, valid_until=UNTIL),
        amount=amount,
        destination=destination.id,
        receiver=receiver or holding(destination.jurisdiction),
        to_jurisdiction=destination.jurisdiction,
    )
    return Instruction.signed(
        body,
        (seller(source.jurisdiction), key_of(seller(source.jurisdiction))),
        (source.bureau, key_of(source.bureau)),
    )


class Units(NamedTuple):
    """COD of the seller (total, held) and of the receiver, read from both journals."""

    seller_total: int
    seller_held: int
    receiver_total: int


def units(source: Member, destination: Member) -> Units:
    def position(m: Member, account: str) -> tuple[int, int]:
        with Session(m.engine) as s:
            found = [b for b in balances(s, account=account) if b.instrument == "COD"]
        return sum(b.total for b in found), sum(b.held for b in found)

    total, held = position(source, holding(source.jurisdiction))
    return Units(total, held, position(destination, holding(destination.jurisdiction))[0])


def coordinator(source: Member, destination: Member) -> Coordinator:
    return Coordinator(source, destination)
