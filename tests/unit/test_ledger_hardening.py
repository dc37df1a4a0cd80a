"""Refusals added after review: pinned registry key, unreleasable holds, field order."""

from __future__ import annotations

from datetime import date

import pytest

from ledger.crypto import SigningKey
from ledger.errors import InvalidInput, UnknownParty
from ledger.model import AccountKind, Genesis, HoldPlace, Lot, Posting, RevokeKey, TxBody, parse_body
from ledger.replay import replay_lines
from ledger.rules import AccountInfo, Position, apply
from tests.unit.test_replay_pure import LOT, REGISTRY, T0, build, signature, standard_entries


def test_a_journal_made_under_another_registry_key_fails_when_the_trusted_key_is_given() -> None:
    impostor = SigningKey.from_seed(b"I" * 32)
    entries = standard_entries()
    entries[0] = (Genesis("impostor", impostor.key_id, impostor.public, "n-genesis"), [])
    journal = build([])
    for body, sigs in entries:
        journal.add(body, sigs, registry=impostor)
    assert replay_lines(journal.lines).ok  # self-consistent on its own terms...
    report = replay_lines(journal.lines, registry_key=REGISTRY.public)
    assert report.failure is not None  # ...but not the registry the auditor trusts
    assert (report.failure.seq, report.failure.rule) == (0, "registry_key")
    assert replay_lines(build().lines, registry_key=REGISTRY.public).ok


def test_a_hold_whose_controller_is_not_a_party_is_refused_since_nobody_could_release_it() -> None:
    report = replay_lines(build().lines)
    body = TxBody("pledge", "n-hold", holds=(HoldPlace("h1", "alice.h", "COD", LOT, 10, "pledge", "ghost"),))
    with pytest.raises(UnknownParty) as caught:
        apply(body, report.state, T0)
    assert caught.value.details["field"] == "holds[0].controller"
    assert signature("alice", body)  # the body itself is well formed


def test_an_unknown_record_type_is_named_before_a_missing_nonce() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_body({"type": "bogus"})
    assert caught.value.field == "body.type"


def test_a_revocation_without_a_time_takes_effect_at_its_own_record() -> None:
    state = replay_lines(build().lines).state
    alice = next(k for k in state.keys.values() if k.party == "alice")
    effect = apply(RevokeKey("alice", alice.key_id, None, "lost", "n-revoke"), state, T0)
    assert effect.key is not None
    assert effect.key.revoked_at == T0
    assert "revoked_at" not in RevokeKey("alice", alice.key_id, None, "lost", "n").to_json()


def _expiry_state():
    expired = Lot(jurisdiction="330281", valid_until=date(2024, 12, 31))
    state = replay_lines(build().lines).state
    state.accounts["sink"] = AccountInfo("sink", "bureau", AccountKind.RETIREMENT)
    state.positions[("alice.h", "COD", expired.key())] = Position(700, 0)
    state.positions[("cap", "COD", expired.key())] = Position(-700, 0)
    return state, expired


def test_an_expiry_run_sweeps_expired_units_without_the_holders_signature() -> None:
    state, expired = _expiry_state()
    body = TxBody(
        "expiry", "n-exp", (Posting("alice.h", "COD", expired, -700), Posting("sink", "COD", expired, 700))
    )
    effect = apply(body, state, T0)
    assert effect.required_signers == set()
    assert effect.positions[("sink", "COD", expired.key())] == Position(700, 0)


def test_an_expiry_run_cannot_move_live_units_or_send_them_anywhere_but_retirement() -> None:
    state, expired = _expiry_state()
    live = TxBody("expiry", "n-1", (Posting("alice.h", "COD", LOT, -100), Posting("sink", "COD", LOT, 100)))
    with pytest.raises(InvalidInput, match="past their validity end"):
        apply(live, state, T0)
    elsewhere = TxBody(
        "expiry", "n-2", (Posting("alice.h", "COD", expired, -7), Posting("bob.h", "COD", expired, 7))
    )
    with pytest.raises(InvalidInput, match="retirement account only"):
        apply(elsewhere, state, T0)


def test_a_sealed_core_spliced_from_body_bytes_is_exactly_the_canonical_record() -> None:
    from ledger.canonical import canonical_bytes
    from ledger.journal import seal
    from ledger.timeutil import format_utc

    for body, sigs in standard_entries():
        raw = body.to_json()
        sealed = seal(seq=7, prev=bytes(range(32)), time=T0, body=raw, sigs=sigs, registry=REGISTRY)
        expected = canonical_bytes(
            {
                "seq": 7,
                "prev": bytes(range(32)).hex(),
                "time": format_utc(T0),
                "body": raw,
                "sigs": [s.to_json() for s in sigs],
            }
        )
        assert sealed.core == expected


def test_an_empty_transaction_is_refused_when_built_in_code_as_when_parsed() -> None:
    with pytest.raises(InvalidInput, match="postings or hold operations"):
        TxBody("nothing", "n-empty")
    with pytest.raises(InvalidInput, match="postings or hold operations"):
        parse_body({"type": "tx", "action": "nothing", "nonce": "n", "postings": [], "holds": []})
