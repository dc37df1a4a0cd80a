"""Ed25519 signing and verification with domain separation, and the encodings of keys.

Every signed or hashed message starts with a context tag and a NUL byte, so a signature
made for one purpose (a transaction body) can never be replayed as another (a checkpoint).
How strict verification is (which keys, R and S are refused) is in docs/journal-format.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from functools import cached_property, lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.bindings import crypto_core_ed25519_is_valid_point
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey as NaclSigningKey
from nacl.signing import VerifyKey

try:  # the auditor's fast check; without it replay checks every signature with libsodium
    from ed25519_zebra import ed_verify as _cofactored_verify
except ImportError:  # pragma: no cover - a platform without a wheel
    _cofactored_verify = None

__all__ = [
    "TAG_BODY",
    "TAG_CHECKPOINT",
    "TAG_RECORD",
    "TAG_REGISTRY",
    "SigningKey",
    "b64d",
    "b64e",
    "key_id_for",
    "public_key_problem",
    "sha256",
    "tagged",
    "verify",
    "verify_ahead",
    "verify_raw",
    "verify_replayed",
]

TAG_BODY = b"ecoledger-body-v1"  # what a party signs: the instruction body
TAG_RECORD = b"ecoledger-record-v1"  # the record hash that links the chain
TAG_REGISTRY = b"ecoledger-registry-v1"  # the registry's signature over a record hash
TAG_CHECKPOINT = b"ecoledger-checkpoint-v1"  # the registry's signature over a tree head


def tagged(tag: bytes, data: bytes) -> bytes:
    return tag + b"\x00" + data


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def b64e(data: bytes) -> str:
    """Unpadded base64url, the form keys and signatures take in records."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str, *, length: int | None = None) -> bytes:
    """Strict unpadded base64url: refuses padding, other alphabets and non-canonical tails."""
    if not isinstance(text, str) or "=" in text:
        raise ValueError("expected unpadded base64url text")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None
    if b64e(raw) != text:
        raise ValueError("non-canonical base64url")
    if length is not None and len(raw) != length:
        raise ValueError(f"expected {length} bytes, got {len(raw)}")
    return raw


def key_id_for(public_key: bytes) -> str:
    """A key's id: the first 16 bytes of SHA-256 over its raw public bytes, base64url."""
    return b64e(sha256(public_key)[:16])


@dataclass(frozen=True)
class SigningKey:
    """A private Ed25519 key; ``public`` is the raw 32-byte public key. ``custody`` marks a key the
    registry holds for its party (web console): every signature made with it says so."""

    private: Ed25519PrivateKey
    custody: bool = False

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("not an Ed25519 private key")
        return cls(key)

    def to_pem(self) -> bytes:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def seed(self) -> bytes:
        """The raw 32-byte private seed (to seal it in custody; never logged, never sent)."""
        return self.private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )

    def in_custody(self) -> SigningKey:
        """The same key, marked as held by the registry for its party."""
        return SigningKey(self.private, custody=True)

    @cached_property
    def public(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @cached_property
    def key_id(self) -> str:  # asked for once per record sealed
        return key_id_for(self.public)

    @cached_property
    def _libsodium(self) -> NaclSigningKey:
        return NaclSigningKey(self.seed)

    def sign(self, tag: bytes, message: bytes) -> bytes:
        """Ed25519 is deterministic, so libsodium's signature is byte for byte the one
        ``cryptography`` makes (a test checks it); libsodium's takes half the time, and the
        registry seals every record with it while the sequencer holds the turn."""
        return self._libsodium.sign(tagged(tag, message)).signature


# -- which public keys are keys --------------------------------------------------------------

_P = 2**255 - 19  # the field prime of edwards25519
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _x_of(y: int, sign: int) -> int | None:
    """RFC 8032 section 5.1.3: the x with this sign for ``y``; None when there is none (off the
    curve) or when x = 0 is spelled with the sign bit set (a second encoding of the same point)."""
    u, v = (y * y - 1) % _P, (_D * y * y + 1) % _P
    x = u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P) % _P
    if v * x * x % _P == (-u) % _P:
        x = x * _SQRT_M1 % _P
    if v * x * x % _P != u:
        return None
    if x == 0 and sign:
        return None
    return _P - x if x & 1 != sign else x


def _times_eight_is_identity(x: int, y: int) -> bool:
    """[8]P = identity, by three doublings (RFC 8032 section 5.1.4, a = -1, projective)."""
    px, py, pz = x, y, 1
    for _ in range(3):
        a, b, c = px * px % _P, py * py % _P, 2 * pz * pz % _P
        h = (a + b) % _P
        e = (h - (px + py) * (px + py)) % _P
        g = (a - b) % _P
        f = (c + g) % _P
        px, py, pz = e * f % _P, g * h % _P, f * g % _P
    return px == 0 and py == pz


def public_key_problem(raw: bytes) -> str | None:
    """Why ``raw`` is not a public key the ledger accepts, or None when it is one.

    Accepted: 32 bytes encoding, canonically (y < p, no sign bit on x = 0), a point of the
    curve of prime order l (libsodium's ``crypto_core_ed25519_is_valid_point``). Refused, by
    the reason given: ``length``, ``all_zero``, ``non_canonical``, ``not_on_curve``,
    ``small_order`` (order 1, 2, 4 or 8: the identity among them, under which a forged
    R = identity, S = 0 passes some verifiers) and ``mixed_order`` (a small-order component).
    """
    if len(raw) != 32:
        return "length"
    if _public(raw) is not None:
        return None
    if raw == bytes(32):
        return "all_zero"
    y = int.from_bytes(raw, "little") & ((1 << 255) - 1)
    if y >= _P:
        return "non_canonical"
    x = _x_of(y, raw[31] >> 7)
    if x is None:
        return "non_canonical" if _x_of(y, 0) == 0 else "not_on_curve"
    return "small_order" if _times_eight_is_identity(x, y) else "mixed_order"


_L = 2**252 + 27742317777372353535851937790883648493  # the prime order of the base point
# The y of every point of order 1, 2, 4 or 8 (the identity, (0, -1), (+-sqrt(-1), 0) and the four
# of order 8): an R with one of these is refused, as libsodium refuses it.
_Y8 = 0x7A03AC9277FDC74EC6CC392CFA53202A0F67100D760B3CBA4FD84D3D706A17C7
_SMALL_ORDER_Y = frozenset({0, 1, _P - 1, _Y8, _P - _Y8})
_Y_MASK = (1 << 255) - 1


@lru_cache(maxsize=4096)
def _public(raw: bytes) -> VerifyKey | None:
    # A key the ledger would not register verifies nothing, whoever hands it over (a pinned key,
    # a certificate's): the check costs a scalar multiplication, hence the cache.
    return VerifyKey(raw) if crypto_core_ed25519_is_valid_point(raw) else None


def verify_raw(public_key: bytes, message: bytes, signature: bytes, *, cofactored: bool = False) -> bool:
    """Plain Ed25519 (RFC 8032, cofactorless, as libsodium checks it) over ``message`` as it is,
    for a key ``public_key_problem`` accepts. Every ledger signature goes through ``verify``.

    ``cofactored``: the group equation RFC 8032 section 5.1.7 names first, [8][S]B = [8]R +
    [8][k]A, which ed25519-zebra checks in about two thirds of libsodium's time; the auditor's
    replay, two signatures a record, uses it. Refused as without it: a key ``public_key_problem``
    refuses, S >= l, an R spelled with y >= p or of small order. Accepted only with it: an R with
    a small-order part added to the R of the equation without the 8s. Only the key's holder can
    make one (the check is as unforgeable), and the registry, which checks without, seals none.
    """
    if len(public_key) != 32 or len(signature) != 64:
        return False
    key = _public(public_key)
    if key is None:
        return False
    if cofactored and _cofactored_verify is not None:
        r_y = int.from_bytes(signature[:32], "little") & _Y_MASK
        if r_y >= _P or r_y in _SMALL_ORDER_Y or int.from_bytes(signature[32:], "little") >= _L:
            return False
        return bool(_cofactored_verify(signature, message, public_key))
    try:
        key.verify(message, signature)
    except (BadSignatureError, ValueError, TypeError):
        return False
    return True


def verify(public_key: bytes, tag: bytes, message: bytes, signature: bytes) -> bool:
    """True only for a valid signature of exactly this tagged message by this key.

    Signing and verifying use libsodium through PyNaCl, about twice as fast here as
    ``cryptography`` (both are standard RFC 8032 Ed25519, and a test checks they agree). The
    auditor's replay checks with ``verify_replayed``.
    """
    if _AHEAD:  # empty but in a registry's process: one test of a set, then the real check
        try:
            _AHEAD.remove((public_key, tag, message, signature))
        except KeyError:
            pass
        else:
            return True
    return verify_raw(public_key, tagged(tag, message), signature)


def verify_replayed(public_key: bytes, tag: bytes, message: bytes, signature: bytes) -> bool:
    """``verify`` as the auditor's replay makes it: ``verify_raw(..., cofactored=True)``."""
    return verify_raw(public_key, tagged(tag, message), signature, cofactored=True)


# Successes of ``verify_ahead`` not yet used: each is the full input of a pure check, so answering
# ``verify`` of exactly these bytes from it is the check itself, done earlier. One use each; bounded
# (about 1 kB an entry), and emptying it costs only time: the check is then made again.
_AHEAD: set[tuple[bytes, bytes, bytes, bytes]] = set()
_AHEAD_LIMIT = 4096


def verify_ahead(public_key: bytes, tag: bytes, message: bytes, signature: bytes) -> bool:
    """``verify``, made by a caller before it queues for the sequencer: libsodium releases the GIL,
    so callers verify on other cores while the sequencer seals. A success answers the sequencer's
    own ``verify`` of exactly the same key, tag, message and signature, once."""
    ok = verify_raw(public_key, tagged(tag, message), signature)
    if ok:
        if len(_AHEAD) >= _AHEAD_LIMIT:
            _AHEAD.clear()
        _AHEAD.add((public_key, tag, message, signature))
    return ok
