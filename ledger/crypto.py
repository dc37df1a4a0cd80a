"""Ed25519 signing and verification with domain separation, and the encodings of keys.

Every signed or hashed message starts with a context tag and a NUL byte, so a signature
made for one purpose (a transaction body) can never be replayed as another (a checkpoint).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

__all__ = [
    "TAG_BODY",
    "TAG_CHECKPOINT",
    "TAG_RECORD",
    "TAG_REGISTRY",
    "SigningKey",
    "b64d",
    "b64e",
    "key_id_for",
    "sha256",
    "tagged",
    "verify",
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

    @property
    def public(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def key_id(self) -> str:
        return key_id_for(self.public)

    def sign(self, tag: bytes, message: bytes) -> bytes:
        return self.private.sign(tagged(tag, message))


@lru_cache(maxsize=4096)
def _public(raw: bytes) -> VerifyKey:
    return VerifyKey(raw)


def verify(public_key: bytes, tag: bytes, message: bytes, signature: bytes) -> bool:
    """True only for a valid signature of exactly this tagged message by this key.

    Signing uses ``cryptography``; verifying uses libsodium through PyNaCl, about twice as
    fast here (both are standard RFC 8032 Ed25519, and a test checks they agree). Replay
    verifies two signatures per record, so this is the auditor's hot path.
    """
    if len(public_key) != 32 or len(signature) != 64:
        return False
    try:
        _public(public_key).verify(tagged(tag, message), signature)
    except (BadSignatureError, ValueError, TypeError):
        return False
    return True
