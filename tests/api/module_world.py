"""One HTTP world per test module and engine (registering the demo costs seconds of scrypt), and the
setup steps the market API tests share: granting rights and funding cash through the services."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlmodel import Session

from ledger.crypto import SigningKey
from ledger.model import Lot, Posting, TxBody
from ledger.service import Instruction, Registry, balances, new_nonce, submit, submit_all
from tests.api.conftest import HttpWorld
from tests.conftest import engine_for

__all__ = ["fund", "grant", "module_http", "position"]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def module_http(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HttpWorld]:
    """The demo world shared by a module's tests: each test works on its own lots and objects."""
    engine = engine_for(request.param, tmp_path_factory.mktemp("api"))
    yield HttpWorld(engine, Registry(SigningKey.from_seed(bytes(range(32))), checkpoint_every=5))
    if request.param == "sqlite":
        engine.dispose()


def grant(http: HttpWorld, bureau: str, holder: str, kg: int, *, until: date, instrument: str = "COD") -> Lot:
    """The cap model, as the issuance workflow records it: cap -> the bureau's reserve (twice ``kg``),
    then reserve -> the holder's holding; signed by the bureau."""
    b = http.who(bureau)
    lot = Lot(jurisdiction=b.participant.jurisdiction, valid_until=until)
    cap, reserve = f"{b.party}.cap.{instrument}", f"{b.party}.reserve"
    bodies = [
        TxBody(
            "cap.set",
            new_nonce(),
            (Posting(cap, instrument, lot, -2 * kg), Posting(reserve, instrument, lot, 2 * kg)),
        ),
        TxBody(
            "allocation.initial",
            new_nonce(),
            (
                Posting(reserve, instrument, lot, -kg),
                Posting(f"{http.party(holder)}.holding", instrument, lot, kg),
            ),
        ),
    ]
    with Session(http.engine) as s:
        submit_all(s, [Instruction.signed(body, (b.party, b.key)) for body in bodies], registry=http.registry)
        s.commit()
    return lot


def fund(http: HttpWorld, alias: str, fen: int) -> None:
    """A deposit of ``fen`` into the participant's cash account, from the operator's settlement account."""
    op = http.who("operator")
    body = TxBody(
        "cash.deposit",
        new_nonce(),
        (
            Posting(f"{op.party}.settlement", "CNY", Lot(), -fen),
            Posting(f"{http.party(alias)}.cash", "CNY", Lot(), fen),
        ),
    )
    with Session(http.engine) as s:
        submit(s, Instruction.signed(body, (op.party, op.key)), registry=http.registry)
        s.commit()


def position(http: HttpWorld, account: str, instrument: str, lot: Lot) -> tuple[int, int]:
    """(total, held) of one position, read from the live tables."""
    with Session(http.engine) as s:
        for b in balances(s, account=account):
            if b.instrument == instrument and b.lot == lot.key():
                return b.total, b.held
    return 0, 0
