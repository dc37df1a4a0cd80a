"""Offline verification of pledge certificate files (pure): a journal built in memory with one pledge
registration in it (with signed loan terms, or in the older form without), and every way a file can be
wrong found and named by its field, without a database."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from ledger.checkpoint import Checkpoint
from ledger.crypto import SigningKey
from ledger.journal import GENESIS_PREV, SealedRecord, parse_line, seal
from ledger.merkle import inclusion_proof, root_of
from ledger.model import HoldPlace, Lot, Posting, TxBody
from ledger.service import sign_body
from market.consent import sign_document
from market.pledges.certificate import PartyKey, PledgeCertificate, displayed_fields, verify_certificate
from market.pledges.errors import MalformedCertificate
from market.pledges.record import approval_of, registration_body
from market.pledges.service import Pledge, PledgeStatus
from market.pledges.valuation import Appraisal, LoanTerms, PriceSource

AT = datetime(2026, 6, 1, tzinfo=UTC)
REGISTRY = SigningKey.from_seed(b"r" * 32)
PARTIES = ("ent:a", "bank:b", "bureau:330281")
KEYS = {p: SigningKey.from_seed(p.encode().ljust(32, b"\0")[:32]) for p in PARTIES}
NAMES = {"enterprise": "余姚示例化工有限公司", "bank": "示例银行余姚支行", "bureau": "余姚分局"}
LOT = Lot(jurisdiction="330281", valid_until=date(2030, 12, 31))
NUMBER = "余排污质〔2026〕第018号"
PLEDGE = Pledge(
    id="pl-1",
    enterprise="ent:a",
    bank="bank:b",
    bureau="bureau:330281",
    account="ent:a.holding",
    instrument="COD",
    lot=LOT,
    applied_kg=600,
    status=PledgeStatus.LOAN_RECORDED,
    approved_kg=600,
    certificate_no=NUMBER,
    loan=LoanTerms("LN-1", 800_000, 385, 36, date(2026, 5, 30)),
    appraisal=Appraisal("COD", "330281", 600, 1_700_000, PriceSource.REFERENCE, 1_020_000, 8_000),
)


def _signed_body(pledge: Pledge = PLEDGE) -> TxBody:
    approval = sign_document(approval_of(pledge), "bureau:330281", KEYS["bureau:330281"])
    return registration_body(replace(pledge, signatures=(approval,)), names=NAMES)


def _legacy_body() -> TxBody:
    """A registration as written before loan terms were signed: all three parties sign the body."""
    hold = HoldPlace("pledge.pl-1", "ent:a.holding", "COD", LOT, 600, "pledge", "bank:b")
    meta = {"pledge": "pl-1", "certificate_no": "ZJPW-1", "enterprise": "ent:a", "bank": "bank:b"}
    meta |= {"bureau": "bureau:330281", "quantity_kg": 600, "basis": "杭银发〔2022〕21号"}
    return TxBody(
        "pledge.register", "pl-1.register", holds=(hold,), signers=tuple(sorted(PARTIES)), meta=meta
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
    body: TxBody | None = None, signers: tuple[str, ...] = ("bank:b", "ent:a"), at: int = 3
) -> PledgeCertificate:
    records = _journal(body or _signed_body(), signers, at=at)
    leaves = [r.leaf for r in records]
    checkpoint = Checkpoint.sign(tree_size=len(leaves), root=root_of(leaves), time=AT, key=REGISTRY)
    line = records[at].line()
    try:
        shown = displayed_fields(parse_line(line))
    except Exception:  # a record that is not a registration shows nothing a person could trust
        shown = {}
    return PledgeCertificate(
        registry_public_key=REGISTRY.public,
        seq=at,
        record=line,
        path=tuple(inclusion_proof(leaves, at)),
        checkpoint=checkpoint,
        keys=tuple(PartyKey(p, k.key_id, k.public) for p, k in sorted(KEYS.items())),
        pledge=shown,
    )


def _fields(check: Any) -> list[str]:
    return [p.field for p in check.problems]


def test_a_genuine_certificate_passes_every_check_and_shows_the_signed_loan() -> None:
    check = verify_certificate(_certificate(), REGISTRY.public, expected_quantity_kg=600)
    assert check.ok, check.problems
    assert (check.checkpoint_signed, check.included, check.sealed, check.signed_by_parties) == (True,) * 4
    assert check.pledge_matches
    assert check.key_pinned
    assert check.fields is not None
    assert check.fields["certificate_no"] == NUMBER
    assert check.fields["enterprise_name"] == NAMES["enterprise"]
    assert check.fields["loan"] == {
        "loan_id": "LN-1",
        "principal_fen": 800_000,
        "rate_bp": 385,
        "term_months": 36,
        "start": "2026-05-30",
        "maturity": "2029-05-30",
    }
    assert check.fields["lots"] == [{"instrument": "COD", "lot": LOT.to_json(), "quantity_kg": 600}]


def test_the_json_file_round_trips_and_without_a_pinned_key_says_so() -> None:
    cert = _certificate()
    again = PledgeCertificate.from_json(json.loads(cert.file_bytes()))
    assert again == cert
    check = verify_certificate(again)
    assert check.ok
    assert not check.key_pinned


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("quantity_kg", 20_000),
        ("enterprise", "ent:z"),
        ("bank_name", "别的银行"),
        ("certificate_no", "余排污质〔2026〕第019号"),
        ("registered_at", "2020-01-01T00:00:00.000000Z"),
    ],
)
def test_an_edited_displayed_field_fails_and_is_named(field: str, value: Any) -> None:
    cert = _certificate()
    check = verify_certificate(replace(cert, pledge={**cert.pledge, field: value}), REGISTRY.public)
    assert _fields(check) == [f"pledge.{field}"]
    assert not check.pledge_matches
    assert check.signed_by_parties  # the evidence is sound; the claim is not
    assert check.fields is None


@pytest.mark.parametrize(
    ("name", "value"), [("principal_fen", 99_900_000), ("maturity", "2035-12-31"), ("rate_bp", 1)]
)
def test_edited_loan_terms_fail_and_are_named(name: str, value: Any) -> None:
    cert = _certificate()
    shown = json.loads(json.dumps(cert.pledge))
    shown["loan"][name] = value
    assert _fields(verify_certificate(replace(cert, pledge=shown), REGISTRY.public)) == [
        f"pledge.loan.{name}"
    ]


def test_a_shown_field_missing_or_added_is_named() -> None:
    cert = _certificate()
    less = {k: v for k, v in cert.pledge.items() if k != "bank"}
    assert _fields(verify_certificate(replace(cert, pledge=less), REGISTRY.public)) == ["pledge.bank"]
    more = {**cert.pledge, "guarantor": "someone"}
    assert _fields(verify_certificate(replace(cert, pledge=more), REGISTRY.public)) == ["pledge.guarantor"]


def test_another_registry_key_fails_the_key_the_checkpoint_and_the_seal() -> None:
    check = verify_certificate(_certificate(), SigningKey.from_seed(b"x" * 32).public)
    assert not check.checkpoint_signed
    assert not check.sealed
    assert check.included  # the Merkle path itself is sound
    assert _fields(check) == ["registry_public_key", "checkpoint", "record"]


def test_a_tampered_record_is_neither_included_nor_sealed_nor_signed() -> None:
    cert = _certificate()
    forged = cert.record.replace(b'"principal_fen":800000', b'"principal_fen":816000')
    assert forged != cert.record
    check = verify_certificate(replace(cert, record=forged), REGISTRY.public)
    assert not check.included
    assert not check.sealed
    assert not check.signed_by_parties
    assert "pledge.loan.principal_fen" in _fields(check)


def test_a_wrong_audit_path_or_position_is_not_included() -> None:
    cert = _certificate()
    assert not verify_certificate(replace(cert, path=cert.path[::-1]), REGISTRY.public).included
    assert _fields(verify_certificate(replace(cert, seq=2), REGISTRY.public)) == ["seq"]
    assert not verify_certificate(replace(cert, path=()), REGISTRY.public).included


def test_a_missing_signature_or_a_forged_approval_is_named() -> None:
    check = verify_certificate(_certificate(signers=("ent:a",)), REGISTRY.public)
    assert not check.signed_by_parties
    assert any(p.field == "record.sigs" and "bank:b" in p.message for p in check.problems)
    impostor = SigningKey.from_seed(b"i" * 32)
    forged = registration_body(
        replace(PLEDGE, signatures=(sign_document(approval_of(PLEDGE), "bureau:330281", impostor),)),
        names=NAMES,
    )
    check = verify_certificate(_certificate(body=forged), REGISTRY.public)
    assert not check.signed_by_parties
    assert "record.body.meta.approval.key_id" in _fields(check)


def test_a_substituted_key_does_not_verify_the_bank_signature() -> None:
    cert = _certificate()
    impostor = SigningKey.from_seed(b"i" * 32)
    keys = tuple(
        PartyKey(k.party, k.key_id, impostor.public) if k.party == "bank:b" else k for k in cert.keys
    )
    check = verify_certificate(replace(cert, keys=keys), REGISTRY.public)
    assert not check.signed_by_parties
    assert "keys" in _fields(check)


def test_loan_terms_the_ledger_would_refuse_fail_offline_too() -> None:
    # signed by every party and sealed, yet maturing after the rights expire: the ledger's rule says no
    late = replace(PLEDGE, loan=LoanTerms("LN-1", 800_000, 385, 120, date(2026, 5, 30)))
    check = verify_certificate(_certificate(body=_signed_body(late)), REGISTRY.public)
    assert "record.body.meta.loan.maturity" in _fields(check)


def test_a_record_written_before_loan_terms_were_signed_still_verifies() -> None:
    cert = _certificate(body=_legacy_body(), signers=tuple(sorted(PARTIES)))
    check = verify_certificate(cert, REGISTRY.public)
    assert check.ok, check.problems
    assert check.fields is not None
    assert (check.fields["loan"], check.fields["enterprise_name"]) == (None, None)
    bureau_missing = _certificate(body=_legacy_body(), signers=("bank:b", "ent:a"))
    assert any("bureau:330281" in p.message for p in verify_certificate(bureau_missing).problems)


def test_a_record_that_is_not_a_pledge_registration_is_named() -> None:
    transfer = TxBody(
        "transfer",
        "n",
        (Posting("ent:a.holding", "COD", LOT, -600), Posting("bank:b.holding", "COD", LOT, 600)),
    )
    check = verify_certificate(_certificate(body=transfer, signers=("ent:a",)), REGISTRY.public)
    assert not check.pledge_matches
    assert check.included
    assert check.sealed
    assert _fields(check) == ["record"]


def test_an_unparseable_record_is_reported_not_raised() -> None:
    check = verify_certificate(replace(_certificate(), record=b"{not json"), REGISTRY.public)
    assert _fields(check) == ["record"]
    assert check.checkpoint_signed


@pytest.mark.parametrize(
    ("damage", "field"),
    [
        (lambda o: o.pop("record"), "record"),
        (lambda o: o.update(format="ecoledger-certificate-v1"), "format"),
        (lambda o: o.update(keys=[{"party": "x"}]), "keys[0]"),
        (lambda o: o["keys"][0].update(public_key="AAAA"), "keys[0].public_key"),
        (lambda o: o.update(seq="3"), "seq"),
        (lambda o: o.update(checkpoint={}), "checkpoint"),
        (lambda o: o.update(path=["ABCD" * 16]), "path[0]"),
        (lambda o: o.update(pledge=[]), "pledge"),
        (lambda o: o.update(extra=1), "extra"),
    ],
)
def test_a_malformed_file_is_refused_naming_the_field_without_internals(damage: Any, field: str) -> None:
    obj = json.loads(_certificate().file_bytes())
    damage(obj)
    with pytest.raises(MalformedCertificate) as refused:
        PledgeCertificate.from_json(obj)
    assert refused.value.field == field
    assert "Error" not in refused.value.message
    assert "'" not in refused.value.message.split(":")[0]
