"""The registry as a separate process for the crash test: signed writes, each acknowledged on stdout.

Run ``python -m tests.integration.crash_writer URL [--schema S] [--start N] [--stop M]`` from the repo.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from typing import Any

from sqlmodel import Session

from ledger.crypto import SigningKey
from ledger.db import create_schema, make_engine
from ledger.errors import LedgerAlreadyInitialized
from ledger.model import AccountKind, OpenAccount, Posting, RegisterKey, RegisterParty, TxBody
from ledger.service import Instruction, Receipt, Registry, init_ledger, new_nonce, submit, submit_batch
from ledger.timeutil import utc_now
from tests.support import COD_YUYAO

REGISTRY_SEED = bytes(range(32))
CHECKPOINT_EVERY = 7  # small, so checkpoints are written (and verified) inside the kill window
BUREAU = "bureau:330281"
CAP = "330281.cap"
HOLDERS = ("ent:a.h", "ent:b.h")
PARTIES: dict[str, tuple[str, list[tuple[str, AccountKind]]]] = {
    BUREAU: ("bureau", [(CAP, AccountKind.ISSUANCE)]),
    "ent:a": ("ent", [("ent:a.h", AccountKind.HOLDING)]),
    "ent:b": ("ent", [("ent:b.h", AccountKind.HOLDING)]),
}
OPENING = 1_000_000


def registry() -> Registry:
    return Registry(SigningKey.from_seed(REGISTRY_SEED), checkpoint_every=CHECKPOINT_EVERY)


def party_key(party: str) -> SigningKey:
    return SigningKey.from_seed(hashlib.sha256(b"ecoledger-crash-party:" + party.encode()).digest())


def idempotency_key(i: int) -> str:
    return f"crash-{i:06d}"


def _issue(account: str, amount: int, nonce: str) -> TxBody:
    return TxBody(
        "issue",
        nonce,
        (Posting(CAP, "COD", COD_YUYAO, -amount), Posting(account, "COD", COD_YUYAO, amount)),
    )


def instruction(i: int) -> Instruction:
    """Write ``i``, byte for byte the same each time it is built: a restarted client retries it unchanged."""
    nonce = hashlib.sha256(f"ecoledger-crash-write-{i}".encode()).hexdigest()[:32]
    if i % 5 == 0:
        body, signer = _issue(HOLDERS[0], 1, nonce), BUREAU
    else:
        src, dst = HOLDERS if i % 2 else HOLDERS[::-1]
        amount = 1 + i % 3
        body = TxBody(
            "transfer",
            nonce,
            (Posting(src, "COD", COD_YUYAO, -amount), Posting(dst, "COD", COD_YUYAO, amount)),
        )
        signer = src.removesuffix(".h")
    return Instruction.signed(body, (signer, party_key(signer)), idempotency_key=idempotency_key(i))


def set_up(session: Session, reg: Registry) -> None:
    """Genesis, parties, keys, accounts and opening balances in ONE transaction: a kill leaves all or none."""
    init_ledger(session, registry=reg, name="ecoledger crash test", rule_set=1)  # durability, not typing
    instructions: list[Instruction] = []
    for party, (role, accounts) in PARTIES.items():
        key = party_key(party)
        instructions += [
            Instruction(RegisterParty(party, role, {}, new_nonce())),
            Instruction(RegisterKey(party, key.key_id, key.public, utc_now(), new_nonce())),
            *[Instruction(OpenAccount(acc, party, kind, new_nonce())) for acc, kind in accounts],
        ]
    for account in HOLDERS:
        instructions.append(
            Instruction.signed(_issue(account, OPENING, new_nonce()), (BUREAU, party_key(BUREAU)))
        )
    for result in submit_batch(session, instructions, registry=reg):
        if not isinstance(result, Receipt):
            raise result


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")  # one write(2) of a short line: a pipe gets all of it or none
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--schema", help="PostgreSQL schema to use (search_path)")
    parser.add_argument("--start", type=int, default=0, help="index of the first write to submit")
    parser.add_argument("--stop", type=int, help="exit cleanly before this index (default: run until killed)")
    args = parser.parse_args(argv)
    kwargs: dict[str, Any] = {}
    if args.schema:
        kwargs["connect_args"] = {"options": f"-csearch_path={args.schema}"}
    engine = make_engine(args.url, **kwargs)
    create_schema(engine)
    reg = registry()
    with Session(engine) as session:
        try:
            set_up(session, reg)
            session.commit()
        except LedgerAlreadyInitialized:
            session.rollback()  # a restart: continue where the journal is
    emit(f"ready {args.start}")
    i = args.start
    while args.stop is None or i < args.stop:
        with Session(engine) as session:
            receipt = submit(session, instruction(i), registry=reg)
            session.commit()
        # Acknowledged only now, after COMMIT has returned.
        emit(f"ack {i} {receipt.seq} {int(receipt.replayed)}")
        i += 1
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
