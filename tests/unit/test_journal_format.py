"""docs/journal-format.md stays true: its worked example is recomputed here with hashlib and PyNaCl
from literal bytes (never through the ledger's own helpers), then checked against the code; and
every domain tag is pinned by a known answer, so renaming one fails a test."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nacl.signing import SigningKey as NaclKey
from nacl.signing import VerifyKey

from ledger.checkpoint import Checkpoint
from ledger.crypto import SigningKey
from ledger.journal import parse_line, record_hash, seal
from ledger.merkle import leaf_hash, node_hash, verify_inclusion
from ledger.model import parse_body

DOC = Path(__file__).resolve().parents[2] / "docs" / "journal-format.md"
_BLOCK = re.compile(r"<!-- example: (\w+) -->\n```[a-z]*\n(.*?)\n```", re.S)


@pytest.fixture(scope="module")
def ex() -> dict[str, str]:
    found = dict(_BLOCK.findall(DOC.read_text(encoding="utf-8")))
    assert len(found) == 19, sorted(found)
    return found


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def canonical(text: str) -> bool:
    """JCS for this ASCII-only example: sorted members, no white space."""
    return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False) == text


def core_of(line: str) -> bytes:
    head, tail = '{"record":', ',"registry_sig":"'
    assert line.startswith(head)
    return line[len(head) : line.rindex(tail)].encode()


def test_the_example_keys_and_key_ids_follow_from_their_seeds(ex: dict[str, str]) -> None:
    for who in ("registry", "party"):
        public = bytes(NaclKey(bytes.fromhex(ex[f"{who}_seed"])).verify_key)
        assert public.hex() == ex[f"{who}_public_key"]
        assert b64u(sha256(public)[:16]) == ex[f"{who}_key_id"]


def test_the_example_record_recomputes_from_literal_tags(ex: dict[str, str]) -> None:
    registry = NaclKey(bytes.fromhex(ex["registry_seed"]))
    party = NaclKey(bytes.fromhex(ex["party_seed"]))
    body, core, line = ex["body"].encode(), ex["core"].encode(), ex["line"]
    for text in (
        ex["body"],
        ex["core"],
        line,
        ex["record0_line"],
        ex["checkpoint_head"],
        ex["checkpoint_line"],
    ):
        assert canonical(text)
    signature = party.sign(b"ecoledger-body-v1\x00" + body).signature
    assert signature.hex() == ex["body_signature"]
    record = json.loads(core)
    assert json.dumps(record["body"], sort_keys=True, separators=(",", ":")).encode() == body
    assert record["sigs"] == [{"key_id": ex["party_key_id"], "party": "ent:a", "sig": b64u(signature)}]
    assert record["prev"] == ex["record0_hash"]
    digest = sha256(b"ecoledger-record-v1\x00" + core)
    assert digest.hex() == ex["record_hash"]
    assert sha256(b"\x00" + digest).hex() == ex["leaf"]  # the raw hash, not its hex
    seal_sig = registry.sign(b"ecoledger-registry-v1\x00" + digest).signature
    assert seal_sig.hex() == ex["registry_signature"]
    assert line == '{"record":' + core.decode() + ',"registry_sig":"' + b64u(seal_sig) + '"}'
    assert core_of(line) == core


def test_the_example_genesis_and_checkpoint_recompute_from_literal_tags(ex: dict[str, str]) -> None:
    registry = NaclKey(bytes.fromhex(ex["registry_seed"]))
    core0 = core_of(ex["record0_line"])
    genesis = json.loads(core0)
    assert genesis["prev"] == "00" * 32
    assert genesis["body"]["public_key"] == b64u(bytes(registry.verify_key))
    hash0 = sha256(b"ecoledger-record-v1\x00" + core0)
    assert hash0.hex() == ex["record0_hash"]
    seal0 = registry.sign(b"ecoledger-registry-v1\x00" + hash0).signature
    assert json.loads(ex["record0_line"])["registry_sig"] == b64u(seal0)
    leaf0, leaf1 = sha256(b"\x00" + hash0), bytes.fromhex(ex["leaf"])
    root = sha256(b"\x01" + leaf0 + leaf1)
    head = json.loads(ex["checkpoint_head"])
    assert head == {"key_id": ex["registry_key_id"], "root": root.hex(), "time": head["time"], "tree_size": 2}
    signature = registry.sign(b"ecoledger-checkpoint-v1\x00" + ex["checkpoint_head"].encode()).signature
    assert signature.hex() == ex["checkpoint_signature"]
    assert json.loads(ex["checkpoint_line"]) == {**head, "signature": b64u(signature)}
    assert ex["inclusion_path"] == leaf0.hex()


def test_the_code_reads_and_writes_exactly_the_example(ex: dict[str, str]) -> None:
    registry = SigningKey.from_seed(bytes.fromhex(ex["registry_seed"]))
    parsed = parse_line(ex["line"].encode())
    assert parsed.hash.hex() == ex["record_hash"]
    assert parse_line(ex["record0_line"].encode()).hash.hex() == ex["record0_hash"]
    again = seal(
        seq=parsed.seq,
        prev=parsed.prev,
        time=parsed.time,
        body=parse_body(parsed.body).to_json(),
        sigs=parsed.sigs,
        registry=registry,
    )
    assert again.line().decode() == ex["line"]
    assert again.leaf.hex() == ex["leaf"]
    cp = Checkpoint.from_line(ex["checkpoint_line"].encode())
    assert cp.verifies_with(registry.public)
    assert cp.head_bytes().decode() == ex["checkpoint_head"]
    assert verify_inclusion(again.leaf, 1, 2, [bytes.fromhex(ex["inclusion_path"])], cp.root)


# -- every domain tag, pinned by a known answer computed without the code's tags -------------------

KEY = SigningKey.from_seed(bytes(range(32)))
VERIFY = VerifyKey(KEY.public)
MESSAGE = b'{"kat":1}'


def test_the_body_tag_is_ecoledger_body_v1() -> None:
    from ledger.service import sign_body

    body = parse_body(
        {
            "type": "key.revoke",
            "party": "ent:a",
            "key_id": KEY.key_id,
            "reason": "kat",
            "nonce": "n",
        }
    )
    sig = sign_body(body, "ent:a", KEY)
    VERIFY.verify(
        b"ecoledger-body-v1\x00" + json.dumps(body.to_json(), sort_keys=True, separators=(",", ":")).encode(),
        sig.sig,
    )


def test_the_record_tag_is_ecoledger_record_v1() -> None:
    assert record_hash(MESSAGE) == sha256(b"ecoledger-record-v1\x00" + MESSAGE)
    # computed once, outside the code, from the literal bytes
    assert record_hash(MESSAGE).hex() == "7b689278b2dddc7f92a97b7e761cead36813f266745a6d38ebe23b644ceb3515"


def test_the_registry_seal_tag_is_ecoledger_registry_v1() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    body = {"type": "rules.adopt", "version": 2, "nonce": "kat"}
    record = seal(seq=3, prev=bytes(32), time=when, body=body, sigs=(), registry=KEY)
    assert record.hash == sha256(b"ecoledger-record-v1\x00" + record.core)
    VERIFY.verify(b"ecoledger-registry-v1\x00" + record.hash, record.registry_sig)


def test_the_checkpoint_tag_is_ecoledger_checkpoint_v1() -> None:
    cp = Checkpoint.sign(tree_size=5, root=bytes(range(32)), time=datetime(2026, 1, 1, tzinfo=UTC), key=KEY)
    head = json.dumps(
        {
            "key_id": KEY.key_id,
            "root": bytes(range(32)).hex(),
            "time": "2026-01-01T00:00:00.000000Z",
            "tree_size": 5,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    VERIFY.verify(b"ecoledger-checkpoint-v1\x00" + head.encode(), cp.signature)


def test_the_merkle_prefixes_are_rfc_6962s_zero_and_one_bytes() -> None:
    a, b = sha256(b"a"), sha256(b"b")
    assert leaf_hash(a) == sha256(b"\x00" + a)
    assert node_hash(a, b) == sha256(b"\x01" + a + b)
    # RFC 6962 / certificate-transparency test vector: the leaf hash of the empty string
    assert leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"


def test_key_ids_are_the_first_16_bytes_of_sha_256_in_unpadded_base64url() -> None:
    assert KEY.key_id == b64u(sha256(KEY.public)[:16])
    assert len(KEY.key_id) == 22
