"""The signature entries of a record, as replay checks them over a forged, registry-sealed journal:
from rule set 2 on, one signature per party and ``custody`` only on a key registered as held by
the registry; a journal of rule set 1 replays as it was written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger.canonical import canonical_bytes
from ledger.crypto import TAG_BODY, SigningKey
from ledger.journal import GENESIS_PREV, SealedRecord, seal
from ledger.model import AdoptRules, Body, Genesis, RegisterKey, RegisterParty, Signature
from ledger.replay import replay_lines

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
REGISTRY = SigningKey.from_seed(b"R" * 32)
ALICE, ALICE_2, BOB = (SigningKey.from_seed(s * 32) for s in (b"a", b"A", b"b"))
NEWCOMER = RegisterParty("carol", "enterprise", {}, "n-carol")


def sig(party: str, key: SigningKey, body: Body = NEWCOMER, *, custody: bool = False) -> Signature:
    return Signature(party, key.key_id, key.sign(TAG_BODY, canonical_bytes(body.to_json())), custody)


def journal(rule_set: int, sigs: list[Signature]) -> list[bytes]:
    """Genesis, (rule set 2), alice with two keys of her own, bob with a key the registry holds,
    then a body carrying ``sigs``, every record sealed by the registry."""
    entries: list[Body] = [Genesis("sig test", REGISTRY.key_id, REGISTRY.public, "n-genesis")]
    if rule_set == 2:
        entries.append(AdoptRules(2, "n-rules"))
    entries += [
        RegisterParty("alice", "enterprise", {}, "n-alice"),
        RegisterKey("alice", ALICE.key_id, ALICE.public, T0, "n-key-a"),
        RegisterKey("alice", ALICE_2.key_id, ALICE_2.public, T0, "n-key-a2"),
        RegisterParty("bob", "enterprise", {}, "n-bob"),
        RegisterKey("bob", BOB.key_id, BOB.public, T0, "n-key-b", custody=True),
    ]
    records: list[SealedRecord] = []
    for i, body in enumerate([*entries, NEWCOMER]):
        records.append(
            seal(
                seq=i,
                prev=records[-1].hash if records else GENESIS_PREV,
                time=T0 + timedelta(seconds=i),
                body=body.to_json(),
                sigs=sigs if body is NEWCOMER else (),
                registry=REGISTRY,
            )
        )
    return [r.line() for r in records]


CASES = {
    "the same signature twice": ([sig("alice", ALICE), sig("alice", ALICE)], "duplicate_signature"),
    "one party with two of its keys": ([sig("alice", ALICE), sig("alice", ALICE_2)], "duplicate_signature"),
    "custody on a key the party holds": ([sig("alice", ALICE, custody=True)], "custody_not_held"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_replay_names_the_signature_rule_a_sealed_record_breaks(case: str) -> None:
    sigs, rule = CASES[case]
    lines = journal(2, sigs)
    report = replay_lines(lines, registry_key=REGISTRY.public)
    assert report.failure is not None
    assert (report.failure.seq, report.failure.rule) == (len(lines) - 1, rule)
    assert report.failure.evidence["field"].startswith("signatures[")


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_journal_of_rule_set_1_replays_as_it_was_written(case: str) -> None:
    report = replay_lines(journal(1, CASES[case][0]), registry_key=REGISTRY.public)
    assert report.ok, report.failure


def test_custody_on_a_key_registered_as_held_and_distinct_parties_replay_clean() -> None:
    sigs = [sig("alice", ALICE), sig("bob", BOB, custody=True)]
    report = replay_lines(journal(2, sigs), registry_key=REGISTRY.public)
    assert report.ok, report.failure
    assert report.state.keys[BOB.key_id].custody
    assert not report.state.keys[ALICE.key_id].custody
