"""The registry as a separate process for the crash test: signed writes, each acknowledged on stdout.

Run ``python -m tests.integration.crash_writer URL [--schema S] [--start N] [--stop M]`` from the repo;
with ``--clients K`` (and ``--retry I,J``), K threads write through one group-commit sequencer, and
every eleventh write is an overdraft its group must refuse alone.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import sys
import threading
from collections.abc import Iterator
from typing import Any

from sqlmodel import Session

from ledger.crypto import SigningKey
from ledger.db import create_schema, make_engine
from ledger.errors import DomainError, LedgerAlreadyInitialized
from ledger.model import AccountKind, OpenAccount, Posting, RegisterKey, RegisterParty, TxBody
from ledger.sequencer import Sequencer
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


def refused_by_design(i: int) -> bool:
    """Grouped writes only: write ``i`` overdraws a holder, so its group refuses it and only it."""
    return i % 11 == 3


def grouped_instruction(i: int) -> Instruction:
    if not refused_by_design(i):
        return instruction(i)
    nonce = hashlib.sha256(f"ecoledger-crash-overdraft-{i}".encode()).hexdigest()[:32]
    src, dst = HOLDERS
    body = TxBody(
        "transfer",
        nonce,
        (Posting(src, "COD", COD_YUYAO, -10 * OPENING), Posting(dst, "COD", COD_YUYAO, 10 * OPENING)),
    )
    return Instruction.signed(body, ("ent:a", party_key("ent:a")), idempotency_key=idempotency_key(i))


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


_emitting = threading.Lock()


def emit(line: str) -> None:
    with _emitting:  # one client thread at a time
        sys.stdout.write(line + "\n")  # one write(2) of a short line: a pipe gets all of it or none
        sys.stdout.flush()


def grouped(seq: Sequencer, reg: Registry, indices: Iterator[int], client: int) -> None:
    """One client thread: even clients hand plain instructions to the batch, odd ones write units."""
    for i in indices:
        ins = grouped_instruction(i)
        try:
            if client % 2 == 0:
                receipt = seq.submit(ins, registry=reg)
            else:
                with seq.unit() as session:
                    receipt = submit(session, ins, registry=reg)
        except DomainError as exc:
            emit(f"refused {i} {exc.code} {seq.last_group}")
            continue
        # Acknowledged only now, after the group's COMMIT has returned.
        emit(f"ack {i} {receipt.seq} {int(receipt.replayed)} {seq.last_group}")


def run_grouped(
    engine: Any, reg: Registry, clients: int, retry: list[int], start: int, stop: int | None
) -> None:
    fresh = itertools.count(start) if stop is None else iter(range(start, stop))
    shared = itertools.chain(retry, fresh)
    lock = threading.Lock()

    def indices() -> Iterator[int]:
        while True:
            with lock:
                i = next(shared, None)
            if i is None:
                return
            yield i

    seq = Sequencer(engine)
    threads = [threading.Thread(target=grouped, args=(seq, reg, indices(), c)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--schema", help="PostgreSQL schema to use (search_path)")
    parser.add_argument("--start", type=int, default=0, help="index of the first write to submit")
    parser.add_argument("--stop", type=int, help="exit cleanly before this index (default: run until killed)")
    parser.add_argument("--clients", type=int, default=0, help="grouped writes from this many threads")
    parser.add_argument("--retry", default="", help="grouped: indices to write again first (comma-separated)")
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
    if args.clients:
        retry = [int(x) for x in args.retry.split(",") if x]
        run_grouped(engine, reg, args.clients, retry, args.start, args.stop)
        engine.dispose()
        return 0
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
