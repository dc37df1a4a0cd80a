"""How far a read-only replica's journal is behind the primary's, for reads and audits served by it.

Compared by journal head (records) and by latest signed checkpoint, both read on each side.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from ledger.service import head_size, latest_checkpoint
from ledger.timeutil import format_utc

__all__ = ["ReplicaLag", "replica_lag"]


@dataclass(frozen=True)
class ReplicaLag:
    replica_records: int
    primary_records: int | None  # None: the primary was not reachable, so the lag is unknown
    replica_checkpoint: int  # tree size of the replica's latest checkpoint (0: none yet)
    replica_checkpoint_time: str | None

    @property
    def records_behind(self) -> int | None:
        return None if self.primary_records is None else max(0, self.primary_records - self.replica_records)

    def describe(self) -> str:
        behind = (
            "primary not reachable: lag unknown"
            if self.records_behind is None
            else f"{self.records_behind} records behind the primary ({self.primary_records})"
        )
        checkpoint = (
            f"latest checkpoint {self.replica_checkpoint} at {self.replica_checkpoint_time}"
            if self.replica_checkpoint_time
            else "no checkpoint yet"
        )
        return f"read from a replica: journal head {self.replica_records}, {behind}; {checkpoint}"


def replica_lag(replica: Session, primary: Session | None) -> ReplicaLag:
    """The replica's journal head and latest checkpoint against the primary's head."""
    cp = latest_checkpoint(replica)
    return ReplicaLag(
        replica_records=head_size(replica),
        primary_records=None if primary is None else head_size(primary),
        replica_checkpoint=0 if cp is None else cp.tree_size,
        replica_checkpoint_time=None if cp is None else format_utc(cp.time),
    )
