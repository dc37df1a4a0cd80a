"""Response models of signed tree heads and consistency proofs (docs/journal-format.md has the form)."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["CheckpointOut", "ConsistencyOut"]


class CheckpointOut(BaseModel):
    """A signed tree head, served as its canonical bytes: keep them as they are."""

    key_id: str = Field(description="unpadded base64url of the first 16 bytes of SHA-256(public key)")
    root: str = Field(pattern="^[0-9a-f]{64}$", description="RFC 9162 Merkle tree hash, lowercase hex")
    signature: str = Field(description="unpadded base64url Ed25519 signature over the tagged head")
    time: str = Field(description="UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ")
    tree_size: int = Field(ge=0, description="records covered: seq 0 to tree_size - 1")


class ConsistencyOut(BaseModel):
    """RFC 9162 consistency proof from the tree of ``first`` to that of ``second``, both signed."""

    first: CheckpointOut
    second: CheckpointOut
    path: list[str] = Field(description="node hashes, lowercase hex, in RFC 9162 order")
