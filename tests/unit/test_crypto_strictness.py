"""How strict Ed25519 is here: the Wycheproof and ed25519-speccheck vectors, and which public keys
the ledger refuses to register (docs/journal-format.md, "How strict verification is").

The vectors are read from ../shared/vectors beside the repository at test time (never copied in).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.canonical import canonical_bytes
from ledger.crypto import SigningKey, b64e, key_id_for, public_key_problem, verify, verify_raw
from ledger.errors import InvalidPublicKey
from ledger.model import Genesis, RegisterKey, parse_body
from ledger.timeutil import utc_now

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors"

IDENTITY = bytes.fromhex("01" + "00" * 31)  # the neutral point: order 1
# One canonical encoding per refusal reason, each a different way a key is not a key.
REFUSED_KEYS = {
    "all_zero": bytes(32),  # y = 0: a point of order 4, spelled as 32 zero bytes
    "small_order": IDENTITY,
    "small_order_order_8": bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
    "non_canonical": bytes.fromhex("ed" + "ff" * 30 + "7f"),  # y = p: the identity spelled again
    "non_canonical_negative_zero": bytes.fromhex("01" + "00" * 30 + "80"),  # x = 0 with the sign bit
    "not_on_curve": bytes.fromhex("02" + "00" * 31),  # y = 2 has no x
    # speccheck case 2's key: a prime-order point plus a small-order one
    "mixed_order": bytes.fromhex("f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43"),
}


def _vectors(name: str) -> Any:
    path = VECTORS / name
    if not path.is_file():
        pytest.skip(f"{path} is absent: the shared vectors are copied beside the clone (CI does)")
    return json.loads(path.read_text())


def _wycheproof(name: str) -> list[tuple[int, bytes, bytes, bytes, bool]]:
    data = _vectors(name)
    cases = []
    for group in data["testGroups"]:
        public = bytes.fromhex((group.get("publicKey") or group["key"])["pk"])
        for t in group["tests"]:
            cases.append(
                (t["tcId"], public, bytes.fromhex(t["msg"]), bytes.fromhex(t["sig"]), t["result"] == "valid")
            )
    return cases


@pytest.mark.parametrize("name", ["ed25519_test.json", "eddsa_test.json"])
def test_every_wycheproof_vector_is_accepted_or_refused_as_wycheproof_expects(name: str) -> None:
    cases = _wycheproof(name)
    assert len(cases) > 100
    wrong = [tc for tc, public, msg, sig, valid in cases if verify_raw(public, msg, sig) != valid]
    assert wrong == []
    # a fair share of the refusals are the subtle ones (malleable S, bad encodings), not just noise
    assert sum(not valid for *_, valid in cases) > 50


SPECCHECK_KEY_REASONS = [
    "small_order",
    "small_order",
    "mixed_order",
    "mixed_order",
    "mixed_order",
    "mixed_order",
    None,
    None,
    "mixed_order",
    "mixed_order",
    "non_canonical",
    "non_canonical",
]


def test_every_speccheck_edge_case_is_refused_and_each_key_is_classified_as_documented() -> None:
    cases = _vectors("speccheck_cases.json")
    assert len(cases) == len(SPECCHECK_KEY_REASONS) == 12
    for i, case in enumerate(cases):
        public, msg, sig = (bytes.fromhex(case[k]) for k in ("pub_key", "message", "signature"))
        assert not verify_raw(public, msg, sig), f"speccheck case {i} was accepted"
        assert public_key_problem(public) == SPECCHECK_KEY_REASONS[i], f"speccheck case {i}"
    # 6 and 7 have a good key and an S >= l: libsodium's check S < l is what refuses them
    l_order = 2**252 + 27742317777372353535851937790883648493
    assert all(int.from_bytes(bytes.fromhex(cases[i]["signature"])[32:], "little") >= l_order for i in (6, 7))


def test_the_identity_key_forgery_that_openssl_accepts_is_refused_here() -> None:
    """Under the identity key, R = identity and S = 0 satisfy [S]B = R + [k]A for any message:
    OpenSSL (``cryptography``) accepts it, so the ledger never lets such a key in, nor verifies under it."""
    forged = IDENTITY + bytes(32)
    message = b"ecoledger-registry-v1\x00" + bytes(32)
    try:
        Ed25519PublicKey.from_public_bytes(IDENTITY).verify(forged, message)
        openssl_accepts = True
    except InvalidSignature:
        openssl_accepts = False
    assert openssl_accepts  # the reason this test exists; if OpenSSL changes, the rest still holds
    assert not verify_raw(IDENTITY, message, forged)
    assert public_key_problem(IDENTITY) == "small_order"


@pytest.mark.parametrize("label", sorted(REFUSED_KEYS))
def test_a_key_that_is_not_a_prime_order_point_is_refused_with_its_reason(label: str) -> None:
    raw = REFUSED_KEYS[label]
    reason = label.removesuffix("_order_8").removesuffix("_negative_zero")
    assert public_key_problem(raw) == reason
    with pytest.raises(InvalidPublicKey) as refused:
        RegisterKey("ent:a", key_id_for(raw), raw, utc_now(), "n")  # the live path builds this
    assert refused.value.code == "invalid_public_key"
    assert refused.value.details == {"field": "body.public_key", "reason": reason}
    body = {
        "type": "key.register",
        "party": "ent:a",
        "key_id": key_id_for(raw),
        "public_key": b64e(raw),
        "valid_from": "2026-01-01T00:00:00.000000Z",
        "nonce": "n",
    }
    with pytest.raises(InvalidPublicKey):  # replay parses the same body and refuses it the same way
        parse_body(body)
    with pytest.raises(InvalidPublicKey):
        Genesis("x", key_id_for(raw), raw, "n")
    assert not verify(raw, b"t", b"m", bytes(64))


def test_a_genesis_body_with_a_refused_key_does_not_parse() -> None:
    raw = REFUSED_KEYS["all_zero"]
    body = {
        "type": "genesis",
        "registry": "registry",
        "name": "x",
        "key_id": key_id_for(raw),
        "public_key": b64e(raw),
        "nonce": "n",
    }
    with pytest.raises(InvalidPublicKey) as refused:
        parse_body(body)
    assert refused.value.details["reason"] == "all_zero"


def test_generated_keys_are_always_accepted_and_a_wrong_length_is_named() -> None:
    for _ in range(50):
        assert public_key_problem(SigningKey.generate().public) is None
    assert public_key_problem(bytes(31)) == "length"


def test_a_key_register_body_says_custody_in_one_spelling_only() -> None:
    key = SigningKey.from_seed(b"c" * 32)
    held = RegisterKey("ent:a", key.key_id, key.public, utc_now(), "n", custody=True)
    out = held.to_json()
    assert out["custody"] is True
    assert parse_body(out) == held
    plain = RegisterKey("ent:a", key.key_id, key.public, held.valid_from, "n")
    assert "custody" not in plain.to_json()
    with pytest.raises(Exception, match="custody is either true or absent"):
        parse_body({**plain.to_json(), "custody": False})
    assert canonical_bytes(out).startswith(b'{"custody":true,')


# -- the auditor's cofactored check (verify_raw(..., cofactored=True)) ---------------------------

P = 2**255 - 19
L_ORDER = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P


def _add(p1: tuple[int, int], p2: tuple[int, int]) -> tuple[int, int]:
    """Affine twisted Edwards addition (a = -1), RFC 8032 section 5.1.4 without projective tricks."""
    (x1, y1), (x2, y2) = p1, p2
    t = D * x1 * x2 * y1 * y2 % P
    return (x1 * y2 + x2 * y1) * pow(1 + t, P - 2, P) % P, (y1 * y2 + x1 * x2) * pow(1 - t, P - 2, P) % P


def _times(n: int, point: tuple[int, int]) -> tuple[int, int]:
    out, addend = (0, 1), point
    while n:
        if n & 1:
            out = _add(out, addend)
        addend, n = _add(addend, addend), n >> 1
    return out


def _encode(point: tuple[int, int]) -> bytes:
    x, y = point
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _decode(raw: bytes) -> tuple[int, int]:
    from ledger.crypto import _x_of

    y = int.from_bytes(raw, "little") & ((1 << 255) - 1)
    x = _x_of(y, raw[31] >> 7)
    assert x is not None
    return x, y


def _sign_with_torsion(seed: bytes, message: bytes) -> tuple[bytes, bytes]:
    """An Ed25519 signature whose R is r*B plus a point of order 8: only the key's holder can make
    it (S needs the secret scalar), [8][S]B = [8]R + [8][k]A holds and [S]B = R + [k]A does not."""
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a = (a & ((1 << 254) - 8)) | (1 << 254)
    base = _decode(bytes.fromhex("5866666666666666666666666666666666666666666666666666666666666666"))
    public = _encode(_times(a, base))
    assert public == SigningKey.from_seed(seed).public
    r = int.from_bytes(hashlib.sha512(h[32:] + message).digest(), "little") % L_ORDER
    order_8 = _decode(REFUSED_KEYS["small_order_order_8"])
    big_r = _encode(_add(_times(r, base), order_8))
    k = int.from_bytes(hashlib.sha512(big_r + public + message).digest(), "little") % L_ORDER
    return public, big_r + ((r + k * a) % L_ORDER).to_bytes(32, "little")


@pytest.mark.parametrize("name", ["ed25519_test.json", "eddsa_test.json"])
def test_the_cofactored_check_agrees_with_libsodium_on_every_wycheproof_vector(name: str) -> None:
    cases = _wycheproof(name)
    wrong = [tc for tc, pk, msg, sig, valid in cases if verify_raw(pk, msg, sig, cofactored=True) != valid]
    assert wrong == []


def test_the_cofactored_check_refuses_every_speccheck_edge_case() -> None:
    for i, case in enumerate(_vectors("speccheck_cases.json")):
        public, msg, sig = (bytes.fromhex(case[k]) for k in ("pub_key", "message", "signature"))
        assert not verify_raw(public, msg, sig, cofactored=True), f"speccheck case {i} was accepted"


def test_the_cofactored_check_refuses_a_small_order_or_non_canonical_r_and_a_large_s() -> None:
    key = SigningKey.from_seed(b"r" * 32)
    message = b"m"
    good = key._libsodium.sign(message).signature
    assert verify_raw(key.public, message, good, cofactored=True)
    s_plus_l = (int.from_bytes(good[32:], "little") + L_ORDER).to_bytes(32, "little")
    assert not verify_raw(key.public, message, good[:32] + s_plus_l, cofactored=True)
    for raw_r in (IDENTITY, REFUSED_KEYS["small_order_order_8"], REFUSED_KEYS["non_canonical"], bytes(32)):
        assert not verify_raw(key.public, message, raw_r + good[32:], cofactored=True)


def test_only_the_cofactored_check_accepts_an_r_with_a_small_order_part_and_only_for_its_message() -> None:
    """The one documented difference (docs/journal-format.md): the registry refuses such a
    signature at submission, so no sealed record carries one; replay would accept it."""
    public, sig = _sign_with_torsion(b"t" * 32, b"transfer 5 t")
    assert not verify_raw(public, b"transfer 5 t", sig)
    assert verify_raw(public, b"transfer 5 t", sig, cofactored=True)
    assert not verify_raw(public, b"transfer 6 t", sig, cofactored=True)
    other = SigningKey.from_seed(b"u" * 32).public
    assert not verify_raw(other, b"transfer 5 t", sig, cofactored=True)
