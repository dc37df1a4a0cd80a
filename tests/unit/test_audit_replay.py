"""The auditor's replay machinery: prepared lines, disk-backed sets, checkpoint streams, plug-in checks.

Each way of running replay (one process, workers parsing ahead, state spilled to disk) must name
exactly the failure a plain ``replay_lines`` names, on intact and on mutated journals.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.canonical import canonical_bytes
from ledger.checkpoint import Checkpoint
from ledger.crypto import TAG_BODY, SigningKey
from ledger.journal import parse_line, seal
from ledger.model import (
    AccountKind,
    HoldPlace,
    HoldSettle,
    OpenAccount,
    Posting,
    RevokeKey,
    Signature,
    TxBody,
)
from ledger.replay import Replayer, ReplayError, ReplayFailure, ReplayReport, prepare, replay_lines
from ledger.replay_scale import DiskStore, _prepare_batch, _unwire, prepared_stream
from ledger.rules import Hold, KeyInfo, check_signatures
from ledger.state import LedgerState
from tests.properties.test_fuzz_records import FUZZ, journal, mutated_journal
from tests.unit.test_replay_pure import (
    KEYS,
    LOT,
    REGISTRY,
    T0,
    TRANSFER_SEQ,
    Journal,
    build,
    signature,
    standard_entries,
)
from tests.unit.test_replay_pure import checkpoint as make_checkpoint

IMPOSTOR = SigningKey.from_seed(b"I" * 32)


def replay_prepared(
    lines: Iterable[bytes],
    checkpoints: dict[int, Checkpoint] | None = None,
    *,
    hints: tuple[bytes, ...] = (REGISTRY.public, IMPOSTOR.public),
    store: DiskStore | None = None,
    batch: int = 3,
    party_keys: str = "known",
) -> ReplayReport:
    """What the worker processes do, in this process: prepare in batches, then feed in order.

    ``party_keys``: "known" (the keys replay knows when the batch leaves), "none", or "wrong"
    (every key id mapped to an impostor's key, so no party signature is settled early).
    """
    replayer = Replayer(
        checkpoints,
        digests=None if store is None else store.digests,
        hold_archive=None if store is None else store.holds,
    )
    items = list(lines)
    try:
        for start in range(0, len(items), batch):
            keys = tuple(dict.fromkeys((*hints, *replayer.registry_public_keys())))
            directory = {
                "known": replayer.party_keys(),
                "none": {},
                "wrong": dict.fromkeys(replayer.party_keys(), IMPOSTOR.public),
            }[party_keys]
            for wire in _prepare_batch(items[start : start + batch], keys, directory):
                replayer.feed_prepared(_unwire(wire, keys))
    except ReplayError as exc:
        return replayer.report(exc.failure)
    return replayer.report(replayer.finish())


def feed_all(replayer: Replayer, items: Iterable[Any]) -> None:
    for item in items:
        if isinstance(item, bytes):
            replayer.feed(item)
        else:
            replayer.feed_prepared(item)


def same_outcome(a: ReplayReport, b: ReplayReport) -> None:
    assert a.failure == b.failure
    if a.ok:
        assert (a.records, a.head_hash, a.state.balances()) == (b.records, b.head_hash, b.state.balances())
        assert a.checkpoints_verified == b.checkpoints_verified


# --- prepared lines (what worker processes compute) -----------------------------------------------


def test_an_intact_journal_replays_the_same_from_prepared_lines() -> None:
    j = journal()
    same_outcome(replay_lines(j.lines, j.checkpoints), replay_prepared(j.lines, j.checkpoints))


@FUZZ
@given(mutated_journal())
def test_prepared_lines_name_the_same_first_failure_as_plain_replay(case: tuple[str, list[bytes]]) -> None:
    _, lines = case
    checkpoints = journal().checkpoints
    expected = replay_lines(lines, checkpoints)
    same_outcome(expected, replay_prepared(lines, checkpoints))
    same_outcome(expected, replay_prepared(lines, checkpoints, hints=(), batch=50, party_keys="none"))
    same_outcome(expected, replay_prepared(lines, checkpoints, batch=1, party_keys="wrong"))
    store = DiskStore(memory_limit=2)
    try:
        same_outcome(expected, replay_prepared(lines, checkpoints, store=store))
    finally:
        store.close()


def test_a_seal_hint_for_a_key_that_does_not_verify_falls_back_to_the_valid_keys() -> None:
    lines = build().lines
    keys = (IMPOSTOR.public,)
    prepared = [_unwire(w, keys) for w in _prepare_batch(lines, keys)]
    assert all(p.seal == {IMPOSTOR.public: False} for p in prepared)
    replayer = Replayer()
    for p in prepared:
        replayer.feed_prepared(p)
    assert replayer.report().state.totals() == {("COD", LOT.key()): 0}


def test_a_worker_pool_prepares_in_order_and_stops_cleanly_at_a_failure() -> None:
    lines = build().lines
    lines[4], lines[5] = lines[5], lines[4]
    replayer = Replayer()
    stream = prepared_stream(lines, replayer, workers=2, batch=2, hint_keys=(REGISTRY.public,))
    with pytest.raises(ReplayError) as caught:
        feed_all(replayer, stream)
    stream.close()
    assert (caught.value.failure.seq, caught.value.failure.rule) == (4, "sequence")


def test_a_worker_pool_replays_a_whole_journal_like_one_process() -> None:
    j = journal()
    replayer = Replayer(j.checkpoints)
    for prep in prepared_stream(j.lines, replayer, workers=2, batch=4):
        replayer.feed_prepared(prep)
    same_outcome(replay_lines(j.lines, j.checkpoints), replayer.report(replayer.finish()))


# --- bounded memory: the disk-backed sets are exact -------------------------------------------------


def test_the_digest_set_is_exact_before_and_after_it_spills_to_disk() -> None:
    store = DiskStore(memory_limit=4)
    try:
        digests = [bytes([i]) * 16 for i in range(20)]
        assert all(store.digests.add(d) for d in digests)
        assert not any(store.digests.add(d) for d in digests)
        assert store.digests.add(b"\xff" * 16)
    finally:
        store.close()


def test_the_hold_archive_returns_every_closed_hold_after_it_spills_to_disk() -> None:
    store = DiskStore(memory_limit=2)
    try:
        holds = [Hold(f"h{i}", "a", "COD", LOT.key(), 0, "pledge", "bank", "released") for i in range(6)]
        for h in holds:
            store.holds.put(h)
        assert [store.holds.get(h.id) for h in holds] == holds
        assert store.holds.get("nope") is None
    finally:
        store.close()


def pledge_entries(rounds: int) -> list[tuple[Any, list[Any]]]:
    """The standard journal, then ``rounds`` pledges of alice's units placed and released."""
    entries = standard_entries()
    entries.append((OpenAccount("bank.h", "bob", AccountKind.HOLDING, "n-open-bank"), []))
    for i in range(rounds):
        place = TxBody(
            "pledge", f"n-place-{i}", holds=(HoldPlace(f"p{i}", "alice.h", "COD", LOT, 10, "pledge", "bob"),)
        )
        release = TxBody("pledge.release", f"n-release-{i}", holds=(HoldSettle("release", f"p{i}", 10),))
        entries += [(place, [signature("alice", place)]), (release, [signature("bob", release)])]
    return entries


def test_closed_holds_on_disk_still_refuse_a_second_release_and_a_reused_hold_id() -> None:
    entries = pledge_entries(5)
    again = TxBody("pledge.release", "n-again", holds=(HoldSettle("release", "p0", 10),))
    reused = TxBody("pledge", "n-reuse", holds=(HoldPlace("p1", "alice.h", "COD", LOT, 1, "pledge", "bob"),))
    for extra, rule in [
        ((again, [signature("bob", again)]), "hold_not_open"),
        ((reused, [signature("alice", reused)]), "duplicate_hold"),
    ]:
        lines = build([*entries, extra]).lines
        expected = replay_lines(lines)
        assert (expected.failure.seq, expected.failure.rule) == (len(lines) - 1, rule)
        store = DiskStore(memory_limit=1)
        try:
            replayer = Replayer(digests=store.digests, hold_archive=store.holds)
            with pytest.raises(ReplayError) as caught:
                feed_all(replayer, lines)
            assert caught.value.failure == expected.failure
            assert len(replayer.state.holds) == 0  # every closed hold went to the archive
        finally:
            store.close()


def test_a_duplicate_far_from_its_original_is_caught_after_the_digests_spilled() -> None:
    entries = pledge_entries(4)
    entries.append(entries[TRANSFER_SEQ])
    lines = build(entries).lines
    store = DiskStore(memory_limit=3)
    try:
        report = replay_prepared(lines, store=store)
    finally:
        store.close()
    assert (report.failure.seq, report.failure.rule) == (len(lines) - 1, "duplicate_instruction")


# --- checkpoints as a stream ------------------------------------------------------------------------


def test_checkpoints_given_as_a_sorted_stream_verify_like_a_mapping() -> None:
    j = build()
    cps = [make_checkpoint(j, 5), make_checkpoint(j, 12)]
    report = replay_lines(j.lines, iter(cps))
    assert report.ok
    assert report.checkpoints_verified == 2


def test_a_stream_of_checkpoints_out_of_order_is_refused() -> None:
    j = build()
    report = replay_lines(j.lines, iter([make_checkpoint(j, 8), make_checkpoint(j, 5)]))
    assert (report.failure.seq, report.failure.rule) == (7, "checkpoint_order")


def test_two_checkpoints_of_one_size_are_both_verified_and_a_false_one_is_named() -> None:
    j = build()
    kept = make_checkpoint(j, 6)
    forged = Checkpoint.sign(tree_size=6, root=bytes(32), time=kept.time, key=REGISTRY)
    report = replay_lines(j.lines, iter([kept, forged]))
    assert (report.failure.seq, report.failure.rule) == (5, "checkpoint_root")


# --- a key revoked before the record that uses it ---------------------------------------------------


def revoked_key_journal() -> tuple[Journal, int]:
    """Alice's key is revoked; a later transfer still carries her signature and the registry sealed it."""
    journal = build()
    revoke = RevokeKey("alice", KEYS["alice"].key_id, None, "key lost", "n-revoke")
    journal.add(revoke, [])
    late = TxBody(
        "transfer", "n-late", (Posting("alice.h", "COD", LOT, -10), Posting("bob.h", "COD", LOT, 10))
    )
    journal.add(late, [signature("alice", late)])
    return journal, len(journal.records) - 1


def test_a_record_signed_by_a_revoked_key_fails_at_that_record() -> None:
    journal, late = revoked_key_journal()
    assert journal.records[late].time > journal.records[late - 1].time
    for report in (replay_lines(journal.lines), replay_prepared(journal.lines)):
        assert report.failure is not None
        assert (report.failure.seq, report.failure.rule) == (late, "key_not_valid")
        assert "revoked" in report.failure.message


def test_a_revocation_dated_in_the_future_leaves_earlier_records_valid() -> None:
    journal = build()
    revoke = RevokeKey("alice", KEYS["alice"].key_id, T0 + timedelta(days=1), "rotation", "n-revoke")
    journal.add(revoke, [])
    ok = TxBody("transfer", "n-ok", (Posting("alice.h", "COD", LOT, -10), Posting("bob.h", "COD", LOT, 10)))
    journal.add(ok, [signature("alice", ok)])
    assert replay_lines(journal.lines).ok


# --- record checks (the plug-in seam) ---------------------------------------------------------------


def test_a_record_check_sees_each_tx_body_with_the_state_before_it_and_can_fail_it() -> None:
    seen: list[tuple[int, str, int]] = []

    def check(seq: int, body: dict[str, Any], state: LedgerState) -> ReplayFailure | None:
        seen.append((seq, body["action"], state.position(("alice.h", "COD", LOT.key())).total))
        if body["action"] == "transfer":
            return ReplayFailure(seq, "test_rule", "transfers are refused here", {"why": "test"})
        return None

    replayer = Replayer(checks=[check])
    with pytest.raises(ReplayError) as caught:
        feed_all(replayer, build().lines)
    assert seen == [(10, "issue", 0), (11, "transfer", 1000)]
    assert caught.value.failure == ReplayFailure(
        TRANSFER_SEQ, "test_rule", "transfers are refused here", {"why": "test"}
    )
    assert replayer.next_seq == TRANSFER_SEQ  # a refused record is not applied


# --- the early party-signature check never accepts what check_signatures refuses -----------------

PARTY_KEYS = {p: SigningKey.from_seed(f"consent-{p}".encode().ljust(32, b"-")) for p in ("a", "b", "c")}
OTHER = SigningKey.from_seed(b"consent-other".ljust(32, b"-"))
moments = st.sampled_from([T0 - timedelta(days=1), T0, T0 + timedelta(days=1)])


@st.composite
def consent_case(draw: st.DrawFn) -> tuple[LedgerState, bytes, set[str], dict[str, bytes]]:
    """Mostly honest signatures and keys, so that the early path is taken often, with every
    way to be wrong mixed in: key unknown, of another party, not yet valid or revoked at the
    record's time, signature by another key, a required party missing, a worker's wrong key."""
    state = LedgerState()
    for party, key in PARTY_KEYS.items():
        if draw(st.sampled_from([True, True, True, False])):
            revoked = draw(st.none() | moments)
            state.keys[key.key_id] = KeyInfo(party, key.key_id, key.public, draw(moments), revoked)
    body = TxBody("transfer", "n-consent", (Posting("x", "COD", LOT, -1), Posting("y", "COD", LOT, 1)))
    body_bytes = canonical_bytes(body.to_json())
    sigs = []
    for _ in range(draw(st.integers(0, 3))):
        named = draw(st.sampled_from(list(PARTY_KEYS)))  # whose key id the signature names
        fault = draw(st.sampled_from(["none", "none", "none", "other_signer", "other_party"]))
        claimed = draw(st.sampled_from(list(PARTY_KEYS))) if fault == "other_party" else named
        signer = OTHER if fault == "other_signer" else PARTY_KEYS[named]
        sigs.append(Signature(claimed, PARTY_KEYS[named].key_id, signer.sign(TAG_BODY, body_bytes)))
    required = set(draw(st.lists(st.sampled_from(list(PARTY_KEYS)), max_size=3)))
    directory = {}
    for key in PARTY_KEYS.values():
        entry = draw(st.sampled_from(["right", "right", "right", "wrong", "missing"]))
        if entry != "missing":
            directory[key.key_id] = key.public if entry == "right" else OTHER.public
    line = seal(seq=1, prev=bytes(32), time=T0, body=body.to_json(), sigs=sigs, registry=REGISTRY).line()
    return state, line, required, directory


@FUZZ
@given(consent_case())
def test_a_worker_proven_consent_is_one_check_signatures_accepts(
    case: tuple[LedgerState, bytes, set[str], dict[str, bytes]],
) -> None:
    state, line, required, directory = case
    prep = prepare(line, (), directory)
    assert prep.record is not None
    replayer = Replayer()
    replayer.state = state
    if replayer._consent_proven(prep.record, required, prep.signed_with):
        check_signatures(prep.record.body_bytes, prep.record.sigs, required, state, prep.record.time)


def test_a_fully_signed_record_is_proven_without_verifying_again() -> None:
    journal = build()
    replayer = Replayer()
    for line in journal.lines[:TRANSFER_SEQ]:
        replayer.feed(line)
    prep = prepare(journal.lines[TRANSFER_SEQ], (), replayer.party_keys())
    assert prep.record is not None
    assert prep.signed_with == (KEYS["alice"].public,)
    assert replayer._consent_proven(prep.record, {"alice"}, prep.signed_with)
    assert not replayer._consent_proven(prep.record, {"alice", "bob"}, prep.signed_with)


def test_a_signature_checked_against_a_key_the_state_does_not_hold_proves_nothing() -> None:
    journal = build()
    replayer = Replayer()
    for line in journal.lines[:TRANSFER_SEQ]:
        replayer.feed(line)
    transfer = journal.records[TRANSFER_SEQ]
    body = parse_line(transfer.line()).body
    forged = Signature("alice", KEYS["alice"].key_id, OTHER.sign(TAG_BODY, canonical_bytes(body)))
    line = seal(
        seq=TRANSFER_SEQ,
        prev=journal.records[TRANSFER_SEQ - 1].hash,
        time=transfer.time,
        body=body,
        sigs=[forged],
        registry=REGISTRY,
    ).line()
    prep = prepare(line, (), {KEYS["alice"].key_id: OTHER.public})  # a worker with a wrong directory
    assert prep.record is not None
    assert prep.signed_with == (OTHER.public,)
    assert not replayer._consent_proven(prep.record, {"alice"}, prep.signed_with)
    with pytest.raises(ReplayError) as caught:
        replayer.feed_prepared(prep)
    assert caught.value.failure.rule == "bad_signature"
