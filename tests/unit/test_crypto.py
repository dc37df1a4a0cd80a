"""Ed25519 with domain-separation tags, strict base64url, and agreement of the two libraries."""

from __future__ import annotations

import hashlib
import os
import random

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from nacl.signing import SigningKey as NaclSigningKey
from nacl.signing import VerifyKey

from ledger import crypto
from ledger.crypto import (
    TAG_BODY,
    TAG_CHECKPOINT,
    TAG_RECORD,
    TAG_REGISTRY,
    SigningKey,
    b64d,
    b64e,
    key_id_for,
    tagged,
    verify,
    verify_ahead,
)

# RFC 8032 section 7.1, TEST 1 (empty message) and TEST 2 (one byte, 0x72).
RFC8032_VECTORS = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
]


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.from_seed(bytes(range(32)))


# --- raw Ed25519 ----------------------------------------------------------------------------


@pytest.mark.parametrize(("seed", "public", "message", "signature"), RFC8032_VECTORS)
def test_the_rfc_8032_vectors_give_the_published_public_key_and_signature(
    seed: str, public: str, message: str, signature: str
) -> None:
    k = SigningKey.from_seed(bytes.fromhex(seed))
    assert k.public.hex() == public
    assert k.private.sign(bytes.fromhex(message)).hex() == signature
    VerifyKey(bytes.fromhex(public)).verify(bytes.fromhex(message), bytes.fromhex(signature))


def test_a_tagged_signature_is_a_plain_ed25519_signature_over_tag_nul_message() -> None:
    seed, public, _, _ = RFC8032_VECTORS[0]
    k = SigningKey.from_seed(bytes.fromhex(seed))
    sig = k.sign(TAG_BODY, b"")
    assert tagged(TAG_BODY, b"") == b"ecoledger-body-v1\x00"
    assert sig == k.private.sign(b"ecoledger-body-v1\x00")
    assert sig.hex() != RFC8032_VECTORS[0][3]
    assert verify(bytes.fromhex(public), TAG_BODY, b"", sig)


def test_the_four_tags_are_distinct() -> None:
    assert len({TAG_BODY, TAG_RECORD, TAG_REGISTRY, TAG_CHECKPOINT}) == 4


# --- verify with domain separation ----------------------------------------------------------


def test_verify_accepts_a_signature_made_with_the_same_tag_and_message(key: SigningKey) -> None:
    assert verify(key.public, TAG_BODY, b"transfer 5 t", key.sign(TAG_BODY, b"transfer 5 t"))


@pytest.mark.parametrize("other_tag", [TAG_RECORD, TAG_REGISTRY, TAG_CHECKPOINT, b"", b"ecoledger-body-v2"])
def test_a_signature_made_under_one_tag_does_not_verify_under_another(
    key: SigningKey, other_tag: bytes
) -> None:
    sig = key.sign(TAG_BODY, b"message")
    assert not verify(key.public, other_tag, b"message", sig)


def test_the_nul_separator_keeps_tag_and_message_apart(key: SigningKey) -> None:
    # Without a separator, ("ab", "c") and ("a", "bc") would sign the same bytes.
    sig = key.sign(b"ab", b"c")
    assert not verify(key.public, b"a", b"bc", sig)


def test_a_signature_does_not_verify_for_another_message(key: SigningKey) -> None:
    sig = key.sign(TAG_BODY, b"transfer 5 t")
    assert not verify(key.public, TAG_BODY, b"transfer 6 t", sig)
    assert not verify(key.public, TAG_BODY, b"transfer 5 t ", sig)


def test_a_signature_does_not_verify_under_another_key(key: SigningKey) -> None:
    other = SigningKey.from_seed(bytes(32))
    assert not verify(other.public, TAG_BODY, b"m", key.sign(TAG_BODY, b"m"))


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda s: s[:63], id="truncated"),
        pytest.param(lambda s: s + b"\x00", id="extended"),
        pytest.param(lambda s: b"", id="empty"),
        pytest.param(lambda s: bytes([s[0] ^ 1]) + s[1:], id="first-byte-flipped"),
        pytest.param(lambda s: s[:63] + bytes([s[63] ^ 0x80]), id="last-bit-flipped"),
        pytest.param(lambda s: bytes(64), id="zeros"),
    ],
)
def test_a_mangled_signature_is_rejected(key: SigningKey, mangle) -> None:
    sig = key.sign(TAG_BODY, b"m")
    assert not verify(key.public, TAG_BODY, b"m", mangle(sig))


@pytest.mark.parametrize(
    "public",
    [b"", bytes(31), bytes(33), bytes(32), bytes([1]) + bytes(31)],
    ids=["0", "31", "33", "zero", "one"],
)
def test_a_malformed_or_small_order_public_key_is_rejected_without_raising(
    key: SigningKey, public: bytes
) -> None:
    assert not verify(public, TAG_BODY, b"m", key.sign(TAG_BODY, b"m"))


def test_signatures_made_by_cryptography_verify_with_pynacl_for_many_random_messages() -> None:
    rng = random.Random(8032)
    for _ in range(200):
        k = SigningKey.generate()
        message = rng.randbytes(rng.randrange(0, 300))
        sig = k.sign(TAG_BODY, message)
        assert verify(k.public, TAG_BODY, message, sig)
        assert not verify(k.public, TAG_RECORD, message, sig)


def test_cryptography_and_pynacl_make_the_same_deterministic_signature() -> None:
    rng = random.Random(25519)
    for _ in range(50):
        seed = rng.randbytes(32)
        message = rng.randbytes(rng.randrange(0, 200))
        ours = SigningKey.from_seed(seed)
        nacl = NaclSigningKey(seed)
        assert ours.public == bytes(nacl.verify_key)
        assert ours.sign(TAG_REGISTRY, message) == nacl.sign(tagged(TAG_REGISTRY, message)).signature
        # SigningKey signs with libsodium: the bytes are the ones cryptography's key makes
        assert ours.sign(TAG_REGISTRY, message) == ours.private.sign(tagged(TAG_REGISTRY, message))


# --- keys -----------------------------------------------------------------------------------


def test_a_key_id_is_the_first_16_bytes_of_sha256_of_the_public_key_in_base64url(key: SigningKey) -> None:
    assert key.key_id == key_id_for(key.public) == b64e(hashlib.sha256(key.public).digest()[:16])
    assert len(key.key_id) == 22


def test_a_key_survives_a_pem_round_trip(key: SigningKey) -> None:
    again = SigningKey.from_pem(key.to_pem())
    assert again.public == key.public
    assert again.sign(TAG_BODY, b"m") == key.sign(TAG_BODY, b"m")


def test_a_pem_holding_a_non_ed25519_key_is_refused() -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    )
    with pytest.raises(ValueError, match="not an Ed25519"):
        SigningKey.from_pem(pem)


def test_generated_keys_differ() -> None:
    assert SigningKey.generate().public != SigningKey.generate().public


# --- base64url ------------------------------------------------------------------------------


def test_b64e_is_unpadded_base64url() -> None:
    assert b64e(b"\xfb\xff") == "-_8"
    assert b64e(b"") == ""
    assert b64e(b"\x00") == "AA"


def test_b64d_inverts_b64e_for_every_length_up_to_70() -> None:
    for n in range(71):
        data = os.urandom(n)
        assert b64d(b64e(data)) == data


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("AA==", id="padding"),
        pytest.param("AA=", id="partial-padding"),
        pytest.param("+/8", id="standard-alphabet"),
        pytest.param("-_8=", id="padded-urlsafe"),
        pytest.param("A", id="impossible-length"),
        pytest.param("AB", id="non-zero-trailing-bits-1-byte"),
        pytest.param("AAB", id="non-zero-trailing-bits-2-bytes"),
        pytest.param("AA AA", id="space"),
        pytest.param("AA\nAA", id="newline"),
        pytest.param("AA*A", id="foreign-character"),
        pytest.param("ÀÁ", id="non-ascii"),
    ],
)
def test_b64d_refuses_anything_but_canonical_unpadded_base64url(text: str) -> None:
    with pytest.raises(ValueError):
        b64d(text)


@pytest.mark.parametrize("value", [b"AA", None, 12])
def test_b64d_refuses_a_value_that_is_not_text(value: object) -> None:
    with pytest.raises(ValueError):
        b64d(value)  # type: ignore[arg-type]


def test_b64d_refuses_the_wrong_decoded_length() -> None:
    with pytest.raises(ValueError, match="expected 32 bytes, got 31"):
        b64d(b64e(bytes(31)), length=32)
    assert b64d(b64e(bytes(32)), length=32) == bytes(32)


# --- checks made ahead, in a caller's thread ----------------------------------------------------


def _counting_raw(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    calls: list[bytes] = []
    real = crypto.verify_raw

    def counted(public_key: bytes, message: bytes, signature: bytes) -> bool:
        calls.append(message)
        return real(public_key, message, signature)

    monkeypatch.setattr(crypto, "verify_raw", counted)
    return calls


def test_a_signature_verified_ahead_answers_the_next_check_of_exactly_its_bytes_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = SigningKey.from_seed(bytes(range(32)))
    sig = key.sign(TAG_BODY, b"body")
    calls = _counting_raw(monkeypatch)
    assert verify_ahead(key.public, TAG_BODY, b"body", sig)
    assert verify(key.public, TAG_BODY, b"body", sig)
    assert len(calls) == 1, "the second check was answered by the first"
    assert verify(key.public, TAG_BODY, b"body", sig)
    assert len(calls) == 2, "an answer is used once"


@pytest.mark.parametrize("part", ["tag", "message", "signature", "key"])
def test_a_check_ahead_answers_nothing_but_its_own_bytes(part: str, monkeypatch: pytest.MonkeyPatch) -> None:
    key, other = SigningKey.from_seed(bytes(range(32))), SigningKey.from_seed(bytes(32))
    sig = key.sign(TAG_BODY, b"body")
    assert verify_ahead(key.public, TAG_BODY, b"body", sig)
    args = {
        "tag": (key.public, TAG_REGISTRY, b"body", sig),
        "message": (key.public, TAG_BODY, b"body!", sig),
        "signature": (key.public, TAG_BODY, b"body", bytes(64)),
        "key": (other.public, TAG_BODY, b"body", sig),
    }[part]
    assert not verify(*args)
    crypto._AHEAD.clear()


def test_a_failed_check_ahead_leaves_nothing_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    key = SigningKey.from_seed(bytes(range(32)))
    forged = bytes(64)
    assert not verify_ahead(key.public, TAG_BODY, b"body", forged)
    assert not crypto._AHEAD
    assert not verify(key.public, TAG_BODY, b"body", forged)
