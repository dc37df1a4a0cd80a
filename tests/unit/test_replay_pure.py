"""Replay from journal lines alone: an intact journal replays; each kind of tampering is named."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from ledger.canonical import canonical_bytes
from ledger.checkpoint import Checkpoint
from ledger.crypto import TAG_BODY, TAG_REGISTRY, SigningKey, b64e
from ledger.errors import MalformedRecord
from ledger.journal import GENESIS_PREV, SealedRecord, parse_line, seal
from ledger.merkle import root_of
from ledger.model import (
    AccountKind,
    Body,
    Genesis,
    Lot,
    OpenAccount,
    Posting,
    RegisterKey,
    RegisterParty,
    Signature,
    TxBody,
)
from ledger.replay import replay_lines
from ledger.rules import Position
from ledger.timeutil import format_utc

T0 = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
LOT = Lot(jurisdiction="330281", valid_until=date(2030, 12, 31))
REGISTRY = SigningKey.from_seed(b"R" * 32)
KEYS = {p: SigningKey.from_seed(p.encode().ljust(32, b"-")) for p in ("bureau", "alice", "bob")}
ISSUE_SEQ, TRANSFER_SEQ = 10, 11


def signature(party: str, body: Body, key: SigningKey | None = None) -> Signature:
    k = key or KEYS[party]
    return Signature(party, k.key_id, k.sign(TAG_BODY, canonical_bytes(body.to_json())))


def standard_entries() -> list[tuple[Body, list[Signature]]]:
    """Genesis; three parties with keys; four accounts; an issuance; a transfer."""
    entries: list[tuple[Body, list[Signature]]] = [
        (Genesis("test registry", REGISTRY.key_id, REGISTRY.public, "n-genesis"), [])
    ]
    for party, key in KEYS.items():
        entries.append((RegisterParty(party, "role", {}, f"n-party-{party}"), []))
        entries.append((RegisterKey(party, key.key_id, key.public, T0, f"n-key-{party}"), []))
    for account, owner, kind in [
        ("cap", "bureau", AccountKind.ISSUANCE),
        ("alice.h", "alice", AccountKind.HOLDING),
        ("bob.h", "bob", AccountKind.HOLDING),
    ]:
        entries.append((OpenAccount(account, owner, kind, f"n-open-{account}"), []))
    issue = TxBody(
        "issue", "n-issue", (Posting("cap", "COD", LOT, -1000), Posting("alice.h", "COD", LOT, 1000))
    )
    entries.append((issue, [signature("bureau", issue)]))
    transfer = TxBody(
        "transfer", "n-transfer", (Posting("alice.h", "COD", LOT, -250), Posting("bob.h", "COD", LOT, 250))
    )
    entries.append((transfer, [signature("alice", transfer)]))
    assert len(entries) == TRANSFER_SEQ + 1
    return entries


@dataclass
class Journal:
    records: list[SealedRecord] = field(default_factory=list)

    @property
    def lines(self) -> list[bytes]:
        return [r.line() for r in self.records]

    def add(
        self, body: Body | dict[str, Any], sigs: list[Signature], *, registry: SigningKey = REGISTRY
    ) -> None:
        seq = len(self.records)
        prev = self.records[-1].hash if self.records else GENESIS_PREV
        raw = body if isinstance(body, dict) else body.to_json()
        self.records.append(
            seal(seq=seq, prev=prev, time=T0 + timedelta(seconds=seq), body=raw, sigs=sigs, registry=registry)
        )


def build(entries: list[tuple[Body, list[Signature]]] | None = None) -> Journal:
    journal = Journal()
    for body, sigs in entries if entries is not None else standard_entries():
        journal.add(body, sigs)
    return journal


def flip_byte(line: bytes, at: int) -> bytes:
    return line[:at] + bytes([line[at] ^ 0x01]) + line[at + 1 :]


# --- an intact journal ----------------------------------------------------------------------


def test_an_intact_journal_replays_to_the_expected_balances() -> None:
    journal = build()
    report = replay_lines(journal.lines)
    assert report.ok, report.failure
    assert report.records == len(journal.records)
    assert report.head_hash == journal.records[-1].hash
    assert report.state.position(("alice.h", "COD", LOT.key())) == Position(750, 0)
    assert report.state.position(("bob.h", "COD", LOT.key())) == Position(250, 0)
    assert report.state.position(("cap", "COD", LOT.key())) == Position(-1000, 0)
    assert report.state.totals() == {("COD", LOT.key()): 0}


def test_the_replayed_frontier_is_the_merkle_tree_of_the_record_leaves() -> None:
    journal = build()
    report = replay_lines(journal.lines)
    assert report.frontier.size == len(journal.records)
    assert report.frontier.root() == root_of([r.leaf for r in journal.records])


def test_an_empty_journal_replays_to_nothing() -> None:
    report = replay_lines([])
    assert report.ok
    assert report.records == 0
    assert report.head_hash == GENESIS_PREV


def test_a_sealed_line_is_canonical_and_parses_back_to_its_parts() -> None:
    record = build().records[TRANSFER_SEQ]
    parsed = parse_line(record.line())
    assert canonical_bytes(parse_line(record.line()).body) == parsed.body_bytes
    assert (parsed.seq, parsed.time, parsed.hash) == (TRANSFER_SEQ, record.time, record.hash)
    assert parsed.sigs[0].party == "alice"
    assert parsed.registry_sig == record.registry_sig


def test_a_seal_given_the_encoded_body_and_time_is_the_seal_that_encodes_them() -> None:
    """The hot path hands ``seal`` the body's bytes and the time's text it already made; the record
    must be byte for byte the one ``seal`` makes from the values alone."""
    record = build().records[TRANSFER_SEQ]
    parsed = parse_line(record.line())
    key = SigningKey.from_seed(b"r" * 32)
    common: dict[str, Any] = {
        "seq": parsed.seq, "prev": parsed.prev, "time": parsed.time, "body": parsed.body, "sigs": parsed.sigs
    }  # fmt: skip
    plain = seal(**common, registry=key)
    spliced = seal(**common, registry=key, body_bytes=parsed.body_bytes, stamp=format_utc(parsed.time))
    assert (spliced.core, spliced.hash, spliced.registry_sig) == (plain.core, plain.hash, plain.registry_sig)


def test_a_line_with_inserted_whitespace_does_not_parse() -> None:
    line = build().records[1].line()
    with pytest.raises(MalformedRecord):
        parse_line(line.replace(b'"seq":', b'"seq": '))


# --- tampering ------------------------------------------------------------------------------


@pytest.mark.parametrize("seq", [1, ISSUE_SEQ, TRANSFER_SEQ])
def test_a_flipped_byte_inside_a_body_value_breaks_the_registry_seal_of_that_record(seq: int) -> None:
    lines = build().lines
    at = lines[seq].index(b'"nonce":"n-') + len(b'"nonce":"n-')  # a letter: the line stays canonical
    lines[seq] = flip_byte(lines[seq], at)
    report = replay_lines(lines)
    assert (report.failure.seq, report.failure.rule) == (seq, "registry_signature")
    assert report.records == seq


def test_a_flipped_byte_in_the_genesis_breaks_its_self_signature() -> None:
    lines = build().lines
    at = lines[0].index(b"test registry")
    lines[0] = flip_byte(lines[0], at)
    report = replay_lines(lines)
    assert (report.failure.seq, report.failure.rule) == (0, "registry_signature")


def test_a_flipped_structural_byte_is_a_canonical_form_failure() -> None:
    lines = build().lines
    lines[5] = flip_byte(lines[5], lines[5].index(b":"))
    report = replay_lines(lines)
    assert (report.failure.seq, report.failure.rule) == (5, "canonical_form")


def test_a_flipped_character_in_the_registry_seal_is_a_registry_signature_failure() -> None:
    lines = build().lines
    at = lines[ISSUE_SEQ].index(b'"registry_sig":"') + len(b'"registry_sig":"')
    first = lines[ISSUE_SEQ][at : at + 1]
    swap = b"B" if first != b"B" else b"C"
    lines[ISSUE_SEQ] = lines[ISSUE_SEQ][:at] + swap + lines[ISSUE_SEQ][at + 1 :]
    report = replay_lines(lines)
    assert (report.failure.seq, report.failure.rule) == (ISSUE_SEQ, "registry_signature")


@pytest.mark.parametrize("dropped", [1, 4, ISSUE_SEQ])
def test_a_dropped_record_is_named_by_the_sequence_number_that_is_missing(dropped: int) -> None:
    lines = build().lines
    del lines[dropped]
    report = replay_lines(lines)
    assert (report.failure.seq, report.failure.rule) == (dropped, "sequence")
    assert report.failure.evidence == {"found": dropped + 1}


def test_dropping_the_genesis_fails_at_record_zero() -> None:
    report = replay_lines(build().lines[1:])
    assert (report.failure.seq, report.failure.rule) == (0, "sequence")


def test_dropping_the_last_record_goes_unnoticed_without_a_checkpoint() -> None:
    journal = build()
    report = replay_lines(journal.lines[:-1])
    assert report.ok
    assert report.head_hash == journal.records[-2].hash


@pytest.mark.parametrize("first", [2, ISSUE_SEQ])
def test_two_swapped_records_fail_at_the_first_of_them(first: int) -> None:
    lines = build().lines
    lines[first], lines[first + 1] = lines[first + 1], lines[first]
    report = replay_lines(lines)
    assert (report.failure.seq, report.failure.rule) == (first, "sequence")


def test_a_record_resealed_with_a_wrong_prev_breaks_the_hash_chain() -> None:
    journal = build()
    rec = journal.records[ISSUE_SEQ]
    parsed = parse_line(rec.line())
    forged = seal(
        seq=ISSUE_SEQ,
        prev=bytes(32),
        time=rec.time,
        body=parsed.body,
        sigs=list(parsed.sigs),
        registry=REGISTRY,
    )
    lines = journal.lines
    lines[ISSUE_SEQ] = forged.line()
    report = replay_lines(lines)
    assert (report.failure.seq, report.failure.rule) == (ISSUE_SEQ, "hash_chain")
    assert report.failure.evidence["expected"] == journal.records[ISSUE_SEQ - 1].hash.hex()


def test_a_seal_forged_with_another_registry_key_is_a_registry_signature_failure() -> None:
    journal = build()
    impostor = SigningKey.from_seed(b"I" * 32)
    rec = journal.records[TRANSFER_SEQ]
    forged = SealedRecord(rec.seq, rec.time, rec.core, rec.hash, impostor.sign(TAG_REGISTRY, rec.hash))
    lines = journal.lines
    lines[TRANSFER_SEQ] = forged.line()
    report = replay_lines(lines)
    assert (report.failure.seq, report.failure.rule) == (TRANSFER_SEQ, "registry_signature")


def test_a_party_signature_forged_with_another_key_is_a_bad_signature_even_if_the_registry_seals_it() -> None:
    entries = standard_entries()
    transfer, _ = entries[TRANSFER_SEQ]
    mallory = SigningKey.from_seed(b"M" * 32)
    forged = Signature(
        "alice", KEYS["alice"].key_id, mallory.sign(TAG_BODY, canonical_bytes(transfer.to_json()))
    )
    entries[TRANSFER_SEQ] = (transfer, [forged])
    report = replay_lines(build(entries).lines)
    assert (report.failure.seq, report.failure.rule) == (TRANSFER_SEQ, "bad_signature")
    assert report.records == TRANSFER_SEQ


def test_a_transfer_without_the_owners_signature_is_a_missing_signature() -> None:
    entries = standard_entries()
    transfer, _ = entries[TRANSFER_SEQ]
    entries[TRANSFER_SEQ] = (transfer, [signature("bob", transfer)])
    report = replay_lines(build(entries).lines)
    assert (report.failure.seq, report.failure.rule) == (TRANSFER_SEQ, "missing_signature")
    assert report.failure.evidence["missing"] == ["alice"]


def test_an_overdraft_the_registry_sealed_anyway_is_caught_by_the_rules() -> None:
    entries = standard_entries()
    greedy = TxBody(
        "transfer", "n-greedy", (Posting("alice.h", "COD", LOT, -5000), Posting("bob.h", "COD", LOT, 5000))
    )
    entries[TRANSFER_SEQ] = (greedy, [signature("alice", greedy)])
    report = replay_lines(build(entries).lines)
    assert (report.failure.seq, report.failure.rule) == (TRANSFER_SEQ, "insufficient_balance")


def test_the_same_signed_body_twice_is_a_duplicate_instruction() -> None:
    entries = standard_entries()
    entries.append(entries[TRANSFER_SEQ])
    report = replay_lines(build(entries).lines)
    assert (report.failure.seq, report.failure.rule) == (TRANSFER_SEQ + 1, "duplicate_instruction")


def test_a_second_genesis_is_refused() -> None:
    entries = standard_entries()
    entries.append((Genesis("again", REGISTRY.key_id, REGISTRY.public, "n-genesis-2"), []))
    report = replay_lines(build(entries).lines)
    assert (report.failure.seq, report.failure.rule) == (TRANSFER_SEQ + 1, "genesis")


def test_a_body_that_does_not_parse_is_named_as_a_body_failure() -> None:
    journal = build()
    journal.add({"type": "tx", "action": "transfer", "nonce": "n-bad", "postings": []}, [])
    report = replay_lines(journal.lines)
    assert (report.failure.seq, report.failure.rule) == (TRANSFER_SEQ + 1, "body")
    assert report.failure.evidence["field"] == "body.postings"


def test_a_record_older_than_its_predecessor_is_out_of_time_order() -> None:
    journal = build()
    last = journal.records[-1]
    journal.records.append(
        seal(
            seq=last.seq + 1,
            prev=last.hash,
            time=last.time - timedelta(microseconds=1),
            body=RegisterParty("carol", "role", {}, "n-carol").to_json(),
            sigs=[],
            registry=REGISTRY,
        )
    )
    report = replay_lines(journal.lines)
    assert (report.failure.seq, report.failure.rule) == (last.seq + 1, "time_order")


# --- checkpoints ----------------------------------------------------------------------------


def checkpoint(
    journal: Journal, size: int, key: SigningKey = REGISTRY, root: bytes | None = None
) -> Checkpoint:
    root = root if root is not None else root_of([r.leaf for r in journal.records[:size]])
    return Checkpoint.sign(tree_size=size, root=root, time=journal.records[size - 1].time, key=key)


def test_a_registry_signed_checkpoint_matching_the_journal_is_verified() -> None:
    journal = build()
    cps = {5: checkpoint(journal, 5), 12: checkpoint(journal, 12)}
    report = replay_lines(journal.lines, cps)
    assert report.ok, report.failure
    assert report.checkpoints_verified == 2


def test_a_checkpoint_line_round_trips() -> None:
    cp = checkpoint(build(), 5)
    assert Checkpoint.from_line(cp.line()) == cp
    assert cp.verifies_with(REGISTRY.public)
    assert not cp.verifies_with(KEYS["alice"].public)


def test_a_checkpoint_whose_root_differs_from_the_journal_names_the_last_record_it_covers() -> None:
    journal = build()
    report = replay_lines(journal.lines, {6: checkpoint(journal, 6, root=bytes(32))})
    assert (report.failure.seq, report.failure.rule) == (5, "checkpoint_root")


def test_a_checkpoint_signed_by_another_key_is_refused() -> None:
    journal = build()
    report = replay_lines(journal.lines, {6: checkpoint(journal, 6, key=KEYS["alice"])})
    assert (report.failure.seq, report.failure.rule) == (5, "checkpoint_signature")


def test_a_checkpoint_beyond_the_journal_exposes_dropped_records_at_the_end() -> None:
    journal = build()
    report = replay_lines(journal.lines[:-1], {12: checkpoint(journal, 12)})
    assert (report.failure.seq, report.failure.rule) == (11, "checkpoint_beyond_journal")


@pytest.mark.parametrize(
    "obj",
    [
        {
            "tree_size": -1,
            "root": "00" * 32,
            "time": "2025-01-01T00:00:00.000000Z",
            "key_id": "k",
            "signature": b64e(bytes(64)),
        },
        {
            "tree_size": 1,
            "root": "00" * 31,
            "time": "2025-01-01T00:00:00.000000Z",
            "key_id": "k",
            "signature": b64e(bytes(64)),
        },
        {
            "tree_size": 1,
            "root": "00" * 32,
            "time": "2025-01-01",
            "key_id": "k",
            "signature": b64e(bytes(64)),
        },
        {
            "tree_size": 1,
            "root": "00" * 32,
            "time": "2025-01-01T00:00:00.000000Z",
            "key_id": "k",
            "signature": "AA",
        },
        {"tree_size": 1, "root": "00" * 32, "time": "2025-01-01T00:00:00.000000Z", "key_id": "k"},
    ],
    ids=["negative-size", "short-root", "bad-time", "short-signature", "missing-signature"],
)
def test_a_malformed_checkpoint_is_a_malformed_record(obj: dict[str, Any]) -> None:
    with pytest.raises(MalformedRecord):
        Checkpoint.from_json(obj)


def test_a_deeply_nested_line_is_reported_as_a_canonical_form_failure_not_a_crash() -> None:
    for depth in range(max(1, sys.getrecursionlimit() - 300), sys.getrecursionlimit() + 10):
        try:
            report = replay_lines([b"[" * depth + b"]" * depth])
        except RecursionError:
            pytest.fail(f"replay_lines crashed with RecursionError at nesting depth {depth}")
        assert (report.failure.seq, report.failure.rule) == (0, "canonical_form")
