"""The ledger service on SQLite and PostgreSQL: posting, refusals, holds, idempotency, proofs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, text
from sqlmodel import Session

from ledger import errors
from ledger.crypto import SigningKey
from ledger.journal import parse_line
from ledger.merkle import leaf_hash, verify_consistency, verify_inclusion
from ledger.model import HoldPlace, HoldSettle, Lot, Posting, TxBody, parse_body
from ledger.repository import J
from ledger.service import (
    Instruction,
    balance_as_of,
    balances,
    checkpoints,
    consistency,
    head_size,
    journal_lines,
    new_nonce,
    prove_inclusion,
    replay_database,
    sign_body,
    submit,
    submit_batch,
)
from ledger.timeutil import utc_now
from tests.support import COD_YUYAO, World, transfer


def snapshot(engine: Engine) -> tuple[int, list[object]]:
    with Session(engine) as s:
        return head_size(s), balances(s)


def available(world: World, account: str, instrument: str = "COD") -> int:
    with Session(world.engine) as s:
        return sum(b.available for b in balances(s, account=account) if b.instrument == instrument)


def test_issued_units_move_by_signed_transfer_and_replay_reproduces_every_balance(world: World) -> None:
    world.issue("ent:a.h", 10_000)
    world.submit(transfer("ent:a.h", "ent:b.h", 2_500), "ent:a")
    assert available(world, "ent:a.h") == 7_500
    assert available(world, "ent:b.h") == 2_500
    with Session(world.engine) as s:
        report, diff = replay_database(s)
    assert report.ok, report.failure
    assert diff == {}
    assert report.state.totals()[("COD", COD_YUYAO.key())] == 0


def test_a_transfer_signed_by_someone_other_than_the_owner_is_refused_and_writes_nothing(
    world: World,
) -> None:
    world.issue("ent:a.h", 1_000)
    before = snapshot(world.engine)
    with pytest.raises(errors.MissingSignature) as exc:
        world.submit(transfer("ent:a.h", "ent:b.h", 100), "ent:b")
    assert exc.value.details["missing"] == ["ent:a"]
    assert snapshot(world.engine) == before


@pytest.mark.parametrize(
    ("mutate", "error", "field"),
    [
        (lambda b: b["postings"][1].update(amount=999), errors.UnbalancedTransaction, "postings"),
        (
            lambda b: [p.update(instrument="HG") for p in b["postings"]],
            errors.UnknownInstrument,
            "instrument",
        ),
        (lambda b: b["postings"][0].update(amount=-1.5), errors.InvalidInput, "amount"),
        (lambda b: b["postings"][0].update(amount="-100"), errors.InvalidInput, "amount"),
        (lambda b: b["postings"][0]["lot"].update(jurisdiction="3302"), errors.InvalidLot, "jurisdiction"),
    ],
)
def test_malformed_bodies_are_refused_with_the_field_named(mutate, error, field) -> None:
    body = transfer("ent:a.h", "ent:b.h", 100).to_json()
    mutate(body)
    with pytest.raises(error) as exc:
        parse_body(body)
    assert field in exc.value.details["field"]


def test_a_bad_signature_or_an_unknown_key_is_refused_and_the_ledger_is_unchanged(world: World) -> None:
    world.issue("ent:a.h", 1_000)
    before = snapshot(world.engine)
    body = transfer("ent:a.h", "ent:b.h", 100)
    good = sign_body(body, "ent:a", world.keys["ent:a"])
    forged = type(good)(good.party, good.key_id, bytes(64))
    stranger = sign_body(body, "ent:a", SigningKey.generate())
    for sig, error in ((forged, errors.BadSignature), (stranger, errors.UnknownKey)):
        with Session(world.engine) as s, pytest.raises(error):
            submit(s, Instruction(body, (sig,)), registry=world.registry)
    assert snapshot(world.engine) == before


def test_overdraft_is_refused_with_the_available_amount(world: World) -> None:
    world.issue("ent:a.h", 1_000)
    with pytest.raises(errors.InsufficientBalance) as exc:
        world.submit(transfer("ent:a.h", "ent:b.h", 1_001), "ent:a")
    assert exc.value.details["available"] == 1_000


def test_held_units_cannot_be_moved_by_the_holder_until_released(world: World) -> None:
    world.issue("ent:a.h", 1_000)
    pledge = TxBody(
        "pledge",
        new_nonce(),
        holds=(HoldPlace("pledge-1", "ent:a.h", "COD", COD_YUYAO, 800, "pledge", "bank:x"),),
    )
    world.submit(pledge, "ent:a")
    with pytest.raises(errors.UnitsEncumbered):
        world.submit(transfer("ent:a.h", "ent:b.h", 300), "ent:a")
    world.submit(transfer("ent:a.h", "ent:b.h", 200), "ent:a")  # the free part still moves
    with pytest.raises(errors.MissingSignature):  # only the controller releases
        world.submit(TxBody("release", new_nonce(), holds=(HoldSettle("release", "pledge-1", 300),)), "ent:a")
    world.submit(TxBody("release", new_nonce(), holds=(HoldSettle("release", "pledge-1", 300),)), "bank:x")
    assert available(world, "ent:a.h") == 300


def test_the_controller_captures_held_units_without_the_holders_signature(world: World) -> None:
    world.issue("ent:a.h", 1_000)
    world.submit(
        TxBody(
            "pledge",
            new_nonce(),
            holds=(HoldPlace("pledge-2", "ent:a.h", "COD", COD_YUYAO, 600, "pledge", "bank:x"),),
        ),
        "ent:a",
    )
    enforce = TxBody(
        "pledge.enforce",
        new_nonce(),
        postings=(Posting("ent:a.h", "COD", COD_YUYAO, -600), Posting("bank:x.h", "COD", COD_YUYAO, 600)),
        holds=(HoldSettle("capture", "pledge-2", 600),),
    )
    world.submit(enforce, "bank:x")
    assert available(world, "bank:x.h") == 600
    with pytest.raises(errors.HoldNotOpen):
        world.submit(TxBody("release", new_nonce(), holds=(HoldSettle("release", "pledge-2", 1),)), "bank:x")


def test_an_idempotency_key_applies_once_and_refuses_another_body(world: World) -> None:
    world.issue("ent:a.h", 1_000)
    body = transfer("ent:a.h", "ent:b.h", 100)
    first = world.submit(body, "ent:a", idempotency_key="order-17")
    again = world.submit(body, "ent:a", idempotency_key="order-17")
    assert (again.seq, again.hash, again.replayed) == (first.seq, first.hash, True)
    with pytest.raises(errors.IdempotencyKeyReused):
        world.submit(transfer("ent:a.h", "ent:b.h", 100), "ent:a", idempotency_key="order-17")
    assert available(world, "ent:b.h") == 100


def test_the_same_signed_instruction_submitted_twice_applies_once(world: World) -> None:
    world.issue("ent:a.h", 1_000)
    body = transfer("ent:a.h", "ent:b.h", 100)
    world.submit(body, "ent:a")
    with pytest.raises(errors.DuplicateInstruction):
        world.submit(body, "ent:a")
    assert available(world, "ent:b.h") == 100


def test_a_refused_instruction_in_a_batch_takes_no_sequence_number(world: World) -> None:
    world.issue("ent:a.h", 1_000)
    start = snapshot(world.engine)[0]
    batch = [
        Instruction.signed(transfer("ent:a.h", "ent:b.h", 100), ("ent:a", world.keys["ent:a"])),
        Instruction.signed(transfer("ent:a.h", "ent:b.h", 5_000), ("ent:a", world.keys["ent:a"])),
        Instruction.signed(transfer("ent:a.h", "ent:b.h", 200), ("ent:a", world.keys["ent:a"])),
    ]
    with Session(world.engine) as s:
        results = submit_batch(s, batch, registry=world.registry)
        s.commit()
    assert isinstance(results[1], errors.InsufficientBalance)
    assert [r.seq for r in results if not isinstance(r, errors.DomainError)] == [start, start + 1]
    assert available(world, "ent:b.h") == 300


def test_balances_as_of_a_past_record_or_instant(world: World) -> None:
    first = world.issue("ent:a.h", 1_000)
    world.submit(transfer("ent:a.h", "ent:b.h", 400), "ent:a")
    key = ("COD", COD_YUYAO.key())
    with Session(world.engine) as s:
        assert balance_as_of(s, account="ent:a.h", seq=first.seq) == {key: 1_000}
        assert balance_as_of(s, account="ent:a.h", seq=first.seq - 1) == {}
        assert balance_as_of(s, account="ent:a.h", at=utc_now()) == {key: 600}
        assert balance_as_of(s, account="ent:a.h", at=utc_now() - timedelta(days=1)) == {}
        with pytest.raises(errors.UnknownAccount):
            balance_as_of(s, account="nobody.h", seq=1)


def test_journal_rows_cannot_be_updated_or_deleted(world: World) -> None:
    for statement in ("UPDATE journal SET type = 'x' WHERE seq = 1", "DELETE FROM journal WHERE seq = 1"):
        with world.engine.connect() as conn, pytest.raises(Exception, match="append-only"):
            conn.execute(text(statement))


def test_one_changed_byte_in_a_stored_record_is_found_at_that_record(world: World) -> None:
    world.issue("ent:a.h", 1_000)
    target = world.submit(transfer("ent:a.h", "ent:b.h", 250), "ent:a").seq
    world.submit(transfer("ent:a.h", "ent:b.h", 10), "ent:a")
    with world.engine.begin() as conn:
        core = conn.execute(select(J.c.core).where(J.c.seq == target)).scalar_one()
        forged = core.replace(b'"amount":250', b'"amount":950')
        assert forged != core
        assert len(forged) == len(core)
        # An attacker with database access first switches the append-only guard off.
        if world.engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER journal_no_update"))
        else:
            conn.execute(text("ALTER TABLE journal DISABLE TRIGGER journal_append_only"))
        conn.execute(J.update().where(J.c.seq == target).values(core=forged))
    with Session(world.engine) as s:
        report, _ = replay_database(s)
    assert report.failure is not None
    assert (report.failure.seq, report.failure.rule) == (target, "registry_signature")


def test_inclusion_and_consistency_proofs_verify_against_signed_checkpoints(world: World) -> None:
    for _ in range(4):
        world.issue("ent:a.h", 100)
    with Session(world.engine) as s:
        cps = checkpoints(s)
        assert len(cps) >= 2  # the test registry checkpoints every 5 records
        registry_key = world.registry.key.public
        assert all(cp.verifies_with(registry_key) for cp in cps)
        proof = prove_inclusion(s, seq=3)
        record_hash = parse_line(proof.line).hash
        assert verify_inclusion(
            leaf_hash(record_hash), 3, proof.checkpoint.tree_size, proof.path, proof.checkpoint.root
        )
        assert not verify_inclusion(
            leaf_hash(record_hash), 4, proof.checkpoint.tree_size, proof.path, proof.checkpoint.root
        )
        a, b = cps[0], cps[-1]
        path = consistency(s, first=a.tree_size, second=b.tree_size)
        assert verify_consistency(a.tree_size, b.tree_size, a.root, b.root, path)
        assert not verify_consistency(a.tree_size, b.tree_size, b.root, a.root, path)


def test_the_journal_streams_in_order_with_gapless_sequence_numbers(world: World) -> None:
    world.issue("ent:a.h", 100)
    with Session(world.engine) as s:
        lines = list(journal_lines(s, chunk=3))
        assert len(lines) == head_size(s)
    seqs = [parse_line(line).seq for line in lines]
    assert seqs == list(range(len(lines)))


def test_cny_has_no_lot_and_money_moves_like_units(world: World) -> None:
    world.fund("ent:a.cash", 1_000_000)
    world.submit(transfer("ent:a.cash", "ent:b.cash", 250_000, Lot(), "CNY"), "ent:a")
    assert available(world, "ent:b.cash", "CNY") == 250_000
