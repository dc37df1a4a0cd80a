"""Signed tree heads: the registry's signature over the Merkle root of the journal so far.

Publish them outside the database (an auditor keeps the file): a root kept only in the
operator's database could be rewritten together with the journal it commits to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.canonical import MAX_SAFE_INTEGER, canonical_bytes, decode_canonical
from ledger.crypto import TAG_CHECKPOINT, SigningKey, b64d, b64e, key_id_for, verify
from ledger.errors import MalformedRecord
from ledger.timeutil import format_utc, parse_utc

__all__ = ["Checkpoint"]


_HEX32 = re.compile(r"[0-9a-f]{64}")
FIELDS = frozenset({"tree_size", "root", "time", "key_id", "signature"})


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed tree head. The registry signs ``TAG_CHECKPOINT || 0x00 || head_bytes()``: the
    RFC 8785 form of ``{key_id, root, time, tree_size}``; each field has exactly one spelling,
    so the bytes a parsed checkpoint verifies are the bytes that were signed."""

    tree_size: int
    root: bytes
    time: datetime
    key_id: str
    signature: bytes

    def head(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "root": self.root.hex(),
            "time": format_utc(self.time),
            "key_id": self.key_id,
        }

    def head_bytes(self) -> bytes:
        """What the signature covers (after the tag and NUL)."""
        return canonical_bytes(self.head())

    @classmethod
    def sign(cls, *, tree_size: int, root: bytes, time: datetime, key: SigningKey) -> Checkpoint:
        unsigned = cls(tree_size, root, time, key.key_id, b"")
        return cls(tree_size, root, time, key.key_id, key.sign(TAG_CHECKPOINT, unsigned.head_bytes()))

    def verifies_with(self, public_key: bytes) -> bool:
        """The signature verifies under ``public_key``, whose id is the one the checkpoint names."""
        if key_id_for(public_key) != self.key_id:
            return False
        return verify(public_key, TAG_CHECKPOINT, self.head_bytes(), self.signature)

    def to_json(self) -> dict[str, Any]:
        return {**self.head(), "signature": b64e(self.signature)}

    def line(self) -> bytes:
        """The checkpoint as one canonical JSON line (without the newline): the form kept, served
        and bundled, and the only one ``from_line`` reads."""
        return canonical_bytes(self.to_json())

    @classmethod
    def from_json(cls, obj: Any) -> Checkpoint:
        """Parse a checkpoint object whose every value is in its one canonical spelling: an
        integer tree size, 64 lowercase hex digits of root, the journal's UTC time form, a key id
        that is the unpadded base64url of 16 bytes, and a 64-byte unpadded base64url signature.
        Anything else (an uppercase or spaced root, another spelling of the key id) is refused,
        never re-encoded: the signature is checked over exactly these values."""
        if not isinstance(obj, dict) or set(obj) != FIELDS:
            raise MalformedRecord("a checkpoint holds tree_size, root, time, key_id, signature", field="$")
        try:
            size, root, key_id = obj["tree_size"], obj["root"], obj["key_id"]
            if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_SAFE_INTEGER:
                raise ValueError("tree_size must be a non-negative integer")
            if not isinstance(root, str) or not _HEX32.fullmatch(root):
                raise ValueError("root must be 64 lowercase hex digits")
            if not isinstance(key_id, str):
                raise ValueError("key_id must be text")
            b64d(key_id, length=16)
            cp = cls(
                size, bytes.fromhex(root), parse_utc(obj["time"]), key_id, b64d(obj["signature"], length=64)
            )
        except (ValueError, TypeError) as exc:
            raise MalformedRecord(f"bad checkpoint: {exc}", field="checkpoint") from None
        if cp.to_json() != obj:  # a last guard: every value must round-trip unchanged
            raise MalformedRecord(
                "bad checkpoint: a value is not in its canonical spelling", field="checkpoint"
            )
        return cp

    @classmethod
    def from_line(cls, line: bytes) -> Checkpoint:
        """Parse one kept line; only the exact canonical bytes (``line()``) are accepted."""
        cp = cls.from_json(decode_canonical(line))
        if cp.line() != line:
            raise MalformedRecord("bad checkpoint: not its canonical bytes", field="checkpoint")
        return cp
