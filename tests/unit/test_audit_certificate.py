"""One record verified from a certificate alone: its line, its inclusion proof, a signed checkpoint."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.audit import verify_certificate_json
from ledger.bundle import CERTIFICATE_FORMAT
from ledger.checkpoint import Checkpoint
from ledger.crypto import SigningKey, b64e
from ledger.merkle import inclusion_proof, root_of
from tests.unit.test_replay_pure import KEYS, REGISTRY, TRANSFER_SEQ, build

SIZE = TRANSFER_SEQ + 1


def certificate(seq: int = TRANSFER_SEQ, key: SigningKey = REGISTRY) -> dict[str, Any]:
    journal = build()
    leaves = [r.leaf for r in journal.records[:SIZE]]
    cp = Checkpoint.sign(tree_size=SIZE, root=root_of(leaves), time=journal.records[SIZE - 1].time, key=key)
    return {
        "format": CERTIFICATE_FORMAT,
        "record": journal.records[seq].line().decode(),
        "seq": seq,
        "path": [p.hex() for p in inclusion_proof(leaves, seq)],
        "checkpoint": cp.to_json(),
        "registry_public_key": b64e(REGISTRY.public),
    }


@pytest.mark.parametrize("seq", [0, 4, TRANSFER_SEQ])
def test_a_certificate_verifies_in_one_call(seq: int) -> None:
    result = verify_certificate_json(certificate(seq), REGISTRY.public)
    assert result.ok, result.message
    assert result.record is not None
    assert result.record.seq == seq
    assert result.checkpoint is not None
    assert result.checkpoint.tree_size == SIZE


def test_a_certificate_whose_record_was_changed_fails_its_seal() -> None:
    cert = certificate()
    cert["record"] = cert["record"].replace('"amount":-250', '"amount":-25')
    assert verify_certificate_json(cert, REGISTRY.public).rule == "registry_signature"


def test_a_certificate_for_another_registry_fails() -> None:
    other = SigningKey.from_seed(b"O" * 32)
    assert verify_certificate_json(certificate(), other.public).rule == "registry_signature"


def test_a_checkpoint_signed_by_someone_else_fails() -> None:
    result = verify_certificate_json(certificate(key=KEYS["alice"]), REGISTRY.public)
    assert (result.ok, result.rule) == (False, "checkpoint_signature")


def test_a_wrong_path_or_position_fails_the_inclusion_proof() -> None:
    cert = certificate()
    cert["path"] = cert["path"][:-1]
    assert verify_certificate_json(cert, REGISTRY.public).rule == "inclusion_proof"
    other = certificate(3)
    other["path"] = certificate()["path"]
    assert verify_certificate_json(other, REGISTRY.public).rule == "inclusion_proof"


def test_a_certificate_naming_another_position_than_its_record_fails() -> None:
    cert = certificate()
    cert["seq"] = 3
    assert verify_certificate_json(cert, REGISTRY.public).rule == "sequence"


@pytest.mark.parametrize(
    "damage",
    [
        lambda c: c.pop("checkpoint"),
        lambda c: c.update(record="{}"),
        lambda c: c.update(path=["zz"]),
        lambda c: c.update(seq=True),
        lambda c: c.update(format="something else"),
    ],
    ids=["no-checkpoint", "bad-record", "bad-path", "bool-seq", "other-format"],
)
def test_a_malformed_certificate_is_refused_as_such(damage: Any) -> None:
    cert = certificate()
    damage(cert)
    result = verify_certificate_json(cert, REGISTRY.public)
    assert (result.ok, result.rule) == (False, "certificate_form")


def test_several_trusted_keys_may_be_given_after_a_rotation() -> None:
    other = SigningKey.from_seed(b"O" * 32)
    assert verify_certificate_json(certificate(), [other.public, REGISTRY.public]).ok
