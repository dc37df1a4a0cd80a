"""Signed tree heads: the registry's signature over the Merkle root of the journal so far.

Publish them outside the database (an auditor keeps the file): a root kept only in the
operator's database could be rewritten together with the journal it commits to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.canonical import canonical_bytes, decode_canonical
from ledger.crypto import TAG_CHECKPOINT, SigningKey, b64d, b64e, verify
from ledger.errors import MalformedRecord
from ledger.timeutil import format_utc, parse_utc

__all__ = ["Checkpoint"]


@dataclass(frozen=True, slots=True)
class Checkpoint:
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

    @classmethod
    def sign(cls, *, tree_size: int, root: bytes, time: datetime, key: SigningKey) -> Checkpoint:
        unsigned = cls(tree_size, root, time, key.key_id, b"")
        return cls(
            tree_size, root, time, key.key_id, key.sign(TAG_CHECKPOINT, canonical_bytes(unsigned.head()))
        )

    def verifies_with(self, public_key: bytes) -> bool:
        return verify(public_key, TAG_CHECKPOINT, canonical_bytes(self.head()), self.signature)

    def to_json(self) -> dict[str, Any]:
        return {**self.head(), "signature": b64e(self.signature)}

    def line(self) -> bytes:
        return canonical_bytes(self.to_json())

    @classmethod
    def from_json(cls, obj: Any) -> Checkpoint:
        if not isinstance(obj, dict) or set(obj) != {"tree_size", "root", "time", "key_id", "signature"}:
            raise MalformedRecord("a checkpoint holds tree_size, root, time, key_id, signature", field="$")
        try:
            size = obj["tree_size"]
            if isinstance(size, bool) or not isinstance(size, int) or size < 0:
                raise ValueError("tree_size must be a non-negative integer")
            root = bytes.fromhex(obj["root"])
            if len(root) != 32:
                raise ValueError("root must be 32 bytes")
            return cls(
                size, root, parse_utc(obj["time"]), str(obj["key_id"]), b64d(obj["signature"], length=64)
            )
        except (ValueError, TypeError) as exc:
            raise MalformedRecord(f"bad checkpoint: {exc}", field="checkpoint") from None

    @classmethod
    def from_line(cls, line: bytes) -> Checkpoint:
        return cls.from_json(decode_canonical(line))
