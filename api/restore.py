"""After a restore: is the checkpoint the registry published (and someone kept outside the
database) a prefix of the restored journal? Checked with an RFC 9162 consistency proof.

A replay (``ecoledger verify``) shows the restored journal is internally sound; only a root kept
elsewhere shows it is the same history that was published, and not a shorter or rewritten one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, col, func, select

from ledger.checkpoint import Checkpoint
from ledger.errors import DomainError, MalformedRecord
from ledger.merkle import consistency_proof, leaf_hash, root_of, verify_consistency
from ledger.model import REGISTRY
from ledger.service import keys_of_party
from ledger.tables import JournalRow

__all__ = ["PrefixCheck", "check_kept_checkpoint", "read_kept_checkpoints"]


@dataclass(frozen=True)
class PrefixCheck:
    ok: bool
    message: str
    journal_size: int = 0
    proof_hashes: int = 0


def read_kept_checkpoints(path: Path) -> list[Checkpoint]:
    """Checkpoints from a kept file, in order of tree size: one per line, each line exactly the
    canonical bytes the registry serves (``GET /v1/checkpoints/latest``) and bundles
    (``checkpoints.jsonl``). A line re-encoded or edited (re-indented, root in capitals, another
    spelling of the key id) is refused as ``MalformedRecord`` naming its line: the file must be
    the bytes that were signed, not a re-encoding of them."""
    found = []
    for n, line in enumerate(path.read_bytes().split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            found.append(Checkpoint.from_line(line))
        except MalformedRecord as exc:
            raise MalformedRecord(f"line {n}: {exc.message}", field="checkpoint", line=n) from None
    return sorted(found, key=lambda c: c.tree_size)


def _signed_by_registry(session: Session, kept: Checkpoint, registry_key: bytes | None) -> str | None:
    if registry_key is not None:
        return None if kept.verifies_with(registry_key) else "it is not signed by the given registry key"
    try:
        keys = keys_of_party(session, party=REGISTRY)
    except DomainError:
        keys = []
    for key in keys:
        if key.key_id == kept.key_id and key.valid_at(kept.time) and kept.verifies_with(key.public_key):
            return None
    return f"it is not signed by a registry key of the restored journal (key {kept.key_id})"


def check_kept_checkpoint(
    session: Session, kept: Checkpoint, *, registry_key: bytes | None = None
) -> PrefixCheck:
    """Whether the restored journal starts with exactly the ``kept.tree_size`` records ``kept``
    signed: its signature, then a consistency proof from ``kept`` to the whole restored journal,
    verified against ``kept.root`` and the root recomputed from every stored record hash."""
    unsigned = _signed_by_registry(session, kept, registry_key)
    if unsigned:
        return PrefixCheck(False, f"the kept checkpoint at size {kept.tree_size} is not valid: {unsigned}")
    size = int(session.exec(select(func.count()).select_from(JournalRow)).one())
    if kept.tree_size > size:
        return PrefixCheck(
            False,
            f"the restored journal has {size} records but the kept checkpoint covers {kept.tree_size}: "
            f"records {size}..{kept.tree_size - 1} are missing (restore a later backup, or recover to a "
            "later point in the WAL archive)",
            size,
        )
    hashes = session.exec(select(JournalRow.seq, JournalRow.hash).order_by(col(JournalRow.seq))).all()
    if [seq for seq, _ in hashes] != list(range(size)):
        return PrefixCheck(False, "the restored journal has gaps in its sequence numbers", size)
    # A hash rewritten as TEXT must be reported as a mismatch, not crash the check.
    leaves = [leaf_hash(h.encode() if isinstance(h, str) else bytes(h)) for _, h in hashes]
    proof = consistency_proof(leaves, kept.tree_size)
    if not verify_consistency(kept.tree_size, size, kept.root, root_of(leaves), proof):
        return PrefixCheck(
            False,
            f"the restored journal is not an extension of the kept checkpoint: its first {kept.tree_size} "
            "records are not the ones the registry signed",
            size,
        )
    how = f"consistency proof of {len(proof)} hashes verified" if proof else "same root"
    return PrefixCheck(
        True,
        f"the checkpoint at size {kept.tree_size} (signed {kept.head()['time']}) is a prefix of the "
        f"restored journal of {size} records ({how})",
        size,
        len(proof),
    )
