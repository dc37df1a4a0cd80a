"""Offline verification of pledge certificates (pure): a journal built in memory, one pledge record
in it, and every way a certificate can be wrong found and named, without a database."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from ledger.checkpoint import Checkpoint
from ledger.crypto import SigningKey
from ledger.journal import GENESIS_PREV, SealedRecord, seal
from ledger.merkle import inclusion_proof, root_of
from ledger.model import Lot, Posting, TxBody
from ledger.service import sign_body
from market.certificate import PartyKey, PledgeCertificate, verify_certificate
from market.errors import MalformedCertificate
from market.pledge import Pledge, PledgeStatus, registration_body

AT = datetime(2025, 6, 1, tzinfo=UTC)
REGISTRY = SigningKey.from_seed(b"r" * 32)
KEYS = {
    p: SigningKey.from_seed(p.encode().ljust(32, b"\0")[:32]) for p in ("ent:a", "bank:b", "bureau:330281")
}
LOT = Lot(jurisdiction="330281", valid_until=date(2030, 12, 31))
PLEDGE = Pledge(
    id="pl-1",
    enterprise="ent:a",
    bank="bank:b",
    bureau="bureau:330281",
    account="ent:a.holding",
    instrument="COD",
    lot=LOT,
    applied_kg=600,
    status=PledgeStatus.ACTIVE,
    approved_kg=600,
    certificate_no="ZJPW-1",
)


def _journal(body: TxBody, signers: tuple[str, ...], *, at: int = 3, size: int = 6) -> list[SealedRecord]:
    records: list[SealedRecord] = []
    prev = GENESIS_PREV
    for seq in range(size):
        if seq == at:
            sigs = [sign_body(body, p, KEYS[p]) for p in signers]
            payload = body.to_json()
        else:
            sigs, payload = [], {"type": "tx", "action": "filler", "nonce": f"n{seq}", "postings": []}
        rec = seal(seq=seq, prev=prev, time=AT, body=payload, sigs=sigs, registry=REGISTRY)
        records.append(rec)
        prev = rec.hash
    return records


def _certificate(
    body: TxBody | None = None, signers: tuple[str, ...] = ("bank:b", "bureau:330281", "ent:a"), at: int = 3
) -> PledgeCertificate:
    records = _journal(body or registration_body(PLEDGE), signers, at=at)
    leaves = [r.leaf for r in records]
    checkpoint = Checkpoint.sign(tree_size=len(leaves), root=root_of(leaves), time=AT, key=REGISTRY)
    return PledgeCertificate(
        pledge_id=PLEDGE.id,
        enterprise=PLEDGE.enterprise,
        bank=PLEDGE.bank,
        bureau=PLEDGE.bureau,
        account=PLEDGE.account,
        instrument="COD",
        lot=LOT,
        quantity_kg=600,
        hold_id=PLEDGE.hold_id,
        certificate_no="ZJPW-1",
        record=records[at].line(),
        seq=at,
        path=tuple(inclusion_proof(leaves, at)),
        checkpoint=checkpoint,
        keys=tuple(PartyKey(p, k.key_id, k.public) for p, k in sorted(KEYS.items())),
        loan={"loan_id": "LN-1", "amount_fen": 600_000},
    )


def test_a_genuine_certificate_passes_every_check() -> None:
    check = verify_certificate(_certificate(), REGISTRY.public, expected_quantity_kg=600)
    assert check.ok, check.problems
    assert (
        check.checkpoint_signed,
        check.included,
        check.sealed,
        check.signed_by_parties,
        check.pledge_matches,
    ) == (
        True,
        True,
        True,
        True,
        True,
    )


def test_the_json_form_round_trips_and_still_verifies() -> None:
    cert = _certificate()
    again = PledgeCertificate.from_json(json.loads(json.dumps(cert.to_json())))
    assert again == cert
    assert verify_certificate(again, REGISTRY.public).ok


def test_another_registry_key_fails_the_checkpoint_and_the_seal() -> None:
    check = verify_certificate(_certificate(), SigningKey.from_seed(b"x" * 32).public)
    assert not check.checkpoint_signed
    assert not check.sealed
    assert check.included  # the Merkle path itself is sound
    assert len(check.problems) == 2


def test_a_tampered_record_is_neither_included_nor_sealed_nor_signed() -> None:
    cert = _certificate()
    forged = cert.record.replace(b'"amount":600', b'"amount":6000')
    assert forged != cert.record
    check = verify_certificate(replace(cert, record=forged, quantity_kg=6_000), REGISTRY.public)
    assert not check.included
    assert not check.sealed
    assert not check.signed_by_parties
    assert check.pledge_matches  # it claims what it says; the proofs are what fail


def test_a_wrong_audit_path_or_position_is_not_included() -> None:
    cert = _certificate()
    assert not verify_certificate(replace(cert, path=cert.path[::-1]), REGISTRY.public).included
    assert not verify_certificate(replace(cert, seq=2), REGISTRY.public).included
    assert not verify_certificate(replace(cert, path=()), REGISTRY.public).included


def test_a_missing_party_signature_is_named() -> None:
    check = verify_certificate(_certificate(signers=("bank:b", "ent:a")), REGISTRY.public)
    assert not check.signed_by_parties
    assert "no valid signature of bureau:330281" in check.problems


def test_a_substituted_key_does_not_verify_the_bank_signature() -> None:
    cert = _certificate()
    impostor = SigningKey.from_seed(b"i" * 32)
    keys = tuple(
        PartyKey(k.party, k.key_id, impostor.public) if k.party == "bank:b" else k for k in cert.keys
    )
    check = verify_certificate(replace(cert, keys=keys), REGISTRY.public)
    assert not check.signed_by_parties
    assert any("bank:b" in p for p in check.problems)


def test_a_record_that_is_not_a_pledge_hold_is_refused() -> None:
    transfer = TxBody(
        "transfer",
        "n",
        (Posting("ent:a.holding", "COD", LOT, -600), Posting("bank:b.holding", "COD", LOT, 600)),
    )
    check = verify_certificate(_certificate(body=transfer, signers=("ent:a",)), REGISTRY.public)
    assert not check.pledge_matches
    assert check.included
    assert check.sealed


def test_claims_that_differ_from_the_record_are_each_named() -> None:
    cert = _certificate()
    check = verify_certificate(
        replace(cert, quantity_kg=700, bank="bank:z", hold_id="pledge.x"), REGISTRY.public
    )
    assert not check.pledge_matches
    text = " | ".join(check.problems)
    for name in ("quantity", "controller", "hold id"):
        assert name in text
    assert not verify_certificate(cert, REGISTRY.public, expected_quantity_kg=599).ok


def test_an_unparseable_record_is_reported_not_raised() -> None:
    check = verify_certificate(replace(_certificate(), record=b"{not json"), REGISTRY.public)
    assert not check.ok
    assert not check.included
    assert check.checkpoint_signed


@pytest.mark.parametrize("damage", ["keys", "lot", "seq", "checkpoint"])
def test_a_malformed_certificate_is_refused_on_parsing(damage: str) -> None:
    obj = _certificate().to_json()
    obj[damage] = {"keys": [{"party": "x"}], "lot": {"jurisdiction": "33"}, "seq": "3", "checkpoint": {}}[
        damage
    ]
    with pytest.raises(MalformedCertificate):
        PledgeCertificate.from_json(obj)
